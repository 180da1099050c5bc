"""What a planned stack costs per month: at idle, at its ceilings, and what is priced by use.

The estimate reads the plan (the resources and their inputs, as `mlplatform plan` records them) and
the committed price table ``infra/prices.json`` (figures with their sources and an ``as_of`` date).
Three figures per stack and component:

- **idle**: what runs with no training and no traffic: control planes, NAT gateways and their
  addresses, interface endpoints, keys, alarms and dashboards, system nodes, the MLflow server,
  endpoints at their minimum, volumes of in-cluster charts;
- **ceiling**: every node pool, node group and autoscaled endpoint at its limit, once at on-demand
  prices and once with spot prices where the pool allows spot;
- **usage**: what is priced per request, GB or run, listed with its unit price and never given a
  guessed quantity.

A type with no rule, or an instance type without a price, is *unpriced* and listed as such: never
silently zero. The module is pure (no Pulumi import) so the policy pack can use it too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("prices.json")

# Types that cost nothing by themselves (configuration, identities, or parts of a priced resource),
# with the reason; a type neither here nor priced below is reported as unpriced.
FREE: dict[str, str] = {
    "pulumi:providers:": "not a cloud resource",
    "aws:iam/": "IAM is free",
    "aws:s3/bucketLifecycleConfiguration": "part of its bucket",
    "aws:s3/bucketLogging": "part of its bucket (the logs are priced as storage)",
    "aws:s3/bucketObjectLockConfiguration": "part of its bucket",
    "aws:s3/bucketOwnershipControls": "part of its bucket",
    "aws:s3/bucketPolicy": "part of its bucket",
    "aws:s3/bucketPublicAccessBlock": "part of its bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration": "part of its bucket (KMS requests are usage)",
    "aws:s3/bucketVersioning": "part of its bucket (versions are storage)",
    "aws:ec2/vpc:": "VPCs, subnets, route tables and security groups are free",
    "aws:ec2/subnet:": "free",
    "aws:ec2/routeTable": "free",
    "aws:ec2/securityGroup": "free",
    "aws:ec2/defaultSecurityGroup": "free",
    "aws:vpc/securityGroupIngressRule": "free",
    "aws:ec2/internetGateway": "free (data transfer is usage)",
    "aws:ec2/launchTemplate": "free (its volumes are priced with the node group)",
    "aws:eks/addon": "free (runs on the nodes)",
    "aws:eks/accessEntry": "free",
    "aws:eks/accessPolicyAssociation": "free",
    "aws:eks/podIdentityAssociation": "free",
    "aws:glue/catalogDatabase": "the first million Data Catalog objects are free",
    "aws:glue/catalogTable": "the first million Data Catalog objects are free",
    "aws:glue/dataQualityRuleset": "free (its runs are priced with the schedule)",
    "aws:cloudwatch/eventRule": "AWS service events are free",
    "aws:cloudwatch/eventTarget": "free",
    "aws:cloudwatch/logMetricFilter": "free (its metric is priced as a custom metric only above the free tier)",
    "aws:kms/alias": "free",
    "aws:sns/topicPolicy": "free",
    "aws:sns/topicSubscription": "email notifications: usage",
    "aws:sqs/queuePolicy": "free",
    "aws:ecr/lifecyclePolicy": "free",
    "aws:ecr/repositoryPolicy": "free",
    "aws:sagemaker/modelPackageGroup": "free",
    "aws:sagemaker/modelPackageGroupPolicy": "free",
    "aws:sagemaker/model:": "free (its instances are priced with the endpoint configuration)",
    "aws:sagemaker/endpoint:": "free (its instances are priced with the endpoint configuration)",
    "aws:sagemaker/dataQualityJobDefinition": "free (its runs are priced with the monitoring schedule)",
    "aws:appautoscaling/policy": "free",
    "aws:appautoscaling/target": "free (the ceiling of its endpoint is priced from it)",
    "aws:scheduler/scheduleGroup": "free",
    "aws:ssm/parameter": "standard parameters are free (Systems Manager pricing: Parameter Store)",
    "aws:chatbot/": "AWS Chatbot is free",
    "aws:costexplorer/costAllocationTag": "free",
    "aws:codebuild/webhook": "free",
    "aws:ec2/routeTableAssociation": "free",
    "aws:budgets/budget": "the first two budgets of an account are free",
    "kubernetes:": "runs on the cluster's nodes (volumes of charts are priced)",
}


class PriceTable:
    """``infra/prices.json``: per region, hourly instance prices and per-unit service prices."""

    def __init__(self, data: Mapping[str, Any]):
        self.data = data
        self.as_of: str = data["as_of"]
        self.hours: float = data["hours_per_month"]
        self.specs: Mapping[str, Mapping[str, int]] = data["instance_specs"]
        self.spot_discount: float = data["spot"]["discount"]

    def region(self, region: str) -> Mapping[str, Any]:
        try:
            return self.data["regions"][region]
        except KeyError:
            known = ", ".join(sorted(self.data["regions"]))
            raise KeyError(f"no prices for {region} in infra/prices.json (regions: {known})") from None

    def item(self, region: str, key: str) -> float | None:
        entry = self.region(region)["items"].get(key)
        return None if entry is None else float(entry["usd"])

    def unit(self, region: str, key: str) -> str:
        return self.region(region)["items"][key]["unit"]

    def dearest_unit(self, region: str, unit: str) -> tuple[str, float] | None:
        """The priced instance type of the region dearest per ``unit`` among those of its kind (GPU
        types for "gpus", types without GPUs for "vcpu"), with that price; None when none is priced."""
        kind = [
            (price / self.specs[it][unit], it)
            for it, entry in self.region(region)["ec2"].items()
            if it in self.specs and self.specs[it].get(unit) and bool(self.specs[it].get("gpus")) == (unit == "gpus")
            for price in [float(entry["usd"])]
        ]
        return (max(kind)[1], max(kind)[0]) if kind else None

    def ec2(self, region: str, instance_type: str) -> float | None:
        entry = self.region(region)["ec2"].get(instance_type)
        return None if entry is None else float(entry["usd"])

    def sagemaker(self, region: str, instance_type: str) -> float | None:
        entry = self.region(region)["sagemaker"].get(instance_type)
        return None if entry is None else float(entry["usd"])

    def unverified(self, region: str) -> int:
        """How many of the region's figures do not come from AWS itself."""
        r = self.region(region)
        entries = [*r["ec2"].values(), *r["sagemaker"].values(), *r["items"].values()]
        return sum(1 for e in entries if e.get("status") != "primary")


