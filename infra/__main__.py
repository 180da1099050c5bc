"""The Pulumi program: `pulumi up` runs this file; `mlplatform plan` runs it under mocks."""

import pulumi

from infra.platform import Platform
from infra.settings import load

platform = Platform(load())
for name, value in platform.outputs.items():
    pulumi.export(name, value)
