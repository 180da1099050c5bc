"""Every request the platform's real clients send passes the policies on its path, end to end
(identity policy, permissions boundary, bucket policy, key policy), and the refused shapes do not:
evaluated with IAM's semantics (pipelines/semantics/iam.py, held to the IAM User Guide's examples)
on the policies of each stack's plan. The shapes and their sources are in tests/access/catalogue.py.
A bucket, key, queue or topic that gains a Deny one of these requests would hit fails here."""

from __future__ import annotations

import json

import pytest

from components.data_quality import RESULTS_PREFIX
from pipelines.plan import Plan, Resource
from pipelines.semantics.iam import Principal, Request, evaluate
from pipelines.semantics.s3 import S3Call, Setting, decide
from tests.access import catalogue
from tests.plans import STACKS, role_policies, settings_of, stack_plan


def _roles(plan: Plan) -> dict[str, Resource]:
    return {r.inputs["name"]: r for r in plan.of_type("aws:iam/role:Role")}


def _key_policies(plan: Plan) -> dict[str, dict]:
    return {k.outputs["arn"]: json.loads(k.inputs["policy"]) for k in plan.of_type("aws:kms/key:Key")}


def _key_tags(plan: Plan) -> dict[str, dict[str, str]]:
    """Each key's tags: its own and the provider's default tags (what aws:ResourceTag/* sees)."""
    providers = {
        r.urn: json.loads(r.inputs.get("defaultTags", "{}")).get("tags", {})
        for r in plan.of_type("pulumi:providers:aws")
    }
    return {
        k.outputs["arn"]: {**providers.get(k.provider, {}), **(k.inputs.get("tags") or {})}
        for k in plan.of_type("aws:kms/key:Key")
    }


def _with_tags(plan: Plan, request: Request) -> Request:
    tags = {f"aws:ResourceTag/{k}": v for k, v in _key_tags(plan).get(request.resource, {}).items()}
    return Request(request.principal, request.action, request.resource, {**request.context, **tags})


def _boundary(plan: Plan, role: Resource) -> dict | None:
    arn = role.inputs.get("permissionsBoundary")
    found = [p for p in plan.of_type("aws:iam/policy:Policy") if p.outputs.get("arn") == arn]
    return json.loads(found[0].inputs["policy"]) if found else None


def setting(plan: Plan, bucket: str, role: str | None = None) -> Setting:
    (sse,) = [
        r
        for r in plan.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if r.inputs["bucket"] == bucket
    ]
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"].get("kmsMasterKeyId")
    (policy,) = [r for r in plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.inputs["bucket"] == bucket]
    identity, boundary = (), None
    if role is not None:
        resource = _roles(plan)[role]
        identity, boundary = tuple(role_policies(plan, resource)), _boundary(plan, resource)
    return Setting(
        region=plan.outputs["region"],
        bucket_policy=json.loads(policy.inputs["policy"]),
        default_key=default,
        key_policies=_key_policies(plan),
        key_tags=_key_tags(plan),
        identity=identity,
        boundary=boundary,
        account=plan.outputs["accountId"],
    )


def session(plan: Plan, role: str) -> Principal:
    return Principal(f"arn:aws:sts::{plan.outputs['accountId']}:assumed-role/{role}/job")


def check(plan: Plan, shapes, principal: Principal, bucket: str, key: str, role: str | None) -> None:
    s = setting(plan, bucket, role)
    for shape in shapes:
        for call in shape.at(bucket, key, s.default_key or ""):
            decision = decide(call, principal, s)
            assert decision, (
                f"{shape.name} ({shape.source}): {call.operation} s3://{bucket}/{key} refused: {decision.why}"
            )


def prefix_of(plan: Plan, name: str) -> str:
    return plan.outputs["buckets"][name]


@pytest.mark.parametrize("stack", STACKS)
def test_team_jobs_log_artifacts_and_checkpoints_with_default_clients(stack):
    plan, env = stack_plan(stack), stack_plan(stack).stack
    artifacts = plan.outputs["buckets"]["artifacts"]
    for team in (t.name for t in settings_of(stack).training.teams):
        role = f"mlplatform-{env}-training-{team}"
        shapes = catalogue.MLFLOW + catalogue.BOTO3
        check(plan, shapes, session(plan, role), artifacts, f"experiments/{team}/run-1/artifacts/model.pkl", role)


