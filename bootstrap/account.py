"""What one AWS account needs before the platform's first `pulumi up`.

- the KMS key that encrypts the platform stacks' secrets (``awskms://alias/...``) and their state;
- the S3 bucket that holds the platform stacks' state: versioned, SSE-KMS with that key, private,
  TLS-only, old versions expiring;
- the account's GitHub OIDC provider, which the platform's CI roles trust (``ci.oidcProviderArn``);
- a CodeConnections connection to GitHub, through which the platform's CI runner (a CodeBuild
  project in the VPC) registers (``ci.codeConnectionArn``); it stays PENDING until an admin
  completes the GitHub handshake once in the console (Developer Tools > Connections);
- ``ml-platform-admins``, the break-glass role that runs the first platform `pulumi up`, and
  ``ml-model-approvers``, the role the platform's model-approver role trusts.

The bootstrap's own state stays on the administrator's machine: it cannot live in the bucket it
creates.
"""

from __future__ import annotations

import pulumi

from bootstrap.settings import BootstrapSettings
from components.storage import Lifecycle, SecureBucket, SecureBucketArgs
from foundation.conventions import (
    PROJECT,
    aws_provider,
    partition_for,
    secrets_alias,
    state_bucket_name,
    stateful_options,
)
from foundation.iam.documents import Statement, document
from foundation.iam.trust import mfa_trust

# The names the platform's stacks use: training.adminPrincipals and identity.approverPrincipals.
ADMIN_ROLE = "ml-platform-admins"
APPROVERS_ROLE = "ml-model-approvers"
GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
# The AWS managed policy of the break-glass role (see _admin_role).
ADMINISTRATOR_ACCESS = "policy/AdministratorAccess"


def backend_url(bucket: str, region: str, key_arn: str) -> str:
    """Pulumi's S3 backend URL (docs: "State and backends", AWS S3): the region, the AWS SDK v2 code
    path the docs use in their example, and the encryption of every state object it writes.

    The backend writes through gocloud.dev's s3blob (pulumi/pulumi pkg/go.mod; gocloud.dev
    blob/s3blob ``OpenBucketURL``), which sends ``x-amz-server-side-encryption`` and the key id only
    when the URL has ``ssetype`` and ``kmskeyid``; without them the bucket's default encryption
    applies, which the bucket policy also accepts. Naming the key keeps the state on it even if the
    bucket's default is changed. s3blob refuses unknown query parameters."""
    return f"s3://{bucket}?region={region}&awssdk=v2&ssetype=aws:kms&kmskeyid={key_arn}"


def secrets_provider(environment: str, region: str) -> str:
    return f"awskms://{secrets_alias(environment)}?region={region}"


