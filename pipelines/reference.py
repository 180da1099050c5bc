"""The configuration reference (docs/configuration.md), generated from the settings model like the
JSON Schema: a row per setting with its default, what it allows (from the field's type, bounds and
validators) and what it is for (the field's docstring in infra/settings.py). `make schema` rewrites
it; a test fails when it is stale, so a new setting cannot go undocumented."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from infra.settings import NAMESPACE, Settings

REFERENCE_FILE = "docs/configuration.md"

HEADER = """# Configuration reference

<!-- Generated from infra/settings.py by `make schema`; do not edit: edit the field's docstring. -->

Every setting of a platform stack lives under the `{namespace}` namespace of
`stacks/Pulumi.<stack>.yaml`. Sections are YAML mappings (`{namespace}:network: {{cidr: ..., ...}}`);
`[]` in a path is a list of entries. Unknown keys are errors, with a did-you-mean, and every problem
is reported at once with exit status 2 before anything is planned. "Allowed" is what the settings
check (types, bounds, formats); rules across settings are in the description.

Editors check stack files as you type against `stacks/settings.schema.json` (names, types, ranges,
choices and these descriptions), generated from the same model. Each stack file starts with
`# yaml-language-server: $schema=settings.schema.json`, which the YAML language server (VS Code's Red
Hat YAML extension, Neovim, JetBrains) reads; copy that line into a new stack file. Formats that need
code (account ids, CIDRs, existing regions) are reported by `mlplatform plan`.

| setting | default | allowed | what it is for |
|---|---|---|---|
"""

FOOTER = """
Each stack file also sets `pulumi:disable-default-providers: ["*"]`, so a resource that forgot the
stack's explicit provider fails instead of deploying with ambient credentials and region.

The stack file itself is read strictly: a key given twice (`key 'mlplatform:protect' is given twice
(first at line 12)`), a namespace nothing reads (`mlplatfrom:protect`: did you mean
`mlplatform:protect`?), an `environment` that disagrees with the file's name (`Pulumi.prod-eu.yaml`
saying `dev`), a well-formed region that does not exist (checked against botocore's partition data)
and an unquoted number with a leading zero (`accountId: 012345678901`, which PyYAML keeps as text
and Pulumi reads as 12345678901) are each refused with the line or setting, never silently planned.
`stacks/promotion.yaml` is checked the same way: `order` and `promotable` must be lists, and every
promotable path must be a setting (`training.nodeImg`: did you mean `training.nodeImage`?).
"""


def rows(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(path, default, allowed, description) of every leaf setting, in the model's order."""
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        inner, many = _section(field.annotation)
        if inner is not None:
            yield from rows(inner, path + ("[]." if many else "."))
            continue
        yield path, _default(field), _allowed(field.annotation, field.metadata), _description(field, path)


def _section(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The settings section a field holds (itself, optional, or a list of them)."""
    for arg in (annotation, *get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, get_origin(annotation) is list
    return None, False


def _description(field: FieldInfo, path: str) -> str:
    if not field.description:
        raise ValueError(f"setting {path} has no docstring in infra/settings.py: say what it is for")
    return " ".join(field.description.split()).replace("|", "\\|")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value) if isinstance(value, int | float) else json.dumps(value)[1:-1] if " " not in value else value


def _allowed(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """What a value may be, in words, from its type and the constraints and validators on it."""
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return _allowed(base, [*metadata, *extra])
    optional = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (typing.Union, types.UnionType) and len(optional) == 1:
        return _allowed(optional[0], metadata)
    return _kind(annotation, list(metadata))


def _kind(annotation: Any, metadata: list[Any]) -> str:
    if annotation is bool:
        return "`true`, `false`"
    if get_origin(annotation) is Literal:
        return ", ".join(f"`{a}`" for a in get_args(annotation))
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        sizes = _bounds(metadata, "items").replace("≥ ", "at least ")
        return f"a list{f' of {sizes}' if sizes else ''}, each {_allowed(item)}"
    if get_origin(annotation) is dict:
        key, value = get_args(annotation)
        return f"a mapping: keys {_allowed(key)}; values {_allowed(value)}"
    return _scalar(annotation, metadata)


def _scalar(annotation: Any, metadata: list[Any]) -> str:
    words = [w for m in metadata for w in _words(m)]
    if annotation in (int, float):
        number = "a number" if annotation is float else "an integer"
        return "; ".join(words) if words else _bounds(metadata, "") or number
    if annotation is str:
        return "; ".join(filter(None, [*(words or ["text"]), _bounds(metadata, "characters")]))
    raise TypeError(f"no words for the type {annotation!r}")  # pragma: no cover - a new kind of setting


def _words(meta: Any) -> list[str]:
    """The human rule a validator carries (``allowed``), if any."""
    func = getattr(meta, "func", None)
    allowed = getattr(func, "allowed", None)
    return [allowed] if allowed else []


def _bounds(metadata: list[Any], unit: str) -> str:
    low = high = None
    strict_low = False
    for m in metadata:
        for item in getattr(m, "metadata", [m]):
            if isinstance(item, at.Ge | at.MinLen):
                low = getattr(item, "ge", None) if isinstance(item, at.Ge) else item.min_length
            elif isinstance(item, at.Gt):
                low, strict_low = item.gt, True
            elif isinstance(item, at.Le | at.MaxLen):
                high = getattr(item, "le", None) if isinstance(item, at.Le) else item.max_length
    unit = f" {unit}" if unit else ""
    low, high = (_yaml(v) if v is not None else None for v in (low, high))
    if low is not None and high is not None and not strict_low:
        return f"{low}–{high}{unit}"
    if low is not None:
        return f"{'>' if strict_low else '≥'} {low}{unit}" + (f", ≤ {high}" if high is not None else "")
    return f"≤ {high}{unit}" if high is not None else ""


def render() -> str:
    header = HEADER.format(namespace=NAMESPACE)
    table = "".join(f"| `{p}` | {d} | {a} | {w} |\n" for p, d, a, w in rows())
    return header + table + FOOTER


if __name__ == "__main__":
    from pipelines.offline import REPO_ROOT

    (REPO_ROOT / REFERENCE_FILE).write_text(render())
    print(f"wrote {REFERENCE_FILE}")
