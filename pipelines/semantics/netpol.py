"""Which connections NetworkPolicies admit, as Kubernetes defines it (docs "Network Policies";
networking.k8s.io/v1 API reference):

- A pod is isolated for ingress (egress) when a policy in its namespace selects it and lists
  Ingress (Egress) in policyTypes; a non-isolated pod admits everything in that direction.
- An isolated pod admits a connection when any policy selecting it has a rule whose peers and ports
  both match. Policies are additive (a union); there are no deny rules.
- A connection from A to B needs A's egress and B's ingress to admit it.
- Peers: ``podSelector`` alone selects pods of the policy's namespace; ``namespaceSelector`` alone
  all pods of the matching namespaces; both in one element, pods matching both; ``ipBlock`` an IP
  range (with ``except``), meant for traffic leaving or entering the cluster. An empty ``from``/``to``
  list, or none, matches every peer; an empty ``ports`` list, or none, every port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.semantics.selectors import matches


@dataclass(frozen=True)
class Policy:
    namespace: str
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace, labels, IP) or, with namespace None, an address outside the cluster."""

    namespace: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = "10.0.0.1"
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    def ns_labels(self) -> Mapping[str, str]:
        # Every namespace carries kubernetes.io/metadata.name (set by the API server since 1.22).
        return {"kubernetes.io/metadata.name": self.namespace or "", **self.namespace_labels}


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        ip = ipaddress.ip_address(other.ip)
        if ip not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(ip in ipaddress.ip_network(e) for e in block.get("except") or [])
    if other.namespace is None:
        return False  # pod and namespace selectors select pods only
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    in_ns = other.namespace == policy_ns if ns_sel is None else matches(ns_sel, other.ns_labels())
    return in_ns and (pod_sel is None or matches(pod_sel, other.labels))


def _port_matches(ports: Iterable[Mapping[str, Any]] | None, port: int, protocol: str) -> bool:
    ports = list(ports or [])
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        start = p["port"]
        if isinstance(start, str):
            continue  # named ports: not used by the platform's policies
        if start <= port <= p.get("endPort", start):
            return True
    return False


def _admits(policies: list[Policy], pod: Endpoint, direction: str, other: Endpoint, port: int, protocol: str):  # noqa: PLR0917
    """(isolated, admitted) for one side of a connection."""
    key, peers_key, kind = ("ingress", "from", "Ingress") if direction == "in" else ("egress", "to", "Egress")
    selecting = [
        p
        for p in policies
        if p.namespace == pod.namespace
        and matches(p.spec.get("podSelector", {}), pod.labels)
        and kind in (p.spec.get("policyTypes") or ["Ingress"])
    ]
    if not selecting:
        return False, True
    for p in selecting:
        for rule in p.spec.get(key) or []:
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(peer, p.namespace, other) for peer in peers)) and _port_matches(
                rule.get("ports"), port, protocol
            ):
                return True, True
    return True, False


def allowed(policies: Iterable[Policy], src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """Does a connection from ``src`` to ``dst`` on ``port`` get through every policy?"""
    policies = list(policies)
    out_ok = src.namespace is None or _admits(policies, src, "out", dst, port, protocol)[1]
    in_ok = dst.namespace is None or _admits(policies, dst, "in", src, port, protocol)[1]
    return out_ok and in_ok