class AccountBootstrap(pulumi.ComponentResource):
    """The state bucket, secrets key, GitHub OIDC provider and admin and approver roles of one account."""

    outputs: dict[str, pulumi.Input]

    def __init__(self, settings: BootstrapSettings, opts: pulumi.ResourceOptions | None = None):
        s = settings
        super().__init__("mlplatform:bootstrap:AccountBootstrap", "bootstrap", None, opts)
        self.settings = s
        self.partition = partition_for(s.region)
        # The provider is a child, so every resource below uses it (and only this account).
        self.provider = aws_provider(
            "aws",
            region=s.region,
            account_id=s.account_id,
            tags={
                "environment": s.environment,
                "managed-by": "pulumi",
                "project": PROJECT,
                "pulumi-project": "mlplatform-bootstrap",
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.child = pulumi.ResourceOptions(parent=self, provider=self.provider)

        key = self._secrets_key()
        bucket = self._state_bucket(key)
        oidc = self._github_oidc_provider()
        connection = self._github_connection()
        admins = self._admin_role()
        approvers = self._approvers_role()

        self.outputs = {
            "backendUrl": pulumi.Output.all(bucket.name, key.arn).apply(lambda a: backend_url(a[0], s.region, a[1])),
            "secretsProvider": secrets_provider(s.environment, s.region),
            "stateBucket": bucket.name,
            "secretsKeyArn": key.arn,
            "oidcProviderArn": oidc.arn,
            "codeConnectionArn": connection.arn,
            "adminRoleArn": admins.arn,
            "approversRoleArn": approvers.arn,
        }
        self.register_outputs(self.outputs)

    def _stateful(self, **extra: object) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(
            stateful_options(self, self.settings.protect, **extra), pulumi.ResourceOptions(provider=self.provider)
        )

    def _secrets_key(self):
        """The key of the platform stacks' secrets provider and of the state bucket's objects.

        Its policy has the account root only, so IAM policies grant its use: the administrators'
        AdministratorAccess, and the platform's CI roles through their identity policies.
        """
        import pulumi_aws as aws

        s = self.settings
        key = aws.kms.Key(
            "secrets",
            aws.kms.KeyArgs(
                description=f"mlplatform {s.environment}: Pulumi secrets and state of the platform stacks",
                key_usage="ENCRYPT_DECRYPT",
                customer_master_key_spec="SYMMETRIC_DEFAULT",
                enable_key_rotation=True,
                deletion_window_in_days=7 if s.environment == "dev" else 30,
                multi_region=False,
                bypass_policy_lockout_safety_check=False,
                policy=document(
                    [
                        Statement(
                            sid="AccountAdministration",
                            principals={"AWS": f"arn:{self.partition}:iam::{s.account_id}:root"},
                            actions=["kms:*"],
                            resources=["*"],
                        )
                    ]
                ),
            ),
            opts=self._stateful(),
        )
        aws.kms.Alias(
            "secrets",
            aws.kms.AliasArgs(name=secrets_alias(s.environment), target_key_id=key.key_id),
            opts=self.child,
        )
        return key

    def _state_bucket(self, key) -> SecureBucket:
        """The platform stacks' state: a SecureBucket on the secrets key, without access logs (no log
        bucket exists before the platform). Its resources were first deployed as the bootstrap's own
        children: the aliases keep them.

        No force_destroy: `pulumi destroy` of a dev bootstrap needs the state emptied first, on
        purpose (the platform's state must be gone before its bucket is)."""
        s = self.settings
        return SecureBucket(
            "state",
            SecureBucketArgs(
                bucket_name=state_bucket_name(s.environment, s.account_id, s.region),
                account_id=s.account_id,
                region=s.region,
                kms_key_arn=key.arn,
                without_access_logs=True,
                lifecycle=Lifecycle(rule_id="old-state-versions"),
                protect=s.protect,
                aliases=[pulumi.Alias(parent=self)],
            ),
            opts=self.child,
        )

    def _github_oidc_provider(self):
        """The account's one GitHub OIDC provider. No thumbprints: for GitHub, IAM validates the
        issuer's certificate against its own trusted root CAs (IAM docs; pulumi-aws 7.51 makes
        thumbprint_lists optional)."""
        import pulumi_aws as aws

        return aws.iam.OpenIdConnectProvider(
            "github",
            aws.iam.OpenIdConnectProviderArgs(
                url=GITHUB_OIDC_URL,
                client_id_lists=[GITHUB_OIDC_AUDIENCE],
                tags={"github-repository": self.settings.github_repository},
            ),
            opts=self._stateful(),
        )

    def _github_connection(self):
        """A GitHub App connection of AWS CodeConnections (CodeBuild user guide, connections-github-app:
        "GitHub App connections are supported through AWS CodeConnections ... to use ... a CodeBuild-hosted
        GitHub Actions runner"). Created PENDING; an admin authorizes it once in the console."""
        import pulumi_aws as aws

        return aws.codestarconnections.Connection(
            "github",
            aws.codestarconnections.ConnectionArgs(
                name=f"mlplatform-{self.settings.environment}-github", provider_type="GitHub"
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )

    def _admin_role(self):
        """``ml-platform-admins``: the break-glass role, assumed with MFA by bootstrap.adminPrincipals.

        It holds AdministratorAccess on purpose: it runs the platform's first `pulumi up` (which
        creates the CI roles, their permission boundaries and the boundary policies) and every later
        change to a CI role or boundary, which the deploy boundary forbids the pipeline itself.
        Sessions last at most an hour. It is also the platform's training.adminPrincipals entry.
        """
        import pulumi_aws as aws

        s = self.settings
        role = aws.iam.Role(
            "admins",
            aws.iam.RoleArgs(
                name=ADMIN_ROLE,
                assume_role_policy=mfa_trust(s.admin_principals, sid="AdminsWithMfa"),
                max_session_duration=3600,
                description=f"mlplatform {s.environment}: break-glass administrators (platform pulumi up)",
            ),
            opts=self.child,
        )
        aws.iam.RolePolicyAttachment(
            "admins-administrator-access",
            aws.iam.RolePolicyAttachmentArgs(
                role=role.name, policy_arn=f"arn:{self.partition}:iam::aws:{ADMINISTRATOR_ACCESS}"
            ),
            opts=self.child,
        )
        return role

    def _approvers_role(self):
        """``ml-model-approvers``: assumed with MFA by bootstrap.approverPrincipals (default: the
        account's IAM principals). It has no permissions of its own: the platform's model-approver
        role trusts it, and approvers assume that role next."""
        import pulumi_aws as aws

        s = self.settings
        principals = s.approver_principals or [f"arn:{self.partition}:iam::{s.account_id}:root"]
        return aws.iam.Role(
            "approvers",
            aws.iam.RoleArgs(
                name=APPROVERS_ROLE,
                assume_role_policy=mfa_trust(principals, sid="ApproversWithMfa"),
                max_session_duration=3600,
                description=f"mlplatform {s.environment}: model approvers (assume the platform's model-approver)",
            ),
            opts=self.child,
        )
