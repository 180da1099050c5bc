"""Role trust, boundaries and the documents moto cannot evaluate (conditions, KMS ARNs)."""

from __future__ import annotations

import json

import pytest

from foundation.iam.actions import (
    ALLOWED_MANAGED_POLICIES,
    REGION_SCOPED_SERVICES,
    WILDCARD_ONLY_ACTIONS,
    unscoped_actions,
)
from infra.access import MATRIX
from tests.plans import policy, role_statements, settings_of, stack_plan

ROLE, ROLE_POLICY, POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"
GH = "token.actions.githubusercontent.com"


def role(plan, key: str):
    return plan.get(ROLE, f"identity-{key}")


def trust(plan, key: str) -> dict:
    (st,) = policy(role(plan, key), "assumeRolePolicy")["Statement"]
    return st


def statements(plan, key: str) -> list[dict]:
    return role_statements(plan, role(plan, key))


def as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def test_every_role_of_the_matrix_exists_once_per_team(any_plan):
    settings = settings_of(any_plan.stack)
    expected = {f"training-{t.name}" for t in settings.training.teams}
    expected |= {"feature-ingestion", "model-publisher", "model-approver"}
    expected |= {f"serving-{e.name}" for e in settings.serving.endpoints}
    expected |= {f"model-monitor-{e.name}" for e in settings.serving.endpoints if e.monitor}
    expected |= {"data-quality-" + d.replace("_", "-") for d in settings.data_quality.datasets}
    if settings.ci.github_repository:
        expected |= {"ci-preview", "ci-deploy"}
    assert set(any_plan.outputs["roleArns"]) == expected
    families = ("training-", "serving-", "model-monitor-", "data-quality-")
    assert {c.role for c in MATRIX} <= {next((f[:-1] for f in families if r.startswith(f)), r) for r in expected}


def test_service_roles_trust_their_service_for_this_account_only(any_plan):
    """Endpoints run as SageMaker, drift jobs as Lambda (Model Monitor, opted in, as SageMaker),
    evaluations as Glue: each role trusts exactly that service, pinned to the stack's account
    (aws:SourceAccount; AWS's own Lambda trust sample uses it too: aws/agent-toolkit-for-aws,
    deploying-custom-domain-rest-api/scripts/lambda-trust-policy.json)."""
    settings = settings_of(any_plan.stack)
    services = {f"serving-{e.name}": "sagemaker.amazonaws.com" for e in settings.serving.endpoints}
    services |= {
        f"model-monitor-{e.name}": "sagemaker.amazonaws.com" if e.monitor.model_monitor else "lambda.amazonaws.com"
        for e in settings.serving.endpoints
        if e.monitor
    }
    services |= {"data-quality-" + d.replace("_", "-"): "glue.amazonaws.com" for d in settings.data_quality.datasets}
    assert services
    for key, service in services.items():
        st = trust(any_plan, key)
        assert st["Principal"] == {"Service": service}, key
        assert st["Action"] == "sts:AssumeRole"
        assert st["Condition"] == {"StringEquals": {"aws:SourceAccount": settings.account_id}}


