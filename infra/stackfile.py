"""A stack file's configuration as the engine hands it to a program: every value a string (booleans
lowercase, numbers as written, objects and lists as JSON) and ``secure:`` values, which only the
stack's secrets provider can decrypt, replaced by a placeholder.

One conversion for every reader of a stack file outside the engine: the offline runner
(pipelines/offline.py), the registry check that reads another stack's settings
(infra/definitions.py) and promotion, which validates the file it is about to write
(pipelines/promotion.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infra import yamlfile

# What a secure value reads as offline; the settings accept it wherever a secret may be.
SECRET_PLACEHOLDER = "offline-secret-placeholder"


def config_of(text: str) -> dict[str, Any]:
    """The ``config`` mapping of a stack file's text ({} when there is none); YamlFileError when the
    text is not valid YAML."""
    doc = yamlfile.load(text) or {}
    config = doc.get("config") if isinstance(doc, dict) else None
    return config if isinstance(config, dict) else {}


def has_secure(value: Any) -> bool:
    """Whether a value is, or holds, a ``secure:`` value."""
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(has_secure(v) for v in value.values())
    return isinstance(value, list) and any(has_secure(v) for v in value)


def secure_placeholders(value: Any) -> Any:
    """``secure:`` values replaced by the placeholder (they cannot be decrypted offline)."""
    if isinstance(value, dict):
        return SECRET_PLACEHOLDER if set(value) == {"secure"} else {k: secure_placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [secure_placeholders(v) for v in value]
    return value


def engine_value(value: Any) -> str:
    """One configured value as the program receives it."""
    value = secure_placeholders(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def engine_values(config: Mapping[str, Any], project: str) -> tuple[dict[str, str], frozenset[str]]:
    """Every key with its namespace (``project`` for a bare key) and its engine value, and the keys
    the engine marks secret: a whole key is secret when any value inside it is (pulumi config set
    --secret --path)."""
    values, secrets = {}, set()
    for key, given in config.items():
        full = key if ":" in key else f"{project}:{key}"
        if has_secure(given):
            secrets.add(full)
        values[full] = engine_value(given)
    return values, frozenset(secrets)


def namespace_values(config: Mapping[str, Any], namespace: str) -> dict[str, str]:
    """The settings of one namespace, keys without it, as the program's settings parser takes them."""
    prefix = f"{namespace}:"
    values, _ = engine_values(config, namespace)
    return {key[len(prefix) :]: value for key, value in values.items() if key.startswith(prefix)}
