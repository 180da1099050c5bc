"""Trust statements: AWS services pinned to the account, EKS Pod Identity of one cluster, people
with MFA."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from foundation.iam.documents import Statement, document
from foundation.iam.scope import Scope, cluster_arn

MFA_MAX_AGE_SECONDS = 3600


def service_trust(
    sid: str,
    service: str | list[str],
    *,
    account_id: str | None = None,
    actions: Sequence[str] = ("sts:AssumeRole",),
    conditions: Mapping[str, Mapping[str, object]] | None = None,
) -> Statement:
    """Trust of an AWS service, pinned to this account (aws:SourceAccount) unless other conditions
    are given; EC2 instance roles take no condition (EC2 sets no source context)."""
    if conditions is None:
        conditions = {"StringEquals": {"aws:SourceAccount": account_id}} if account_id else {}
    return Statement(sid=sid, principals={"Service": service}, actions=list(actions), conditions=conditions)


def pod_identity_statement(scope: Scope, namespace: str | None = None, service_account: str | None = None) -> Statement:
    """EKS Pod Identity: only the pods service, only for this environment's cluster and, where the
    pods are known, one namespace and service account.

    The conditions are the session tags EKS sends (user guide, pod-id-role: "eks-cluster-arn, ...,
    kubernetes-namespace, kubernetes-service-account"); aws:SourceArn is not documented for this
    principal, so a condition on it could deny every pod."""
    tags = {"aws:RequestTag/eks-cluster-arn": cluster_arn(scope)}
    if namespace:
        tags["aws:RequestTag/kubernetes-namespace"] = namespace
    if service_account:
        tags["aws:RequestTag/kubernetes-service-account"] = service_account
    return Statement(
        sid="EksPodIdentity",
        principals={"Service": "pods.eks.amazonaws.com"},
        actions=["sts:AssumeRole", "sts:TagSession"],
        conditions={"StringEquals": tags},
    )


def pod_identity_trust(scope: Scope, namespace: str | None = None, service_account: str | None = None):
    return document([pod_identity_statement(scope, namespace, service_account)])


def mfa_trust(principals: Sequence[str], sid: str = "ApproversWithMfa") -> pulumi.Output[str]:
    """Named principals, only with MFA used within the last hour."""
    return document(
        [
            Statement(
                sid=sid,
                principals={"AWS": list(principals)},
                actions=["sts:AssumeRole"],
                conditions={
                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                    "NumericLessThan": {"aws:MultiFactorAuthAge": str(MFA_MAX_AGE_SECONDS)},
                },
            )
        ]
    )
