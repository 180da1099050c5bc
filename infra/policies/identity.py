"""KMS and IAM rules: keys rotate and name their principals; roles get no wildcards or admin."""

from __future__ import annotations

from foundation.iam.actions import REGION_SCOPED_SERVICES, WILDCARD_ONLY_ACTIONS, unscoped_actions
from foundation.iam.documents import account_through_service
from infra.policies.framework import as_json, as_list, principals, resource_rule, statements

ADMIN_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
GITHUB = "token.actions.githubusercontent.com"


@resource_rule("kms-rotation", "Customer keys rotate automatically", ["aws:kms/key:Key"])
def rotation(args):
    if args.props.get("enableKeyRotation") is not True:
        yield "set enableKeyRotation to true"


@resource_rule(
    "kms-no-wildcard-principal",
    "Key policies name their principals; '*' only as the account's principals through one service",
    ["aws:kms/key:Key"],
)
def key_principals(args):
    for st in statements(args.props.get("policy")):
        if (
            st.get("Effect") == "Allow"
            and "*" in principals(st)
            and not account_through_service(st.get("Condition") or {})
        ):
            yield (
                f"key policy statement {st.get('Sid', '?')} allows Principal '*' without "
                "StringEquals kms:CallerAccount and kms:ViaService"
            )


@resource_rule("kms-no-lockout-bypass", "The key-policy lockout safety check is never bypassed", ["aws:kms/key:Key"])
def no_bypass(args):
    if args.props.get("bypassPolicyLockoutSafetyCheck") is True:
        yield "remove bypassPolicyLockoutSafetyCheck: a wrong key policy must fail, not lock the key"


IDENTITY_POLICIES = ["aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"]


def _is_boundary(args) -> bool:
    name = args.props.get("name")
    return isinstance(name, str) and name.endswith("-boundary")


@resource_rule("iam-no-star-action", "No identity policy allows every action ('*')", IDENTITY_POLICIES)
def no_star_action(args):
    for st in statements(args.props.get("policy")):
        if st.get("Effect") == "Allow" and "*" in as_list(st.get("Action")):
            yield f"statement {st.get('Sid', '?')} allows Action '*'; list the actions"


@resource_rule(
    "iam-no-unscoped-resource",
    "Resource '*' only with actions AWS authorizes on nothing else (Service Authorization Reference)",
    IDENTITY_POLICIES,
)
def no_unscoped_resource(args):
    if _is_boundary(args):
        return  # boundaries are ceilings, not grants
    for st in statements(args.props.get("policy")):
        if st.get("Effect") != "Allow" or "*" not in as_list(st.get("Resource")):
            continue
        actions = set(as_list(st.get("Action")))
        regional = {a for a in actions if a.split(":")[0] in REGION_SCOPED_SERVICES}
        in_region = "aws:RequestedRegion" in str(st.get("Condition"))
        rest = actions - (regional if in_region else set())
        extra = sorted(rest - set(WILDCARD_ONLY_ACTIONS) - unscoped_actions())
        if extra:
            yield f"statement {st.get('Sid', '?')} grants {', '.join(extra)} on Resource '*'; name the resources"


@resource_rule(
    "iam-no-admin-attachments",
    "No AdministratorAccess, IAMFullAccess or PowerUserAccess",
    [
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    ],
)
def no_admin(args):
    arn = str(args.props.get("policyArn", ""))
    if arn.rsplit("/", 1)[-1] in ADMIN_POLICIES:
        yield f"{arn} must not be attached; grant what the role needs through the access matrix"


@resource_rule("iam-no-users", "No IAM users: people and pipelines use roles", ["aws:iam/user:User"])
def no_users(args):
    yield f"IAM user {args.props.get('name', args.name)}: use a role (SSO, OIDC or Pod Identity)"


@resource_rule("iam-no-access-keys", "No long-lived access keys", ["aws:iam/accessKey:AccessKey"])
def no_access_keys(args):
    yield "access keys are long-lived secrets; use a role"


PULL_REQUEST_REF = "refs/pull/*/merge"


@resource_rule("iam-oidc-trust-conditions", "GitHub OIDC trust pins both aud and sub", ["aws:iam/role:Role"])
def oidc_trust(args):
    for st in statements(args.props.get("assumeRolePolicy")):
        if "sts:AssumeRoleWithWebIdentity" not in as_list(st.get("Action")):
            continue
        cond = as_json(st.get("Condition") or {})
        keys = {k for block in cond.values() for k in block}
        for claim in ("aud", "sub"):
            if f"{GITHUB}:{claim}" not in keys:
                yield f"trust statement {st.get('Sid', '?')} must condition {GITHUB}:{claim}"
        for sub in as_list(cond.get("StringLike", {}).get(f"{GITHUB}:sub", [])):
            # Only a pull request's number may be left open (refs/pull/<n>/merge): anything else admits
            # other branches, workflows or repositories.
            if any(c in str(sub).replace(PULL_REQUEST_REF, "") for c in "*?"):
                yield f"trust statement {st.get('Sid', '?')}: a wildcard sub admits any branch or fork"


@resource_rule(
    "iam-pod-identity-trust",
    "Pod Identity trust names only pods.eks.amazonaws.com, with TagSession, for one cluster",
    ["aws:iam/role:Role"],
)
def pod_identity_trust(args):
    for st in statements(args.props.get("assumeRolePolicy")):
        services = principals(st)
        if "pods.eks.amazonaws.com" not in services:
            continue
        sid = st.get("Sid", "?")
        if services != ["pods.eks.amazonaws.com"]:
            yield f"trust statement {sid} mixes pods.eks.amazonaws.com with {services}"
        if "sts:TagSession" not in as_list(st.get("Action")):
            yield f"trust statement {sid}: Pod Identity needs sts:AssumeRole and sts:TagSession"
        # EKS sends the cluster as a session tag (user guide, pod-id-role): without a condition on it
        # any cluster of any account with an association to this role could use it.
        cluster = (st.get("Condition") or {}).get("StringEquals", {}).get("aws:RequestTag/eks-cluster-arn")
        if not cluster or "*" in str(cluster):
            yield f"trust statement {sid}: condition StringEquals aws:RequestTag/eks-cluster-arn on the cluster's ARN"
