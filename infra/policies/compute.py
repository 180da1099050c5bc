"""EKS, EC2, ECR, Karpenter and Kubernetes rules."""

from __future__ import annotations

import re

from pulumi_policy import EnforcementLevel

from infra.policies.framework import as_json, as_list, is_prod, resource_rule, stack_rule
from infra.settings import SUPPORTED_KUBERNETES_VERSIONS

CLUSTER = "aws:eks/cluster:Cluster"
LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}


@resource_rule("eks-secrets-encryption", "Kubernetes secrets are envelope-encrypted with a customer key", [CLUSTER])
def secrets_encryption(args):
    enc = as_json(args.props.get("encryptionConfig") or {})
    if "secrets" not in as_list(enc.get("resources")) or not (enc.get("provider") or {}).get("keyArn"):
        yield "set encryptionConfig with resources [secrets] and the cluster key"


@resource_rule("eks-control-plane-logs", "Every control-plane log type is enabled", [CLUSTER])
def control_plane_logs(args):
    missing = sorted(LOG_TYPES - set(as_list(args.props.get("enabledClusterLogTypes"))))
    if missing:
        yield f"enable the control-plane log types {', '.join(missing)}"


@resource_rule("eks-no-public-endpoint-in-prod", "The prod cluster API is private", [CLUSTER])
def private_in_prod(args):
    vpc = args.props.get("vpcConfig") or {}
    if is_prod(args.urn) and vpc.get("endpointPublicAccess") is not False:
        yield "prod clusters must set vpcConfig.endpointPublicAccess to false"
    if vpc.get("endpointPublicAccess") and "0.0.0.0/0" in as_list(vpc.get("publicAccessCidrs")):
        yield "a public endpoint must be limited to named CIDRs, not 0.0.0.0/0"


@resource_rule(
    "eks-private-endpoint-access",
    "The cluster API is reachable inside the VPC, whatever its public access",
    [CLUSTER],
)
def private_access(args):
    # The provider's default is false (EKS API VpcConfigRequest: endpointPrivateAccess defaults to
    # false): then nodes and the CI runner reach the API only through a public endpoint, or not at all.
    if (args.props.get("vpcConfig") or {}).get("endpointPrivateAccess") is not True:
        yield "set vpcConfig.endpointPrivateAccess to true: nodes and the CI runner reach the API inside the VPC"


@resource_rule("eks-supported-version", "The cluster runs a Kubernetes version in standard support", [CLUSTER])
def supported_version(args):
    version = str(args.props.get("version"))
    if version not in SUPPORTED_KUBERNETES_VERSIONS:
        yield f"version {version} is not supported; use one of {', '.join(SUPPORTED_KUBERNETES_VERSIONS)}"


@resource_rule("eks-api-authentication", "Access entries only, and no implicit admin for the creator", [CLUSTER])
def api_authentication(args):
    access = args.props.get("accessConfig") or {}
    if access.get("authenticationMode") != "API":
        yield "set accessConfig.authenticationMode to API (no aws-auth ConfigMap)"
    if access.get("bootstrapClusterCreatorAdminPermissions") is not False:
        yield "set bootstrapClusterCreatorAdminPermissions to false; admins come from access entries"


LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


@resource_rule("ec2-imdsv2-hop-limit-1", "Launch templates require IMDSv2 with hop limit 1", [LAUNCH_TEMPLATE])
def imdsv2(args):
    md = args.props.get("metadataOptions") or {}
    if md.get("httpTokens") != "required" or md.get("httpPutResponseHopLimit") != 1:
        yield "set metadataOptions.httpTokens to required and httpPutResponseHopLimit to 1"


@resource_rule("ec2-encrypted-volumes", "Launch-template volumes are encrypted", [LAUNCH_TEMPLATE])
def encrypted_volumes(args):
    for bdm in as_list(args.props.get("blockDeviceMappings")):
        if str((bdm.get("ebs") or {}).get("encrypted")).lower() != "true":
            yield f"volume {bdm.get('deviceName')}: set ebs.encrypted to true"


REPO = "aws:ecr/repository:Repository"


@resource_rule("ecr-immutable-tags", "Image tags are immutable", [REPO])
def immutable(args):
    if args.props.get("imageTagMutability") != "IMMUTABLE":
        yield "set imageTagMutability to IMMUTABLE: a released version must never change"


@resource_rule("ecr-scan-on-push", "Images are scanned on push", [REPO])
def scan(args):
    if (args.props.get("imageScanningConfiguration") or {}).get("scanOnPush") is not True:
        yield "set imageScanningConfiguration.scanOnPush to true"


@resource_rule("ecr-kms", "Repositories are encrypted with a customer key", [REPO])
def ecr_kms(args):
    enc = as_list(args.props.get("encryptionConfigurations"))
    if not enc or enc[0].get("encryptionType") != "KMS" or not enc[0].get("kmsKey"):
        yield "set encryptionConfigurations to KMS with the models key"


NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"


GPU_IDLE_MAX_MINUTES = 30


def duration_minutes(value: object) -> float | None:
    """A Karpenter duration (Go's syntax: "30s", "5m", "1h30m") in minutes; None for "Never" or junk."""
    text, total = str(value), 0.0
    match = re.fullmatch(r"((?:\d+(?:\.\d+)?[hms])+)", text)
    if not match:
        return None
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)([hms])", text):
        total += float(number) * {"h": 60, "m": 1, "s": 1 / 60}[unit]
    return total


