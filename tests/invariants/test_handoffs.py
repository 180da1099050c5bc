"""Every hand-off of the plan: wherever a service is told to act as a role, that role trusts exactly
that service, for the source the service names in its request, and has what the service will do
with it. Found in the plan by the inputs that hand a role over (not by the names the code gives),
and judged with the IAM evaluator (pipelines/semantics/iam.py).

What each service sends when it assumes a role, from its documentation:
- EventBridge Scheduler: aws:SourceArn is the schedule group ("The ARN you specify must be a
  schedule group", foundation/upstream/serving.py), aws:SourceAccount the account.
- CloudTrail: aws:SourceArn is the trail (CloudTrail user guide, send-cloudtrail-events-to-cloudwatch-logs).
- VPC Flow Logs: aws:SourceArn is the flow log, arn:...:vpc-flow-log/<id> (VPC user guide, flow-logs-iam-role).
- CodeBuild: aws:SourceArn is the project (CodeBuild user guide, setting-up-service-role).
- SageMaker, Glue, EKS, Chatbot: aws:SourceAccount (their guides' confused-deputy pages); EC2 sends no
  source context for instance roles.
- EKS Pod Identity: sts:AssumeRole and sts:TagSession with the session tags eks-cluster-arn,
  kubernetes-namespace and kubernetes-service-account (EKS user guide, pod-id-role).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest

from pipelines.plan import Plan, Resource
from pipelines.semantics.iam import Principal, Request, evaluate
from tests.invariants.variants import PLANS, plan_of
from tests.plans import role_policies

ALLOW_ALL = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass(frozen=True)
class HandOff:
    by: str  # type::name of the resource that hands the role over
    role_arn: str
    service: str
    actions: tuple[str, ...]  # what the service calls to assume it
    context: dict  # what the service sends with that call
    needs: tuple[tuple[str, str, dict], ...] = ()  # (action, resource, context) the service will do as the role
    # The trust names this very source (False: the source's id exists only after the role, as a flow
    # log's does; the VPC guide's example trusts vpc-flow-log/* of the account and region).
    exact_source: bool = True


def _arn(plan: Plan, r: Resource, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{plan.outputs['region']}:{plan.outputs['accountId']}:{resource}"


def hand_offs(plan: Plan) -> list[HandOff]:
    account, region = plan.outputs["accountId"], plan.outputs["region"]
    same = {"aws:SourceAccount": account}
    cluster = f"arn:aws:eks:{region}:{account}:cluster/{plan.outputs['clusterName']}"
    found: list[HandOff] = []

    def add(r, role, service, context, needs=(), actions=("sts:AssumeRole",), exact=True):
        found.append(HandOff(f"{r.type}::{r.name}", role, service, tuple(actions), context, tuple(needs), exact))

    env = plan.outputs["environment"]
    queues = {q.outputs["arn"]: q for q in plan.of_type("aws:sqs/queue:Queue")}
    tagged = {"aws:ResourceTag/environment": env}
    for r in plan.of_type("aws:scheduler/schedule:Schedule"):
        target = r.inputs["target"]
        group = _arn(plan, r, "scheduler", f"schedule-group/{r.inputs['groupName']}")
        if ":aws-sdk:" in target["arn"]:  # a universal target: an API call with the input as its request
            service, api = target["arn"].split(":aws-sdk:")[1].split(":")
            body = json.loads(target["input"])
            action = f"{service}:{api[0].upper()}{api[1:]}"
            needs = [(action, _arn(plan, r, "glue", f"dataQualityRuleset/{n}"), {}) for n in body["RulesetNames"]]
            needs.append(("iam:PassRole", body["Role"], {"iam:PassedToService": "glue.amazonaws.com"}))
            # the role the schedule passes to Glue, which runs the evaluation as it
            add(r, body["Role"], "glue.amazonaws.com", same)
        else:  # a templated target: Lambda's Invoke of the function (Scheduler guide, managing-targets-templated)
            needs = [("lambda:InvokeFunction", target["arn"], {})]
        # what fails after the retries goes to the dead-letter queue, encrypted with its key through
        # SQS; the payload is encrypted with the schedule's key and read through Scheduler
        dead_letters = target["deadLetterConfig"]["arn"]
        queue_key = queues[dead_letters].inputs["kmsMasterKeyId"]
        needs += [
            ("sqs:SendMessage", dead_letters, {}),
            ("kms:GenerateDataKey", queue_key, {**tagged, "kms:ViaService": f"sqs.{region}.amazonaws.com"}),
            ("kms:Decrypt", r.inputs["kmsKeyArn"], {**tagged, "kms:ViaService": f"scheduler.{region}.amazonaws.com"}),
        ]
        add(r, target["roleArn"], "scheduler.amazonaws.com", {**same, "aws:SourceArn": group}, needs)
    for r in plan.of_type("aws:lambda/function:Function"):
        group = r.inputs["loggingConfig"]["logGroup"]
        stream = _arn(plan, r, "logs", f"log-group:{group}:log-stream:2026/01/01/[$LATEST]x")
        metric = ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "mlplatform/Drift"})
        needs = [("logs:CreateLogStream", stream, {}), ("logs:PutLogEvents", stream, {}), metric]
        add(r, r.inputs["role"], "lambda.amazonaws.com", same, needs)
    for r in plan.of_type("aws:cloudtrail/trail:Trail"):
        group = r.inputs["cloudWatchLogsGroupArn"].removesuffix(":*")
        stream = f"{group}:log-stream:{account}_CloudTrail_{region}"
        needs = [("logs:CreateLogStream", stream, {}), ("logs:PutLogEvents", stream, {})]
        add(
            r,
            r.inputs["cloudWatchLogsRoleArn"],
            "cloudtrail.amazonaws.com",
            {**same, "aws:SourceArn": r.outputs["arn"]},
            needs,
        )
    for r in plan.of_type("aws:ec2/flowLog:FlowLog"):
        stream = f"{r.inputs['logDestination']}:log-stream:eni-0123456789abcdef0-all"
        needs = [("logs:CreateLogStream", stream, {}), ("logs:PutLogEvents", stream, {})]
        source = {**same, "aws:SourceArn": r.outputs["arn"]}
        add(r, r.inputs["iamRoleArn"], "vpc-flow-logs.amazonaws.com", source, needs, exact=False)
    for r in plan.of_type("aws:codebuild/project:Project"):
        group = r.inputs["logsConfig"]["cloudwatchLogs"]["groupName"]
        stream = _arn(plan, r, "logs", f"log-group:{group}:log-stream:build-1")
        eni = ("ec2:CreateNetworkInterface", "*", {"aws:RequestedRegion": region})
        needs = [("logs:CreateLogStream", stream, {}), ("logs:PutLogEvents", stream, {}), eni]
        add(r, r.inputs["serviceRole"], "codebuild.amazonaws.com", {**same, "aws:SourceArn": r.outputs["arn"]}, needs)
    for type_, key in (
        ("aws:sagemaker/model:Model", "executionRoleArn"),
        ("aws:sagemaker/featureGroup:FeatureGroup", "roleArn"),
        ("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", "roleArn"),
        ("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition", "roleArn"),
    ):
        for r in plan.of_type(type_):
            add(r, r.inputs[key], "sagemaker.amazonaws.com", same)
    for r in plan.of_type("aws:eks/cluster:Cluster"):
        add(r, r.inputs["roleArn"], "eks.amazonaws.com", same)
    for r in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        add(r, r.inputs["nodeRoleArn"], "ec2.amazonaws.com", {})
    for r in plan.of_type("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration"):
        add(r, r.inputs["iamRoleArn"], "chatbot.amazonaws.com", same)
    pod_identity = ("sts:AssumeRole", "sts:TagSession")
    for r in plan.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation"):
        tags = _pod_tags(cluster, r.inputs["namespace"], r.inputs["serviceAccount"])
        add(r, r.inputs["roleArn"], "pods.eks.amazonaws.com", tags, actions=pod_identity)
    for r in plan.of_type("aws:eks/addon:Addon"):
        for a in r.inputs.get("podIdentityAssociations") or []:
            tags = _pod_tags(cluster, "kube-system", a["serviceAccount"])
            add(r, a["roleArn"], "pods.eks.amazonaws.com", tags, actions=pod_identity)
    return found


def _pod_tags(cluster: str, namespace: str, service_account: str) -> dict:
    return {
        "aws:RequestTag/eks-cluster-arn": cluster,
        "aws:RequestTag/kubernetes-namespace": namespace,
        "aws:RequestTag/kubernetes-service-account": service_account,
    }


def _role(plan: Plan, arn: str) -> Resource:
    name = arn.rsplit("/", 1)[-1]
    (role,) = [r for r in plan.of_type("aws:iam/role:Role") if r.inputs["name"] == name]
    return role


def assumes(role: Resource, service: str, actions, context: dict) -> bool:
    trust = json.loads(role.inputs["assumeRolePolicy"])
    arn = f"arn:aws:iam::000000000000:role/{role.inputs['name']}"
    return all(bool(evaluate(Request(Principal(service), a, arn, context), resource_policy=trust)) for a in actions)


def _elsewhere(context: dict, account: str, exact: bool) -> list[dict]:
    """The same request from another account (its ARNs with it), from another source of this account,
    or from another cluster, namespace or service account."""
    out = []
    if context.get("aws:SourceAccount") or context.get("aws:SourceArn"):
        out.append({k: v.replace(account, "999999999999") for k, v in context.items()})
    if "aws:SourceArn" in context and exact:
        out.append({**context, "aws:SourceArn": re.sub(r"[^/:]+$", "someone-elses", context["aws:SourceArn"])})
    out += [{**context, k: v + "-other"} for k, v in context.items() if k.startswith("aws:RequestTag/")]
    return out


@pytest.fixture(params=PLANS)
def each_plan(request) -> Plan:
    return plan_of(request.param)


def test_every_hand_off_is_found(each_plan):
    """The walk knows every kind of hand-off the plan makes (a new kind must be added above)."""
    kinds = {h.by.split("::")[0] for h in hand_offs(each_plan)}
    assert {"aws:scheduler/schedule:Schedule", "aws:eks/cluster:Cluster", "aws:cloudtrail/trail:Trail"} <= kinds
    role_inputs = {
        (r.type, k)
        for r in each_plan
        if not r.type.startswith("aws:iam/") and r.custom
        for k, v in r.inputs.items()
        if isinstance(v, str) and ":role/" in v and k not in ("principalArn",)
    }
    assert {t for t, _ in role_inputs} <= kinds


def test_each_role_handed_to_a_service_trusts_exactly_that_service_for_its_source(each_plan):
    for h in hand_offs(each_plan):
        role = _role(each_plan, h.role_arn)
        assert assumes(role, h.service, h.actions, h.context), f"{h.by}: {h.service} cannot assume {h.role_arn}"
        for other in ("glue.amazonaws.com", "scheduler.amazonaws.com", "sagemaker.amazonaws.com", "ec2.amazonaws.com"):
            if other != h.service:
                assert not assumes(role, other, h.actions, h.context), f"{h.by}: {other} can assume {h.role_arn}"
        for context in _elsewhere(h.context, each_plan.outputs["accountId"], h.exact_source):
            assert not assumes(role, h.service, h.actions, context), f"{h.by}: {h.role_arn} admits {context}"


def test_each_role_handed_to_a_service_may_do_what_the_service_will(each_plan):
    """Identity policies within the role's boundary allow every call the service makes as the role."""
    boundaries = {p.outputs["arn"]: json.loads(p.inputs["policy"]) for p in each_plan.of_type("aws:iam/policy:Policy")}
    account = each_plan.outputs["accountId"]
    for h in hand_offs(each_plan):
        role = _role(each_plan, h.role_arn)
        principal = Principal(f"arn:aws:iam::{account}:role/{role.inputs['name']}")
        boundary = boundaries.get(role.inputs.get("permissionsBoundary"))
        for action, resource, context in h.needs:
            request = Request(principal, action, resource, context)
            decision = evaluate(request, identity=role_policies(each_plan, role), boundary=boundary)
            assert decision, f"{h.by}: {role.inputs['name']} cannot {action} on {resource} ({decision.why})"