@functools.cache
def prices(path: Path = PRICES_FILE) -> PriceTable:
    return PriceTable(json.loads(path.read_text()))


@dataclass(frozen=True)
class Item:
    component: str
    resource: str  # type::name
    what: str
    idle: float = 0.0  # USD per month
    ceiling_on_demand: float | None = None  # None: the same as idle
    ceiling_spot: float | None = None  # None: the same as the on-demand ceiling
    saving: str = ""  # a setting that changes this figure, with what it saves
    kind: str = ""  # what it is, for the largest items (several resources of a kind add up)

    @property
    def on_demand(self) -> float:
        return self.idle if self.ceiling_on_demand is None else self.ceiling_on_demand

    @property
    def spot(self) -> float:
        return self.on_demand if self.ceiling_spot is None else self.ceiling_spot


@dataclass(frozen=True)
class Usage:
    component: str
    resource: str
    what: str
    unit_price: float
    unit: str


@dataclass(frozen=True)
class Unpriced:
    component: str
    resource: str
    why: str


@dataclass
class StackCost:
    stack: str
    region: str
    as_of: str
    hours_per_month: float
    items: list[Item] = field(default_factory=list)
    usage: list[Usage] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    teams: dict[str, dict[str, float]] = field(default_factory=dict)  # team -> GPUs and USD at full quota
    # Pools with no price at all, not even a dearest known one of their kind: the guards cannot judge them.
    unjudged: list[str] = field(default_factory=list)

    @property
    def idle(self) -> float:
        return round(sum(i.idle for i in self.items), 2)

    @property
    def ceiling_on_demand(self) -> float:
        return round(sum(i.on_demand for i in self.items), 2)

    @property
    def ceiling_spot(self) -> float:
        return round(sum(i.spot for i in self.items), 2)

    @property
    def gpu_ceiling_on_demand(self) -> float:
        return round(sum(i.on_demand for i in self.items if i.what.startswith("GPU pool")), 2)

    def components(self) -> dict[str, tuple[float, float, float]]:
        out: dict[str, list[float]] = {}
        for i in self.items:
            row = out.setdefault(i.component, [0.0, 0.0, 0.0])
            row[0] += i.idle
            row[1] += i.on_demand
            row[2] += i.spot
        return {c: (round(a, 2), round(b, 2), round(s, 2)) for c, (a, b, s) in sorted(out.items())}

    def largest_idle(self, n: int = 3) -> list[tuple[str, float, int, str]]:
        """The ``n`` kinds of resource that cost most at idle: (kind, USD, how many, a saving)."""
        kinds: dict[str, list] = {}
        for i in self.items:
            if i.idle > 0:
                row = kinds.setdefault(i.kind or i.what, [0.0, 0, i.saving])
                row[0] += i.idle
                row[1] += 1
                row[2] = row[2] or i.saving
        ranked = sorted(kinds.items(), key=lambda kv: (-kv[1][0], kv[0]))[:n]
        return [(k, round(v[0], 2), v[1], v[2]) for k, v in ranked]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "prices_as_of": self.as_of,
            "hours_per_month": self.hours_per_month,
            "idle": self.idle,
            "ceiling": {"on_demand": self.ceiling_on_demand, "spot": self.ceiling_spot},
            "gpu_ceiling_on_demand": self.gpu_ceiling_on_demand,
            "components": {
                c: {"idle": a, "ceiling_on_demand": b, "ceiling_spot": s} for c, (a, b, s) in self.components().items()
            },
            "items": [i.__dict__ | {"ceiling_on_demand": i.on_demand, "ceiling_spot": i.spot} for i in self.items],
            "usage": [u.__dict__ for u in self.usage],
            "unpriced": [u.__dict__ for u in self.unpriced],
            "teams": self.teams,
            "largest_idle": [
                {"kind": k, "idle": usd, "count": n, "saving": saving} for k, usd, n, saving in self.largest_idle()
            ],
        }


