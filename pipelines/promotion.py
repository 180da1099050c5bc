"""`mlplatform promote <from> <to>`: move the promotable settings of one stack file to the next.

What is promotable is listed in ``stacks/promotion.yaml``; everything else (sizes, accounts, CIDRs,
people, budgets) stays as the target has it. Stages go in order (dev -> staging -> prod); skipping
one needs ``--force`` and a reason, which is recorded in ``stacks/promotions.log``. The result must
pass the target's settings validation, or the promotion is refused naming the promoted settings that
would break it. The target file is then edited in place (pipelines/yamledit.py): only the text of the
changed values is rewritten, so its comments, quoting, flow or block style and order survive, and the
result is read back and must equal the intended configuration.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import stackfile, yamlfile
from infra.settings import NAMESPACE, SettingsError, parse


class PromotionError(Exception):
    pass


@dataclass(frozen=True)
class Promotion:
    source: str
    target: str
    changed: dict[str, tuple[Any, Any]]  # setting path -> (target's old value, new value)
    new_text: str
    old_text: str
    settings: Any = None  # the target's settings after the promotion (validated)
    warnings: tuple[str, ...] = ()  # what the promotion allows but probably did not mean (--strict refuses)

    def diff(self) -> str:
        name = f"stacks/Pulumi.{self.target}.yaml"
        return "".join(
            difflib.unified_diff(
                self.old_text.splitlines(keepends=True), self.new_text.splitlines(keepends=True), name, name
            )
        )


def setting_paths() -> set[str]:
    """Every `section.key` a stack file can set (from the settings model), for promotion.yaml."""
    from pydantic import BaseModel

    from infra.settings import Settings

    paths = set()
    for name, field in Settings.model_fields.items():
        section = field.alias or name
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            paths |= {f"{section}.{f.alias or n}" for n, f in field.annotation.model_fields.items()}
    return paths


def rules(root: Path) -> tuple[list[str], list[str]]:
    """`order` and `promotable` of stacks/promotion.yaml, checked: lists of names, and every
    promotable path a setting (a misspelled one would make promote say "nothing to do")."""
    where = "stacks/promotion.yaml"
    try:
        doc = yamlfile.load((root / "stacks" / "promotion.yaml").read_text())
    except OSError as err:
        raise PromotionError(f"{where} cannot be read ({err.strerror})") from None
    except yamlfile.YamlFileError as err:
        raise PromotionError(f"{where} is not valid YAML {err}") from None
    if not isinstance(doc, dict) or "order" not in doc or "promotable" not in doc:
        raise PromotionError(f"{where} must be a mapping with `order` and `promotable`")
    problems = []
    for key in ("order", "promotable"):
        value = doc[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"`{key}` must be a list of names, such as [dev, staging, prod]; got {value!r}")
    if not problems:
        known = setting_paths()
        for i, path in enumerate(doc["promotable"]):
            if path not in known:
                close = difflib.get_close_matches(path, sorted(known), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                problems.append(f"promotable[{i}]: {path!r} is not a setting{hint}")
    if problems:
        raise PromotionError("\n".join([f"{where} has {len(problems)} problem(s):", *(f"  - {p}" for p in problems)]))
    return list(doc["order"]), list(doc["promotable"])


def _config(root: Path, stack: str) -> tuple[str, dict[str, Any]]:
    path = root / "stacks" / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise PromotionError(f"no stack file stacks/Pulumi.{stack}.yaml")
    text = path.read_text()
    try:
        return text, stackfile.config_of(text)
    except yamlfile.YamlFileError as err:
        raise PromotionError(f"stacks/Pulumi.{stack}.yaml is not valid YAML {err}") from None


def _get(config: dict, path: str) -> Any:
    section, _, key = path.partition(".")
    value = config.get(f"{NAMESPACE}:{section}")
    return value.get(key) if isinstance(value, dict) else None


RELEASE = "ci.release"


def plan_promotion(
    root: Path, source: str, target: str, *, force: bool = False, reason: str = "", release: str | None = None
) -> Promotion:
    """The change to the target's stack file. ``release``: the commit the source runs (its deployment's
    output), which the target will run: it must be what the source pins, when it pins one."""
    order, promotable = rules(root)
    for stack in (source, target):
        if stack not in order:
            raise PromotionError(f"{stack!r} is not a stage of stacks/promotion.yaml (order: {' -> '.join(order)})")
    step = order.index(target) - order.index(source)
    if step <= 0:
        raise PromotionError(f"promotion goes forward ({' -> '.join(order)}): {source} -> {target} does not")
    if step > 1 and not (force and reason.strip()):
        skipped = ", ".join(order[order.index(source) + 1 : order.index(target)])
        raise PromotionError(f"{source} -> {target} skips {skipped}; promote through it, or pass --force with --reason")
    _, src = _config(root, source)
    old_text, dst = _config(root, target)
    changed = {}
    for path in promotable:
        new, old = _get(src, path), _get(dst, path)
        if new is None or new == old:
            continue
        changed[path] = (old, new)
    if release is not None:
        if not re.fullmatch(r"[0-9a-f]{40}", release):
            raise PromotionError(f"--release {release!r} is not a full commit id: the commit {source} runs")
        pinned = _get(src, RELEASE)
        if pinned is not None and pinned != release:
            raise PromotionError(
                f"{source} pins {RELEASE} {pinned} but runs {release}: deploy {source} before promoting it"
            )
        if RELEASE not in promotable:
            raise PromotionError(f"stacks/promotion.yaml must list {RELEASE} to promote code")
        if _get(dst, RELEASE) != release:
            changed[RELEASE] = (_get(dst, RELEASE), release)
        else:
            changed.pop(RELEASE, None)
    settings = _validated(source, target, dst, changed)
    text = _edited(old_text, {path: new for path, (_, new) in changed.items()}) if changed else old_text
    return Promotion(source, target, changed, text, old_text, settings, _unserved(target, changed, settings))


def _with(config: dict, changed: dict[str, tuple[Any, Any]]) -> dict:
    """A stack file's config with the promoted values set."""
    result = copy.deepcopy(config)
    for path, (_, new) in changed.items():
        section, _, key = path.partition(".")
        if not isinstance(result.get(f"{NAMESPACE}:{section}"), dict):
            result[f"{NAMESPACE}:{section}"] = {}
        result[f"{NAMESPACE}:{section}"][key] = copy.deepcopy(new)
    return result


