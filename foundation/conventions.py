"""Conventions every component shares: names, tags, the AWS provider and stateful options.

Nothing here reads stack configuration: the composition root (``infra/``) passes values in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

import pulumi

PROJECT = "mlplatform"

# Lowercase, digits and hyphens: the intersection of what S3, IAM, KMS aliases, ECR,
# SageMaker and Kubernetes accept, so one name works for every resource type.
_NAME_PART = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# Resource types that hold data, keys, identity or evidence: created with stateful_options, so
# protected in staging and prod, and never to be replaced or deleted by a promotion.
STATEFUL_TYPES = frozenset(
    {
        "aws:kms/key:Key",
        "aws:s3/bucket:Bucket",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudtrail/trail:Trail",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:sagemaker/featureGroup:FeatureGroup",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",  # holds the experiments' metadata
        "aws:ecr/repository:Repository",
    }
)

# The tag keys every taggable resource gets through the provider's default_tags.
REQUIRED_TAG_KEYS = ("environment", "owner", "cost-center", "managed-by", "project")


def name_part(text: str, max_length: int = 63) -> str:
    """A part :func:`physical_name` accepts (lowercase letters, digits, single hyphens) for any text,
    such as a feature name from a CSV header (`_c0`, `LE.value`): other characters become single
    hyphens, and when that loses information (or the text is too long) six hex digits of the text's
    digest keep two texts apart."""
    import hashlib

    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    # Plain only where reading _ as - loses nothing: lowercase words joined by single underscores
    # (tenure_days -> tenure-days). `a-b`, `Amount`, `a.b` get a digest, so they never meet `a_b`, `amount`.
    if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", text) and len(slug) <= max_length:
        return slug
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    base = slug[: max_length - len(digest) - 1].strip("-")
    return f"{base}-{digest}" if base else digest


def physical_name(environment: str, *parts: str, max_length: int = 63) -> str:
    """``mlplatform-<environment>-<parts...>``: the physical name of a resource.

    Environments share one account in some organisations, so the environment is always part
    of the name. 63 characters is the tightest common limit (S3 buckets).
    """
    for part in (environment, *parts):
        if not _NAME_PART.match(part):
            raise ValueError(f"name part {part!r} must be lowercase letters, digits and single hyphens")
    name = "-".join((PROJECT, environment, *parts))
    if len(name) > max_length:
        raise ValueError(f"name {name!r} is longer than {max_length} characters")
    return name


def named_by_content(name_of: Callable[[str], str], content: object) -> pulumi.Output[str]:
    """``name_of(<six hex digits>)``, the digits a digest of every value in ``content`` (a pulumi
    ``*Args`` without its name, or a list of inputs) once they are known.

    For a resource replaced whenever one of those values changes (Terraform ForceNew: every input of
    a SageMaker model, endpoint configuration or job definition): with its name from its content and
    ``delete_before_replace=False``, a changed one is created beside the old one, which goes after
    what uses it has moved; an unchanged one keeps its name. (The Terraform bridge would otherwise
    delete a resource the program names before replacing it: nameRequiresDeleteBeforeReplace.)"""
    import hashlib

    def plain(value: object) -> object:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if hasattr(value, "__dict__") and not isinstance(value, type):  # a resolved *Args
            return {k: plain(v) for k, v in vars(value).items()}
        return value

    def name(resolved: object) -> str:
        text = json.dumps(plain(resolved), sort_keys=True, default=str)
        return name_of(hashlib.sha256(text.encode()).hexdigest()[:6])

    return pulumi.Output.from_input(content).apply(name)


def secrets_alias(environment: str) -> str:
    """The KMS alias of the key the bootstrap creates for an environment's Pulumi secrets and state."""
    return "alias/" + physical_name(environment, "pulumi-secrets")


def state_bucket_name(environment: str, account_id: str, region: str) -> str:
    """The bucket the bootstrap creates for an environment's Pulumi state."""
    return physical_name(environment, "pulumi-state", account_id, region)


