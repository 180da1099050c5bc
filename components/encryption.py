"""Customer-managed KMS keys, one per data domain.

A key per domain (data, models, logs, cluster secrets, and any the stack adds) keeps the blast
radius of a grant small: a role that may decrypt model artifacts cannot read the data lake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi

from foundation.conventions import partition_for, physical_name, stateful_options
from foundation.iam.documents import Statement, document
from foundation.upstream.eks import EBS_KEY_ACTIONS

# The platform's domains. AWS services that act with a caller's credentials (S3, SageMaker,
# Glue, ECR, EKS) need no statement here: the caller's role is granted the key, scoped with
# kms:ViaService. Only services that use the key as themselves are named in the key policy.
DEFAULT_DOMAINS = ("data", "models", "logs", "cluster")

DOMAIN_DESCRIPTIONS = {
    "data": "data lake buckets, feature store online and offline stores",
    "models": "model artifacts, container images and model packages",
    "logs": "CloudTrail, CloudWatch Logs and the alerts topic",
    "cluster": "EKS secrets envelope encryption and node volumes",
}

_USE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


@dataclass(frozen=True)
class _Where:
    partition: str
    region: str
    account: str
    environment: str

    @property
    def trail(self) -> str:
        """The platform's trail (components/audit.py names it mlplatform-<env>-audit)."""
        return f"arn:{self.partition}:cloudtrail:{self.region}:{self.account}:trail/mlplatform-{self.environment}-audit"


@dataclass(frozen=True)
class _ServiceUse:
    sid: str
    service: str
    actions: tuple[str, ...]
    conditions: Callable[[_Where], Mapping[str, Mapping[str, object]]]


def _source_account(w: _Where) -> Mapping[str, Mapping[str, object]]:
    return {"StringEquals": {"aws:SourceAccount": w.account}}


def _none(_w: _Where) -> Mapping[str, Mapping[str, object]]:
    return {}


def _from_trail(w: _Where) -> Mapping[str, Mapping[str, object]]:
    # CloudTrail user guide (create-kms-key-policy-for-cloudtrail): "As a security best practice, add an
    # aws:SourceArn condition key ... The aws:SourceAccount condition key is also supported, but not
    # recommended."
    return {"StringEquals": {"aws:SourceArn": w.trail}}


_SERVICE_USES: dict[str, tuple[_ServiceUse, ...]] = {
    # Node and persistent volumes: EC2 and the service-linked roles it launches with (Auto Scaling
    # for the node group, EC2 Fleet/Spot for Karpenter) use the key through EC2. foundation/upstream/
    # eks.py (EBS_KEY_ACTIONS) says why this is the documented form and not the roles by name.
    "cluster": (
        _ServiceUse(
            "NodeVolumesThroughEc2",
            "*",
            EBS_KEY_ACTIONS,
            lambda w: {
                "StringEquals": {"kms:CallerAccount": w.account, "kms:ViaService": f"ec2.{w.region}.amazonaws.com"}
            },
        ),
    ),
    # The model approval events reach an encrypted topic and queue (and its DLQ) through EventBridge. The
    # EventBridge user guide documents this statement with no condition, and conditions on the source
    # drop deliveries silently (foundation/upstream/services.py).
    "models": (_ServiceUse("EventBridgePublish", "events.amazonaws.com", _USE_ACTIONS, _none),),
    "logs": (
        _ServiceUse(
            "CloudWatchLogsUse",
            "logs.{region}.amazonaws.com",
            ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
            lambda w: {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:{w.partition}:logs:{w.region}:{w.account}:log-group:*"
                }
            },
        ),
        _ServiceUse(
            "CloudTrailEncrypt",
            "cloudtrail.amazonaws.com",
            ("kms:GenerateDataKey*",),
            lambda w: {
                **_from_trail(w),
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{w.partition}:cloudtrail:*:{w.account}:trail/*"
                },
            },
        ),
        _ServiceUse("CloudTrailDescribe", "cloudtrail.amazonaws.com", ("kms:DescribeKey",), _from_trail),
        # The audit bucket uses an S3 Bucket Key: "kms:Decrypt permissions are required to create or update
        # a trail with SSE-KMS encryption enabled" ("Allow CloudTrail to decrypt a trail", same guide).
        _ServiceUse("CloudTrailDecrypt", "cloudtrail.amazonaws.com", ("kms:Decrypt",), _from_trail),
        # Publishers to the encrypted alerts topic: alarms, event rules and budgets.
        _ServiceUse("CloudWatchAlarmsPublish", "cloudwatch.amazonaws.com", _USE_ACTIONS, _source_account),
        _ServiceUse("EventBridgePublish", "events.amazonaws.com", _USE_ACTIONS, _none),
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
    # Accounts that deploy this registry's model packages: they decrypt model artifacts (through S3)
    # and images (through ECR) with the models key (SageMaker guide, model-registry-deploy).
    model_consumers: Sequence[str] = ()

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
                    policy=key_policy(domain, args.account_id, args.region, args.environment, args.model_consumers),
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


def key_policy(
    domain: str, account_id: str, region: str, environment: str = "dev", model_consumers: Sequence[str] = ()
) -> pulumi.Output[str]:
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
                conditions=use.conditions(_Where(partition, region, account_id, environment)),
            )
        )
    if domain == "models" and model_consumers:
        statements.append(
            Statement(
                sid="ConsumerAccountsDecrypt",
                principals={"AWS": [f"arn:{partition}:iam::{a}:root" for a in model_consumers]},
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {"kms:ViaService": [f"s3.{region}.amazonaws.com", f"ecr.{region}.amazonaws.com"]}
                },
            )
        )
    return document(statements)