def _validated(source: str, target: str, dst: dict, changed: dict[str, tuple[Any, Any]]) -> Any:
    """The target's settings after the promotion, checked by the target's own validation. An invalid
    result is a refusal that names the promoted settings that break it and each problem, not a broken
    target file: the file on disk is untouched (and was valid, or the message says it was not)."""
    where = f"stacks/Pulumi.{target}.yaml"

    def problems(config: dict) -> list[tuple[str, str]]:
        try:
            parse(target, stackfile.namespace_values(config, NAMESPACE))
        except SettingsError as err:
            return err.problems
        return []

    try:
        return parse(target, stackfile.namespace_values(_with(dst, changed), NAMESPACE))
    except SettingsError as err:
        found = err.problems
    listed = [f"  - {path}: {message}" for path, message in found]
    if problems(dst):
        head = f"promotion refused: {where} is invalid as it is and would still be after promoting {source}"
        raise PromotionError("\n".join([f"{head}, nothing written:", *listed, f"Fix {where} first."]))
    # which promoted settings break it: each alone, else all of them together
    culprits = [path for path in changed if problems(_with(dst, {path: changed[path]}))] or list(changed)
    named = ", ".join(culprits)
    head = f"promotion refused: {source}'s {named} would make {where} invalid, nothing written"
    tail = (
        f"{where} is valid as it is. Make {source}'s {named} fit {target} (or {target}'s own settings fit them), "
        "then promote again."
    )
    raise PromotionError("\n".join([f"{head}:", *listed, tail]))