def partition_for(region: str) -> str:
    """The ARN partition of a region (``aws``, ``aws-us-gov`` or ``aws-cn``)."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def platform_tags(environment: str, owner: str, cost_center: str) -> dict[str, str]:
    """The tags applied to every taggable AWS resource through the provider's default_tags."""
    return {
        "environment": environment,
        "owner": owner,
        "cost-center": cost_center,
        "managed-by": "pulumi",
        "project": PROJECT,
    }


def aws_provider(
    name: str,
    *,
    region: str,
    account_id: str,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions | None = None,
):
    """The one explicit AWS provider of a stack.

    ``allowed_account_ids`` makes the provider refuse to act on any other account, so prod
    settings can never be applied with dev credentials (or the reverse).
    """
    import pulumi_aws as aws

    return aws.Provider(
        name,
        aws.ProviderArgs(
            region=region,
            allowed_account_ids=[account_id],
            default_tags=aws.ProviderDefaultTagsArgs(tags=dict(tags)),
        ),
        opts=opts,
    )


def kubernetes_provider(
    name: str,
    *,
    cluster_name: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    certificate_authority: pulumi.Input[str],
    region: str,
    opts: pulumi.ResourceOptions | None = None,
):
    """The one Kubernetes provider of a cluster: its API endpoint and CA, authenticated with
    `aws eks get-token` (the caller's AWS credentials; the AWS CLI must be on PATH where it runs).

    The kubeconfig's cluster entry must stay the same from one run to the next: pulumi-kubernetes
    replaces the provider, and so every resource it manages, when the active cluster of the
    kubeconfig changes (server, CA, tls-server-name, proxy-url: provider.go DiffConfig). So every
    place that runs the in-cluster project reaches the same endpoint, never a tunnel to localhost.
    """
    import pulumi_kubernetes as k8s

    return k8s.Provider(
        name,
        k8s.ProviderArgs(
            kubeconfig=_kubeconfig(cluster_name, endpoint, certificate_authority, region),
            enable_server_side_apply=True,
            delete_unreachable=False,
        ),
        opts=opts,
    )


def _kubeconfig(name: pulumi.Input[str], endpoint: pulumi.Input[str], ca: pulumi.Input[str], region: str):
    return pulumi.Output.all(name, endpoint, ca).apply(
        lambda a: json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": a[0], "cluster": {"server": a[1], "certificate-authority-data": a[2]}}],
                "contexts": [{"name": a[0], "context": {"cluster": a[0], "user": a[0]}}],
                "current-context": a[0],
                "users": [
                    {
                        "name": a[0],
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1beta1",
                                "command": "aws",
                                "args": ["eks", "get-token", "--cluster-name", a[0], "--region", region],
                            }
                        },
                    }
                ],
            }
        )
    )


def stateful_options(parent: pulumi.Resource, protect: bool, **extra: object) -> pulumi.ResourceOptions:
    """Options for a resource that holds data or identity (bucket, key, registry, log...).

    With ``protect`` the engine refuses to delete it and, if it is removed from state anyway,
    leaves the cloud resource in place (``retain_on_delete``).
    """
    return pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect, **extra)


# Where the platform's software runs inside the training cluster: the AWS side (Pod Identity
# associations, components/cluster_integration.py) and the in-cluster side (the charts and
# namespaces, components/cluster_addons.py and cluster_observability.py) must name the same ones.
KARPENTER_NAMESPACE = "kube-system"
KARPENTER_SERVICE_ACCOUNT = "karpenter"
MONITORING_NAMESPACE = "monitoring"
ALERTMANAGER_SERVICE_ACCOUNT = "alertmanager"
TRAINER_SERVICE_ACCOUNT = "trainer"  # in each team's namespace, named like the team
# The EKS add-ons' own service accounts in kube-system (EKS user guide: the Amazon VPC CNI plugin's
# "aws-node", the EBS CSI driver's "ebs-csi-controller-sa"); their Pod Identity roles trust only them.
ADDON_NAMESPACE = "kube-system"
VPC_CNI_SERVICE_ACCOUNT = "aws-node"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
