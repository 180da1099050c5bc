"""The Plan: every resource a stack registers, with its inputs, outputs and options.

The JSON form is versioned (``schema_version``) and documented in docs/plan-schema.md. Two runs of
the same code give byte-identical JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    options: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def protected(self) -> bool:
        return bool(self.options.get("protect"))


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    resources: list[Resource]
    outputs: dict[str, Any]
    schema_version: int = SCHEMA_VERSION

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, type_: str, name: str) -> Resource:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources of type {type_} named {name!r} in {self.stack}")
        return found[0]

    def children(self, urn: str | None) -> list[Resource]:
        return sorted((r for r in self.resources if r.parent == urn), key=lambda r: (r.type, r.name))

    def counts(self) -> Counter[str]:
        return Counter(r.type for r in self.resources if r.custom)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "project": self.project,
            "stack": self.stack,
            "resources": [asdict(r) for r in self.resources],
            "outputs": self.outputs,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"plan schema_version {data.get('schema_version')!r} is not {SCHEMA_VERSION}; "
                "re-create the plan with this version of mlplatform"
            )
        return cls(
            project=data["project"],
            stack=data["stack"],
            resources=[Resource(**r) for r in data["resources"]],
            outputs=data["outputs"],
        )
