"""Model package groups, image repositories and the approval flow."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from components.model_registry import ModelRegistryArgs
from tests.plans import policy, settings_of

GROUP, REPO = "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:ecr/repository:Repository"


def as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def test_a_protected_group_per_model_family(any_plan):
    env = any_plan.stack
    groups = {r.inputs["modelPackageGroupName"]: r for r in any_plan.of_type(GROUP)}
    families = settings_of(env).registry.model_families
    assert families and set(groups) == {f"mlplatform-{env}-{f}" for f in families}
    assert all(g.options["protect"] is (env != "dev") for g in groups.values())


def test_only_named_accounts_may_read_and_deploy_packages(any_plan):
    settings = settings_of(any_plan.stack)
    policies = any_plan.of_type("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy")
    consumers = settings.registry.consumer_accounts
    assert len(policies) == (len(settings.registry.model_families) if consumers else 0)
    prefix = f"arn:aws:sagemaker:{settings.region}:{settings.account_id}"
    principals = [f"arn:aws:iam::{a}:root" for a in consumers]
    for p in policies:
        sts = {s["Sid"]: s for s in policy(p, "resourcePolicy")["Statement"]}
        group = p.inputs["modelPackageGroupName"]
        assert as_list(sts["ConsumersReadGroup"]["Principal"]["AWS"]) == principals
        assert sts["ConsumersReadGroup"]["Action"] == "sagemaker:DescribeModelPackageGroup"
        assert sts["ConsumersReadGroup"]["Resource"] == f"{prefix}:model-package-group/{group}"
        use = sts["ConsumersUsePackages"]
        assert as_list(use["Principal"]["AWS"]) == principals
        assert use["Action"] == [
            "sagemaker:DescribeModelPackage",
            "sagemaker:ListModelPackages",
            "sagemaker:CreateModel",
        ]
        assert use["Resource"] == f"{prefix}:model-package/{group}/*"


def test_image_repositories_are_immutable_scanned_encrypted_and_pruned(any_plan):
    plan, stack, settings = any_plan, any_plan.stack, settings_of(any_plan.stack)
    untagged, keep = settings.registry.untagged_image_expiry_days, settings.registry.keep_tagged_images
    repos = {r.inputs["name"]: r for r in plan.of_type(REPO)}
    assert set(repos) == {f"mlplatform-{stack}/training", f"mlplatform-{stack}/inference"}
    for repo in repos.values():
        i = repo.inputs
        assert i["imageTagMutability"] == "IMMUTABLE"
        assert i["imageScanningConfiguration"] == {"scanOnPush": True}
        assert i["encryptionConfigurations"] == [
            {"encryptionType": "KMS", "kmsKey": plan.outputs["kmsKeyArns"]["models"]}
        ]
        assert i["forceDelete"] is not settings.protect
        assert repo.options["protect"] is settings.protect
    for lp in plan.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        untagged_rule, tagged_rule = json.loads(lp.inputs["policy"])["rules"]
        assert untagged_rule["selection"] == {
            "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": untagged,
        }  # fmt: skip
        assert tagged_rule["selection"]["countType"] == "imageCountMoreThan"
        assert tagged_rule["selection"]["countNumber"] == keep


def test_approval_events_reach_an_encrypted_topic_and_queue_with_dead_letters(any_plan):
    env, acct = any_plan.stack, any_plan.outputs["accountId"]
    models_key = any_plan.outputs["kmsKeyArns"]["models"]
    rule_arn = f"arn:aws:events:eu-west-1:{acct}:rule/mlplatform-{env}-model-approvals"
    topic = any_plan.get("aws:sns/topic:Topic", "registry-approvals")
    queue = any_plan.get("aws:sqs/queue:Queue", "registry-approvals")
    dlq = any_plan.get("aws:sqs/queue:Queue", "registry-approvals-dlq")
    assert (
        topic.inputs["kmsMasterKeyId"] == queue.inputs["kmsMasterKeyId"] == dlq.inputs["kmsMasterKeyId"] == models_key
    )
    assert json.loads(queue.inputs["redrivePolicy"]) == {
        "deadLetterTargetArn": dlq.outputs["arn"],
        "maxReceiveCount": 5,
    }
    for res, kind in ((topic, "aws:sns/topicPolicy:TopicPolicy"), (queue, "aws:sqs/queuePolicy:QueuePolicy")):
        (st,) = policy(any_plan.get(kind, "registry-approvals"))["Statement"]
        assert st["Principal"] == {"Service": "events.amazonaws.com"}
        assert st["Resource"] == res.outputs["arn"]
        assert st["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    targets = {
        t.inputs["targetId"]: t.inputs
        for t in any_plan.of_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.name.startswith("registry-")
    }
    assert targets["topic"]["arn"] == topic.outputs["arn"] and targets["queue"]["arn"] == queue.outputs["arn"]
    assert all(t["deadLetterConfig"] == {"arn": dlq.outputs["arn"]} for t in targets.values())
    assert any_plan.outputs["modelApprovalQueueUrl"] == queue.outputs["url"]


def _state_change(group: str, status: str) -> dict:
    # Shape of SageMaker's "SageMaker Model Package State Change" EventBridge event.
    return {
        "version": "0",
        "id": "0f5b1d7e-0000-4000-8000-000000000000",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "111111111111",
        "time": "2026-11-28T10:00:00Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:sagemaker:eu-west-1:111111111111:model-package/{group}/3"],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": 3,
            "ModelPackageArn": f"arn:aws:sagemaker:eu-west-1:111111111111:model-package/{group}/3",
            "ModelApprovalStatus": status,
            "ModelPackageStatus": "Completed",
        },
    }


def test_the_approval_pattern_matches_decisions_on_our_groups_only(any_plan):
    rule = any_plan.get("aws:cloudwatch/eventRule:EventRule", "registry-approvals")
    matcher = EventPattern(rule.inputs["eventPattern"], json.loads(rule.inputs["eventPattern"]))  # moto's matcher
    groups = [g.inputs["modelPackageGroupName"] for g in any_plan.of_type(GROUP)]
    for group in groups:
        assert matcher.matches_event(_state_change(group, "Approved"))
        assert matcher.matches_event(_state_change(group, "Rejected"))
        assert not matcher.matches_event(_state_change(group, "PendingManualApproval"))
    assert not matcher.matches_event(_state_change("mlplatform-other-churn", "Approved"))
    assert not matcher.matches_event({**_state_change(groups[0], "Approved"), "source": "aws.s3"})


def test_grants_name_exact_groups_and_repositories(any_plan):
    env, acct = any_plan.stack, any_plan.outputs["accountId"]
    pub = {
        s["Sid"]: s
        for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "identity-model-publisher"))["Statement"]
    }
    register = pub["RegisterModelPackages"]
    assert "sagemaker:CreateModelPackage" in register["Action"]
    assert "sagemaker:UpdateModelPackage" not in register["Action"]  # publishing is not approving
    assert f"arn:aws:sagemaker:eu-west-1:{acct}:model-package/mlplatform-{env}-churn/*" in register["Resource"]
    assert pub["EcrLogin"]["Resource"] == "*"  # the one action ECR authorizes on * only
    assert sorted(pub["PushImages"]["Resource"]) == [
        f"arn:aws:ecr:eu-west-1:{acct}:repository/mlplatform-{env}/inference",
        f"arn:aws:ecr:eu-west-1:{acct}:repository/mlplatform-{env}/training",
    ]
    approve = {
        s["Sid"]: s
        for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "identity-model-approver"))["Statement"]
    }
    assert approve["ApproveModelPackages"]["Action"][0] == "sagemaker:UpdateModelPackage"
    train = {
        s["Sid"]: s
        for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", f"identity-training-{_team(any_plan)}"))[
            "Statement"
        ]
    }
    assert (
        train["PullImagesTraining"]["Resource"] == f"arn:aws:ecr:eu-west-1:{acct}:repository/mlplatform-{env}/training"
    )


def test_registry_args_refuse_nonsense():
    base = {"environment": "dev", "account_id": "111111111111", "region": "eu-west-1", "models_key_arn": "k"}
    with pytest.raises(ValueError, match="keep_tagged_images must be at least 1"):
        ModelRegistryArgs(**base, keep_tagged_images=0)
    with pytest.raises(ValueError, match="must not include the registry's own account"):
        ModelRegistryArgs(**base, consumer_accounts=["111111111111"])


def _team(plan) -> str:
    """A team of the stack (a fork's own)."""
    return settings_of(plan.stack).training.teams[0].name
