"""What the software inside the training cluster needs from AWS, created by the platform project
through the AWS API only (reachable from anywhere with credentials, unlike the cluster's private
Kubernetes API):

- Karpenter: the role of the nodes it launches (with its EC2_LINUX access entry), its controller's
  role bound to ``kube-system/karpenter`` through EKS Pod Identity, the interruption queue and the
  EventBridge rules that feed it, and the account's Spot service-linked role;
- each team's ``trainer`` service account bound to the team's training role;
- Alertmanager's role, allowed to publish to the encrypted alert topic.

The charts, NodePools and namespaces that use these are applied by the in-cluster project
(``cluster/``, components/cluster_addons.py and cluster_observability.py), after this exists and
before it goes: that project is deployed after the platform and destroyed before it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from foundation.conventions import (
    ALERTMANAGER_SERVICE_ACCOUNT,
    KARPENTER_NAMESPACE,
    KARPENTER_SERVICE_ACCOUNT,
    MONITORING_NAMESPACE,
    TRAINER_SERVICE_ACCOUNT,
    physical_name,
)
from foundation.iam.documents import Statement, document
from foundation.iam.roles import service_role
from foundation.iam.scope import Scope
from foundation.iam.trust import pod_identity_statement, service_trust
from foundation.upstream import karpenter as karpenter_facts
from foundation.upstream.eks import KARPENTER_NODE_POLICIES, MANAGED

INTERRUPTION_EVENTS = karpenter_facts.INTERRUPTION_EVENTS
# Where these resources were before the in-cluster part became its own project: their URNs are
# aliased, so a stack whose first run created them keeps them instead of colliding on their names.
FORMER_ADDONS_TYPE = "mlplatform:cluster_addons:ClusterAddons"
FORMER_OBSERVABILITY = ("observability", "mlplatform:cluster_observability:ClusterObservability")


@dataclass(frozen=True)
class ClusterIntegrationArgs:
    environment: str
    account_id: str
    region: str
    cluster_name: pulumi.Input[str]
    # The boundary of the cluster's infrastructure roles (Karpenter's) and of workloads (Alertmanager's).
    permissions_boundary: pulumi.Input[str]
    workload_boundary: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]
    # The key of the alert topic: Alertmanager encrypts what it publishes through SNS.
    logs_key_arn: pulumi.Input[str]
    # Team name -> the team's training role (its trainer service account assumes it).
    team_roles: dict[str, pulumi.Input[str]]
    # Whether any pool may launch spot capacity: EC2 then needs the account's Spot service-linked role.
    uses_spot: bool = False
    # Create that role unless the account has it already (`aws iam get-role --role-name AWSServiceRoleForEC2Spot`).
    create_spot_service_linked_role: bool = True


class ClusterIntegration(pulumi.ComponentResource):
    """Karpenter's roles and interruption queue, the teams' and Alertmanager's Pod Identity."""

    def __init__(self, name: str, args: ClusterIntegrationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            "mlplatform:cluster_integration:ClusterIntegration",
            name,
            None,
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=FORMER_ADDONS_TYPE)])
            ),
        )
        self.args = args
        self.component_name = name
        self.scope = Scope(args.environment, args.account_id, args.region)
        self.queue_name = physical_name(args.environment, "karpenter")
        self.node_role_name = physical_name(args.environment, "karpenter-node")
        self._karpenter()
        for team, role_arn in args.team_roles.items():
            self._associate(f"{name}-team-{team}-trainer", team, TRAINER_SERVICE_ACCOUNT, role_arn)
        self._alertmanager()
        self.register_outputs({"interruptionQueue": self.queue_name, "nodeRole": self.node_role_name})

    def _associate(self, resource_name: str, namespace: str, service_account: str, role_arn, aliases=()):
        import pulumi_aws as aws

        return aws.eks.PodIdentityAssociation(
            resource_name,
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=self.args.cluster_name,
                namespace=namespace,
                service_account=service_account,
                role_arn=role_arn,
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=list(aliases) or None),
        )

    def _karpenter(self) -> None:
        import pulumi_aws as aws

        name, args, scope = self.component_name, self.args, self.scope
        child = pulumi.ResourceOptions(parent=self)
        node_role = service_role(
            f"{name}-karpenter-node",
            parent=self,
            name=self.node_role_name,
            description="Nodes that Karpenter launches",
            boundary=args.permissions_boundary,
            trust=service_trust("Ec2", "ec2.amazonaws.com"),
            managed=[MANAGED + m for m in KARPENTER_NODE_POLICIES],
        )
        aws.eks.AccessEntry(
            f"{name}-karpenter-node",
            aws.eks.AccessEntryArgs(cluster_name=args.cluster_name, principal_arn=node_role.role.arn, type="EC2_LINUX"),
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-interruptions",
            aws.sqs.QueueArgs(
                name=self.queue_name,
                message_retention_seconds=karpenter_facts.QUEUE_RETENTION_SECONDS,
                sqs_managed_sse_enabled=True,
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-interruptions",
            aws.sqs.QueuePolicyArgs(queue_url=queue.url, policy=document(interruption_queue_policy(queue.arn))),
            opts=child,
        )
        for event, pattern in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{event}",
                aws.cloudwatch.EventRuleArgs(
                    name=physical_name(args.environment, "karpenter", event), event_pattern=json.dumps(pattern)
                ),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{event}",
                aws.cloudwatch.EventTargetArgs(rule=rule.name, target_id="karpenter", arn=queue.arn),
                opts=child,
            )
        controller = service_role(
            f"{name}-karpenter",
            parent=self,
            name=physical_name(args.environment, "karpenter"),
            description=f"Karpenter controller (EKS Pod Identity, {KARPENTER_NAMESPACE}/{KARPENTER_SERVICE_ACCOUNT})",
            boundary=args.permissions_boundary,
            trust=pod_identity_statement(scope, KARPENTER_NAMESPACE, KARPENTER_SERVICE_ACCOUNT),
            policy_name="controller",
            statements=karpenter_controller_statements(scope),
        )
        self._associate(f"{name}-karpenter", KARPENTER_NAMESPACE, KARPENTER_SERVICE_ACCOUNT, controller.role.arn)
        if args.uses_spot and args.create_spot_service_linked_role:
            # Account-wide and possibly shared: kept when the stack is destroyed.
            aws.iam.ServiceLinkedRole(
                f"{name}-spot",
                aws.iam.ServiceLinkedRoleArgs(aws_service_name="spot.amazonaws.com"),
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )

    def _alertmanager(self) -> None:
        """Alertmanager publishes to the (encrypted) alert topic through Pod Identity."""
        args, name = self.args, self.component_name
        former = pulumi.Alias(
            name=f"{FORMER_OBSERVABILITY[0]}-alertmanager",
            parent=pulumi.create_urn(FORMER_OBSERVABILITY[0], FORMER_OBSERVABILITY[1]),
        )
        role, _, _ = service_role(
            f"{name}-alertmanager",
            parent=self,
            name=physical_name(args.environment, "alertmanager"),
            boundary=args.workload_boundary,
            trust=pod_identity_statement(self.scope, MONITORING_NAMESPACE, ALERTMANAGER_SERVICE_ACCOUNT),
            policy_name="publish-alerts",
            statements=[
                Statement(sid="PublishAlerts", actions=["sns:Publish"], resources=[args.alert_topic_arn]),
                Statement(
                    sid="EncryptAlerts",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[args.logs_key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sns.{args.region}.amazonaws.com"}},
                ),
            ],
            aliases=[former],
        )
        self._associate(
            f"{name}-alertmanager", MONITORING_NAMESPACE, ALERTMANAGER_SERVICE_ACCOUNT, role.arn, aliases=[former]
        )


def interruption_queue_policy(queue_arn: pulumi.Input[str]) -> list[Statement]:
    """KarpenterInterruptionQueuePolicy of the getting-started template (v1.11.1)."""
    return [
        Statement(
            sid="InterruptionEvents",
            principals={"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
            actions=["sqs:SendMessage"],
            resources=[queue_arn],
        ),
        Statement(
            sid="DenyInsecureTransport",
            effect="Deny",
            principals={"AWS": "*"},
            actions=["sqs:*"],
            resources=[queue_arn],
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
    ]


def karpenter_controller_statements(scope: Scope) -> list[Statement]:
    """The controller's permissions: the official policy of the pinned Karpenter version
    (foundation/upstream/karpenter.py), for this environment's cluster, queue and node role."""
    cluster = f"{scope.prefix}training"
    statements = karpenter_facts.controller_policy(
        partition=scope.partition,
        region=scope.region,
        account=scope.account_id,
        cluster=cluster,
        node_role_arn=f"arn:{scope.partition}:iam::{scope.account_id}:role/{scope.prefix}karpenter-node",
        queue_arn=scope.regional("sqs", f"{scope.prefix}karpenter"),
    )
    return [
        Statement(
            sid=st["Sid"],
            actions=[st["Action"]] if isinstance(st["Action"], str) else list(st["Action"]),
            resources=[st["Resource"]] if isinstance(st["Resource"], str) else list(st["Resource"]),
            conditions=st.get("Condition", {}),
        )
        for st in statements
    ]


def spot_needed(capacity_types: Sequence[Sequence[str]]) -> bool:
    """Whether any pool (its capacity types) may launch spot."""
    return any("spot" in types for types in capacity_types)
