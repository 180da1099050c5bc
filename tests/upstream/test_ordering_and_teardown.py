"""The dependency graph of the plan holds every "must exist before" edge the docs require, so the
first `pulumi up` creates things in an order that works and `pulumi destroy` undoes them in an order
that finishes: the engine deletes a resource before what it depends on."""

from __future__ import annotations

from functools import cache

import pytest

from tests.plans import STACKS, stack_plan

RELEASE = "kubernetes:helm.sh/v3:Release"


def closure(plan):
    """urn -> every urn it waits for: its dependencies and its provider, transitively (Pulumi waits
    for both before creating a resource)."""
    direct = {r.urn: set(r.dependencies) | ({r.provider} if r.provider else set()) for r in plan}

    @cache
    def reach(urn: str) -> frozenset[str]:
        out: set[str] = set()
        for d in direct.get(urn, ()):
            out |= {d} | reach(d)
        return frozenset(out)

    return reach


def attachments_of(plan, role_name: str) -> set[str]:
    return {
        a.urn
        for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role_name
    } | {p.urn for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role_name}


@pytest.mark.parametrize("stack", STACKS)
def test_eks_gets_its_roles_policies_first_and_loses_them_last(stack):
    # terraform-provider-aws / pulumi-aws eks.Cluster and eks.NodeGroup docs (foundation/upstream/eks.py)
    plan = stack_plan(stack)
    reach = closure(plan)
    (cluster,) = plan.of_type("aws:eks/cluster:Cluster")
    (group,) = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    env = plan.stack
    assert attachments_of(plan, f"mlplatform-{env}-eks-cluster") <= reach(cluster.urn)
    assert attachments_of(plan, f"mlplatform-{env}-system-nodes") <= reach(group.urn)
    assert attachments_of(plan, f"mlplatform-{env}-system-nodes")


# That nothing in the cluster is applied before the caller may use the API ("you need to create an
# access entry for at least one IAM principal", EKS user guide), that the charts wait for the system
# nodes and CoreDNS, and that Karpenter's AWS side outlives its NodePools: the in-cluster project runs
# after the platform project that creates all of these and is destroyed before it
# (tests/upstream/test_runbook.py walks the documented steps; pipelines/runbook.IN_CLUSTER_NEEDS).


@pytest.mark.parametrize("stack", STACKS)
def test_karpenter_aws_side_is_the_platforms_and_spot_capacity_has_its_account_role(stack):
    plan = stack_plan(stack)
    env = plan.stack
    karpenter = plan.get("aws:eks/podIdentityAssociation:PodIdentityAssociation", "in-cluster-karpenter")
    assert karpenter.urn.split("::")[1] == "mlplatform"
    assert (karpenter.inputs["namespace"], karpenter.inputs["serviceAccount"]) == ("kube-system", "karpenter")
    assert attachments_of(plan, f"mlplatform-{env}-karpenter") and attachments_of(
        plan, f"mlplatform-{env}-karpenter-node"
    )
    spot = [
        r
        for r in plan.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")
        if r.inputs["awsServiceName"] == "spot.amazonaws.com"
    ]
    uses_spot = any(
        "spot" in str(p.inputs["spec"]["template"]["spec"]["requirements"])
        for p in plan.of_type("kubernetes:karpenter.sh/v1:NodePool")
    )
    if uses_spot:
        (slr,) = spot  # spot capacity needs AWSServiceRoleForEC2Spot (Karpenter getting started, step 6)
        assert slr.options["retainOnDelete"] is True  # account-wide: a destroy keeps it
    # NodePools drain and terminate their nodes before they are gone (foreground deletion): more than
    # pulumi-kubernetes' 10-minute default.
    for pool in plan.of_type("kubernetes:karpenter.sh/v1:NodePool"):
        assert pool.options["customTimeouts"]["delete"] == "30m"


@pytest.mark.parametrize("stack", STACKS)
def test_a_destroy_leaves_no_volume_behind_in_disposable_stacks(stack):
    plan = stack_plan(stack)
    protected = plan.get("aws:kms/key:Key", "keys-data").options["protect"]
    (storage,) = plan.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage.inputs["reclaimPolicy"] == ("Retain" if protected else "Delete")
    assert storage.inputs["parameters"]["kmsKeyId"] == plan.outputs["kmsKeyArns"]["cluster"]
    values = next(r for r in plan.of_type(RELEASE) if r.inputs["name"] == "kube-prometheus-stack").inputs["values"]
    retention = values["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"]
    assert retention["whenDeleted"] == ("Retain" if protected else "Delete")
