"""The VPC of the training clusters: private subnets for nodes, public subnets for NAT only.

Nodes never get public addresses. Egress goes through NAT (one gateway, or one per zone so a zone
failure cannot cut the others off), S3 through a gateway endpoint, and with ``private_endpoints``
the AWS APIs a private cluster needs (foundation/upstream/eks.py) through interface endpoints.
Flow logs of all traffic go to an encrypted, retained log group.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from foundation.conventions import partition_for, physical_name, stateful_options
from foundation.iam.documents import Statement
from foundation.iam.roles import service_role
from foundation.iam.trust import service_trust
from foundation.upstream.eks import PRIVATE_CLUSTER_ENDPOINTS

INTERFACE_ENDPOINTS = PRIVATE_CLUSTER_ENDPOINTS


def subnet_cidrs(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Private and public subnet CIDRs for ``zones`` zones.

    The range is cut into eighths: one eighth per zone for private subnets (nodes and pods, which
    take VPC addresses with the VPC CNI), the last eighth cut again into eighths for the public
    (NAT-only) subnets. A /16 gives /19 private and /22 public subnets.
    """
    net = ipaddress.IPv4Network(cidr)
    if zones > 6:
        raise ValueError("at most 6 availability zones")
    eighths = list(net.subnets(prefixlen_diff=3))
    public = list(eighths[-1].subnets(prefixlen_diff=3))
    if public[0].prefixlen > 28:
        raise ValueError(f"{cidr} is too small: public subnets would be smaller than /28")
    return [str(s) for s in eighths[:zones]], [str(s) for s in public[:zones]]


