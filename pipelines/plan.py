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
    # Companion projects deployed with this one for the same stack (the platform's in-cluster
    # project): their outputs by project name. Their resources are in ``resources``, told apart by
    # the project in their URNs.
    project_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def with_companion(self, other: Plan) -> Plan:
        """This plan and a companion project's plan of the same stack, as one."""
        return Plan(
            project=self.project,
            stack=self.stack,
            resources=sorted([*self.resources, *other.resources], key=lambda r: r.urn),
            outputs=self.outputs,
            project_outputs={**self.project_outputs, other.project: other.outputs},
        )

    @property
    def projects(self) -> list[str]:
        """The projects whose resources the plan holds, this one first."""
        others = sorted({project_of(r.urn) for r in self.resources} - {self.project})
        return [self.project, *others]

    def of_project(self, project: str) -> list[Resource]:
        return [r for r in self.resources if project_of(r.urn) == project]

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
            "project_outputs": self.project_outputs,
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
            project_outputs=data.get("project_outputs", {}),
        )


def project_of(urn: str) -> str:
    """The project of a URN: ``urn:pulumi:<stack>::<project>::...``."""
    return urn.split("::", 2)[1]
