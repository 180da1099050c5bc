"""Whether a place where a command runs reaches an EKS cluster's Kubernetes API, as the EKS
documentation defines it.

Sources (docs.aws.amazon.com):
- EKS API reference, VpcConfigRequest: "If you disable public access, your cluster's Kubernetes API
  server can only receive requests from within the cluster VPC"; "If you enable private access,
  Kubernetes API requests from within your cluster's VPC use the private VPC endpoint";
  publicAccessCidrs: "Communication to the endpoint from addresses outside of the CIDR blocks that
  you specify is denied. The default value is 0.0.0.0/0".
- EKS user guide, cluster-endpoint ("Cluster API server endpoint"): with public access only,
  requests from inside the VPC "leave the VPC" (so they come from its NAT gateways' addresses and
  must be in publicAccessCidrs); to reach a private endpoint "the control-plane security group must
  allow port 443" from the client (bastion, connected network).

A place is either on the internet (one public address) or inside the VPC (its security groups and
the public addresses its traffic leaves through, the NAT gateways').
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

HTTPS = 443


@dataclass(frozen=True)
class Ingress:
    """A rule of the cluster security group: a source security group or CIDR, and a port range."""

    from_port: int
    to_port: int
    source_group: str | None = None
    cidr: str | None = None

    def admits(self, place: Place, port: int = HTTPS) -> bool:
        if not self.from_port <= port <= self.to_port:
            return False
        if self.source_group is not None:
            return self.source_group in place.security_groups
        return self.cidr is not None and place.private_ip is not None and _in(place.private_ip, [self.cidr])


@dataclass(frozen=True)
class Endpoint:
    """An EKS cluster's API endpoint access (vpcConfig) and its security group's ingress rules."""

    public: bool = True
    private: bool = False
    public_cidrs: tuple[str, ...] = ()
    ingress: tuple[Ingress, ...] = ()

    @property
    def allowed_cidrs(self) -> tuple[str, ...]:
        return self.public_cidrs or ("0.0.0.0/0",)  # the API's default


@dataclass(frozen=True)
class Place:
    """Where a command runs: ``in_vpc`` with its security groups and private address, or on the
    internet; ``public_ips`` are the addresses its traffic to the internet leaves from."""

    name: str
    in_vpc: bool
    public_ips: tuple[str, ...] = ()
    security_groups: frozenset[str] = field(default_factory=frozenset)
    private_ip: str | None = None


def reaches(place: Place, endpoint: Endpoint) -> bool:
    """Whether a request from ``place`` gets to the API server."""
    if place.in_vpc and endpoint.private:
        # Inside the VPC the endpoint's name resolves to the private endpoint: the security group decides.
        return any(rule.admits(place) for rule in endpoint.ingress)
    if not endpoint.public:
        return False  # private only: nothing outside the VPC (or a connected network) gets in
    return any(_in(ip, endpoint.allowed_cidrs) for ip in place.public_ips)


def _in(ip: str, cidrs: Iterable[str]) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(c, strict=False) for c in cidrs)
