"""Where the platform's traffic leaves the VPC. The private subnets are the ones its workloads run in
(the cluster, its nodes, the endpoints' models, the CI runner): none routes to an internet gateway,
each sends its default route through a NAT gateway in a public subnet, and with
`network.natGateways: per-az` through the one of its own zone (a zone's outage takes only its own
egress), with `single` all through the one."""

from __future__ import annotations

import pytest

from pipelines.plan import Plan
from tests.invariants.variants import PLANS, plan_of, settings_for


def workload_subnets(plan: Plan) -> set[str]:
    found: set[str] = set()
    for r in plan.of_type("aws:eks/cluster:Cluster"):
        found |= set(r.inputs["vpcConfig"]["subnetIds"])
    for r in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        found |= set(r.inputs["subnetIds"])
    for r in plan.of_type("aws:sagemaker/model:Model"):
        found |= set((r.inputs.get("vpcConfig") or {}).get("subnets") or [])
    for r in plan.of_type("aws:codebuild/project:Project"):
        found |= set((r.inputs.get("vpcConfig") or {}).get("subnets") or [])
    return found


def default_route(plan: Plan, subnet: str) -> dict:
    tables = {r.id: r for r in plan.of_type("aws:ec2/routeTable:RouteTable")}
    (table,) = [
        tables[a.inputs["routeTableId"]]
        for a in plan.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a.inputs["subnetId"] == subnet
    ]
    (route,) = [r for r in table.inputs.get("routes") or [] if r.get("cidrBlock") == "0.0.0.0/0"]
    return route


@pytest.mark.parametrize("name", PLANS)
def test_private_subnets_leave_through_a_nat_gateway_of_their_own_zone(name):
    plan = plan_of(name)
    subnets = {r.id: r.inputs for r in plan.of_type("aws:ec2/subnet:Subnet")}
    nats = {r.id: r.inputs for r in plan.of_type("aws:ec2/natGateway:NatGateway")}
    private = workload_subnets(plan)
    network = settings_for(name).network
    zones = network.availability_zones
    assert private and {subnets[s]["availabilityZone"] for s in private} == set(zones)
    used = set()
    for s in private:
        route = default_route(plan, s)
        assert "gatewayId" not in route, f"{s} routes to an internet gateway"
        nat = route["natGatewayId"]
        used.add(nat)
        public = nats[nat]["subnetId"]
        assert default_route(plan, public).get("gatewayId", "").startswith("igw-"), f"{nat} is not in a public subnet"
        if network.nat_gateways == "per-az":
            assert subnets[public]["availabilityZone"] == subnets[s]["availabilityZone"], f"{s} leaves through {nat}"
    expected = len(zones) if network.nat_gateways == "per-az" else 1
    assert len(used) == len(nats) == expected
