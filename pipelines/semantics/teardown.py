"""The order in which `pulumi destroy` deletes a stack's resources, as the engine computes it.

Source: pulumi/pulumi (read at v3.259.0; the CLI is pinned at 3.272.0 in .pulumi-version):
- pkg/resource/graph/dependency_graph.go, ``DependenciesOf``: a resource depends on "the resource's
  provider, parent, any resources in the ``Dependencies`` list, any resources in the
  ``PropertyDependencies`` map, and any resource referenced by the ``DeletedWith`` or
  ``ReplaceWith`` fields".
- pkg/resource/deploy/step_generator.go, ``ScheduleDeletes``: the resources to delete are split into
  antichains by those dependencies, and the list is reversed, "so we don't delete resources upon
  which other resources depend"; deployment_executor.go runs each antichain's deletes in parallel
  and waits for it to finish before the next.

So a resource is deleted strictly before everything it depends on, directly or not; resources
with no path between them may be deleted in any order, or at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    urn: str
    parent: str | None = None
    provider: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, Iterable[str]] = field(default_factory=dict)
    deleted_with: str | None = None

    def depends_on(self) -> set[str]:
        found = set(self.dependencies)
        for urns in self.property_dependencies.values():
            found |= set(urns)
        found |= {u for u in (self.parent, self.provider, self.deleted_with) if u}
        return found


def delete_schedule(nodes: Iterable[Node]) -> list[list[str]]:
    """The antichains of deletes, first to last: every resource in an earlier antichain than all it
    depends on. Antichain *i* of creation holds the resources whose longest chain of dependencies
    (among those being deleted) has length *i*; deletes take them in reverse."""
    by_urn = {n.urn: n for n in nodes}
    level: dict[str, int] = {}

    def depth(urn: str, seen: frozenset[str] = frozenset()) -> int:
        if urn in level:
            return level[urn]
        if urn in seen:
            raise ValueError(f"dependency cycle through {urn}")
        deps = [d for d in by_urn[urn].depends_on() if d in by_urn]
        level[urn] = 1 + max((depth(d, seen | {urn}) for d in deps), default=-1)
        return level[urn]

    for urn in by_urn:
        depth(urn)
    chains: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for urn in sorted(by_urn):
        chains[level[urn]].append(urn)
    return list(reversed(chains))


def waits_for(nodes: Iterable[Node]) -> Mapping[str, frozenset[str]]:
    """urn -> everything it depends on, transitively: what is still there while it is deleted."""
    by_urn = {n.urn: n for n in nodes}
    closure: dict[str, frozenset[str]] = {}

    def walk(urn: str) -> frozenset[str]:
        if urn not in closure:
            closure[urn] = frozenset()  # a cycle ends here (delete_schedule reports cycles)
            direct = by_urn[urn].depends_on() if urn in by_urn else set()
            out: set[str] = set(direct)
            for d in direct:
                out |= walk(d)
            closure[urn] = frozenset(out)
        return closure[urn]

    for urn in by_urn:
        walk(urn)
    return closure


def deleted_before(nodes: Iterable[Node], first: str, then: str) -> bool:
    """Whether the engine certainly finishes deleting ``first`` before it starts on ``then``: only
    when ``first`` depends on ``then``, directly or not. Anything else may go in any order."""
    return then in waits_for(nodes)[first]
