"""SageMaker Feature Store: feature groups from definitions, one offline store in the curated bucket.

Training and inference read the same features: the online store (low-latency, with a TTL) and the
offline store (S3 + Glue table for training sets) are written by the same PutRecord. Both stores
are encrypted with the data key. The owner writes the grants: read online records, put records,
query the offline store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components.storage import SecureBucket
from foundation.conventions import partition_for, physical_name, stateful_options
from foundation.iam.documents import Statement
from foundation.iam.roles import service_role
from foundation.iam.trust import service_trust


@dataclass(frozen=True)
class FeatureGroupSpec:
    name: str
    description: str
    record_identifier: str
    event_time: str
    features: Sequence[tuple[str, str]]  # (name, Integral | Fractional | String)
    online: bool = True
    ttl: tuple[int, str] | None = None  # (value, unit)


@dataclass(frozen=True)
class FeatureStoreArgs:
    environment: str
    account_id: str
    region: str
    data_key_arn: pulumi.Input[str]
    offline_bucket: SecureBucket  # the curated bucket
    groups: Sequence[FeatureGroupSpec] = field(default_factory=tuple)
    offline_prefix: str = "features/"
    permissions_boundary: pulumi.Input[str] | None = None
    protect: bool = True


class FeatureStore(pulumi.ComponentResource):
    def __init__(self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:feature_store:FeatureStore", name, None, opts)
        import pulumi_aws as aws

        sm = aws.sagemaker
        self.args = args
        p = partition_for(args.region)
        self.database = f"mlplatform_{args.environment}_features"
        self.group_names = {g.name: physical_name(args.environment, g.name) for g in args.groups}
        self._group_arn_prefix = f"arn:{p}:sagemaker:{args.region}:{args.account_id}:feature-group/"
        glue_arns = [
            f"arn:{p}:glue:{args.region}:{args.account_id}:catalog",
            f"arn:{p}:glue:{args.region}:{args.account_id}:database/{self.database}",
            f"arn:{p}:glue:{args.region}:{args.account_id}:table/{self.database}/*",
        ]
        self._glue_arns = glue_arns
        catalog = aws.glue.CatalogDatabase(
            f"{name}-catalog",
            aws.glue.CatalogDatabaseArgs(
                name=self.database,
                description=f"mlplatform {args.environment}: offline feature store tables",
                location_uri=f"s3://{args.offline_bucket.name}/{args.offline_prefix}",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The role Feature Store itself uses to write the offline store and register its tables.
        bucket = args.offline_bucket
        role, service_policy, _ = service_role(
            f"{name}-service",
            parent=self,
            name=physical_name(args.environment, "feature-store"),
            description="SageMaker Feature Store: offline store writes and Glue table registration",
            boundary=args.permissions_boundary,
            trust=service_trust("SageMakerFeatureStore", "sagemaker.amazonaws.com", account_id=args.account_id),
            policy_name="offline-store",
            statements=[
                *bucket.grant_write(args.offline_prefix),
                *bucket.grant_read(args.offline_prefix),
                Statement(sid="CheckOfflineBucket", actions=["s3:GetBucketAcl"], resources=[bucket.arn]),
                # AmazonSageMakerFeatureStoreAccess (v3) grants the offline store s3:PutObjectAcl too.
                Statement(
                    sid="OfflineStoreObjectAcl",
                    actions=["s3:PutObjectAcl"],
                    resources=[f"{bucket.arn}/{args.offline_prefix}*"],
                ),
                Statement(
                    sid="RegisterOfflineTables",
                    actions=["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable"],
                    resources=glue_arns,
                ),
            ],
        )
        self.groups: dict[str, pulumi.Resource] = {}
        for g in args.groups:
            online = sm.FeatureGroupOnlineStoreConfigArgs(
                enable_online_store=True,
                storage_type="Standard",
                security_config=sm.FeatureGroupOnlineStoreConfigSecurityConfigArgs(kms_key_id=args.data_key_arn),
                ttl_duration=sm.FeatureGroupOnlineStoreConfigTtlDurationArgs(value=g.ttl[0], unit=g.ttl[1])
                if g.ttl
                else None,
            )
            self.groups[g.name] = sm.FeatureGroup(
                f"{name}-{g.name}",
                sm.FeatureGroupArgs(
                    feature_group_name=self.group_names[g.name],
                    description=g.description,
                    record_identifier_feature_name=g.record_identifier,
                    event_time_feature_name=g.event_time,
                    role_arn=role.arn,
                    feature_definitions=[
                        sm.FeatureGroupFeatureDefinitionArgs(feature_name=n, feature_type=t) for n, t in g.features
                    ],
                    online_store_config=online if g.online else None,
                    offline_store_config=sm.FeatureGroupOfflineStoreConfigArgs(
                        s3_storage_config=sm.FeatureGroupOfflineStoreConfigS3StorageConfigArgs(
                            s3_uri=f"s3://{bucket.name}/{args.offline_prefix.rstrip('/')}",
                            kms_key_id=args.data_key_arn,
                        ),
                        data_catalog_config=sm.FeatureGroupOfflineStoreConfigDataCatalogConfigArgs(
                            catalog="AwsDataCatalog",
                            database=self.database,
                            table_name=g.name.replace("-", "_"),
                        ),
                        disable_glue_table_creation=False,
                    ),
                ),
                # Feature Store checks its role's access when the group is created.
                opts=stateful_options(self, args.protect, depends_on=[service_policy, catalog]),
            )
        self.register_outputs({"featureGroups": self.group_names})

    def _arns(self, group: str) -> list[str]:
        """ARNs of one group, or of every group for ""."""
        if group and group not in self.group_names:
            raise KeyError(f"no feature group {group!r}; groups: {', '.join(self.group_names)}")
        names = [group] if group else list(self.group_names)
        return [self._group_arn_prefix + self.group_names[n] for n in names]

    @staticmethod
    def _sid(verb: str, group: str) -> str:
        return verb + "".join(w.capitalize() for w in (group or "all-groups").split("-"))

    # --- grants: "" means every feature group of the stack ------------------------------------

    def _online_key(self, sid: str, actions: list[str]) -> Statement:
        """The online store's key, used through SageMaker: PutRecord and GetRecord callers need
        kms:Decrypt on OnlineStoreSecurityConfig.KmsKeyId (botocore sagemaker model; SageMaker guide,
        feature-store-security), and the guide's condition is kms:ViaService sagemaker.*.amazonaws.com."""
        return Statement(
            sid=sid,
            actions=actions,
            resources=[self.args.data_key_arn],
            conditions={"StringLike": {"kms:ViaService": "sagemaker.*.amazonaws.com"}},
        )

    def grant_read_online(self, group: str = "") -> list[Statement]:
        """Read records from the online store (inference, feature lookups)."""
        sid = self._sid("ReadOnlineFeatures", group)
        return [
            Statement(
                sid=sid, actions=["sagemaker:GetRecord", "sagemaker:BatchGetRecord"], resources=self._arns(group)
            ),
            self._online_key(f"{sid}Key", ["kms:Decrypt"]),
        ]

    def grant_put(self, group: str = "") -> list[Statement]:
        """Put records (ingestion); Feature Store writes the offline store with its own role."""
        sid = self._sid("PutFeatureRecords", group)
        return [
            Statement(
                sid=sid, actions=["sagemaker:PutRecord", "sagemaker:DescribeFeatureGroup"], resources=self._arns(group)
            ),
            self._online_key(f"{sid}Key", ["kms:Decrypt", "kms:GenerateDataKey"]),
        ]

    def grant_query_offline(self, group: str = "") -> list[Statement]:
        """Read the offline store: its Glue tables (one group's, or all) and its objects in S3.

        Objects are granted for the whole offline prefix: Feature Store writes each group under
        ``<prefix><account>/sagemaker/<region>/offline-store/<group>-<creation time>/``, a path
        not known before the group exists."""
        self._arns(group)
        catalog, database, _ = self._glue_arns
        table = f"{database.replace(':database/', ':table/')}/{group.replace('-', '_') if group else '*'}"
        return [
            *self.args.offline_bucket.grant_read(self.args.offline_prefix),
            Statement(
                sid=self._sid("ReadOfflineFeatureTables", group),
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
                resources=[catalog, database, table],
            ),
        ]