@pytest.mark.parametrize("stack", STACKS)
def test_sagemaker_and_glue_write_where_the_platform_points_them(stack):
    plan = stack_plan(stack)
    env, s = plan.stack, settings_of(stack)
    artifacts, curated = plan.outputs["buckets"]["artifacts"], plan.outputs["buckets"]["curated"]
    for d in s.data_quality.datasets:
        role = f"mlplatform-{env}-data-quality-{d.replace('_', '-')}"  # infra/access.family_role
        results = RESULTS_PREFIX.format(dataset=d)
        check(plan, catalogue.GLUE_RESULTS, session(plan, role), artifacts, f"{results}run-1/result.json", role)
    for e in s.serving.endpoints:
        serving = f"mlplatform-{env}-serving-{e.name}"
        check(
            plan,
            catalogue.SAGEMAKER_WITH_KEY,
            session(plan, serving),
            artifacts,
            f"capture/{e.name}/AllTraffic/x.jsonl",
            serving,
        )
        if e.monitor:
            monitor = f"mlplatform-{env}-model-monitor-{e.name}"
            check(
                plan,
                catalogue.SAGEMAKER_WITH_KEY,
                session(plan, monitor),
                artifacts,
                f"monitoring/{e.name}/reports/r.json",
                monitor,
            )
    store = f"mlplatform-{env}-feature-store"
    offline = f"features/{plan.outputs['accountId']}/sagemaker/{plan.outputs['region']}/offline-store/g/data.parquet"
    check(plan, catalogue.SAGEMAKER_WITH_KEY, session(plan, store), curated, offline, store)


@pytest.mark.parametrize("stack", STACKS)
def test_cloudtrail_and_access_logging_deliver(stack):
    """CloudTrail writes its logs (SSE-KMS with the trail's key, header values UNVERIFIED: with or
    without them) and its digests (SSE-S3 per one page, the trail's key per the newer one: either);
    S3 server access logging writes to the SSE-S3 log bucket with no encryption header."""
    plan = stack_plan(stack)
    account = plan.outputs["accountId"]
    (trail,) = plan.of_type("aws:cloudtrail/trail:Trail")
    trail_arn, bucket = trail.outputs["arn"], trail.inputs["s3BucketName"]
    cloudtrail = Principal("cloudtrail.amazonaws.com")
    acl = {"x-amz-acl": "bucket-owner-full-control"}
    context = {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn}
    log = f"AWSLogs/{account}/CloudTrail/{plan.outputs['region']}/2026/12/02/x.json.gz"
    digest = f"AWSLogs/{account}/CloudTrail-Digest/{plan.outputs['region']}/2026/12/02/x.json.gz"
    s = setting(plan, bucket)
    key = s.default_key
    for object_key, variants in (
        (log, [acl, {**acl, catalogue.SSE: "aws:kms", catalogue.SSE_KEY: key}]),
        (digest, [{**acl, catalogue.SSE: "AES256"}, {**acl, catalogue.SSE: "aws:kms", catalogue.SSE_KEY: key}]),
    ):
        for headers in variants:
            call = S3Call("PutObject", bucket, object_key, headers=headers, source_account=account,
                          source_arn=trail_arn, kms_context=context)  # fmt: skip
            assert decide(call, cloudtrail, s), (object_key, headers)
    logs_bucket = next(
        b.inputs["bucket"] for b in plan.of_type("aws:s3/bucket:Bucket") if "access-logs" in b.inputs["bucket"]
    )
    delivery = Principal("logging.s3.amazonaws.com")
    s = setting(plan, logs_bucket)
    for source in plan.outputs["buckets"].values():
        call = S3Call(
            "PutObject",
            logs_bucket,
            f"{source}/2026-12-02-x",
            source_account=account,
            source_arn=f"arn:aws:s3:::{source}",
        )
        assert decide(call, delivery, s), source


@pytest.mark.parametrize("stack", STACKS)
def test_every_guarded_bucket_refuses_the_wrong_requests(stack):
    """Plain HTTP, another key, SSE-S3 where SSE-KMS is required, aws:kms without a key: refused for
    a role that may otherwise write there; and a role of another account gets nothing."""
    plan = stack_plan(stack)
    env = plan.stack
    team = settings_of(stack).training.teams[0].name
    role = f"mlplatform-{env}-training-{team}"
    artifacts = plan.outputs["buckets"]["artifacts"]
    s = setting(plan, artifacts, role)
    for shape in catalogue.REFUSED:
        for call in shape.at(artifacts, f"experiments/{team}/x", s.default_key or ""):
            assert not decide(call, session(plan, role), s), shape.name
    stranger = Principal("arn:aws:sts::999999999999:assumed-role/intruder/x")
    anything = ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},)
    for bucket in plan.outputs["buckets"].values():
        foreign = Setting(**{**setting(plan, bucket).__dict__, "identity": anything})
        assert not decide(S3Call("GetObject", bucket, f"experiments/{team}/x"), stranger, foreign), bucket


# --- deliveries to topics and queues ------------------------------------------------------------------


