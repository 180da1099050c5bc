"""Every role the platform creates keeps, under its permission boundary and past every deny, all that
its identity policies grant, and so all that its upstream documentation requires: node roles the EKS
worker actions (eks-auth included), Karpenter its official policy, add-on roles their managed policies.
Evaluated by iam-ape (tests/upstream/effective.py), which honours boundaries; moto does not."""

from __future__ import annotations

import json

import pytest

from foundation.upstream import karpenter as karpenter_facts
from foundation.upstream.eks import MANAGED_POLICY_ACTIONS
from tests.plans import STACKS, stack_plan
from tests.upstream.effective import UnknownActionsError, authorization_details, effective


@pytest.mark.parametrize("stack", STACKS)
def test_no_role_loses_a_granted_action_to_its_boundary(stack):
    roles = effective(stack_plan(stack))
    cut = {name: sorted({c.action for c in e.cut}) for name, e in roles.items() if e.cut}
    assert cut == {}, "actions granted but taken away by a permission boundary or a deny"


@pytest.mark.parametrize("stack", STACKS)
def test_roles_can_do_what_their_upstream_docs_require(stack):
    plan = stack_plan(stack)
    roles = effective(plan)
    env, account = plan.stack, plan.outputs["accountId"]
    # Nodes: the worker node actions, eks-auth:AssumeRoleForPodIdentity above all (Pod Identity agent).
    for node_role in (f"mlplatform-{env}-system-nodes", f"mlplatform-{env}-karpenter-node"):
        for action in MANAGED_POLICY_ACTIONS["AmazonEKSWorkerNodePolicy"]:
            assert roles[node_role].allows(action), (node_role, action)
        assert roles[node_role].allows("ecr:BatchGetImage") and roles[node_role].allows("ecr:GetAuthorizationToken")
    for role, policy in (
        (f"mlplatform-{env}-vpc-cni", "AmazonEKS_CNI_Policy"),
        (f"mlplatform-{env}-ebs-csi", "AmazonEBSCSIDriverPolicy"),
    ):
        for action in MANAGED_POLICY_ACTIONS[policy]:
            assert roles[role].allows(action), (role, action)
    # Karpenter: every action of the official policy, on the resources it names.
    cluster = f"mlplatform-{env}-training"
    official = karpenter_facts.controller_policy(
        partition="aws",
        region="eu-west-1",
        account=account,
        cluster=cluster,
        node_role_arn=f"arn:aws:iam::{account}:role/mlplatform-{env}-karpenter-node",
        queue_arn=f"arn:aws:sqs:eu-west-1:{account}:mlplatform-{env}-karpenter",
    )
    karpenter = roles[f"mlplatform-{env}-karpenter"]
    for st in official:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        for action in actions:
            for resource in resources:
                assert karpenter.allows(action, resource.replace("*", "x")), (st["Sid"], action, resource)
    # Its finalizer lists instance profiles: without it `pulumi destroy` hangs on the EC2NodeClass.
    assert karpenter.allows("iam:ListInstanceProfiles")


def test_the_evaluator_sees_a_boundary_take_eks_auth_away():
    """The failure of the first round, reproduced: a boundary allowing eks:* but not eks-auth."""
    plan = stack_plan("dev")
    details = authorization_details(plan)
    boundary = next(p for p in details["Policies"] if p["PolicyName"] == "mlplatform-dev-cluster-boundary")
    doc = boundary["PolicyVersionList"][0]["Document"]
    for st in doc["Statement"]:
        if st.get("Sid") == "ClusterInfrastructure":
            st["Action"] = [a for a in st["Action"] if not a.startswith("eks-auth:")]
    from tests.upstream.effective import _evaluator

    evaluator = _evaluator(json.dumps(details, sort_keys=True))
    from iam_ape.helper_types import EntityType

    node_role = "arn:aws:iam::111111111111:role/mlplatform-dev-system-nodes"
    result = evaluator.evaluate(node_role, EntityType.role)
    assert "eks-auth:AssumeRoleForPodIdentity" in {a.action for a in result.ineffective_permissions}


def test_an_action_nobody_knows_is_reported_not_dropped():
    """iam-ape silently drops actions missing from its database; ours adds only those botocore
    confirms, so a typo fails loudly instead of passing unseen."""
    from tests.upstream.effective import _actions_db

    with pytest.raises(UnknownActionsError, match="eks-auth:AssumeRoleForPodIdentityy"):
        _actions_db(frozenset({"eks-auth:AssumeRoleForPodIdentityy"}))
    assert _actions_db(frozenset({"eks-auth:AssumeRoleForPodIdentity"}))


ESCALATION = (
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
)


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_manages_workload_roles_but_never_the_ci_roles(stack):
    """Invariant: CI cannot raise its own permissions. The deploy role changes the platform's roles
    (that is its job) but no CI role's policies, trust or boundary, its own included."""
    plan = stack_plan(stack)
    roles = effective(plan)
    deploy = roles.get(f"mlplatform-{stack}-ci-deploy")
    if deploy is None:
        pytest.skip("this stack has no CI roles (no ci.githubRepository)")
    arn = f"arn:aws:iam::{plan.outputs['accountId']}:role/mlplatform-{stack}-{{}}"
    ci = [name.removeprefix(f"mlplatform-{stack}-") for name in roles if name.startswith(f"mlplatform-{stack}-ci-")]
    workload = next(n for n in roles if n.startswith(f"mlplatform-{stack}-training-"))
    for action in ESCALATION:
        assert deploy.allows(action, arn.format(workload.removeprefix(f"mlplatform-{stack}-"))), action
        for role in ci:
            assert not deploy.allows(action, arn.format(role)), (action, role)
