"""The models the upstream checks use, held to the examples of the documents they follow."""

from __future__ import annotations

from pipelines.semantics.helm import merge
from pipelines.semantics.netpol import Endpoint, Policy, allowed
from pipelines.semantics.scheduling import Node, Placement, tolerates, why_not
from pipelines.semantics.selectors import matches

# kubernetes.io/docs/concepts/services-networking/network-policies/ "test-network-policy"
DOCS_POLICY = Policy(
    "default",
    {
        "podSelector": {"matchLabels": {"role": "db"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                    {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                    {"podSelector": {"matchLabels": {"role": "frontend"}}},
                ],
                "ports": [{"protocol": "TCP", "port": 6379}],
            }
        ],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 5978}]}],
    },
)
DB = Endpoint("default", {"role": "db"})


def test_network_policy_docs_example():
    assert allowed([DOCS_POLICY], Endpoint("default", {"role": "frontend"}), DB, 6379)
    assert not allowed([DOCS_POLICY], Endpoint("default", {"role": "frontend"}), DB, 6380)
    assert not allowed([DOCS_POLICY], Endpoint("other", {"role": "frontend"}), DB, 6379)  # podSelector: own ns
    assert allowed([DOCS_POLICY], Endpoint("other", {}, namespace_labels={"project": "myproject"}), DB, 6379)
    assert allowed([DOCS_POLICY], Endpoint(None, ip="172.17.0.5"), DB, 6379)
    assert not allowed([DOCS_POLICY], Endpoint(None, ip="172.17.1.5"), DB, 6379)  # except
    assert allowed([DOCS_POLICY], DB, Endpoint(None, ip="10.0.0.7"), 5978)
    assert not allowed([DOCS_POLICY], DB, Endpoint(None, ip="10.0.1.7"), 5978)
    # pods the policy does not select are not isolated
    assert allowed([DOCS_POLICY], Endpoint("other", {}), Endpoint("default", {"role": "web"}), 80)


def test_namespace_and_pod_selector_in_one_element_are_anded_in_two_are_ored():
    # docs "Behavior of to and from selectors"
    alice = {"matchLabels": {"user": "alice"}}
    client = {"matchLabels": {"role": "client"}}
    and_ = Policy(
        "db", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": alice, "podSelector": client}]}]}
    )
    or_ = Policy(
        "db", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": alice}, {"podSelector": client}]}]}
    )
    alice_other = Endpoint("a", {"role": "other"}, namespace_labels={"user": "alice"})
    client_here = Endpoint("db", {"role": "client"})
    target = Endpoint("db", {})
    assert not allowed([and_], alice_other, target, 1) and not allowed([and_], client_here, target, 1)
    assert allowed([or_], alice_other, target, 1) and allowed([or_], client_here, target, 1)


def test_default_deny_admits_nothing_and_policies_add_up():
    deny = Policy("t", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    same = Policy("t", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]})
    a, b = Endpoint("t", {"app": "a"}), Endpoint("t", {"app": "b"})
    assert not allowed([deny], a, b, 80)
    assert not allowed([deny, same], a, b, 80)  # ingress admitted, egress of a still denied
    egress = Policy("t", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {}}]}]})
    assert allowed([deny, same, egress], a, b, 80)


def test_selectors_and_operators():
    labels = {"tier": "gpu", "zone": "a"}
    assert matches({}, labels) and not matches(None, labels)
    assert matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gpu", "cpu"]}]}, labels)
    assert matches({"matchExpressions": [{"key": "absent", "operator": "NotIn", "values": ["x"]}]}, labels)
    assert not matches({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, labels)
    assert not matches(
        {"matchLabels": {"tier": "gpu"}, "matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
        labels,
    )


def test_taints_and_tolerations_docs_examples():
    taint = {"key": "key1", "value": "value1", "effect": "NoSchedule"}
    assert tolerates({"key": "key1", "operator": "Equal", "value": "value1", "effect": "NoSchedule"}, taint)
    assert tolerates({"key": "key1", "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert not tolerates({"key": "key1", "operator": "Equal", "value": "other", "effect": "NoSchedule"}, taint)
    assert tolerates({"operator": "Exists"}, taint)  # empty key with Exists tolerates everything
    assert tolerates({"key": "key1", "operator": "Exists"}, taint)  # empty effect matches all effects
    node = Node({"gpu": "true"}, [taint])
    assert why_not(Placement({"gpu": "true"}), node)  # untolerated taint
    assert why_not(Placement({}, tolerations=[{"operator": "Exists"}]), node) == []
    # required node affinity: terms are ORed, an empty term matches nothing
    plain = Node({"gpu": "true"})
    assert why_not(Placement(affinity=_terms(_exists("x"), _gpu_true())), plain) == []
    assert why_not(Placement(affinity=_terms({})), plain)


def _terms(*terms: dict) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def _exists(key: str) -> dict:
    return {"matchExpressions": [{"key": key, "operator": "Exists"}]}


def _gpu_true() -> dict:
    return {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["true"]}]}


def test_helm_merges_maps_replaces_lists_and_deletes_nulls():
    defaults = {"a": {"x": 1, "y": [1, 2]}, "b": 2, "c": {"d": 1}}
    assert merge(defaults, {"a": {"y": [3]}, "c": None}) == {"a": {"x": 1, "y": [3]}, "b": 2}
    assert merge(defaults, {"a": {}}) == defaults  # an empty map does not remove the default
