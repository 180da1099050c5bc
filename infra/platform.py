"""The composition root: builds the platform's components for one stack, in dependency order."""

from __future__ import annotations

from typing import Any

import pulumi

from components.conventions import aws_provider, platform_tags
from components.encryption import Encryption, EncryptionArgs
from infra.settings import Settings


class Platform:
    """Every component of one stack, wired together. ``outputs`` are the stack outputs."""

    def __init__(self, settings: Settings):
        env = settings.environment
        self.provider = aws_provider(
            f"aws-{env}",
            region=settings.region,
            account_id=settings.account_id,
            tags=platform_tags(env, settings.owner, settings.cost_center),
        )
        aws_only = pulumi.ResourceOptions(providers=[self.provider])

        self.encryption = Encryption(
            "keys",
            EncryptionArgs(
                environment=env,
                account_id=settings.account_id,
                region=settings.region,
                domains=settings.encryption.domains,
                deletion_window_days=settings.encryption.key_deletion_window_days,
                rotation_period_days=settings.encryption.key_rotation_period_days,
                protect=settings.protect,
            ),
            opts=aws_only,
        )

        self.outputs: dict[str, Any] = {
            "environment": env,
            "region": settings.region,
            "accountId": settings.account_id,
            "kmsKeyArns": self.encryption.key_arns,
            "kmsAliases": self.encryption.alias_names,
        }
