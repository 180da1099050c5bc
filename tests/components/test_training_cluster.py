"""The network, the EKS cluster and what runs in it, per environment."""

from __future__ import annotations

import json

import pytest

from tests.plans import policy, stack_plan

SUBNET, NAT = "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway"
CLUSTER, NODEGROUP = "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup"
NODEPOOL, RELEASE = "kubernetes:karpenter.sh/v1:NodePool", "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize(
    ("stack", "zones", "nats", "endpoints"), [("dev", 2, 1, 0), ("staging", 2, 2, 5), ("prod", 3, 3, 5)]
)
def test_network_per_environment(stack, zones, nats, endpoints):
    plan = stack_plan(stack)
    subnets = [r.inputs for r in plan.of_type(SUBNET)]
    private = [s for s in subnets if "karpenter.sh/discovery" in s["tags"]]
    public = [s for s in subnets if s["tags"].get("kubernetes.io/role/elb") == "1"]
    assert len(private) == len(public) == zones
    assert all(s["mapPublicIpOnLaunch"] is False for s in subnets)
    assert all(s["tags"]["karpenter.sh/discovery"] == f"mlplatform-{stack}-training" for s in private)
    assert all(s["tags"]["kubernetes.io/role/internal-elb"] == "1" for s in private)
    assert len(plan.of_type(NAT)) == nats
    vpces = [r.inputs for r in plan.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")]
    assert [v["serviceName"] for v in vpces if v["vpcEndpointType"] == "Gateway"] == ["com.amazonaws.eu-west-1.s3"]
    interface = {
        v["serviceName"].removeprefix("com.amazonaws.eu-west-1.") for v in vpces if v["vpcEndpointType"] == "Interface"
    }
    assert interface == ({"ecr.api", "ecr.dkr", "sts", "sagemaker.api", "logs"} if endpoints else set())
    assert all(v["privateDnsEnabled"] for v in vpces if v["vpcEndpointType"] == "Interface")
    (flow,) = plan.of_type("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL" and flow.inputs["logDestinationType"] == "cloud-watch-logs"
    group = plan.get("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert group.inputs["kmsKeyId"] == plan.outputs["kmsKeyArns"]["logs"]
    (default_sg,) = plan.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert "ingress" not in default_sg.inputs and "egress" not in default_sg.inputs  # admits nothing


@pytest.mark.parametrize(("stack", "public"), [("dev", True), ("staging", False), ("prod", False)])
def test_cluster_is_private_encrypted_logged_and_api_authenticated(stack, public):
    plan = stack_plan(stack)
    (cluster,) = plan.of_type(CLUSTER)
    c = cluster.inputs
    assert c["version"] == "1.34"
    assert c["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert c["encryptionConfig"] == {
        "resources": ["secrets"],
        "provider": {"keyArn": plan.outputs["kmsKeyArns"]["cluster"]},
    }
    assert set(c["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    vpc = c["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is public
    assert vpc.get("publicAccessCidrs") == (["203.0.113.0/24"] if public else None)
    assert c["deletionProtection"] is (stack != "dev")
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
    acct = any_plan.outputs["accountId"]
    admins = {
        r.inputs["principalArn"] for r in any_plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    }
    assert admins == {f"arn:aws:iam::{acct}:role/ml-platform-admins", any_plan.outputs["roleArns"]["ci-deploy"]}
    policies = {
        r.inputs["policyArn"] for r in any_plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    }
    assert policies == {"arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}
    types = {r.inputs["type"] for r in any_plan.of_type("aws:eks/accessEntry:AccessEntry")}
    assert types == {"STANDARD", "EC2_LINUX"}  # people/CI, and Karpenter's nodes


@pytest.mark.parametrize(
    ("stack", "pools"),
    [
        ("dev", {"gpu-a10g": (["g5", "g6"], ["spot"], "8")}),
        ("prod", {"gpu-a10g": (["g5", "g6"], ["spot", "on-demand"], "32"), "gpu-h100": (["p5"], ["on-demand"], "16")}),
    ],
)
def test_gpu_pools_are_tainted_capped_and_scale_to_zero(stack, pools):
    plan = stack_plan(stack)
    found = {r.inputs["metadata"]["name"]: r for r in plan.of_type(NODEPOOL)}
    assert set(found) == {"cpu", *pools}
    for name, (families, capacity, limit) in pools.items():
        pool = found[name]
        spec = pool.inputs["spec"]
        reqs = {r["key"]: r["values"] for r in spec["template"]["spec"]["requirements"]}
        assert reqs["karpenter.k8s.aws/instance-family"] == families
        assert reqs["karpenter.sh/capacity-type"] == capacity
        assert spec["template"]["spec"]["taints"] == [
            {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
        ]
        assert spec["limits"] == {"nvidia.com/gpu": limit}
        # no static replicas, consolidated when empty: zero GPU nodes when no job asks for one
        assert "replicas" not in spec
        assert spec["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
        node_class = plan.get("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "in-cluster-default")
        assert node_class.urn in pool.dependencies
    node_class = plan.get("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "in-cluster-default").inputs["spec"]
    assert node_class["metadataOptions"]["httpTokens"] == "required"
    assert node_class["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert node_class["blockDeviceMappings"][0]["ebs"]["encrypted"] is True
    assert found["cpu"].inputs["spec"]["template"]["spec"]["requirements"][1]["values"] == (
        ["spot"] if stack == "dev" else ["spot", "on-demand"]
    )


def test_charts_are_pinned_and_custom_resources_wait_for_their_crds():
    plan = stack_plan("prod")
    releases = {r.inputs["name"]: r for r in plan.of_type(RELEASE) if r.name.startswith("in-cluster-")}
    assert {n: (r.inputs["chart"], r.inputs["version"]) for n, r in releases.items()} == {
        "karpenter-crd": ("oci://public.ecr.aws/karpenter/karpenter-crd", "1.11.1"),
        "karpenter": ("oci://public.ecr.aws/karpenter/karpenter", "1.11.1"),
        "nvidia-device-plugin": ("nvidia-device-plugin", "0.17.1"),
        "kuberay-operator": ("kuberay-operator", "1.5.1"),
    }
    assert releases["nvidia-device-plugin"].inputs["repositoryOpts"] == {
        "repo": "https://nvidia.github.io/k8s-device-plugin"
    }
    assert releases["kuberay-operator"].inputs["repositoryOpts"] == {
        "repo": "https://ray-project.github.io/kuberay-helm/"
    }
    assert releases["karpenter"].inputs["skipCrds"] is True
    assert releases["karpenter"].inputs["values"]["settings"]["interruptionQueue"] == "mlplatform-prod-karpenter"
    crd = releases["karpenter-crd"].urn
    for cr in [*plan.of_type(NODEPOOL), *plan.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")]:
        assert crd in cr.dependencies, cr.name
    # every Kubernetes resource goes to this cluster through the explicit provider
    (k8s,) = plan.of_type("pulumi:providers:kubernetes")
    assert {r.provider for r in plan if r.type.startswith("kubernetes:")} == {k8s.urn}


def test_every_team_namespace_is_fenced_and_bound_to_its_role(any_plan):
    teams = {
        "dev": {"recsys": 4, "fraud": 2},
        "staging": {"recsys": 4, "fraud": 2},
        "prod": {"recsys": 16, "fraud": 8, "search": 8},
    }
    for team, gpus in teams[any_plan.stack].items():
        ns = any_plan.get("kubernetes:core/v1:Namespace", f"in-cluster-team-{team}").inputs["metadata"]
        assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
        assert ns["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
        quota = any_plan.get("kubernetes:core/v1:ResourceQuota", f"in-cluster-team-{team}").inputs
        assert quota["metadata"]["namespace"] == team
        assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == str(gpus)
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


def test_karpenter_launches_only_what_it_tags_and_passes_only_its_node_role(any_plan):
    sts = {
        s["Sid"]: s for s in policy(any_plan.get("aws:iam/rolePolicy:RolePolicy", "in-cluster-karpenter"))["Statement"]
    }
    cluster = f"mlplatform-{any_plan.stack}-training"
    assert sts["CreateOwnedResources"]["Condition"]["StringEquals"] == {
        f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned"
    }
    assert sts["DeleteOwnedResources"]["Condition"]["StringEquals"] == {
        f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned"
    }
    node_role = any_plan.get("aws:iam/role:Role", "in-cluster-karpenter-node").outputs["arn"]
    assert sts["PassNodeRole"]["Resource"] == node_role
    assert sts["PassNodeRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    assert sts["DescribeInRegion"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}
    rules = {
        r.name: json.loads(r.inputs["eventPattern"])
        for r in any_plan.of_type("aws:cloudwatch/eventRule:EventRule")
        if r.name.startswith("in-cluster-")
    }
    assert {p["detail-type"][0] for p in rules.values()} == {
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
        "AWS Health Event",
    }