@resource_rule(
    "karpenter-gpu-pool-guardrails",
    f"GPU NodePools carry the GPU taint and a GPU limit, and scale to zero within {GPU_IDLE_MAX_MINUTES} minutes",
    [NODEPOOL],
)
def gpu_pools(args):
    spec = args.props.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    reqs = {r.get("key"): r.get("values") for r in as_list(template.get("requirements"))}
    is_gpu = "nvidia" in as_list(reqs.get("karpenter.k8s.aws/instance-gpu-manufacturer")) or "nvidia.com/gpu" in (
        spec.get("limits") or {}
    )
    if not is_gpu:
        return
    if not any(
        t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NoSchedule" for t in as_list(template.get("taints"))
    ):
        yield "GPU pools must taint nodes nvidia.com/gpu:NoSchedule so only GPU jobs land there"
    if "nvidia.com/gpu" not in (spec.get("limits") or {}):
        yield "GPU pools must cap limits.nvidia.com/gpu"
    if spec.get("replicas") is not None:
        yield "GPU pools must not keep static replicas: an idle pool must reach zero nodes"
    disruption = spec.get("disruption") or {}
    if disruption.get("consolidationPolicy") not in ("WhenEmpty", "WhenEmptyOrUnderutilized"):
        yield "GPU pools must set disruption.consolidationPolicy so empty nodes are removed"
    idle = duration_minutes(disruption.get("consolidateAfter"))
    if idle is None or idle > GPU_IDLE_MAX_MINUTES:
        yield (
            f"GPU pools must set disruption.consolidateAfter to at most {GPU_IDLE_MAX_MINUTES}m "
            f"(not {disruption.get('consolidateAfter')!r}): idle GPUs are the largest cost"
        )


NS = "kubernetes:core/v1:Namespace"
SYSTEM_NAMESPACES = {"kube-system", "monitoring", "kuberay-system", "nvidia-device-plugin", "karpenter"}


@resource_rule("k8s-pod-security-labels", "Team namespaces enforce a Pod Security standard", [NS])
def pod_security(args):
    labels = ((args.props.get("metadata") or {}).get("labels")) or {}
    if labels.get("pod-security.kubernetes.io/enforce") not in ("baseline", "restricted"):
        yield "label pod-security.kubernetes.io/enforce with baseline or restricted"


@stack_rule(
    "k8s-namespace-guardrails", "Every team namespace has a GPU quota, a LimitRange and a default-deny NetworkPolicy"
)
def namespace_guardrails(args):
    by_kind: dict[str, dict[str, list]] = {}
    for r in args.resources:
        if r.resource_type.startswith("kubernetes:"):
            ns = ((r.props.get("metadata") or {}).get("namespace")) or ""
            by_kind.setdefault(r.resource_type, {}).setdefault(ns, []).append(r)
    for r in args.resources:
        if r.resource_type != NS:
            continue
        ns = (r.props.get("metadata") or {}).get("name")
        if ns in SYSTEM_NAMESPACES:
            continue
        quotas = by_kind.get("kubernetes:core/v1:ResourceQuota", {}).get(ns, [])
        if not any("requests.nvidia.com/gpu" in ((q.props.get("spec") or {}).get("hard") or {}) for q in quotas):
            yield f"namespace {ns}: add a ResourceQuota with requests.nvidia.com/gpu", r.urn
        if not by_kind.get("kubernetes:core/v1:LimitRange", {}).get(ns):
            yield f"namespace {ns}: add a LimitRange", r.urn
        policies = by_kind.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", {}).get(ns, [])
        deny = [p for p in policies if _default_deny(p.props.get("spec") or {})]
        if not deny:
            yield f"namespace {ns}: add a default-deny NetworkPolicy (all pods, Ingress and Egress)", r.urn


@stack_rule(
    "gpu-quotas-within-pools",
    "The teams' GPU quotas together fit in the GPU pools' limits (else quotas promise GPUs no pool can run)",
    EnforcementLevel.ADVISORY,
)
def gpu_quotas_within_pools(args):
    gpu = "nvidia.com/gpu"
    quotas = {
        (r.props.get("metadata") or {}).get("namespace"): float(
            ((r.props.get("spec") or {}).get("hard") or {})[f"requests.{gpu}"]
        )
        for r in args.resources
        if r.resource_type == "kubernetes:core/v1:ResourceQuota"
        and f"requests.{gpu}" in (((r.props.get("spec") or {}).get("hard")) or {})
    }
    pools = [
        float(((r.props.get("spec") or {}).get("limits") or {})[gpu])
        for r in args.resources
        if r.resource_type == "kubernetes:karpenter.sh/v1:NodePool"
        and gpu in (((r.props.get("spec") or {}).get("limits")) or {})
    ]
    if quotas and sum(quotas.values()) > sum(pools):
        teams = ", ".join(f"{ns} {n:g}" for ns, n in sorted(quotas.items()))
        yield (
            f"the teams' GPU quotas add up to {sum(quotas.values()):g} ({teams}), more than the GPU pools can run at "
            f"once ({sum(pools):g}): raise training.gpuPools[].gpuLimit or lower training.teams[].gpuQuota",
            None,
        )


def _default_deny(spec: dict) -> bool:
    """All pods, both directions, and no rule that lets anything through."""
    return (
        spec.get("podSelector") == {}
        and set(spec.get("policyTypes", [])) == {"Ingress", "Egress"}
        and not spec.get("ingress")
        and not spec.get("egress")
    )