@dataclass(frozen=True)
class Res:
    """What the estimate needs of a planned resource (a Plan resource or a policy-pack resource)."""

    type: str
    name: str
    component: str
    inputs: Mapping[str, Any]


def _quantity(value: Any) -> float:
    """A Kubernetes quantity (cpu "64", "500m"; storage "200Gi") as a number of units or GiB."""
    text = str(value)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti)?", text)
    if not match:
        raise ValueError(f"not a quantity: {value!r}")
    number, suffix = float(match.group(1)), match.group(2)
    return {
        None: number,
        "m": number / 1000,
        "Ki": number / 2**20,
        "Mi": number / 1024,
        "Gi": number,
        "Ti": number * 1024,
    }[suffix]


# Free by their inputs: (type, the input that makes it free, its value, the reason).
FREE_WHEN: tuple[tuple[str, str, str, str], ...] = (
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "vpcEndpointType", "Gateway", "gateway endpoints (S3) are free"),
)


def free_reason(type_: str, inputs: Mapping[str, Any]) -> str | None:
    """Why a resource costs nothing by itself, or None when it is billable."""
    for prefix, reason in FREE.items():
        if type_.startswith(prefix):
            return reason
    for t, key, value, reason in FREE_WHEN:
        if type_ == t and inputs.get(key) == value:
            return reason
    return None


