"""The bootstrap program: `pulumi up` in bootstrap/ runs this file; `mlplatform plan <stack>
--project-dir bootstrap` runs it under mocks."""

import pulumi

from bootstrap.account import AccountBootstrap
from bootstrap.settings import load

account = AccountBootstrap(load())
for name, value in account.outputs.items():
    pulumi.export(name, value)
