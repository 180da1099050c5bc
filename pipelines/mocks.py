"""Realistic, deterministic physical state for resources planned under Pulumi's mock runtime.

Every id, name and ARN is derived from a hash of the resource's URN, so the same code gives the
same plan on every machine and the plans of two branches can be diffed. Region and account come
from the explicit provider the resource uses, as they would on a real deployment.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from foundation.conventions import partition_for

# Used only for a resource registered without an explicit provider (the stacks disable default
# providers, so a real `pulumi up` would reject such a resource; tests check there are none).
DEFAULT_LOCATION = ("us-east-1", "000000000000")


def digest(urn: str) -> str:
    return hashlib.sha256(urn.encode()).hexdigest()


def _uuid(urn: str) -> str:
    return str(uuid.UUID(digest(urn)[:32]))


def _autoname(name: str, urn: str) -> str:
    # What the provider does for a resource without an explicit name: logical name + 7 hex chars.
    return f"{name}-{digest(urn)[:7]}"


# type -> (the input holding the physical name, the ARN after "arn:<partition>:")
_ARN_FORMATS = {
    "aws:sagemaker/featureGroup:FeatureGroup": ("featureGroupName", "sagemaker:{r}:{a}:feature-group/{n}"),
    "aws:glue/catalogDatabase:CatalogDatabase": ("name", "glue:{r}:{a}:database/{n}"),
    "aws:glue/catalogTable:CatalogTable": ("name", "glue:{r}:{a}:table/{i[databaseName]}/{n}"),
    "aws:glue/dataQualityRuleset:DataQualityRuleset": ("name", "glue:{r}:{a}:dataQualityRuleset/{n}"),
    "aws:cloudwatch/eventRule:EventRule": ("name", "events:{r}:{a}:rule/{n}"),
    "aws:cloudtrail/trail:Trail": ("name", "cloudtrail:{r}:{a}:trail/{n}"),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": (
        "modelPackageGroupName",
        "sagemaker:{r}:{a}:model-package-group/{n}",
    ),
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": (
        "trackingServerName",
        "sagemaker:{r}:{a}:mlflow-tracking-server/{n}",
    ),
}


def provider_location(inputs: dict[str, Any]) -> tuple[str, str]:
    """(region, account) of an AWS provider from its registered inputs."""
    accounts = inputs.get("allowedAccountIds") or []
    if isinstance(accounts, str):  # provider inputs of list type arrive JSON-encoded
        accounts = json.loads(accounts)
    return inputs.get("region") or DEFAULT_LOCATION[0], (accounts[0] if accounts else DEFAULT_LOCATION[1])


def physical_state(
    type_: str, name: str, urn: str, inputs: dict[str, Any], *, region: str, account: str
) -> tuple[str, dict[str, Any]]:
    """The (id, outputs) the AWS provider would report after creating the resource."""
    at = _At(partition_for(region), region, account, name, urn)
    if type_ in _STATE:
        rid, out = _STATE[type_](inputs, at)
    elif type_ in _ARN_FORMATS:
        name_prop, fmt = _ARN_FORMATS[type_]
        phys = inputs.get(name_prop) or at.autoname
        rid, out = phys, {name_prop: phys, "arn": f"arn:{at.p}:" + fmt.format(r=region, a=account, n=phys, i=inputs)}
    elif type_.startswith("aws:s3/bucket") and "bucket" in inputs:
        # Bucket sub-resources (policy, versioning, logging...) are identified by the bucket name.
        rid, out = str(inputs["bucket"]), {}
    else:
        # Generic: arn:<partition>:<service>:<region>:<account>:<resource-type>/<name>
        module, _, kind = type_.partition(":")[2].partition("/")
        resource = re.sub(r"(?<!^)(?=[A-Z])", "-", kind.split(":")[-1]).lower()
        phys = inputs.get("name") or at.autoname
        rid, out = phys, {"arn": f"arn:{at.p}:{module}:{region}:{account}:{resource}/{phys}"}
    return rid, {**inputs, **out}


@dataclass(frozen=True)
class _At:
    p: str  # partition
    region: str
    account: str
    name: str
    urn: str

    @property
    def autoname(self) -> str:
        return _autoname(self.name, self.urn)


def _kms_key(i: dict, at: _At):
    key_id = _uuid(at.urn)
    return key_id, {"keyId": key_id, "arn": f"arn:{at.p}:kms:{at.region}:{at.account}:key/{key_id}"}


def _kms_alias(i: dict, at: _At):
    alias = i.get("name") or f"alias/{at.autoname}"
    kms = f"arn:{at.p}:kms:{at.region}:{at.account}"
    return alias, {"name": alias, "arn": f"{kms}:{alias}", "targetKeyArn": f"{kms}:key/{i.get('targetKeyId', '')}"}


def _bucket(i: dict, at: _At):
    b = i.get("bucket") or at.autoname.lower()
    return b, {
        "bucket": b,
        "arn": f"arn:{at.p}:s3:::{b}",
        "bucketDomainName": f"{b}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{b}.s3.{at.region}.amazonaws.com",
        "region": at.region,
    }


def _iam(kind: str):
    def state(i: dict, at: _At):
        n, path = i.get("name") or at.autoname, i.get("path") or "/"
        arn = f"arn:{at.p}:iam::{at.account}:{kind}{path}{n}"
        out = {"name": n, "arn": arn}
        if kind == "role":
            out["uniqueId"] = "AROA" + digest(at.urn)[:17].upper()
        return (n if kind == "role" else arn), out

    return state


def _oidc_provider(i: dict, at: _At):
    arn = f"arn:{at.p}:iam::{at.account}:oidc-provider/{str(i.get('url', '')).removeprefix('https://')}"
    return arn, {"arn": arn}


def _role_policy(i: dict, at: _At):
    return f"{i.get('role')}:{i.get('name') or at.autoname}", {}


def _log_group(i: dict, at: _At):
    g = i.get("name") or at.autoname
    return g, {"name": g, "arn": f"arn:{at.p}:logs:{at.region}:{at.account}:log-group:{g}"}


def _ecr_repository(i: dict, at: _At):
    r = i.get("name") or at.autoname
    return r, {
        "name": r,
        "arn": f"arn:{at.p}:ecr:{at.region}:{at.account}:repository/{r}",
        "registryId": at.account,
        "repositoryUrl": f"{at.account}.dkr.ecr.{at.region}.amazonaws.com/{r}",
    }


def _sns_topic(i: dict, at: _At):
    arn = f"arn:{at.p}:sns:{at.region}:{at.account}:{i.get('name') or at.autoname}"
    return arn, {"name": arn.rsplit(":", 1)[1], "arn": arn}


def _sqs_queue(i: dict, at: _At):
    q = i.get("name") or at.autoname
    url = f"https://sqs.{at.region}.amazonaws.com/{at.account}/{q}"
    return url, {"name": q, "arn": f"arn:{at.p}:sqs:{at.region}:{at.account}:{q}", "url": url}


def _ec2(prefix: str, **extra: Any):
    def state(i: dict, at: _At):
        rid = f"{prefix}-{digest(at.urn)[:17]}"
        return rid, {"arn": f"arn:{at.p}:ec2:{at.region}:{at.account}:{_EC2_KIND.get(prefix, prefix)}/{rid}", **extra}

    return state


_EC2_KIND = {"vpc": "vpc", "subnet": "subnet", "sg": "security-group", "igw": "internet-gateway",
             "rtb": "route-table", "nat": "natgateway", "eipalloc": "elastic-ip", "vpce": "vpc-endpoint",
             "lt": "launch-template", "fl": "vpc-flow-log"}  # fmt: skip


def _eks_cluster(i: dict, at: _At):
    n = i.get("name") or at.autoname
    h = digest(at.urn)
    return n, {
        "name": n,
        "arn": f"arn:{at.p}:eks:{at.region}:{at.account}:cluster/{n}",
        "endpoint": f"https://{h[:32].upper()}.gr7.{at.region}.eks.amazonaws.com",
        "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{at.region}.amazonaws.com/id/{h[:32].upper()}"}]}],
        # EKS creates the cluster security group; its id is known only after the cluster exists.
        "vpcConfig": {**(i.get("vpcConfig") or {}), "clusterSecurityGroupId": f"sg-{h[32:49]}"},
        "status": "ACTIVE",
    }


def _connection(i: dict, at: _At):
    arn = f"arn:{at.p}:codestar-connections:{at.region}:{at.account}:connection/{_uuid(at.urn)}"
    return arn, {"arn": arn, "connectionStatus": "PENDING"}


def _lambda_function(i: dict, at: _At):
    """Lambda API reference, FunctionConfiguration: FunctionArn arn:aws:lambda:<region>:<account>:function:<name>."""
    n = i.get("name") or at.autoname
    arn = f"arn:{at.p}:lambda:{at.region}:{at.account}:function:{n}"
    invoke = f"arn:{at.p}:apigateway:{at.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    return n, {"name": n, "arn": arn, "qualifiedArn": f"{arn}:$LATEST", "invokeArn": invoke, "version": "$LATEST"}


_STATE = {
    "aws:codestarconnections/connection:Connection": _connection,
    "aws:ec2/vpc:Vpc": _ec2("vpc"),
    "aws:ec2/subnet:Subnet": _ec2("subnet"),
    "aws:ec2/securityGroup:SecurityGroup": _ec2("sg"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _ec2("sg"),
    "aws:ec2/internetGateway:InternetGateway": _ec2("igw"),
    "aws:ec2/routeTable:RouteTable": _ec2("rtb"),
    "aws:ec2/natGateway:NatGateway": _ec2("nat"),
    "aws:ec2/eip:Eip": _ec2("eipalloc"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _ec2("vpce"),
    "aws:ec2/launchTemplate:LaunchTemplate": _ec2("lt", latestVersion=1),
    "aws:ec2/flowLog:FlowLog": _ec2("fl"),
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:iam/role:Role": _iam("role"),
    "aws:iam/policy:Policy": _iam("policy"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:lambda/function:Function": _lambda_function,
}