def _topic(plan: Plan, name_part: str):
    (topic,) = [t for t in plan.of_type("aws:sns/topic:Topic") if name_part in t.name]
    policies = [p for p in plan.of_type("aws:sns/topicPolicy:TopicPolicy") if p.inputs["arn"] == topic.outputs["arn"]]
    return topic, (json.loads(policies[0].inputs["policy"]) if policies else None)


def _queue(plan: Plan, name_part: str):
    (queue,) = [q for q in plan.of_type("aws:sqs/queue:Queue") if q.name.endswith(name_part)]
    policies = [
        p for p in plan.of_type("aws:sqs/queuePolicy:QueuePolicy") if p.inputs["queueUrl"] == queue.outputs["url"]
    ]
    return queue, (json.loads(policies[0].inputs["policy"]) if policies else None)


def _service_delivery(
    plan: Plan, service: str, action: str, resource: Resource, policy: dict | None, source: dict
) -> None:
    """A service publishing to an encrypted topic or queue: the resource policy must admit it, and the
    key policy must let it GenerateDataKey and Decrypt (EventBridge user guide, eb-use-resource-based;
    SNS developer guide, sns-key-management: the publishing service uses the key itself)."""
    principal = Principal(service)
    arn = resource.outputs.get("arn")
    decision = evaluate(
        Request(principal, action, arn, source), resource_policy=policy, resource_account=plan.outputs["accountId"]
    )
    assert decision, f"{service} {action} {resource.name}: {decision.why}"
    key = resource.inputs.get("kmsMasterKeyId")
    if key:
        for kms_action in ("kms:GenerateDataKey", "kms:Decrypt"):
            decision = evaluate(
                _with_tags(plan, Request(principal, kms_action, key, source)),
                resource_policy=_key_policies(plan)[key],
                resource_account=plan.outputs["accountId"],
                key_policy=True,
            )
            assert decision, f"{service} {kms_action} on the key of {resource.name}: {decision.why}"


@pytest.mark.parametrize("stack", STACKS)
def test_services_deliver_to_the_platforms_topics_and_queues(stack):
    plan = stack_plan(stack)
    account, env, region = plan.outputs["accountId"], plan.stack, plan.outputs["region"]
    rule = lambda name: f"arn:aws:events:{region}:{account}:rule/{name}"  # noqa: E731
    approvals = rule(f"mlplatform-{env}-model-approvals")
    topic, policy = _topic(plan, "registry-approvals")
    _service_delivery(
        plan,
        "events.amazonaws.com",
        "sns:Publish",
        topic,
        policy,
        {"aws:SourceArn": approvals, "aws:SourceAccount": account},
    )
    for queue_name in ("registry-approvals", "registry-approvals-dlq"):
        queue, policy = _queue(plan, queue_name)
        _service_delivery(
            plan,
            "events.amazonaws.com",
            "sqs:SendMessage",
            queue,
            policy,
            {"aws:SourceArn": approvals, "aws:SourceAccount": account, "aws:SecureTransport": "true"},
        )
    alerts, policy = _topic(plan, "monitoring-alerts")
    for service, source in (
        (
            "cloudwatch.amazonaws.com",
            {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:mlplatform-{env}-x"},
        ),
        ("budgets.amazonaws.com", {"aws:SourceArn": f"arn:aws:budgets::{account}:budget/mlplatform-{env}"}),
        ("events.amazonaws.com", {"aws:SourceArn": rule(f"mlplatform-{env}-data-quality-failed")}),
    ):
        _service_delivery(plan, service, "sns:Publish", alerts, policy, {**source, "aws:SourceAccount": account})
    interruptions, policy = _queue(plan, "interruptions")
    _service_delivery(
        plan,
        "events.amazonaws.com",
        "sqs:SendMessage",
        interruptions,
        policy,
        {"aws:SourceArn": rule(f"mlplatform-{env}-karpenter-spot-interruption"), "aws:SecureTransport": "true"},
    )
    # Alertmanager publishes as its role; SNS encrypts with the topic's key on its behalf.
    role = _roles(plan)[f"mlplatform-{env}-alertmanager"]
    me = session(plan, f"mlplatform-{env}-alertmanager")
    identity, boundary = role_policies(plan, role), _boundary(plan, role)
    assert evaluate(
        Request(me, "sns:Publish", alerts.outputs["arn"]), identity=identity, boundary=boundary, resource_policy=policy
    )
    via_sns = {"kms:ViaService": f"sns.{region}.amazonaws.com", "kms:CallerAccount": account}
    key = alerts.inputs["kmsMasterKeyId"]
    assert evaluate(
        _with_tags(plan, Request(me, "kms:GenerateDataKey", key, via_sns)),
        identity=identity,
        boundary=boundary,
        resource_policy=_key_policies(plan)[key],
        key_policy=True,
    )
