"""The network, the EKS cluster and what runs in it, per environment."""

from __future__ import annotations

import json

import pytest

from tests.plans import policy, settings_of, stack_plan

SUBNET, NAT = "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway"
CLUSTER, NODEGROUP = "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup"
NODEPOOL, RELEASE = "kubernetes:karpenter.sh/v1:NodePool", "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_network_per_environment(stack):
    from foundation.upstream.eks import PRIVATE_CLUSTER_ENDPOINTS
    from pipelines.offline import read_stack_config

    plan = stack_plan(stack)
    net = json.loads(read_stack_config(stack).values["mlplatform:network"])
    zones = len(net["availabilityZones"])
    subnets = [r.inputs for r in plan.of_type(SUBNET)]
    private = [s for s in subnets if "karpenter.sh/discovery" in s["tags"]]
    public = [s for s in subnets if s["tags"].get("kubernetes.io/role/elb") == "1"]
    assert len(private) == len(public) == zones
    assert all(s["mapPublicIpOnLaunch"] is False for s in subnets)
    assert all(s["tags"]["karpenter.sh/discovery"] == f"mlplatform-{stack}-training" for s in private)
    assert all(s["tags"]["kubernetes.io/role/internal-elb"] == "1" for s in private)
    assert len(plan.of_type(NAT)) == (zones if net["natGateways"] == "per-az" else 1)
    vpces = [r.inputs for r in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")]
    service = f"com.amazonaws.{plan.outputs['region']}."
    assert [v["serviceName"] for v in vpces if v["vpcEndpointType"] == "Gateway"] == [service + "s3"]
    interface = {v["serviceName"].removeprefix(service) for v in vpces if v["vpcEndpointType"] == "Interface"}
    # A private cluster reaches EKS, EKS Auth (Pod Identity), EC2, ECR, STS, SSM, SQS (Karpenter), ELB
    # and CloudWatch Logs without NAT: the EKS user guide (private-clusters) and Karpenter's v1.11
    # private-cluster page, written out here rather than read from foundation/upstream/eks.py.
    documented = {"ec2", "ecr.api", "ecr.dkr", "elasticloadbalancing", "logs", "sts", "eks", "eks-auth", "ssm", "sqs"}
    assert interface == (set(PRIVATE_CLUSTER_ENDPOINTS) if net.get("privateEndpoints") else set())
    assert documented <= set(PRIVATE_CLUSTER_ENDPOINTS)
    assert all(v["privateDnsEnabled"] for v in vpces if v["vpcEndpointType"] == "Interface")
    (flow,) = plan.of_type("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL" and flow.inputs["logDestinationType"] == "cloud-watch-logs"
    group = plan.get("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert group.inputs["kmsKeyId"] == plan.outputs["kmsKeyArns"]["logs"]
    (default_sg,) = plan.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert "ingress" not in default_sg.inputs and "egress" not in default_sg.inputs  # admits nothing


def test_cluster_is_private_encrypted_logged_and_api_authenticated(any_plan):
    plan, stack, settings = any_plan, any_plan.stack, settings_of(any_plan.stack)
    t = settings.training
    (cluster,) = plan.of_type(CLUSTER)
    c = cluster.inputs
    assert c["version"] == t.kubernetes_version
    assert c["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert c["encryptionConfig"] == {
        "resources": ["secrets"],
        "provider": {"keyArn": plan.outputs["kmsKeyArns"]["cluster"]},
    }
    assert set(c["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    vpc = c["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is t.endpoint_public_access
    assert vpc.get("publicAccessCidrs") == (t.public_access_cidrs or None)
    assert c["deletionProtection"] is settings.protect
    assert c["bootstrapSelfManagedAddons"] is False
    log_group = plan.get("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane")
    assert log_group.inputs["name"] == f"/aws/eks/mlplatform-{stack}-training/cluster"
    assert log_group.urn in cluster.dependencies  # exists (encrypted) before EKS would create it


def test_system_nodes_use_imdsv2_hop_1_and_encrypted_volumes(any_plan):
    (ng,) = any_plan.of_type(NODEGROUP)
    assert ng.inputs["capacityType"] == "ON_DEMAND"
    assert ng.inputs["labels"] == {"mlplatform/pool": "system"}
    (lt,) = any_plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert lt.inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    (disk,) = lt.inputs["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true" and disk["ebs"]["volumeType"] == "gp3"


def test_managed_addons_and_their_pod_identities(any_plan):
    addons = {r.inputs["addonName"]: r.inputs for r in any_plan.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver"}
    assert json.loads(addons["vpc-cni"]["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert addons["vpc-cni"]["podIdentityAssociations"][0]["serviceAccount"] == "aws-node"
    assert addons["aws-ebs-csi-driver"]["podIdentityAssociations"][0]["serviceAccount"] == "ebs-csi-controller-sa"


def test_admins_and_ci_get_access_entries(any_plan):
    grants = {
        r.inputs["principalArn"]: r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in any_plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    }
    assert grants == {
        **dict.fromkeys(settings_of(any_plan.stack).training.admin_principals, "AmazonEKSClusterAdminPolicy"),
        any_plan.outputs["roleArns"]["ci-deploy"]: "AmazonEKSClusterAdminPolicy",
        # a refresh reads Helm releases, which live in Secrets: the admin view, not the plain view
        any_plan.outputs["roleArns"]["ci-preview"]: "AmazonEKSAdminViewPolicy",
    }
    types = {r.inputs["type"] for r in any_plan.of_type("aws:eks/accessEntry:AccessEntry")}
    assert types == {"STANDARD", "EC2_LINUX"}  # people/CI, and Karpenter's nodes


def _minutes(duration: str) -> float:
    """A Karpenter duration (``1h30m``, ``5m``, ``30s``) in minutes."""
    import re

    units = {"h": 60, "m": 1, "s": 1 / 60}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


def test_gpu_pools_are_tainted_capped_scale_to_zero_and_leave_training_alone(any_plan):
    """Properties of every GPU pool a stack declares (settings are read from the stack file)."""
    from pipelines.offline import read_stack_config

    config = read_stack_config(any_plan.stack)
    declared = json.loads(config.values["mlplatform:training"])["gpuPools"]
    found = {r.inputs["metadata"]["name"]: r for r in any_plan.of_type(NODEPOOL)}
    assert set(found) == {"cpu", *(p["name"] for p in declared)}
    node_class = any_plan.get("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "in-cluster-default")
    for p in declared:
        pool = found[p["name"]]
        spec = pool.inputs["spec"]
        template = spec["template"]["spec"]
        reqs = {r["key"]: r["values"] for r in template["requirements"]}
        assert reqs["karpenter.k8s.aws/instance-family"] == p["instanceFamilies"]
        assert reqs["karpenter.sh/capacity-type"] == p["capacityTypes"]
        assert template["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
        assert spec["limits"] == {"nvidia.com/gpu": str(p["gpuLimit"])}
        assert "replicas" not in spec  # no static capacity: zero GPU nodes when no job asks for one
        # Empty GPU nodes go within minutes; a busy one is never drained to repack pods, and a changed
        # pool or node class (drift) replaces nodes only once they are empty.
        disruption = spec["disruption"]
        assert disruption["consolidationPolicy"] == "WhenEmpty"
        assert disruption["consolidateAfter"] != "Never" and _minutes(disruption["consolidateAfter"]) <= 15
        assert {"nodes": "0", "reasons": ["Drifted"]} in disruption["budgets"]
        # Expiry is forceful in Karpenter v1: a running job gets a grace period before eviction.
        assert _minutes(template["terminationGracePeriod"]) >= 60
        assert node_class.urn in pool.dependencies
    nc = node_class.inputs["spec"]
    assert nc["metadataOptions"]["httpTokens"] == "required" and nc["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (alias,) = nc["amiSelectorTerms"]
    assert alias["alias"] == json.loads(config.values["mlplatform:training"])["nodeImage"]
    assert "latest" not in alias["alias"]  # a pinned release: @latest drifts every node on each AMI release
    ebs = nc["blockDeviceMappings"][0]["ebs"]
    assert ebs["encrypted"] is True and ebs["kmsKeyID"] == any_plan.outputs["kmsKeyArns"]["cluster"]


def test_charts_are_pinned_and_custom_resources_wait_for_their_crds(any_plan):
    plan, training = any_plan, settings_of(any_plan.stack).training
    charts = training.charts
    releases = {r.inputs["name"]: r for r in plan.of_type(RELEASE) if r.name.startswith("in-cluster-")}
    expected = {
        "karpenter-crd": ("oci://public.ecr.aws/karpenter/karpenter-crd", charts.karpenter),
        "karpenter": ("oci://public.ecr.aws/karpenter/karpenter", charts.karpenter),
        "nvidia-device-plugin": ("nvidia-device-plugin", charts.nvidia_device_plugin),
    }
    if training.distributed_training_operator == "kuberay":
        expected["kuberay-operator"] = ("kuberay-operator", charts.kuberay_operator)
        assert releases["kuberay-operator"].inputs["repositoryOpts"] == {
            "repo": "https://ray-project.github.io/kuberay-helm/"
        }
    assert {n: (r.inputs["chart"], r.inputs["version"]) for n, r in releases.items()} == expected
    assert releases["nvidia-device-plugin"].inputs["repositoryOpts"] == {
        "repo": "https://nvidia.github.io/k8s-device-plugin"
    }
    assert releases["karpenter"].inputs["skipCrds"] is True
    queue = plan.get("aws:sqs/queue:Queue", "in-cluster-interruptions").inputs["name"]
    assert releases["karpenter"].inputs["values"]["settings"]["interruptionQueue"] == queue
    crd = releases["karpenter-crd"].urn
    for cr in [*plan.of_type(NODEPOOL), *plan.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")]:
        assert crd in cr.dependencies, cr.name
    # every Kubernetes resource goes to this cluster through the explicit provider
    (k8s,) = plan.of_type("pulumi:providers:kubernetes")
    assert {r.provider for r in plan if r.type.startswith("kubernetes:")} == {k8s.urn}


def test_every_team_namespace_is_fenced_and_bound_to_its_role(any_plan):
    for t in settings_of(any_plan.stack).training.teams:
        team, gpus = t.name, t.gpu_quota
        ns = any_plan.get("kubernetes:core/v1:Namespace", f"in-cluster-team-{team}").inputs["metadata"]
        assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
        assert ns["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
        quota = any_plan.get("kubernetes:core/v1:ResourceQuota", f"in-cluster-team-{team}").inputs
        assert quota["metadata"]["namespace"] == team
        assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == str(gpus)
        assert quota["spec"]["hard"]["requests.cpu"] == str(t.cpu_quota)
        assert (
            any_plan.get("kubernetes:core/v1:LimitRange", f"in-cluster-team-{team}").inputs["spec"]["limits"][0]["type"]
            == "Container"
        )
        deny = any_plan.get(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy", f"in-cluster-team-{team}-default-deny"
        ).inputs
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        egress = any_plan.get(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy", f"in-cluster-team-{team}-allow-aws-apis"
        ).inputs
        assert {"ipBlock": {"cidr": "169.254.170.23/32"}} in egress["spec"]["egress"][0]["to"]  # Pod Identity agent
        assert (
            any_plan.get("kubernetes:core/v1:ServiceAccount", f"in-cluster-team-{team}-trainer").inputs["metadata"][
                "name"
            ]
            == "trainer"
        )
        assoc = any_plan.get(
            "aws:eks/podIdentityAssociation:PodIdentityAssociation", f"in-cluster-team-{team}-trainer"
        ).inputs
        assert (assoc["namespace"], assoc["serviceAccount"]) == (team, "trainer")
        assert assoc["roleArn"] == any_plan.outputs["roleArns"][f"training-{team}"]


# SHA-256 of the statements of the five AWS::IAM::ManagedPolicy resources of Karpenter's
# getting-started cloudformation.yaml at tag v1.11.1 (aws/karpenter-provider-aws, website/content/en/
# v1.11/getting-started/getting-started-with-karpenter/cloudformation.yaml), concatenated in template
# order as canonical JSON (json.dumps(sort_keys=True, separators=(",", ":"))). Computed from upstream,
# not from our copy: an edited statement (a dropped ResourceTag condition) changes it.
KARPENTER_1_11_1_POLICY_SHA256 = "4b67875fd48978ae4418a5a26c4274fef29f0a5a26ea340d94af42e678e5d973"


def test_our_copy_of_karpenters_policy_is_upstreams():
    import hashlib

    from foundation.upstream import karpenter as facts

    assert facts.VERSION == "1.11.1", "a new Karpenter version: recompute the digest from its template"
    canonical = json.dumps(facts.CONTROLLER_POLICY_TEMPLATE, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == KARPENTER_1_11_1_POLICY_SHA256


def test_karpenter_has_exactly_the_official_controller_policy_of_its_version(any_plan):
    """Statement by statement the policy of Karpenter's getting-started template at the pinned version,
    for this cluster, with the ARNs of the queue and node role the plan really creates."""
    from foundation.upstream import karpenter as facts

    queue = any_plan.get("aws:sqs/queue:Queue", "in-cluster-interruptions")
    node_role = any_plan.get("aws:iam/role:Role", "in-cluster-karpenter-node")
    expected = facts.controller_policy(
        partition="aws",
        region=any_plan.outputs["region"],
        account=any_plan.outputs["accountId"],
        cluster=f"mlplatform-{any_plan.stack}-training",
        node_role_arn=node_role.outputs["arn"],
        queue_arn=queue.outputs["arn"],
    )
    actual = policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "in-cluster-karpenter"))["Statement"]

    def norm(st):
        as_list_ = lambda v: sorted([v] if isinstance(v, str) else v)  # noqa: E731
        return (st["Sid"], st["Effect"], as_list_(st["Action"]), as_list_(st["Resource"]), st.get("Condition", {}))

    assert sorted(map(norm, actual)) == sorted(map(norm, expected))
    rules = {
        r.name: json.loads(r.inputs["eventPattern"])
        for r in any_plan.of_type("aws:cloudwatch/eventRule:EventRule")
        if r.name.startswith("in-cluster-")
    }
    assert sorted(map(json.dumps, rules.values())) == sorted(map(json.dumps, facts.INTERRUPTION_EVENTS.values()))
