"""The data, audit, registry and alerting paths deliver: each key admits exactly the service uses its
guide documents, each bucket the writes its writers make, and every delivery path has a failure
alarm (facts in foundation/upstream/services.py)."""

from __future__ import annotations

import json

from foundation.upstream import services
from tests.plans import policy, role_statements, stack_plan


def _key_statements(plan, domain):
    key = plan.get("aws:kms/key:Key", f"keys-{domain}")
    return {s["Sid"]: s for s in policy(key)["Statement"]}


def _actions(st) -> set[str]:
    return {st["Action"]} if isinstance(st["Action"], str) else set(st["Action"])


def test_cloudtrail_may_encrypt_describe_and_decrypt_with_the_logs_key_for_this_trail_only(any_plan):
    acct, env = any_plan.outputs["accountId"], any_plan.stack
    trail = f"arn:aws:cloudtrail:eu-west-1:{acct}:trail/mlplatform-{env}-audit"
    cloudtrail = [
        s
        for s in _key_statements(any_plan, "logs").values()
        if s["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    ]
    assert set().union(*map(_actions, cloudtrail)) == services.CLOUDTRAIL_KEY_ACTIONS
    for st in cloudtrail:
        assert st["Condition"]["StringEquals"] == {services.CLOUDTRAIL_CONDITION: trail}, st["Sid"]


def test_eventbridge_may_use_the_keys_of_its_encrypted_targets_without_source_conditions(any_plan):
    for domain in ("logs", "models"):  # the alerts topic; the approvals topic, queue and DLQ
        st = _key_statements(any_plan, domain)["EventBridgePublish"]
        assert st["Principal"] == {"Service": "events.amazonaws.com"}
        assert _actions(st) == services.EVENTBRIDGE_KEY_ACTIONS
        assert "Condition" not in st


def test_the_audit_bucket_accepts_cloudtrails_digests_and_log_files(any_plan):
    acct = any_plan.outputs["accountId"]
    bucket = f"mlplatform-{any_plan.stack}-audit-{acct}-eu-west-1"
    (bp,) = [r for r in any_plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.inputs["bucket"] == bucket]
    sts = {s["Sid"]: s for s in policy(bp)["Statement"]}
    deny = sts["DenyOtherEncryption"]
    digests = f"arn:aws:s3:::{bucket}/{services.DIGEST_PREFIX.format(account=acct)}*"
    assert "Resource" not in deny and digests in deny["NotResource"]  # SSE-S3 digests are not denied
    assert f"arn:aws:s3:::{bucket}/AWSLogs/{acct}/CloudTrail/x.json.gz" not in deny["NotResource"]
    write = sts["CloudTrailWrite"]["Condition"]["StringEquals"]
    assert write["s3:x-amz-acl"] == services.CLOUDTRAIL_WRITE_CONDITIONS["s3:x-amz-acl"]
    # its server access logging waits for the log bucket (no first-run race)
    logging = next(r for r in any_plan.of_type("aws:s3/bucketLogging:BucketLogging") if r.inputs["bucket"] == bucket)
    log_bucket = next(r for r in any_plan.of_type("aws:s3/bucket:Bucket") if "access-logs" in r.inputs["bucket"])
    assert any(log_bucket.urn in d or d.endswith("lake-access-logs") for d in logging.dependencies)


def test_access_logs_are_accepted_from_the_platforms_buckets_only(any_plan):
    (bp,) = [r for r in any_plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if "access-logs" in r.inputs["bucket"]]
    st = {s["Sid"]: s for s in policy(bp)["Statement"]}["AllowServerAccessLogDelivery"]
    assert st["Principal"] == {"Service": services.ACCESS_LOG_PRINCIPAL}
    assert st["Condition"]["ArnLike"] == {"aws:SourceArn": [f"arn:aws:s3:::mlplatform-{any_plan.stack}-*"]}
    assert st["Condition"]["StringEquals"] == {"aws:SourceAccount": any_plan.outputs["accountId"]}


def test_feature_ingestion_may_use_the_online_stores_key_through_sagemaker(any_plan):
    data_key = any_plan.outputs["kmsKeyArns"]["data"]
    role = any_plan.get("aws:iam/role:Role", "identity-feature-ingestion")

    def via(st) -> str | None:
        return st.get("Condition", {}).get("StringLike", {}).get("kms:ViaService")

    online = [
        s for s in role_statements(any_plan, role) if s["Resource"] == data_key and via(s) == services.ONLINE_STORE_VIA
    ]
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set().union(*map(_actions, online))


def test_the_offline_store_role_has_the_managed_policys_s3_actions(any_plan):
    role = any_plan.get("aws:iam/role:Role", "features-service")
    actions = set().union(
        *(_actions(s) for s in role_statements(any_plan, role) if str(s["Resource"]).startswith("arn:aws:s3"))
    )
    assert actions >= services.OFFLINE_STORE_ACTIONS


def test_every_delivery_path_has_a_failure_alarm(any_plan):
    env = any_plan.stack
    alarms = [r.inputs for r in any_plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]

    def watched(kind: str, name: str) -> bool:
        namespace, metric, dimension = services.FAILURE_METRICS[kind]
        return any(
            a["namespace"] == namespace
            and a["metricName"] == metric
            and (a.get("dimensions") or {}).get(dimension) == name
            for a in alarms
        )

    for target in any_plan.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        assert watched("rule", target.inputs["rule"]), target.inputs["rule"]
    for queue in any_plan.of_type("aws:sqs/queue:Queue"):
        redrive = json.loads(queue.inputs.get("redrivePolicy") or "{}")
        if redrive:
            dlq = redrive["deadLetterTargetArn"].rsplit(":", 1)[-1]
            assert watched("dead-letter-queue", dlq), dlq
    for topic in any_plan.of_type("aws:sns/topic:Topic"):
        name = topic.inputs["name"]
        if name != f"mlplatform-{env}-alerts":  # its own failures cannot page through itself
            assert watched("topic", name), name
    (silent,) = [a for a in alarms if a["name"] == f"mlplatform-{env}-audit-trail-silent"]
    assert silent["treatMissingData"] == "breaching" and silent["comparisonOperator"] == "LessThanThreshold"
    (events,) = any_plan.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    transform = events.inputs["metricTransformation"]
    assert (transform["namespace"], transform["name"]) == (silent["namespace"], silent["metricName"])
    assert events.inputs["logGroupName"] == f"/mlplatform/{env}/cloudtrail"


def test_alerts_reach_chat_through_chatbot_never_an_unconfirmable_webhook(any_plan):
    subs = any_plan.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert {s.inputs["protocol"] for s in subs} <= {"email"}
    for config in any_plan.of_type("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration"):
        assert config.inputs["snsTopicArns"] == [any_plan.outputs["alertTopicArn"]]
        (guardrail,) = config.inputs["guardrailPolicyArns"]  # not the default AdministratorAccess
        assert guardrail.endswith(f":policy/mlplatform-{any_plan.stack}-chat-guardrail")


def test_consumer_accounts_get_everything_the_guide_lists_and_nobody_else_does(any_plan):
    from pipelines.offline import read_stack_config

    registry = json.loads(read_stack_config(any_plan.stack).values.get("mlplatform:registry", "{}"))
    consumers = {f"arn:aws:iam::{a}:root" for a in registry.get("consumerAccounts", [])}
    repos = any_plan.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    artifacts = any_plan.outputs["buckets"]["artifacts"]
    (bp,) = [r for r in any_plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.inputs["bucket"] == artifacts]
    bucket = {s["Sid"]: s for s in policy(bp)["Statement"]}
    key = _key_statements(any_plan, "models").get("ConsumerAccountsDecrypt")
    if not consumers:  # a stack without consumers grants nobody outside
        assert not repos and "ConsumersReadModels" not in bucket and key is None
        return

    def principals(st) -> set[str]:
        p = st["Principal"]["AWS"]
        return {p} if isinstance(p, str) else set(p)

    (repo,) = [r for r in repos if r.inputs["repository"].endswith("/inference")]
    (st,) = policy(repo)["Statement"]
    assert principals(st) == consumers and "ecr:BatchGetImage" in st["Action"]
    reads = bucket["ConsumersReadModels"]
    assert reads["Resource"] == f"arn:aws:s3:::{artifacts}/models/*" and principals(reads) == consumers
    assert principals(key) == consumers and "kms:Decrypt" in _actions(key)


def test_the_examples_exercise_a_consumer_account():
    # so that the consumer case above is not vacuous for the shipped stacks
    assert any(stack_plan(s).of_type("aws:ecr/repositoryPolicy:RepositoryPolicy") for s in ("dev", "staging", "prod"))


def test_nobody_but_the_approver_can_make_a_package_approved(any_plan):
    for rp in any_plan.of_type("aws:iam/role:Role"):
        name = rp.inputs["name"]
        for st in role_statements(any_plan, rp):
            actions = _actions(st)
            if st["Effect"] != "Allow" or not actions & {
                "sagemaker:CreateModelPackage",
                "sagemaker:UpdateModelPackage",
            }:
                continue
            if name.endswith("-model-approver") or name.endswith("-ci-deploy"):
                continue
            assert st.get("Condition") == {"StringNotEqualsIfExists": {"sagemaker:ModelApprovalStatus": "Approved"}}, (
                name,
                st["Sid"],
            )


def test_someone_can_consume_the_approvals_queue(any_plan):
    role = any_plan.get("aws:iam/role:Role", "identity-model-publisher")
    sts = {s["Sid"]: s for s in role_statements(any_plan, role)}
    assert "sqs:ReceiveMessage" in sts["ConsumeApprovalDecisions"]["Action"]
    assert sts["ConsumeApprovalDecisions"]["Resource"].endswith(f":mlplatform-{any_plan.stack}-model-approvals")
    assert sts["DecryptApprovalDecisions"]["Resource"] == any_plan.outputs["kmsKeyArns"]["models"]
