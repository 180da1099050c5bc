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
from typing import Any

from components.conventions import partition_for

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
    p = partition_for(region)
    out: dict[str, Any] = {}
    if type_ == "aws:kms/key:Key":
        key_id = _uuid(urn)
        rid = key_id
        out = {"keyId": key_id, "arn": f"arn:{p}:kms:{region}:{account}:key/{key_id}"}
    elif type_ == "aws:kms/alias:Alias":
        alias = inputs.get("name") or f"alias/{_autoname(name, urn)}"
        rid = alias
        target = inputs.get("targetKeyId", "")
        out = {
            "name": alias,
            "arn": f"arn:{p}:kms:{region}:{account}:{alias}",
            "targetKeyArn": f"arn:{p}:kms:{region}:{account}:key/{target}",
        }
    elif type_ == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket") or _autoname(name, urn).lower()
        rid = bucket
        out = {
            "bucket": bucket,
            "arn": f"arn:{p}:s3:::{bucket}",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
            "region": region,
        }
    elif type_ in ("aws:iam/role:Role", "aws:iam/policy:Policy"):
        kind = "role" if type_.endswith("Role") else "policy"
        iam_name = inputs.get("name") or _autoname(name, urn)
        path = inputs.get("path") or "/"
        rid = iam_name if kind == "role" else f"arn:{p}:iam::{account}:policy{path}{iam_name}"
        out = {"name": iam_name, "arn": f"arn:{p}:iam::{account}:{kind}{path}{iam_name}"}
        if kind == "role":
            out["uniqueId"] = "AROA" + digest(urn)[:17].upper()
    elif type_ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
        host = str(inputs.get("url", "")).removeprefix("https://")
        rid = f"arn:{p}:iam::{account}:oidc-provider/{host}"
        out = {"arn": rid}
    elif type_ == "aws:iam/rolePolicy:RolePolicy":
        rid = f"{inputs.get('role')}:{inputs.get('name') or _autoname(name, urn)}"
    elif type_.startswith("aws:s3/bucket") and "bucket" in inputs:
        # Bucket sub-resources (policy, versioning, logging...) are identified by the bucket name.
        rid = str(inputs["bucket"])
    elif type_ == "aws:cloudwatch/logGroup:LogGroup":
        group = inputs.get("name") or _autoname(name, urn)
        rid = group
        out = {"name": group, "arn": f"arn:{p}:logs:{region}:{account}:log-group:{group}"}
    elif type_ in _ARN_FORMATS:
        name_prop, fmt = _ARN_FORMATS[type_]
        phys = inputs.get(name_prop) or _autoname(name, urn)
        rid = phys
        out = {name_prop: phys, "arn": f"arn:{p}:" + fmt.format(r=region, a=account, n=phys, i=inputs)}
    else:
        # Generic: arn:<partition>:<service>:<region>:<account>:<resource-type>/<name>
        module, _, kind = type_.partition(":")[2].partition("/")
        resource = re.sub(r"(?<!^)(?=[A-Z])", "-", kind.split(":")[-1]).lower()
        phys = inputs.get("name") or _autoname(name, urn)
        rid = phys
        out = {"arn": f"arn:{p}:{module}:{region}:{account}:{resource}/{phys}"}
    return rid, {**inputs, **out}