@dataclass(frozen=True)
class NetworkArgs:
    environment: str
    account_id: str
    region: str
    cidr: str
    availability_zones: Sequence[str]
    cluster_name: str  # subnets are tagged for its load balancers and Karpenter discovery
    logs_key_arn: pulumi.Input[str]
    nat_per_zone: bool = True
    private_endpoints: bool = False
    flow_log_retention_days: int = 365
    permissions_boundary: pulumi.Input[str] | None = None
    protect: bool = True  # the flow-log group is evidence


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:network:Network", name, None, opts)
        import pulumi_aws as aws

        ec2 = aws.ec2
        child = pulumi.ResourceOptions(parent=self)
        prefix = physical_name(args.environment, "vpc")
        self.vpc = ec2.Vpc(
            name,
            ec2.VpcArgs(
                cidr_block=args.cidr,
                enable_dns_support=True,
                enable_dns_hostnames=True,
                tags={"Name": prefix},
            ),
            opts=child,
        )
        # The default security group admits nothing: resources get explicit groups. Adopting it without
        # rules removes AWS's allow-all rules ("When Terraform first begins managing the default security
        # group, it immediately removes all ingress and egress rules", aws_default_security_group docs;
        # terraform-aws-modules/vpc manage_default_security_group does the same).
        ec2.DefaultSecurityGroup(name, ec2.DefaultSecurityGroupArgs(vpc_id=self.vpc.id), opts=child)
        igw = ec2.InternetGateway(name, ec2.InternetGatewayArgs(vpc_id=self.vpc.id, tags={"Name": prefix}), opts=child)

        private_cidrs, public_cidrs = subnet_cidrs(args.cidr, len(args.availability_zones))
        cluster_tag = f"kubernetes.io/cluster/{args.cluster_name}"
        self.public_subnets, self.private_subnets = [], []
        public_rt = ec2.RouteTable(
            f"{name}-public",
            ec2.RouteTableArgs(
                vpc_id=self.vpc.id,
                routes=[ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
                tags={"Name": f"{prefix}-public"},
            ),
            opts=child,
        )
        nat_ids = []
        for i, zone in enumerate(args.availability_zones):
            public = ec2.Subnet(
                f"{name}-public-{zone}",
                ec2.SubnetArgs(
                    vpc_id=self.vpc.id,
                    availability_zone=zone,
                    cidr_block=public_cidrs[i],
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{prefix}-public-{zone}", "kubernetes.io/role/elb": "1", cluster_tag: "shared"},
                ),
                opts=child,
            )
            ec2.RouteTableAssociation(
                f"{name}-public-{zone}",
                ec2.RouteTableAssociationArgs(subnet_id=public.id, route_table_id=public_rt.id),
                opts=child,
            )
            self.public_subnets.append(public)
            if args.nat_per_zone or i == 0:
                eip = ec2.Eip(
                    f"{name}-nat-{zone}", ec2.EipArgs(domain="vpc", tags={"Name": f"{prefix}-nat-{zone}"}), opts=child
                )
                nat = ec2.NatGateway(
                    f"{name}-{zone}",
                    ec2.NatGatewayArgs(allocation_id=eip.id, subnet_id=public.id, tags={"Name": f"{prefix}-{zone}"}),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
                nat_ids.append(nat.id)

        self.private_route_tables = []
        for i, zone in enumerate(args.availability_zones):
            private = ec2.Subnet(
                f"{name}-private-{zone}",
                ec2.SubnetArgs(
                    vpc_id=self.vpc.id,
                    availability_zone=zone,
                    cidr_block=private_cidrs[i],
                    map_public_ip_on_launch=False,
                    tags={
                        "Name": f"{prefix}-private-{zone}",
                        "kubernetes.io/role/internal-elb": "1",
                        "karpenter.sh/discovery": args.cluster_name,
                        cluster_tag: "shared",
                    },
                ),
                opts=child,
            )
            rt = ec2.RouteTable(
                f"{name}-private-{zone}",
                ec2.RouteTableArgs(
                    vpc_id=self.vpc.id,
                    routes=[
                        ec2.RouteTableRouteArgs(
                            cidr_block="0.0.0.0/0", nat_gateway_id=nat_ids[i if args.nat_per_zone else 0]
                        )
                    ],
                    tags={"Name": f"{prefix}-private-{zone}"},
                ),
                opts=child,
            )
            ec2.RouteTableAssociation(
                f"{name}-private-{zone}",
                ec2.RouteTableAssociationArgs(subnet_id=private.id, route_table_id=rt.id),
                opts=child,
            )
            self.private_subnets.append(private)
            self.private_route_tables.append(rt)
        self.private_subnet_ids = [s.id for s in self.private_subnets]

        ec2.VpcEndpoint(
            f"{name}-s3",
            ec2.VpcEndpointArgs(
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.s3",
                vpc_endpoint_type="Gateway",
                route_table_ids=[rt.id for rt in self.private_route_tables],
                tags={"Name": f"{prefix}-s3"},
            ),
            opts=child,
        )
        if args.private_endpoints:
            endpoints_sg = ec2.SecurityGroup(
                f"{name}-endpoints",
                ec2.SecurityGroupArgs(
                    vpc_id=self.vpc.id,
                    description="HTTPS from the VPC to the AWS API endpoints",
                    ingress=[
                        ec2.SecurityGroupIngressArgs(
                            protocol="tcp", from_port=443, to_port=443, cidr_blocks=[args.cidr], description="VPC"
                        )
                    ],
                    tags={"Name": f"{prefix}-endpoints"},
                ),
                opts=child,
            )
            for service in INTERFACE_ENDPOINTS:
                ec2.VpcEndpoint(
                    f"{name}-{service.replace('.', '-')}",
                    ec2.VpcEndpointArgs(
                        vpc_id=self.vpc.id,
                        service_name=f"com.amazonaws.{args.region}.{service}",
                        vpc_endpoint_type="Interface",
                        private_dns_enabled=True,
                        subnet_ids=self.private_subnet_ids,
                        security_group_ids=[endpoints_sg.id],
                        tags={"Name": f"{prefix}-{service}"},
                    ),
                    opts=child,
                )

        # Flow logs: every accepted and rejected flow, to an encrypted log group.
        partition = partition_for(args.region)
        group_name = f"/mlplatform/{args.environment}/vpc-flow-logs"
        group_arn = f"arn:{partition}:logs:{args.region}:{args.account_id}:log-group:{group_name}"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            aws.cloudwatch.LogGroupArgs(
                name=group_name, kms_key_id=args.logs_key_arn, retention_in_days=args.flow_log_retention_days
            ),
            opts=stateful_options(self, args.protect),
        )
        role, policy, _ = service_role(
            f"{name}-flow-logs",
            parent=self,
            name=physical_name(args.environment, "vpc-flow-logs"),
            boundary=args.permissions_boundary,
            # VPC user guide (flow-logs-iam-role): trust vpc-flow-logs.amazonaws.com with aws:SourceAccount
            # and aws:SourceArn (the flow log); the documented policy's actions, on this one log group
            # (DescribeLogGroups lists by prefix and takes no log-group ARN).
            trust=service_trust(
                "VpcFlowLogs",
                "vpc-flow-logs.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": args.account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:ec2:{args.region}:{args.account_id}:vpc-flow-log/*"},
                },
            ),
            policy_name="deliver",
            statements=[
                Statement(
                    sid="WriteFlowLogStreams",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[f"{group_arn}:*"],
                ),
                Statement(sid="FindFlowLogGroup", actions=["logs:DescribeLogGroups"], resources=["*"]),
            ],
        )
        ec2.FlowLog(
            name,
            ec2.FlowLogArgs(
                vpc_id=self.vpc.id,
                traffic_type="ALL",
                log_destination_type="cloud-watch-logs",
                log_destination=log_group.arn,
                iam_role_arn=role.arn,
                max_aggregation_interval=60,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"vpcId": self.vpc.id, "privateSubnetIds": self.private_subnet_ids})
