"""The ARN patterns that cover one environment's resources, and the conditions that keep a grant
inside it."""

from __future__ import annotations

from dataclasses import dataclass

from foundation.conventions import partition_for
from foundation.iam.github import GITHUB_OIDC_HOST


@dataclass(frozen=True)
class Scope:
    """ARN patterns that cover exactly one environment's resources (all named mlplatform-<env>-...)."""

    environment: str
    account_id: str
    region: str

    @property
    def partition(self) -> str:
        return partition_for(self.region)

    @property
    def prefix(self) -> str:
        return f"mlplatform-{self.environment}-"

    @property
    def buckets(self) -> str:
        return f"arn:{self.partition}:s3:::{self.prefix}*"

    @property
    def roles(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.prefix}*"

    @property
    def policies(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:policy/{self.prefix}*"

    @property
    def oidc_provider(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:oidc-provider/{GITHUB_OIDC_HOST}"

    @property
    def keys(self) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:key/*"

    @property
    def aliases(self) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:alias/{self.prefix}*"

    @property
    def trails(self) -> str:
        return f"arn:{self.partition}:cloudtrail:{self.region}:{self.account_id}:trail/{self.prefix}*"

    @property
    def log_groups(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:/mlplatform/{self.environment}/*"

    @property
    def eks_log_group(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:/aws/eks/{self.prefix}*"

    def regional(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    @property
    def sagemaker(self) -> list[str]:
        """Feature groups, model package groups (and their packages), MLflow servers of this environment."""
        return [
            self.regional("sagemaker", f"*/{self.prefix}*"),
            self.regional("sagemaker", f"model-package/{self.prefix}*/*"),
        ]

    @property
    def glue(self) -> list[str]:
        db = f"mlplatform_{self.environment}_*"
        return [
            self.regional("glue", "catalog"),
            self.regional("glue", f"database/{db}"),
            self.regional("glue", f"table/{db}/*"),
            self.regional("glue", f"dataQualityRuleset/{self.prefix}*"),
        ]

    @property
    def messaging(self) -> list[str]:
        return [
            self.regional("sns", f"{self.prefix}*"),
            self.regional("sqs", f"{self.prefix}*"),
            self.regional("events", f"rule/{self.prefix}*"),
        ]

    @property
    def repositories(self) -> str:
        return self.regional("ecr", f"repository/mlplatform-{self.environment}/*")

    @property
    def cluster(self) -> list[str]:
        """The training cluster and its node groups, add-ons, access entries and associations."""
        name = f"{self.prefix}training"
        return [self.regional("eks", f"cluster/{name}"), self.regional("eks", f"*/{name}/*")]

    @property
    def in_region(self) -> dict[str, dict[str, str]]:
        return {"StringEquals": {"aws:RequestedRegion": self.region}}

    @property
    def this_environment(self) -> dict[str, dict[str, str]]:
        """Condition: the resource carries this environment's tag (set by the provider's default tags)."""
        return {"StringEquals": {"aws:ResourceTag/environment": self.environment}}


def cluster_arn(scope: Scope) -> str:
    """The training cluster of an environment (its name is fixed: mlplatform-<env>-training)."""
    return scope.regional("eks", f"cluster/{scope.prefix}training")
