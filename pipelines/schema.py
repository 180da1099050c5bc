"""The JSON Schema of a stack file (stacks/Pulumi.<stack>.yaml), generated from the settings model so
editors check names, types, ranges and choices as people type. `make schema` rewrites
stacks/settings.schema.json; a test fails when it is stale. Formats checked by validators in code
(account ids, CIDRs, regions, ...) are the program's to report: the schema gives types and bounds."""

from __future__ import annotations

import json
from typing import Any

from infra.settings import NAMESPACE, Settings
from pipelines.offline import PROVIDER_NAMESPACES

SCHEMA_FILE = "stacks/settings.schema.json"


def stack_file_schema() -> dict[str, Any]:
    model = Settings.model_json_schema(by_alias=True)
    settings = {f"{NAMESPACE}:{name}": spec for name, spec in model["properties"].items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mlplatform stack file (stacks/Pulumi.<stack>.yaml)",
        "description": "Generated from infra/settings.py by `make schema`; do not edit.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": settings,
                "required": [f"{NAMESPACE}:{name}" for name in model.get("required", [])],
                # the providers' and the engine's own settings; any other namespace is a mistake
                "patternProperties": {f"^({'|'.join(PROVIDER_NAMESPACES)}):": {}},
                "additionalProperties": False,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "required": ["config"],
        "$defs": model.get("$defs", {}),
    }


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    from pipelines.offline import REPO_ROOT

    (REPO_ROOT / SCHEMA_FILE).write_text(render())
    print(f"wrote {SCHEMA_FILE}")
