"""Effective permissions of the roles a plan creates: identity policies intersected with the
permission boundary, minus explicit denies, evaluated by iam-ape (Orca Security's IAM permissions
evaluator, a dev dependency) on the plan's roles in the shape of IAM GetAccountAuthorizationDetails.

moto evaluates identity policies only; boundaries are exactly where the first round failed (the node
roles lost eks-auth:AssumeRoleForPodIdentity to the cluster boundary), so they are evaluated here.
AWS managed policies are taken from foundation/upstream/eks.py (their documented actions).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache

from foundation.upstream.eks import MANAGED_POLICY_ACTIONS
from pipelines.plan import Plan

AWS_MANAGED = "arn:aws:iam::aws:policy/"


def _managed_document(arn: str) -> dict:
    name = arn.rsplit("/", 1)[-1]
    if name not in MANAGED_POLICY_ACTIONS:
        raise KeyError(f"{arn} is attached but foundation/upstream/eks.py has no verified actions for it")
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(MANAGED_POLICY_ACTIONS[name]), "Resource": "*"}],
    }


def _policy_detail(arn: str, name: str, document: dict) -> dict:
    return {
        "Arn": arn,
        "PolicyName": name,
        "DefaultVersionId": "v1",
        "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": document}],
    }


def authorization_details(plan: Plan) -> dict:
    """The plan's roles and policies as GetAccountAuthorizationDetails would return them."""
    customer = {p.outputs["arn"]: p for p in plan.of_type("aws:iam/policy:Policy")}
    policies = {
        arn: _policy_detail(arn, p.inputs["name"], json.loads(p.inputs["policy"])) for arn, p in customer.items()
    }
    roles = []
    for role in plan.of_type("aws:iam/role:Role"):
        name = role.inputs["name"]
        inline = [
            {"PolicyName": rp.inputs.get("name", "inline"), "PolicyDocument": json.loads(rp.inputs["policy"])}
            for rp in plan.of_type("aws:iam/rolePolicy:RolePolicy")
            if rp.inputs["role"] == role.id
        ]
        attached = []
        for att in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
            if att.inputs["role"] != name:
                continue
            arn = att.inputs["policyArn"]
            if arn.startswith(AWS_MANAGED) and arn not in policies:
                policies[arn] = _policy_detail(arn, arn.rsplit("/", 1)[-1], _managed_document(arn))
            attached.append({"PolicyName": arn.rsplit("/", 1)[-1], "PolicyArn": arn})
        detail = {
            "Arn": role.outputs["arn"],
            "RoleName": name,
            "Path": "/",
            "RolePolicyList": inline,
            "AttachedManagedPolicies": attached,
        }
        if role.inputs.get("permissionsBoundary"):
            boundary = role.inputs["permissionsBoundary"]
            detail["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
        roles.append(detail)
    return {"RoleDetailList": roles, "Policies": list(policies.values()), "UserDetailList": [], "GroupDetailList": []}


@dataclass(frozen=True)
class Cut:
    """An action a role's identity policy allows that its boundary or a deny takes away."""

    role: str
    action: str
    resource: str | None
    by: str


@dataclass(frozen=True)
class Effective:
    role: str
    allowed: dict  # action -> set of iam_ape Action (resource, not_resource, condition)
    cut: tuple[Cut, ...]

    def allows(self, action: str, resource: str = "*") -> bool:
        """Is ``action`` allowed on ``resource`` by some statement (whatever its condition)?

        iam-ape cuts a deny's resources out of an allow as one entry per denied pattern (resource R,
        not_resource D1), (R, D2), ...: they hold together, so entries of one statement and resource
        are read as R and not D1 and not D2."""
        from fnmatch import fnmatchcase

        groups: dict[tuple, list] = {}
        for a in self.allowed.get(action, ()):
            groups.setdefault((a.resource or "*", a.source), []).append(a.not_resource)
        return any(
            (pattern == "*" or fnmatchcase(resource, pattern))
            and not any(nr and fnmatchcase(resource, nr) for nr in excluded)
            for (pattern, _), excluded in groups.items()
        )


def _literal_actions(details: dict) -> set[str]:
    docs = [p["PolicyDocument"] for r in details["RoleDetailList"] for p in r["RolePolicyList"]]
    docs += [v["Document"] for p in details["Policies"] for v in p["PolicyVersionList"]]
    found = set()
    for doc in docs:
        for st in doc["Statement"]:
            actions = st.get("Action", st.get("NotAction", []))
            found |= {a for a in ([actions] if isinstance(actions, str) else actions) if "*" not in a}
    return found


@cache
def _botocore_operations(prefix: str) -> frozenset[str]:
    """Operations of the botocore services that sign as ``prefix`` (an IAM action is, for these
    services, the API operation's name): the independent check that an action exists."""
    import botocore.session

    session = botocore.session.get_session()
    services = session.get_available_services()
    if prefix in services:  # most services are named by their IAM prefix
        return frozenset(session.get_service_model(prefix).operation_names)
    ops: set[str] = set()
    for service in services:
        model = session.get_service_model(service)
        if prefix in (model.metadata.get("signingName"), model.metadata.get("endpointPrefix")):
            ops |= set(model.operation_names)
    return frozenset(ops)


# Actions of services with no botocore model, from the Service Authorization Reference
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_sagemaker-mlflow.html):
# MLflow's REST API behind SageMaker's signing.
DOCUMENTED_ACTIONS = frozenset(
    "sagemaker-mlflow:" + a
    for a in (
        "AccessUI", "CreateExperiment", "SearchExperiments", "GetExperiment", "GetExperimentByName",
        "SetExperimentTag", "CreateRun", "UpdateRun", "GetRun", "SearchRuns", "LogMetric", "LogBatch", "LogParam",
        "LogModel", "LogInputs", "SetTag", "GetMetricHistory", "ListArtifacts",
    )
) | {
    # CodeBuild user guide (connections-github-app): a project's service role needs
    # "codeconnections:GetConnectionToken", "codeconnections:GetConnection" (a permission, not an API).
    "codeconnections:GetConnectionToken",
    "codestar-connections:GetConnectionToken",
}  # fmt: skip