def test_pod_roles_trust_only_eks_pod_identity_of_this_environments_cluster(any_plan):
    """EKS sends the cluster, namespace and service account as session tags (user guide, pod-id-role);
    the trust admits only this environment's cluster and, for a team's role, only its trainer."""
    stack, account = any_plan.stack, any_plan.outputs["accountId"]
    cluster = f"arn:aws:eks:eu-west-1:{account}:cluster/mlplatform-{stack}-training"
    teams = [k.removeprefix("training-") for k in any_plan.outputs["roleArns"] if k.startswith("training-")]
    assert teams
    for key in ("feature-ingestion", "model-publisher", *(f"training-{t}" for t in teams)):
        st = trust(any_plan, key)
        assert st["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert sorted(as_list(st["Action"])) == ["sts:AssumeRole", "sts:TagSession"]
        tags = st["Condition"]["StringEquals"]
        assert tags["aws:RequestTag/eks-cluster-arn"] == cluster, key
        if key.startswith("training-"):
            assert tags["aws:RequestTag/kubernetes-namespace"] == key.removeprefix("training-")
            assert tags["aws:RequestTag/kubernetes-service-account"] == "trainer"
        assert set(st["Condition"]) == {"StringEquals"}


def test_approvers_need_mfa_and_are_named_by_the_stack(any_plan):
    st = trust(any_plan, "model-approver")
    assert st["Principal"] == {"AWS": f"arn:aws:iam::{any_plan.outputs['accountId']}:role/ml-model-approvers"}
    assert st["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
    assert st["Condition"]["NumericLessThan"] == {"aws:MultiFactorAuthAge": "3600"}


WORKFLOWS = "example-org/mlplatform/.github/workflows"
MAIN = "ref:refs/heads/main"


@pytest.mark.parametrize(("stack", "environment"), [("dev", "dev"), ("staging", "staging"), ("prod", "production")])
def test_ci_roles_trust_one_repository_and_exact_subjects(stack, environment):
    """Subjects as GitHub issues them under the repository's template (repo, context, ref,
    job_workflow_ref; docs/ci.md): each role names the workflow file, the ref and the environment."""
    plan = stack_plan(stack)
    # The account's OIDC provider comes from the bootstrap (ci.oidcProviderArn), not from the stack.
    assert plan.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    provider = f"arn:aws:iam::{plan.outputs['accountId']}:oidc-provider/{GH}"
    repo = "repo:example-org/mlplatform"
    aud = {f"{GH}:aud": "sts.amazonaws.com"}
    expected = {
        "ci-deploy": [
            {
                "StringEquals": {
                    **aud,
                    f"{GH}:sub": [
                        f"{repo}:environment:{environment}:{MAIN}"
                        f":job_workflow_ref:{WORKFLOWS}/deploy-stack.yml@refs/heads/main"
                    ],
                }
            }
        ],
        "ci-preview": [
            # the nightly drift check and promotions, from main
            {
                "StringEquals": {
                    **aud,
                    f"{GH}:sub": [
                        f"{repo}:{MAIN}:{MAIN}:job_workflow_ref:{WORKFLOWS}/{w}.yml@refs/heads/main"
                        for w in ("drift", "promote")
                    ],
                }
            },
            # pull requests' merge refs, in the stack's preview environment: only the number is open
            {
                "StringEquals": aud,
                "StringLike": {
                    f"{GH}:sub": [
                        f"{repo}:environment:preview-{stack}:ref:refs/pull/*/merge"
                        f":job_workflow_ref:{WORKFLOWS}/pull-request.yml@refs/pull/*/merge"
                    ]
                },
            },
        ],
    }
    for key, conditions in expected.items():
        sts = policy(role(plan, key), "assumeRolePolicy")["Statement"]
        assert [st["Condition"] for st in sts] == conditions, key
        for st in sts:
            assert st["Principal"] == {"Federated": provider}
            assert st["Action"] == "sts:AssumeRoleWithWebIdentity"


def test_every_role_carries_its_boundary(any_plan):
    workload = any_plan.get(POLICY, "boundaries-workload").urn
    deploy = any_plan.get(POLICY, "boundaries-deploy").urn
    for key in any_plan.outputs["roleArns"]:
        r = role(any_plan, key)
        expected = deploy if key.startswith("ci-") else workload
        assert r.property_dependencies["permissionsBoundary"] == [expected], key
    delivery = any_plan.get(ROLE, "audit-trail-delivery")
    assert delivery.property_dependencies["permissionsBoundary"] == [workload]


def test_no_wildcard_action_and_resource_star_only_where_aws_requires_it(any_plan):
    for rp in any_plan.of_type(ROLE):
        for st in role_statements(any_plan, rp):
            assert "*" not in as_list(st["Action"]), (rp.name, st["Sid"])
            assert not any(a.endswith(":*") for a in as_list(st["Action"])), (rp.name, st["Sid"])
            if "*" in as_list(st["Resource"]):
                actions = set(as_list(st["Action"]))
                region_scoped = {a for a in actions if a.split(":")[0] in REGION_SCOPED_SERVICES}
                if region_scoped:  # EC2 ids are not the platform's names: scoped to the region instead
                    assert st["Condition"]["StringEquals"]["aws:RequestedRegion"] == "eu-west-1", (rp.name, st["Sid"])
                # the Service Authorization Reference lists no resource type for the rest
                assert actions - region_scoped <= set(WILDCARD_ONLY_ACTIONS) | unscoped_actions(), (rp.name, st["Sid"])


def test_key_grants_name_the_exact_key_and_only_through_a_service(any_plan):
    # moto checks KMS by action only: the key ARNs and the kms:ViaService scope are checked here.
    keys = any_plan.outputs["kmsKeyArns"]
    via = {
        "s3": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
        # the online feature store (foundation/upstream/services.py ONLINE_STORE_VIA)
        "sagemaker": {"StringLike": {"kms:ViaService": "sagemaker.*.amazonaws.com"}},
        # the approvals queue
        "sqs": {"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}},
    }
    for key, expected, services in (
        (f"training-{settings_of(any_plan.stack).training.teams[0].name}", {keys["data"], keys["models"]}, {"s3"}),
        ("feature-ingestion", {keys["data"]}, {"s3", "sagemaker"}),
        ("model-publisher", {keys["models"]}, {"s3", "sqs"}),
        ("model-approver", {keys["models"]}, {"s3"}),
    ):
        kms = [st for st in statements(any_plan, key) if as_list(st["Action"])[0].startswith("kms:")]
        assert {st["Resource"] for st in kms} == expected, key
        assert sorted(map(str, (st["Condition"] for st in kms))) == sorted(
            map(str, (via[s] for s in services for st in kms if st["Condition"] == via[s]))
        ), key
        assert {s for s in services if any(st["Condition"] == via[s] for st in kms)} == services, key


def test_listing_is_limited_to_the_granted_prefix(any_plan):
    # moto ignores StringLike conditions: the s3:prefix scope of List grants is checked here.
    team = settings_of(any_plan.stack).training.teams[0].name  # a team of the stack (a fork's own)
    lists = {st["Sid"]: st for st in statements(any_plan, f"training-{team}") if st["Action"] == "s3:ListBucket"}
    prefixes = [st["Condition"]["StringLike"]["s3:prefix"] for st in lists.values() if "Condition" in st]
    assert [f"experiments/{team}/*"] in prefixes
    assert "Condition" not in lists["ReadLakeCuratedList"]  # the whole curated zone is granted


def test_preview_reads_configuration_never_data(any_plan):
    sts = statements(any_plan, "ci-preview")
    # decrypting is for the stack's secrets in the state only: the Pulumi secrets key, by its alias
    (secrets,) = [st for st in sts if "kms:Decrypt" in as_list(st["Action"])]
    assert secrets["Sid"] == "PulumiSecretsKey"
    assert secrets["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": [f"alias/mlplatform-{any_plan.stack}-pulumi-secrets"]}
    }
    actions = {a for st in sts if st is not secrets for a in as_list(st["Action"])}
    # objects: the Pulumi state only (tests/components/test_ci_roles.py checks the effective scope)
    objects = {st["Sid"] for st in statements(any_plan, "ci-preview") if "s3:GetObject" in as_list(st["Action"])}
    assert objects == {"PulumiStateObjects"}
    assert not {a for a in actions if a.startswith(("s3:PutObject", "kms:Encrypt", "kms:GenerateDataKey"))}
    verbs = ("Get", "List", "Describe", "Head", "BatchGet", "View", "Lookup", "Search")
    assert not {a for a in actions if not a.split(":")[1].startswith(verbs)}


def test_deploy_may_delete_stateful_resources_only_in_disposable_stacks():
    def actions(stack):
        return {a for st in statements(stack_plan(stack), "ci-deploy") for a in as_list(st["Action"])}

    deletes = {"s3:DeleteBucket", "kms:ScheduleKeyDeletion", "cloudtrail:DeleteTrail", "logs:DeleteLogGroup",
               "ecr:DeleteRepository", "sagemaker:DeleteFeatureGroup", "sagemaker:DeleteModelPackageGroup"}  # fmt: skip
    assert deletes <= actions("dev")
    assert not deletes & actions("staging") and not deletes & actions("prod")
    # stateless types are deleted everywhere (a replaced role policy, an alarm)
    assert {"iam:DeleteRolePolicy", "cloudwatch:DeleteAlarms"} <= actions("prod")


def test_deploy_boundary_closes_the_escalation_paths(any_plan):
    deny = {
        st["Sid"]: st for st in policy(any_plan.get(POLICY, "boundaries-deploy"))["Statement"] if st["Effect"] == "Deny"
    }
    assert deny["RolesOnlyWithABoundary"]["Condition"] == {
        "StringNotLike": {
            "iam:PermissionsBoundary": [
                f"arn:aws:iam::{any_plan.outputs['accountId']}:policy/mlplatform-{any_plan.stack}-*-boundary"
            ]
        }
    }
    assert set(as_list(deny["NoIamUsers"]["Action"])) >= {"iam:CreateUser", "iam:CreateAccessKey"}
    assert deny["KeepRoleBoundaries"]["Action"] == "iam:DeleteRolePermissionsBoundary"
    attach = deny["OnlyEksManagedPolicies"]
    assert attach["Action"] == "iam:AttachRolePolicy"
    allowed = attach["Condition"]["ArnNotLike"]["iam:PolicyARN"]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" not in allowed
    own = f"arn:aws:iam::{any_plan.outputs['accountId']}:policy/mlplatform-{any_plan.stack}-*"
    assert set(allowed) == {*ALLOWED_MANAGED_POLICIES, own}
    assert "s3:GetObject*" in deny["NeverReadOrWriteData"]["Action"]
    stop = as_list(deny["KeepAuditTrail"]["Action"])
    assert "cloudtrail:StopLogging" in stop
    assert ("cloudtrail:DeleteTrail" in stop) is (any_plan.stack != "dev")


def test_workload_boundary_never_allows_administration(any_plan):
    sts = {st["Sid"]: st for st in policy(any_plan.get(POLICY, "boundaries-workload"))["Statement"]}
    assert sts["NeverAdminister"]["Effect"] == "Deny"
    assert "iam:*" in sts["NeverAdminister"]["Action"]
    assert sts["DataPlaneOfThisEnvironment"]["Resource"] == f"arn:aws:s3:::mlplatform-{any_plan.stack}-*"


def _open_dev_endpoint() -> dict:
    """Without a runner in the VPC, dev's in-cluster project runs from a laptop: the endpoint must
    be open to it (settings refuse a private cluster nothing can reach)."""
    from pipelines.offline import read_stack_config

    training = json.loads(read_stack_config("dev").values["mlplatform:training"])
    return {"mlplatform:training": training | {"endpointPublicAccess": True, "publicAccessCidrs": ["85.10.20.30/32"]}}


OPEN_DEV_ENDPOINT = _open_dev_endpoint()


def test_without_a_provider_arn_the_stack_creates_the_oidc_provider():
    from pipelines.offline import plan_stack

    ci = {"githubRepository": "example-org/mlplatform", "runner": "none"}
    plan = plan_stack("dev", overrides={"mlplatform:ci": ci, **OPEN_DEV_ENDPOINT})
    (provider,) = plan.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == f"https://{GH}" and provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert json.loads(role(plan, "ci-deploy").inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Federated": provider.outputs["arn"]
    }
    assert not plan.of_type("aws:codebuild/project:Project")  # runner: none


def test_without_a_repository_there_are_no_ci_roles():
    from pipelines.offline import plan_stack

    plan = plan_stack("dev", overrides={"mlplatform:ci": {}, **OPEN_DEV_ENDPOINT})
    assert not {k for k in plan.outputs["roleArns"] if k.startswith("ci-")}
    assert not plan.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")


def test_every_policy_fits_the_iam_size_quotas(any_plan):
    """AWS rejects an inline policy set over 10,240 and a managed policy over 6,144 characters
    (whitespace excluded): a `pulumi up` failure knowable in advance."""

    def size(doc: str) -> int:
        return len(json.dumps(json.loads(doc), separators=(",", ":")))

    per_role: dict[str, int] = {}
    for rp in any_plan.of_type(ROLE_POLICY):
        per_role[rp.inputs["role"]] = per_role.get(rp.inputs["role"], 0) + size(rp.inputs["policy"])
    assert per_role and max(per_role.values()) <= 10_240, per_role
    for p in any_plan.of_type(POLICY):
        assert size(p.inputs["policy"]) <= 6_144, p.name
    for r in any_plan.of_type(ROLE):
        assert size(r.inputs["assumeRolePolicy"]) <= 2_048, r.name  # the default trust-policy quota


# Services that assume a role on behalf of one resource the stack creates, so the trust can name that
# resource's ARN (aws:SourceArn, the IAM user guide's confused-deputy advice for service principals):
# VPC Flow Logs (vpc user guide, flow-logs-iam-role: aws:SourceAccount and aws:SourceArn of the flow
# log), CloudTrail (the trail ARN, as foundation/upstream/services.py CLOUDTRAIL_CONDITION has it for
# its bucket and key), CodeBuild (the project ARN; unverified: the CodeBuild guide's confused-deputy
# page could not be read here, the condition is the generic IAM pattern).
SOURCE_ARN_SERVICES = {
    "cloudtrail.amazonaws.com": "the trail",
    "vpc-flow-logs.amazonaws.com": "the flow log",
    "codebuild.amazonaws.com": "the runner project",
}


def test_every_service_trust_names_its_source(any_plan):
    """Confused deputy: a service may assume a role only for this account's (or this resource's)
    requests. EC2 sets no source context (instance roles take none); EKS Pod Identity is pinned by the
    cluster session tag it sends; every other service by aws:SourceArn or aws:SourceAccount."""
    account = any_plan.outputs["accountId"]
    for role in any_plan.of_type(ROLE):
        for st in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            services = as_list((st.get("Principal") or {}).get("Service") or [])
            if not services or services == ["ec2.amazonaws.com"]:
                continue
            condition = json.dumps(st.get("Condition", {}))
            if services == ["pods.eks.amazonaws.com"]:
                assert "aws:RequestTag/eks-cluster-arn" in condition, role.name
            elif set(services) & set(SOURCE_ARN_SERVICES):
                assert "aws:SourceArn" in condition, (role.name, services, "the source resource is known: name it")
            else:
                assert "aws:SourceArn" in condition or f'"aws:SourceAccount": "{account}"' in condition, (
                    role.name,
                    services,
                )


def test_ci_deploys_models_from_the_registry_of_record_and_no_other(any_plan):
    """A stack serving another stack's registry creates its models from that account's packages:
    CI may CreateModel from exactly those groups' packages (and from nothing of another account)."""
    s = settings_of(any_plan.stack)
    if not s.ci.github_repository:
        return
    registry = settings_of(s.serving.registry_stack or any_plan.stack)
    foreign = [
        st
        for st in statements(any_plan, "ci-deploy")
        if any(":sagemaker:" in r and f":{s.account_id}:" not in r for r in as_list(st.get("Resource", [])))
    ]
    if registry.account_id == s.account_id:
        assert foreign == []
        return
    (st,) = foreign
    families = {e.model_family for e in s.serving.endpoints}
    where = f"arn:aws:sagemaker:{registry.region}:{registry.account_id}"
    assert set(as_list(st["Resource"])) == {
        f"{where}:model-package/mlplatform-{registry.environment}-{f}/*" for f in families
    }
    assert sorted(as_list(st["Action"])) == ["sagemaker:CreateModel", "sagemaker:DescribeModelPackage"]
