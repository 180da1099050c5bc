"""Customer-managed KMS keys, one per data domain.

A key per domain (data, models, logs, cluster secrets, and any the stack adds) keeps the blast
radius of a grant small: a role that may decrypt model artifacts cannot read the data lake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.conventions import partition_for, physical_name, stateful_options
from components.documents import Statement, document
from components.upstream.eks import EBS_KEY_ACTIONS

# The platform's domains. AWS services that act with a caller's credentials (S3, SageMaker,
# Glue, ECR, EKS) need no statement here: the caller's role is granted the key, scoped with
# kms:ViaService. Only services that use the key as themselves are named in the key policy.
DEFAULT_DOMAINS = ("data", "models", "logs", "cluster")

DOMAIN_DESCRIPTIONS = {
    "data": "data lake buckets, feature store offline store and Glue catalog",
    "models": "model artifacts, container images and model packages",
    "logs": "CloudTrail, CloudWatch Logs and the alerts topic",
    "cluster": "EKS secrets envelope encryption and node volumes",
}

_USE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


@dataclass(frozen=True)
class _ServiceUse:
    sid: str
    service: str
    actions: tuple[str, ...]
    # (partition, region, account) -> condition block
    conditions: Callable[[str, str, str], Mapping[str, Mapping[str, object]]]


def _source_account(_p: str, _r: str, account: str) -> Mapping[str, Mapping[str, object]]:
    return {"StringEquals": {"aws:SourceAccount": account}}


_SERVICE_USES: dict[str, tuple[_ServiceUse, ...]] = {
    # Node and persistent volumes: EC2 and the service-linked roles it launches with (Auto Scaling
    # for the node group, EC2 Fleet/Spot for Karpenter) use the key through EC2. components/upstream/
    # eks.py (EBS_KEY_ACTIONS) says why this is the documented form and not the roles by name.
    "cluster": (
        _ServiceUse(
            "NodeVolumesThroughEc2",
            "*",
            EBS_KEY_ACTIONS,
            lambda _p, r, a: {"StringEquals": {"kms:CallerAccount": a, "kms:ViaService": f"ec2.{r}.amazonaws.com"}},
        ),
    ),
    # The model approval events reach an encrypted topic and queue through EventBridge.
    "models": (_ServiceUse("EventBridgePublish", "events.amazonaws.com", _USE_ACTIONS, _source_account),),
    "logs": (
        _ServiceUse(
            "CloudWatchLogsUse",
            "logs.{region}.amazonaws.com",
            ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
            lambda p, r, a: {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{p}:logs:{r}:{a}:log-group:*"}},
        ),
        _ServiceUse(
            "CloudTrailEncrypt",
            "cloudtrail.amazonaws.com",
            ("kms:GenerateDataKey*",),
            lambda p, r, a: {
                "StringEquals": {"aws:SourceAccount": a},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{p}:cloudtrail:*:{a}:trail/*"},
            },
        ),
        _ServiceUse("CloudTrailDescribe", "cloudtrail.amazonaws.com", ("kms:DescribeKey",), _source_account),
        # Publishers to the encrypted alerts topic: alarms, event rules and budgets.
        _ServiceUse("CloudWatchAlarmsPublish", "cloudwatch.amazonaws.com", _USE_ACTIONS, _source_account),
        _ServiceUse("EventBridgePublish", "events.amazonaws.com", _USE_ACTIONS, _source_account),
        _ServiceUse("BudgetsPublish", "budgets.amazonaws.com", _USE_ACTIONS, _source_account),
    ),
}


@dataclass(frozen=True)
class EncryptionArgs:
    environment: str
    account_id: str
    region: str
    domains: Sequence[str] = DEFAULT_DOMAINS
    deletion_window_days: int = 30
    rotation_period_days: int = 365
    # Secure default: keys survive `pulumi destroy` and state removal. Dev opts out explicitly.
    protect: bool = True

    def __post_init__(self) -> None:
        if len(set(self.domains)) != len(self.domains):
            raise ValueError(f"duplicate key domains in {list(self.domains)}")
        if not 7 <= self.deletion_window_days <= 30:
            raise ValueError("deletion_window_days must be between 7 and 30")
        if not 90 <= self.rotation_period_days <= 2560:
            raise ValueError("rotation_period_days must be between 90 and 2560")


class Encryption(pulumi.ComponentResource):
    """One rotating customer-managed key and alias per domain, with a key policy naming its principals."""

    keys: dict[str, pulumi.Resource]
    key_arns: dict[str, pulumi.Output[str]]
    alias_names: dict[str, str]

    def __init__(self, name: str, args: EncryptionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:encryption:Encryption", name, None, opts)
        import pulumi_aws as aws

        self.keys, self.key_arns, self.alias_names = {}, {}, {}
        for domain in args.domains:
            alias = "alias/" + physical_name(args.environment, domain)
            description = DOMAIN_DESCRIPTIONS.get(domain, f"{domain} data domain")
            key = aws.kms.Key(
                f"{name}-{domain}",
                aws.kms.KeyArgs(
                    description=f"mlplatform {args.environment}: {description}",
                    key_usage="ENCRYPT_DECRYPT",
                    customer_master_key_spec="SYMMETRIC_DEFAULT",
                    enable_key_rotation=True,
                    rotation_period_in_days=args.rotation_period_days,
                    deletion_window_in_days=args.deletion_window_days,
                    multi_region=False,
                    bypass_policy_lockout_safety_check=False,
                    policy=key_policy(domain, args.account_id, args.region),
                    tags={"data-domain": domain},
                ),
                opts=stateful_options(self, args.protect),
            )
            aws.kms.Alias(
                f"{name}-{domain}",
                aws.kms.AliasArgs(name=alias, target_key_id=key.key_id),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.keys[domain] = key
            self.key_arns[domain] = key.arn
            self.alias_names[domain] = alias

        self.register_outputs({"keyArns": self.key_arns, "aliases": self.alias_names})

    def key_arn(self, domain: str) -> pulumi.Output[str]:
        """The ARN of a domain's key; a clear error names the domains that exist."""
        try:
            return self.key_arns[domain]
        except KeyError:
            raise KeyError(f"no key for domain {domain!r}; domains: {sorted(self.key_arns)}") from None


def key_policy(domain: str, account_id: str, region: str) -> pulumi.Output[str]:
    """The key policy of a domain's key.

    The account root statement is what lets IAM policies grant use of the key (the grants of
    each component); without it the key could be administered by nobody. Services that use the
    key as themselves are named one by one and scoped to this account.
    """
    partition = partition_for(region)
    statements = [
        Statement(
            sid="AccountAdministration",
            principals={"AWS": f"arn:{partition}:iam::{account_id}:root"},
            actions=["kms:*"],
            resources=["*"],
        )
    ]
    for use in _SERVICE_USES.get(domain, ()):
        statements.append(
            Statement(
                sid=use.sid,
                principals={"AWS": "*"} if use.service == "*" else {"Service": use.service.format(region=region)},
                actions=list(use.actions),
                resources=["*"],
                conditions=use.conditions(partition, region, account_id),
            )
        )
    return document(statements)