class UnknownActionsError(AssertionError):
    pass


@cache
def _actions_db(extra: frozenset[str]) -> str:
    """iam-ape's action database (scraped from the Service Authorization Reference, May 2025) plus
    the actions our policies name that it lacks (eks-auth, for one), each confirmed by botocore.
    iam-ape drops actions it does not know, so without this a missing eks-auth would go unseen."""
    import os
    import tarfile
    import tempfile

    import iam_ape

    path = os.path.join(os.path.dirname(iam_ape.__file__), "aws_iam_actions", "aws_iam_actions.tar.gz")
    with tarfile.open(path) as tar:
        data = json.load(tar.extractfile("actions.json"))
    known = {f"{svc}:{a}".lower() for svc, actions in data.items() for a in actions}
    unknown = sorted(a for a in extra if a.lower() not in known)
    # Actions of the provider-actions table were checked against the Service Authorization Reference
    # when it was built (pipelines/provider_actions.py): they are known too.
    from foundation.iam.actions import actions_of, platform_types

    documented = DOCUMENTED_ACTIONS | actions_of(platform_types())
    unconfirmed = [
        a for a in unknown if a not in documented and a.split(":", 1)[1] not in _botocore_operations(a.split(":", 1)[0])
    ]
    if unconfirmed:
        raise UnknownActionsError(f"actions neither iam-ape nor botocore knows (typos?): {', '.join(unconfirmed)}")
    for action in unknown:
        svc, name = action.split(":", 1)
        data.setdefault(svc, {})[name] = {"description": "confirmed by the botocore service model", "access": "?"}
    out = os.path.join(tempfile.mkdtemp(prefix="iam-ape-"), "actions.tar.gz")
    body = json.dumps(data).encode()
    with tarfile.open(out, "w:gz") as tar:
        info = tarfile.TarInfo("actions.json")
        info.size = len(body)
        import io

        tar.addfile(info, io.BytesIO(body))
    return out


@cache
def _evaluator(details_json: str):
    from iam_ape.evaluator import AuthorizationDetails, EffectivePolicyEvaluator
    from iam_ape.expand_policy import PolicyExpander

    logging.getLogger("IAM-APE").setLevel(logging.ERROR)
    details = json.loads(details_json)
    expander = PolicyExpander(_actions_db(frozenset(_literal_actions(details))))
    return EffectivePolicyEvaluator(AuthorizationDetails(details), policy_expander=expander)


def effective(plan: Plan) -> dict[str, Effective]:
    """Every role of the plan, by role name, with its effective permissions and what was cut."""
    from iam_ape.helper_types import EntityType

    details = authorization_details(plan)
    evaluator = _evaluator(json.dumps(details, sort_keys=True))
    out = {}
    for role in details["RoleDetailList"]:
        result = evaluator.evaluate(role["Arn"], EntityType.role)
        kept = Effective(role["RoleName"], result.allowed_permissions, ())
        # iam-ape 1.1.6 (evaluator.apply_permission_boundary) reports a grant as cut by every boundary
        # statement of the same action whose resource does not match, even when another statement of
        # the boundary permits it (it is then kept in allowed_permissions): only a grant that is no
        # longer allowed is cut.
        cut = tuple(
            sorted(
                {
                    Cut(role["RoleName"], a.action, a.resource, a.denied_by)
                    for a in result.ineffective_permissions
                    if not kept.allows(a.action, a.resource or "*")
                },
                key=lambda c: (c.action, str(c.resource)),
            )
        )
        out[role["RoleName"]] = Effective(role["RoleName"], result.allowed_permissions, cut)
    return out
