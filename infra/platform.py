"""The composition root: builds the platform's components for one stack, in dependency order."""

from __future__ import annotations

from typing import Any

import pulumi

from components.audit import Audit, AuditArgs
from components.conventions import aws_provider, platform_tags
from components.encryption import Encryption, EncryptionArgs
from components.identity import Boundaries, BoundariesArgs, Identity, IdentityArgs
from components.storage import DataLake, DataLakeArgs, Lifecycle
from infra.access import role_grants
from infra.settings import Settings


class Platform:
    """Every component of one stack, wired together. ``outputs`` are the stack outputs."""

    def __init__(self, settings: Settings):
        s = settings
        env = s.environment
        self.provider = aws_provider(
            f"aws-{env}",
            region=s.region,
            account_id=s.account_id,
            tags=platform_tags(env, s.owner, s.cost_center),
        )
        aws_only = pulumi.ResourceOptions(providers=[self.provider])
        where = {"environment": env, "account_id": s.account_id, "region": s.region}
        # Named opt-out, derived from one setting: unprotected (dev) stacks can be destroyed whole.
        disposable = not s.protect

        self.encryption = Encryption(
            "keys",
            EncryptionArgs(
                **where,
                domains=s.encryption.domains,
                deletion_window_days=s.encryption.key_deletion_window_days,
                rotation_period_days=s.encryption.key_rotation_period_days,
                protect=s.protect,
            ),
            opts=aws_only,
        )
        keys = self.encryption
        # Boundaries first: every role, of the platform or of a component, carries one.
        self.boundaries = Boundaries("boundaries", BoundariesArgs(**where, protect=s.protect), opts=aws_only)
        st = s.storage
        self.lake = DataLake(
            "lake",
            DataLakeArgs(
                **where,
                data_key_arn=keys.key_arn("data"),
                models_key_arn=keys.key_arn("models"),
                raw_lifecycle=Lifecycle(
                    infrequent_access_after_days=st.raw_infrequent_access_after_days,
                    archive_after_days=st.raw_archive_after_days,
                    noncurrent_version_expiry_days=st.noncurrent_version_expiry_days,
                    abort_incomplete_uploads_after_days=st.abort_incomplete_uploads_after_days,
                ),
                curated_lifecycle=Lifecycle(
                    noncurrent_version_expiry_days=st.noncurrent_version_expiry_days,
                    abort_incomplete_uploads_after_days=st.abort_incomplete_uploads_after_days,
                ),
                artifacts_lifecycle=Lifecycle(
                    noncurrent_version_expiry_days=st.noncurrent_version_expiry_days,
                    abort_incomplete_uploads_after_days=st.abort_incomplete_uploads_after_days,
                ),
                access_log_retention_days=s.monitoring.log_retention_days,
                artifact_object_lock_days=st.artifact_object_lock_days,
                protect=s.protect,
                force_destroy=disposable,
            ),
            opts=aws_only,
        )
        # Everything a role can be granted access to, by the name the access matrix uses.
        self.resources = {f"lake:{zone}": bucket for zone, bucket in self.lake.zones.items()}
        teams = [t.name for t in s.training.teams]
        ci = s.ci
        self.identity = Identity(
            "identity",
            IdentityArgs(
                **where,
                workload_boundary_arn=self.boundaries.workload_arn,
                deploy_boundary_arn=self.boundaries.deploy_arn,
                teams=teams,
                grants=role_grants(self.resources, teams),
                approver_principals=s.identity.approver_principals,
                github_repository=ci.github_repository,
                deploy_subject=(
                    f"environment:{ci.deploy_environment}"
                    if ci.deploy_environment
                    else f"ref:refs/heads/{ci.deploy_branch}"
                ),
                oidc_provider_arn=ci.oidc_provider_arn,
                protect=s.protect,
            ),
            opts=aws_only,
        )
        self.audit = Audit(
            "audit",
            AuditArgs(
                **where,
                logs_key_arn=keys.key_arn("logs"),
                access_log_bucket=self.lake.access_logs.name,
                data_event_bucket_arns=[b.arn for b in self.lake.zones.values()],
                log_retention_days=s.monitoring.log_retention_days,
                object_lock_days=s.audit.object_lock_days,
                permissions_boundary=self.boundaries.workload_arn,
                protect=s.protect,
                force_destroy=disposable,
            ),
            opts=aws_only,
        )

        self.outputs: dict[str, Any] = {
            "environment": env,
            "region": s.region,
            "accountId": s.account_id,
            "kmsKeyArns": keys.key_arns,
            "kmsAliases": keys.alias_names,
            "buckets": {zone: b.name for zone, b in self.lake.zones.items()},
            "roleArns": self.identity.role_arns,
            "auditTrailArn": self.audit.trail_arn,
        }
