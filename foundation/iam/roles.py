"""Roles as components create them: the service-role helper, and policies sized to IAM's quotas."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import pulumi

from foundation.iam.documents import Statement, document


class ServiceRole(NamedTuple):
    role: Any
    policy: Any  # the inline policy, or None
    attachments: list  # the managed-policy attachments

    @property
    def ready(self) -> list:
        """What must exist before the role is used: its policies. EKS, for one, must not get a
        cluster or node role before its policies are attached (pulumi-aws eks.Cluster docs)."""
        return [r for r in (self.policy, *self.attachments) if r is not None]


def service_role(
    resource_name: str,
    *,
    parent: pulumi.Resource,
    name: str,
    trust: Statement,
    boundary: pulumi.Input[str] | None,
    statements: Sequence[Statement] = (),
    policy_name: str = "access",
    managed: Sequence[str] = (),
    description: str | None = None,
    aliases: Sequence[pulumi.Alias] = (),
) -> ServiceRole:
    """A role a component's service or controller assumes: one trust statement, a permission
    boundary, an inline policy and the AWS managed policies it needs. ``aliases`` apply to each of
    its resources (where a role moved from another component)."""
    import pulumi_aws as aws

    child = pulumi.ResourceOptions(parent=parent, aliases=list(aliases) or None)
    role = aws.iam.Role(
        resource_name,
        aws.iam.RoleArgs(
            name=name,
            description=description,
            permissions_boundary=boundary,
            assume_role_policy=document([trust]),
        ),
        opts=child,
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{resource_name}-{arn.rsplit('/', 1)[-1]}",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=arn),
            opts=child,
        )
        for arn in managed
    ]
    policy = None
    if statements:
        policy = aws.iam.RolePolicy(
            resource_name,
            aws.iam.RolePolicyArgs(role=role.id, name=policy_name, policy=document(list(statements))),
            opts=child,
        )
    return ServiceRole(role, policy, attachments)


INLINE_LIMIT, MANAGED_LIMIT = 10_240, 6_144  # characters, whitespace excluded (IAM quotas)


def policy_chunks(statements: list[Statement]) -> list[list[Statement]]:
    """One inline policy when it fits, else chunks that each fit a managed policy. Sizes are
    estimated with 128 characters for a value not known yet (an ARN); tests check the real ones."""
    if not statements:
        return []

    def size(st: Statement) -> int:
        return len(json.dumps(st.render(), separators=(",", ":"), default=lambda _: "x" * 128)) + 1

    overhead = len('{"Version":"2012-10-17","Statement":[]}')
    if overhead + sum(size(s) for s in statements) <= INLINE_LIMIT * 0.9:
        return [statements]
    chunks: list[list[Statement]] = [[]]
    used = overhead
    for st in statements:
        if chunks[-1] and used + size(st) > MANAGED_LIMIT * 0.9:
            chunks.append([])
            used = overhead
        chunks[-1].append(st)
        used += size(st)
    return chunks
