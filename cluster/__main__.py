"""The in-cluster program: `pulumi up` in cluster/ runs this file where the cluster API answers;
`mlplatform plan <stack>` runs it under mocks after the platform program, with the platform's
outputs as the StackReference's."""

import pulumi

from infra.in_cluster import InCluster, platform_stack
from infra.settings import load

in_cluster = InCluster(load(), pulumi.StackReference(platform_stack(pulumi.get_stack())))
for name, value in in_cluster.outputs.items():
    pulumi.export(name, value)
