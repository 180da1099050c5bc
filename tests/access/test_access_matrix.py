"""Every cell of the access matrix, and the denials that matter, proven with moto's IAM evaluator.

Each case assumes a role loaded from the dev or prod Plan and makes a real boto3 call. See
tests/access/lab.py for what moto does not evaluate and where that is covered instead.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from tests.access.lab import DENIED, EMPTY_POLICY, IMAGE_MANIFEST, OFFLINE_FEATURES, REGION, AccessLab
from tests.plans import stack_plan

OBJ = "data/part-0.parquet"
PODS_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},'
    '"Action":["sts:AssumeRole","sts:TagSession"]}]}'
)
# Keys of the objects the lab puts in every bucket; {team}, {other_team} and {family} are the stack's.
OWN_RUN, OTHER_RUN, MODEL = "experiments/{team}/ckpt", "experiments/{other_team}/ckpt", "models/{family}/1"


def s3(s, _):
    return s.client("s3")


def get(zone: str, key: str = OBJ):
    return lambda s, lab: s3(s, lab).get_object(Bucket=lab.buckets[zone], Key=lab.key(key))


def put(zone: str, key: str):
    return lambda s, lab: s3(s, lab).put_object(Bucket=lab.buckets[zone], Key=lab.key(key), Body=b"new")


def delete(zone: str, key: str = OBJ):
    return lambda s, lab: s3(s, lab).delete_object(Bucket=lab.buckets[zone], Key=lab.key(key))


def listing(zone: str, prefix: str = ""):
    return lambda s, lab: s3(s, lab).list_objects_v2(Bucket=lab.buckets[zone], Prefix=lab.key(prefix))


def foreign_get(zone: str):
    # The same zone of the other environment (prod for dev, dev for prod).
    return lambda s, lab: s3(s, lab).get_object(Bucket=lab.foreign_buckets[f"{_other(lab)}:{zone}"], Key=OBJ)


def _other(lab: AccessLab) -> str:
    return "prod" if lab.plan.stack == "dev" else "dev"


def create_bucket(name: str):
    def call(s, lab):
        bucket = name.format(env=lab.plan.stack, other=_other(lab), account=lab.account)
        s3(s, lab).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})

    return call


def kms(action: str, domain: str = "data"):
    def call(s, lab):
        client, key = s.client("kms"), lab.key_ids[domain]
        if action == "decrypt":
            client.decrypt(CiphertextBlob=lab.ciphertexts[domain])
        elif action == "describe":
            client.describe_key(KeyId=key)
        elif action == "list_aliases":
            client.list_aliases()
        elif action == "schedule_deletion":
            client.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        elif action == "create":
            client.create_key(Tags=[{"TagKey": "environment", "TagValue": lab.plan.stack}])

    return call


def iam(action: str, name: str = ""):
    def call(s, lab):
        client = s.client("iam")
        role = name.format(env=lab.plan.stack, other=_other(lab))
        if action == "create_role":
            boundary = f"arn:aws:iam::{lab.account}:policy/mlplatform-{lab.plan.stack}-workload-boundary"
            client.create_role(RoleName=role, AssumeRolePolicyDocument=EMPTY_POLICY, PermissionsBoundary=boundary)
        elif action == "get_role":
            client.get_role(RoleName=role)
        elif action == "update_trust":
            client.update_assume_role_policy(RoleName=role, PolicyDocument=PODS_TRUST)
        elif action == "put_role_policy":
            client.put_role_policy(RoleName=role, PolicyName="access", PolicyDocument=EMPTY_POLICY)
        elif action == "attach_admin":
            client.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        elif action == "create_user":
            client.create_user(UserName="intruder")

    return call


def bucket_config(action: str, zone: str = "raw"):
    def call(s, lab):
        client, bucket = s3(s, lab), lab.buckets[zone]
        if action == "get_logging":
            client.get_bucket_logging(Bucket=bucket)
        elif action == "get_versioning":
            client.get_bucket_versioning(Bucket=bucket)
        elif action == "put_versioning":
            client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        elif action == "put_policy":
            client.put_bucket_policy(Bucket=bucket, Policy='{"Version":"2012-10-17","Statement":[]}')

    return call


def registry(action: str):
    def call(s, lab):
        client = s.client("sagemaker")
        package, group = lab.model_packages[lab.family], lab.plan.outputs["modelPackageGroups"][lab.family]
        if action == "approve":
            client.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
        elif action == "describe":
            client.describe_model_package(ModelPackageName=package)
        elif action == "register":
            client.create_model_package(
                ModelPackageGroupName=group,
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [{"Image": lab.plan.outputs["imageRepositories"]["inference"] + ":2"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )
        elif action == "delete_group":
            client.delete_model_package_group(ModelPackageGroupName=group)

    return call


def images(action: str, repository: str = "training"):
    def call(s, lab):
        client = s.client("ecr")
        repo = lab.plan.outputs["imageRepositories"][repository].split("/", 1)[1]
        if action == "login":
            client.get_authorization_token()
        elif action == "pull":
            client.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
        elif action == "push":
            client.put_image(
                repositoryName=repo, imageManifest=IMAGE_MANIFEST.replace("a" * 64, "b" * 64), imageTag="v2"
            )
        elif action == "delete":
            client.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])

    return call


@dataclass(frozen=True)
class Case:
    role: str
    what: str
    call: Any
    allowed: bool
    stacks: tuple[str, ...] = ("dev", "prod")


ROLE = "training-{team}"  # the stack's first team; "another team" is the second
CASES = [
    # training (per team): read curated data, read/write its own team's runs; nothing else
    Case(ROLE, "read curated objects", get("curated"), True),
    Case(ROLE, "list curated data", listing("curated", "data/"), True),
    Case(ROLE, "write own team's checkpoint", put("artifacts", OWN_RUN + "-2"), True),
    Case(ROLE, "read own team's checkpoint", get("artifacts", OWN_RUN), True),
    Case(ROLE, "list own team's runs", listing("artifacts", "experiments/{team}/"), True),
    Case(ROLE, "decrypt with the data key", kms("decrypt"), True),
    Case(ROLE, "write curated data (read only)", put("curated", "data/evil"), False),
    Case(ROLE, "read raw data (not granted)", get("raw"), False),
    Case(ROLE, "write another team's runs", put("artifacts", OTHER_RUN + "-2"), False),
    Case(ROLE, "read another team's runs", get("artifacts", OTHER_RUN), False),
    Case(ROLE, "delete curated data", delete("curated"), False),
    Case(ROLE, "delete own checkpoint", delete("artifacts", OWN_RUN), False),
    Case(ROLE, "read the other environment's data", foreign_get("curated"), False),
    Case(ROLE, "read the offline feature store", get("curated", OFFLINE_FEATURES), True),
    Case(ROLE, "write the offline feature store", put("curated", OFFLINE_FEATURES), False),
    Case(ROLE, "create an IAM role", iam("create_role", "mlplatform-{env}-escalate"), False),
    Case(ROLE, "schedule key deletion", kms("schedule_deletion"), False),
    Case(ROLE, "log in to the image registry", images("login"), True),
    Case(ROLE, "pull a training image", images("pull"), True),
    Case(ROLE, "push a training image", images("push"), False),
    Case(ROLE, "approve a model package", registry("approve"), False),
    Case(ROLE, "register a model package", registry("register"), False),
    # feature ingestion: raw in, curated out
    Case("feature-ingestion", "read raw data", get("raw"), True),
    Case("feature-ingestion", "list raw data", listing("raw"), True),
    Case("feature-ingestion", "write curated data", put("curated", "data/part-1.parquet"), True),
    Case("feature-ingestion", "write raw data (read only)", put("raw", "data/evil"), False),
    Case("feature-ingestion", "delete curated data", delete("curated"), False),
    Case("feature-ingestion", "delete offline feature records", delete("curated", OFFLINE_FEATURES), False),
    Case("feature-ingestion", "read model artifacts", get("artifacts", MODEL), False),
    Case("feature-ingestion", "read the other environment's raw data", foreign_get("raw"), False),
    # model publisher: runs in, versioned models out
    Case("model-publisher", "read a training run", get("artifacts", OWN_RUN), True),
    Case("model-publisher", "write a model version", put("artifacts", "models/{family}/2"), True),
    Case("model-publisher", "overwrite a run (read only)", put("artifacts", OWN_RUN), False),
    Case("model-publisher", "delete a model version", delete("artifacts", MODEL), False),
    Case("model-publisher", "write curated data", put("curated", "data/evil"), False),
    Case(
        "model-publisher", "attach AdministratorAccess", iam("attach_admin", "mlplatform-{env}-model-publisher"), False
    ),
    # model approver: reviews models, changes nothing in the lake
    Case("model-approver", "read a model version", get("artifacts", MODEL), True),
    Case("model-approver", "list model versions", listing("artifacts", "models/"), True),
    Case("model-approver", "write a model version", put("artifacts", "models/{family}/9"), False),
    Case("model-approver", "read training runs", get("artifacts", OWN_RUN), False),
    Case("model-approver", "read raw data", get("raw"), False),
    Case("model-approver", "read the offline feature store", get("curated", OFFLINE_FEATURES), False),
    Case("model-approver", "approve a model package", registry("approve"), True),
    Case("model-approver", "describe a model package", registry("describe"), True),
    Case("model-approver", "register a model package", registry("register"), False),
    Case("model-approver", "push an image", images("push"), False),
    # CI preview: configuration only
    Case("ci-preview", "read bucket logging", bucket_config("get_logging"), True),
    Case("ci-preview", "read bucket versioning", bucket_config("get_versioning"), True),
    Case("ci-preview", "read a platform role", iam("get_role", "mlplatform-{env}-feature-ingestion"), True),
    Case("ci-preview", "describe a key", kms("describe"), True),
    Case("ci-preview", "list key aliases", kms("list_aliases"), True),
    Case("ci-preview", "read data", get("raw"), False),
    Case("ci-preview", "change a bucket policy", bucket_config("put_policy"), False),
    Case("ci-preview", "create a role", iam("create_role", "mlplatform-{env}-preview-escalate"), False),
    # "ci-preview cannot decrypt data" is not a moto case: moto checks KMS by action only and ignores the
    # kms:ResourceAliases condition that limits CI's kms:Decrypt to the Pulumi secrets key; the effective
    # permissions (iam-ape, with the boundary) show it: tests/components/test_ci_roles.py.
    # CI deploy: manages this environment's resources, never its data or anyone else's resources
    Case("ci-deploy", "create a platform bucket", create_bucket("mlplatform-{env}-new-{account}-eu-west-1"), True),
    Case("ci-deploy", "configure bucket versioning", bucket_config("put_versioning"), True),
    Case("ci-deploy", "update a platform role's trust", iam("update_trust", "mlplatform-{env}-model-approver"), True),
    Case(
        "ci-deploy", "update a platform role's policy", iam("put_role_policy", "mlplatform-{env}-model-approver"), True
    ),
    Case("ci-deploy", "create a key", kms("create"), True),
    Case("ci-deploy", "read data", get("raw"), False),
    Case("ci-deploy", "create an IAM user", iam("create_user"), False),
    Case(
        "ci-deploy", "create the other environment's bucket", create_bucket("mlplatform-{other}-x-1-eu-west-1"), False
    ),
    Case("ci-deploy", "change a role outside the platform", iam("put_role_policy", "outsider-admin"), False),
    Case(
        "ci-deploy",
        "change the other environment's role",
        iam("put_role_policy", "mlplatform-{other}-ci-deploy"),
        False,
    ),
    Case(
        "ci-deploy",
        "retrust the other environment's role",
        iam("update_trust", "mlplatform-{other}-model-approver"),
        False,
    ),
    Case("ci-deploy", "schedule key deletion in dev (disposable)", kms("schedule_deletion"), True, ("dev",)),
    Case("ci-deploy", "schedule key deletion in prod", kms("schedule_deletion"), False, ("prod",)),
]


class _Labs:
    """One moto lab at a time (moto's state is global): cases run grouped by stack."""

    def __init__(self) -> None:
        self.stack: str | None = None
        self._exit: ExitStack | None = None
        self.lab: AccessLab | None = None

    def get(self, stack: str) -> AccessLab:
        if stack != self.stack:
            self.close()
            other = "prod" if stack == "dev" else "dev"
            self._exit = ExitStack()
            self.lab = self._exit.enter_context(AccessLab(stack_plan(stack), (stack_plan(other),)).running())
            self.stack = stack
        assert self.lab is not None
        return self.lab

    def close(self) -> None:
        if self._exit:
            self._exit.close()
        self.stack, self._exit, self.lab = None, None, None


@pytest.fixture(scope="module")
def labs():
    holder = _Labs()
    yield holder
    holder.close()


PAIRS = [(stack, c) for stack in ("dev", "prod") for c in CASES if stack in c.stacks]


@pytest.mark.parametrize(("stack", "case"), PAIRS, ids=[f"{st}-{c.role}: {c.what}" for st, c in PAIRS])
def test_access_matrix_cell(labs, stack, case):
    lab = labs.get(stack)
    outcome = lab.attempt(case.role, case.call)
    if case.allowed:
        assert outcome is None, f"{case.role} must be able to {case.what} in {stack}, got {outcome}"
    else:
        assert outcome == DENIED, f"{case.role} must not be able to {case.what} in {stack}, got {outcome or 'success'}"


def test_the_matrix_covers_enough_roles_and_cells():
    roles = {c.role for c in CASES}
    assert len(roles) >= 5 and len(CASES) >= 40
    assert {c.allowed for c in CASES if c.role == "ci-deploy"} == {True, False}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_teams_service_account_reaches_only_its_own_runs(labs, stack):
    """Follow the Pod Identity association of each team's `trainer` service account to its role, as
    EKS does for a pod, and check that role against the team's and the other teams' runs."""
    lab = labs.get(stack)
    role_keys = {arn: key for key, arn in lab.plan.outputs["roleArns"].items()}
    teams = {}
    for assoc in lab.plan.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation"):
        if assoc.inputs["serviceAccount"] == "trainer":
            teams[assoc.inputs["namespace"]] = role_keys[assoc.inputs["roleArn"]]
    assert len(teams) >= 2
    for team, role in teams.items():
        assert lab.attempt(role, put("artifacts", f"experiments/{team}/sa-check")) is None, team
        for other in set(teams) - {team}:
            assert lab.attempt(role, put("artifacts", f"experiments/{other}/sa-check")) == DENIED, (team, other)


# Invariants of the platform's data, stated on their own (not from infra/access.py): every role of
# the stack is tried, so a wrong matrix row (and the table of docs/security.md generated from it) cannot pass.
INVARIANTS = [
    ("writes the raw zone", put("raw", "data/invariant"), set()),  # producers outside the platform
    ("writes curated data", put("curated", "data/invariant"), {"feature-ingestion"}),
    ("writes a model version", put("artifacts", "models/{family}/invariant"), {"model-publisher"}),
    ("approves a model package", registry("approve"), {"model-approver"}),
    ("deletes curated data", delete("curated"), set()),
    ("deletes a model version", delete("artifacts", MODEL), set()),
    ("reads raw data", get("raw"), {"feature-ingestion"}),
]


# grouped by stack: building a lab takes seconds, switching between stacks rebuilds it
INVARIANT_CASES = [(stack, *inv) for stack in ("prod", "dev") for inv in INVARIANTS]


@pytest.mark.parametrize(
    ("stack", "what", "call", "who"), INVARIANT_CASES, ids=[f"{c[0]}-{c[1]}" for c in INVARIANT_CASES]
)
def test_only_the_intended_roles_can(labs, stack, what, call, who):
    lab = labs.get(stack)
    able = {role for role in lab.plan.outputs["roleArns"] if lab.attempt(role, call) is None}
    assert able == who, f"in {stack}, {sorted(able)} {what}; only {sorted(who) or 'nobody'} may"
