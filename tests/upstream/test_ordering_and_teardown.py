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


def by_name(plan, type_: str, name: str):
    return plan.get(type_, name).urn


def attachments_of(plan, role_name: str) -> set[str]:
    return {
        a.urn
        for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role_name
    } | {p.urn for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role_name}


@pytest.mark.parametrize("stack", STACKS)
def test_eks_gets_its_roles_policies_first_and_loses_them_last(stack):
    # terraform-provider-aws / pulumi-aws eks.Cluster and eks.NodeGroup docs (components/upstream/eks.py)
    plan = stack_plan(stack)
    reach = closure(plan)
    (cluster,) = plan.of_type("aws:eks/cluster:Cluster")
    (group,) = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    env = plan.stack
    assert attachments_of(plan, f"mlplatform-{env}-eks-cluster") <= reach(cluster.urn)
    assert attachments_of(plan, f"mlplatform-{env}-system-nodes") <= reach(group.urn)
    assert attachments_of(plan, f"mlplatform-{env}-system-nodes")


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_in_the_cluster_is_applied_before_the_caller_may_use_the_api(stack):
    # With bootstrapClusterCreatorAdminPermissions false, "you need to create an access entry for at
    # least one IAM principal, or no IAM principals will have access" (EKS user guide).
    plan = stack_plan(stack)
    reach = closure(plan)
    access = {r.urn for r in plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    assert access
    for r in plan:
        if r.type.startswith("kubernetes:") and r.custom:
            assert access <= reach(r.urn), r.name


@pytest.mark.parametrize("stack", STACKS)
def test_charts_wait_for_nodes_and_dns(stack):
    plan = stack_plan(stack)
    reach = closure(plan)
    (group,) = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    coredns = next(a.urn for a in plan.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "coredns")
    for release in plan.of_type(RELEASE):
        if release.inputs["name"] == "karpenter-crd":
            continue  # CRDs only: no pods to wait for
        assert {group.urn, coredns} <= reach(release.urn), release.inputs["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_karpenter_is_torn_down_after_the_nodes_it_owns(stack):
    """NodePools and the EC2NodeClass carry finalizers that Karpenter resolves (terminate its nodes,
    delete its instance profiles): they must go while the controller, its role and permissions, and
    the node role still exist, so they depend on all of them."""
    plan = stack_plan(stack)
    reach = closure(plan)
    env = plan.stack
    karpenter = next(r.urn for r in plan.of_type(RELEASE) if r.inputs["name"] == "karpenter")
    needed = {karpenter} | attachments_of(plan, f"mlplatform-{env}-karpenter")
    needed |= attachments_of(plan, f"mlplatform-{env}-karpenter-node")
    needed.add(by_name(plan, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "in-cluster-karpenter"))
    crs = plan.of_type("kubernetes:karpenter.sh/v1:NodePool") + plan.of_type(
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
    )
    for cr in crs:
        assert needed <= reach(cr.urn), cr.name
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
        assert all(slr.urn in reach(cr.urn) for cr in crs)
        assert slr.options["retainOnDelete"] is True  # account-wide: a destroy keeps it


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