def _unserved(target: str, changed: dict[str, tuple[Any, Any]], settings: Any) -> tuple[str, ...]:
    """Warnings for the model versions the promotion moves into families no endpoint of the target
    serves: the version is recorded, but nothing deploys it (a missing endpoint, or a typo)."""
    old, new = changed.get("serving.modelVersions", (None, None))
    if not isinstance(new, dict):
        return ()
    served = {e.model_family for e in settings.serving.endpoints}
    return tuple(
        f"{target} would serve {family} v{version} from no endpoint: stacks/Pulumi.{target}.yaml has no "
        f"serving.endpoints entry with modelFamily {family}"
        for family, version in new.items()
        if (old or {}).get(family) != version and family not in served
    )


def write(root: Path, promotion: Promotion, *, reason: str = "") -> None:
    (root / "stacks" / f"Pulumi.{promotion.target}.yaml").write_text(promotion.new_text)
    if reason:
        log = root / "stacks" / "promotions.log"
        entry = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "from": promotion.source,
            "to": promotion.target,
            "forced": True,
            "reason": reason,
            "settings": sorted(promotion.changed),
        }
        with log.open("a") as f:
            f.write(json.dumps(entry) + "\n")


def _edited(text: str, values: dict[str, Any]) -> str:
    """Set ``mlplatform:<section>.<key>`` to each value in a stack file's text. Only the text of the
    values that change is rewritten (pipelines/yamledit.py): comments, quoting, order, indentation and
    flow or block style of everything else, and of what stays inside a changed value, are kept."""
    from pipelines.yamledit import YamlEditError, edit

    doc = yamlfile.load(text)
    new = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    config = new.get("config") if isinstance(new.get("config"), dict) else {}
    new["config"] = config
    for path, value in values.items():
        section, _, key = path.partition(".")
        name = f"{NAMESPACE}:{section}"
        if not isinstance(config.get(name), dict):
            config[name] = {}
        config[name][key] = value
    try:
        return edit(text, new)
    except YamlEditError as err:  # pragma: no cover - the editor refuses rather than guess
        raise PromotionError(f"could not edit the target file safely ({err}); edit it by hand") from None


@dataclass(frozen=True)
class VersionCheck:
    refusals: list[str]  # versions that are not Approved (or do not exist) in the registry
    notices: list[str]  # versions that could not be checked (offline, or the registry unreadable)
    approved: list[str] = dataclasses.field(default_factory=list)  # versions found Approved


def check_model_versions(root: Path, promotion: Promotion) -> VersionCheck:
    """Every model version the promotion moves must be Approved in the registry the target serves
    from (serving.registryStack). With AWS credentials, SageMaker is asked (DescribeModelPackage,
    which the registry's policy grants its consumer accounts); without, the check is said to be
    skipped, never passed silently."""
    change = promotion.changed.get("serving.modelVersions")
    if not change:
        return VersionCheck([], [])
    old, new = change
    moved = {family: version for family, version in (new or {}).items() if (old or {}).get(family) != version}
    if not moved:
        return VersionCheck([], [])
    from components.serving import RegistrySource
    from infra.definitions import registry_of

    env, account, region, _ = registry_of(promotion.target, promotion.settings, root / "stacks")

    arns = {family: RegistrySource(env, account, region).package_arn(family, v) for family, v in moved.items()}
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        return VersionCheck(
            [], [f"could not check that {arn} is Approved: no AWS credentials" for arn in arns.values()]
        )
    client = session.client("sagemaker")
    refusals, notices, approved = [], [], []
    for family, arn in arns.items():
        try:
            status = client.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        except ClientError as err:
            error = err.response.get("Error", {})
            if error.get("Code") == "ValidationException" and "not found" in error.get("Message", ""):
                refusals.append(f"{family} version {moved[family]}: {arn} does not exist")
            else:
                notices.append(f"could not check that {arn} is Approved: {error.get('Code')}: {error.get('Message')}")
            continue
        except BotoCoreError as err:
            notices.append(f"could not check that {arn} is Approved: {err}")
            continue
        if status != "Approved":
            refusals.append(f"{family} version {moved[family]}: {arn} is {status}, not Approved")
        else:
            approved.append(f"{family} version {moved[family]}: {arn} is Approved")
    return VersionCheck(refusals, notices, approved)