# Types priced per unit of use: (price-table item, what is used). Listed with the unit price only.
USAGE: dict[str, tuple[tuple[str, str], ...]] = {
    "aws:ec2/natGateway:NatGateway": (("nat-gateway-gb", "data processed by the NAT gateway"),),
    "aws:kms/key:Key": (("kms-10k-requests", "KMS requests"),),
    "aws:cloudwatch/logGroup:LogGroup": (("logs-ingest-gb", "log ingestion"), ("logs-storage-gb-month", "log storage")),
    "aws:cloudtrail/trail:Trail": (
        ("cloudtrail-data-100k", "data events (the first copy of management events is free)"),
    ),
    "aws:s3/bucket:Bucket": (("s3-standard-gb-month", "S3 Standard storage"),),
    "aws:ecr/repository:Repository": (("ecr-gb-month", "image storage"),),
    "aws:sns/topic:Topic": (("sns-million", "SNS requests (the first million a month are free)"),),
    "aws:sqs/queue:Queue": (("sqs-million", "SQS requests (the first million a month are free)"),),
    "aws:ec2/flowLog:FlowLog": (("logs-ingest-gb", "flow-log ingestion (vended logs)"),),
    "aws:codebuild/project:Project": (("codebuild-minute", "CI runner build minutes"),),
    "aws:scheduler/schedule:Schedule": (("scheduler-million", "schedule invocations"),),
    "aws:lambda/function:Function": (
        ("lambda-request-million", "drift job invocations"),
        ("lambda-gb-second", "drift job compute (GB-seconds)"),
    ),
}
# What a schedule starts is billed by its target: a Glue Data Quality run by the DPU-hour (the drift
# job's Lambda invocations are its function's).
GLUE_DQ_RUN = (("glue-dq-dpu-hour", "Glue Data Quality evaluation runs (DPU-hours)"),)
FEATURE_STORE_USAGE = (
    ("featurestore-write-million", "feature store writes"),
    ("featurestore-read-million", "online store reads"),
    ("featurestore-storage-gb-month", "online store storage"),
)
# Types with a fixed monthly fee: (price-table item, what, kind, a setting that changes it).
FEES: dict[str, tuple[str, str, str, str]] = {
    "aws:eks/cluster:Cluster": (
        "eks-cluster-hour",
        "EKS control plane",
        "EKS control plane",
        "none: a fixed fee per cluster (keep training.kubernetesVersion in standard support)",
    ),
    "aws:ec2/eip:Eip": (
        "public-ipv4-hour",
        "public IPv4 address (of a NAT gateway)",
        "NAT gateways and their addresses",
        "",
    ),
    "aws:kms/key:Key": ("kms-key-month", "KMS key", "KMS keys", "encryption.domains: fewer data domains"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("alarm-month", "CloudWatch alarm", "CloudWatch alarms", ""),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboard-month", "CloudWatch dashboard", "CloudWatch dashboards", ""),
}


class _Pricer:
    """One estimate in progress: the price table, the region, and what is found so far."""

    def __init__(self, stack: str, region: str, resources: list[Res], table: PriceTable):
        self.t, self.region, self.hours = table, region, table.hours
        self.cost = StackCost(stack, region, table.as_of, table.hours)
        self.by_type: dict[str, list[Res]] = {}
        for r in resources:
            self.by_type.setdefault(r.type, []).append(r)
        self.gpu_prices: list[float] = []  # USD per GPU-hour of every GPU type a pool may launch

    @staticmethod
    def key(r: Res) -> str:
        return f"{r.type.split(':')[-1]}::{r.name}"

    def unpriced(self, r: Res, why: str) -> None:
        self.cost.unpriced.append(Unpriced(r.component, self.key(r), why))

    def fee(self, r: Res, item: str, what: str, *, count: float = 1, kind: str = "", saving: str = "") -> None:
        price = self.t.item(self.region, item)
        if price is None:
            self.unpriced(r, f"no price for {item} in {self.region}")
            return
        per_month = price * (self.hours if self.t.unit(self.region, item) == "hour" else 1)
        self.cost.items.append(
            Item(r.component, self.key(r), what, idle=per_month * count, saving=saving, kind=kind or what)
        )

    def usage(self, r: Res, uses: Iterable[tuple[str, str]]) -> None:
        for item, what in uses:
            price = self.t.item(self.region, item)
            if price is None:
                self.unpriced(r, f"no price for {item} in {self.region}")
            else:
                self.cost.usage.append(Usage(r.component, self.key(r), what, price, self.t.unit(self.region, item)))

    def price(self, r: Res) -> None:
        i = r.inputs
        self.usage(r, USAGE.get(r.type, ()))
        if r.type in FEES:
            item, what, kind, saving = FEES[r.type]
            self.fee(r, item, what, kind=kind, saving=saving)
        elif r.type == "aws:ec2/natGateway:NatGateway":
            n = len(self.by_type[r.type])
            saving = (
                f"network.natGateways: single saves {n - 1} of {n}"
                if n > 1
                else "already one gateway (network.natGateways: single)"
            )
            self.fee(r, "nat-gateway-hour", "NAT gateway", kind="NAT gateways and their addresses", saving=saving)
        elif r.type == "aws:ec2/vpcEndpoint:VpcEndpoint" and i.get("vpcEndpointType") == "Interface":
            zones = len(i.get("subnetIds") or [])
            self.fee(
                r,
                "interface-endpoint-hour",
                f"interface endpoint in {zones} zones",
                count=zones,
                kind="interface endpoints",
                saving="network.privateEndpoints: false removes them (traffic then leaves through NAT)",
            )
            self.usage(r, (("interface-endpoint-gb", "data processed by the interface endpoint"),))
        elif r.type == "aws:scheduler/schedule:Schedule":
            target = str((i.get("target") or {}).get("arn", ""))
            if target.endswith(":aws-sdk:glue:startDataQualityRulesetEvaluationRun"):
                self.usage(r, GLUE_DQ_RUN)
        elif r.type == "aws:sagemaker/monitoringSchedule:MonitoringSchedule":
            instance = self.monitor_instance(r)
            self.usage(r, ((f"sagemaker-processing-{instance}-hour", f"Model Monitor runs ({instance} hours)"),))
        elif r.type == "aws:sagemaker/featureGroup:FeatureGroup":
            # Writes are billed whatever the stores (SageMaker pricing, Feature Store); reads and
            # storage only with an online store (the offline store is its bucket's storage).
            online = (i.get("onlineStoreConfig") or {}).get("enableOnlineStore")
            self.usage(r, FEATURE_STORE_USAGE if online else FEATURE_STORE_USAGE[:1])
        elif r.type == "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer":
            size = str(i.get("trackingServerSize", "Small"))
            saving = "experiments.trackingServerSize: Small" if size != "Small" else "the smallest size already"
            self.fee(r, f"mlflow-{size.lower()}-hour", f"MLflow tracking server ({size})", saving=saving)
        elif r.type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
            self.endpoint(r)
        elif r.type == "aws:eks/nodeGroup:NodeGroup":
            self.node_group(r)
        elif r.type == "kubernetes:karpenter.sh/v1:NodePool":
            self.cost.items.extend(_node_pool(r, self.t, self.region, self.cost, self.gpu_prices))
        elif r.type == "kubernetes:helm.sh/v3:Release":
            for gi in _claimed_storage(i.get("values")):
                saving = "monitoring.prometheusStorageGi: a smaller volume" if "prometheus" in r.name else ""
                what = f"{gi:g} GiB gp3 volume of the chart"
                self.fee(r, "ebs-gp3-gb-month", what, count=gi, kind="volumes of in-cluster charts", saving=saving)
        elif r.type not in USAGE and free_reason(r.type, i) is None:
            self.unpriced(r, f"no price rule for {r.type}")

    def monitor_instance(self, r: Res) -> str:
        """The processing instance type of the job definition a monitoring schedule runs."""
        name = (r.inputs.get("monitoringScheduleConfig") or {}).get("monitoringJobDefinitionName")
        for job in self.by_type.get("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition", []):
            if job.inputs.get("name") == name:
                return job.inputs["jobResources"]["clusterConfig"]["instanceType"]
        return "unknown-instance"

    def endpoint(self, r: Res) -> None:
        """Instances of an endpoint configuration. Autoscaled (a scalable target on the endpoint that
        uses it): its minimum at idle, its maximum at the ceiling (a rollout starts the new fleet at
        the configuration's initial count, and autoscaling scales it in after); else its initial
        count."""
        endpoints = {e.inputs.get("name"): e for e in self.by_type.get("aws:sagemaker/endpoint:Endpoint", [])}
        bounds: dict[str, tuple[int, int]] = {}
        for target in self.by_type.get("aws:appautoscaling/target:Target", []):
            parts = str(target.inputs.get("resourceId", "")).split("/")
            used = endpoints.get(parts[1]) if len(parts) == 4 and parts[0] == "endpoint" else None
            if used is not None and used.inputs.get("endpointConfigName") == r.inputs.get("name"):
                bounds[parts[3]] = (int(target.inputs.get("minCapacity", 1)), int(target.inputs.get("maxCapacity", 0)))
        for v in r.inputs.get("productionVariants") or []:
            itype = v.get("instanceType", "")
            price = self.t.sagemaker(self.region, itype)
            if price is None:
                self.unpriced(r, f"no price for {itype} in {self.region}")
                continue
            initial = int(v.get("initialInstanceCount") or 1)
            count, most = bounds.get(v.get("variantName", ""), (initial, initial))
            saving = (
                f"serving.endpoints[].minInstances: {count - 1} saves one instance"
                if count > 1
                else "serving.endpoints[].instanceType: a smaller type"
            )
            self.cost.items.append(
                Item(
                    r.component,
                    self.key(r),
                    f"endpoint {itype} x{count} (up to {most})",
                    idle=price * self.hours * count,
                    ceiling_on_demand=price * self.hours * most,
                    saving=saving,
                    kind="serving endpoints",
                )
            )

    def node_group(self, r: Res) -> None:
        """A managed node group: its desired nodes at idle, its maximum at the ceiling, each with the
        volumes of its launch template."""
        i = r.inputs
        scaling = i.get("scalingConfig") or {}
        itype = (i.get("instanceTypes") or ["?"])[0]
        price = self.t.ec2(self.region, itype)
        if price is None:
            self.unpriced(r, f"no price for {itype} in {self.region}")
            return
        templates = {
            x.inputs.get("id") or x.name: x for x in self.by_type.get("aws:ec2/launchTemplate:LaunchTemplate", [])
        }
        template = templates.get((i.get("launchTemplate") or {}).get("id"))
        gp3 = self.t.item(self.region, "ebs-gp3-gb-month") or 0.0
        mappings = (template.inputs.get("blockDeviceMappings") if template else None) or []
        disk = sum(float((m.get("ebs") or {}).get("volumeSize") or 0) * gp3 for m in mappings)
        desired, most = int(scaling.get("desiredSize") or 0), int(scaling.get("maxSize") or 0)
        per_node = price * self.hours + disk
        saving = (
            f"training.systemNodes.desiredSize: {desired - 1} saves one node"
            if desired > 1
            else "training.systemNodes.instanceTypes: a smaller type"
        )
        self.cost.items.append(
            Item(
                r.component,
                self.key(r),
                f"node group {itype} x{desired} (up to {most})",
                idle=per_node * desired,
                ceiling_on_demand=per_node * most,
                saving=saving,
                kind="system nodes",
            )
        )


def estimate(stack: str, region: str, resources: Iterable[Res], table: PriceTable | None = None) -> StackCost:
    """The monthly cost of these resources in ``region`` (KeyError: a region without prices)."""
    t = table or prices()
    t.region(region)
    pricer = _Pricer(stack, region, list(resources), t)
    for r in [r for rs in pricer.by_type.values() for r in rs]:
        pricer.price(r)
    _price_teams(pricer.cost, pricer.by_type.get("kubernetes:core/v1:ResourceQuota", []), pricer.gpu_prices, t.hours)
    return pricer.cost


def _claimed_storage(values: Any) -> list[float]:
    """GiB requested by the volume claim templates in a chart's values."""
    found: list[float] = []
    if isinstance(values, dict):
        for k, v in values.items():
            if k == "volumeClaimTemplate" and isinstance(v, dict):
                storage = (((v.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
                if storage:
                    found.append(_quantity(storage))
            else:
                found += _claimed_storage(v)
    elif isinstance(values, list):
        for v in values:
            found += _claimed_storage(v)
    return found


def _node_pool(r: Res, t: PriceTable, region: str, cost: StackCost, gpu_prices: list[float]) -> list[Item]:
    """A Karpenter NodePool scales to zero (idle 0); its ceiling is its limit times the dearest unit
    (GPU or vCPU) of the instance types its families allow: an upper bound of what it may launch."""
    spec = r.inputs.get("spec") or {}
    requirements = {
        q.get("key"): q.get("values") or []
        for q in ((spec.get("template") or {}).get("spec") or {}).get("requirements") or []
    }
    families = requirements.get("karpenter.k8s.aws/instance-family", [])
    capacity = requirements.get("karpenter.sh/capacity-type", ["on-demand"])
    limits = spec.get("limits") or {}
    gpu = "nvidia.com/gpu" in limits
    unit, limit = ("gpus", _quantity(limits["nvidia.com/gpu"])) if gpu else ("vcpu", _quantity(limits.get("cpu", 0)))
    types = [it for it in t.specs if it.split(".")[0] in families and t.specs[it].get(unit)]
    unit_prices = []
    for it in types:
        price = t.ec2(region, it)
        if price is not None:
            unit_prices.append(price / t.specs[it][unit])
    name = f"{r.type.split(':')[-1]}::{r.name}"
    missing = sorted({f for f in families if not any(t.ec2(region, it) for it in types if it.startswith(f + "."))})
    if missing:
        # Fail closed: a family without a price may cost as much as the dearest of its kind the table knows.
        known = t.dearest_unit(region, unit)
        if known is None:
            cost.unpriced.append(
                Unpriced(r.component, name, f"no priced instance type of {', '.join(families)} in {region}")
            )
            cost.unjudged.append(name)
            return []
        unit_prices.append(known[1])
        cost.unpriced.append(
            Unpriced(
                r.component,
                name,
                f"no price for {', '.join(missing)} in {region}: counted at the dearest known "
                f"{'GPU' if gpu else 'vCPU'} ({known[0]}, {known[1]:.3f} an hour)",
            )
        )
    if gpu:
        gpu_prices += unit_prices
    dearest = max(unit_prices)
    on_demand = limit * dearest * t.hours
    spot = on_demand * (1 - t.spot_discount) if "spot" in capacity else on_demand
    pool = (r.inputs.get("metadata") or {}).get("name")
    label = f"{'GPU' if gpu else 'CPU'} pool {pool}: {limit:g} {unit} of {'/'.join(families)}"
    return [
        Item(
            r.component,
            name,
            label,
            idle=0.0,
            ceiling_on_demand=on_demand,
            ceiling_spot=spot,
            saving="scales to zero when idle",
            kind="GPU pools" if gpu else "CPU pools",
        )
    ]


def _price_teams(cost: StackCost, quotas: list[Res], gpu_prices: list[float], hours: float) -> None:
    """What each team's GPU quota costs a month if used in full (cheapest to dearest GPU allowed)."""
    if not gpu_prices:
        return
    for q in quotas:
        gpus = ((q.inputs.get("spec") or {}).get("hard") or {}).get("requests.nvidia.com/gpu")
        team = (q.inputs.get("metadata") or {}).get("namespace")
        if gpus is not None and team:
            n = _quantity(gpus)
            cost.teams[team] = {
                "gpus": n,
                "usd_per_month_from": round(n * min(gpu_prices) * hours, 2),
                "usd_per_month_to": round(n * max(gpu_prices) * hours, 2),
            }


def from_plan(plan) -> StackCost:
    """The estimate of a Plan (pipelines.plan): components are the top-level component resources."""
    parents = {r.urn: r for r in plan}

    def component(r) -> str:
        node = r
        while node.parent in parents and parents[node.parent].parent in parents:
            node = parents[node.parent]
        top = parents.get(node.parent)
        return top.name if top is not None and not top.custom else r.name

    region = plan.outputs.get("region", "")
    return estimate(plan.stack, region, [Res(r.type, r.name, component(r), r.inputs) for r in plan if r.custom])
