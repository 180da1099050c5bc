"""The policy pack: `pulumi preview --policy-pack infra/policies`. Building a PolicyPack starts its
gRPC server, so only this file does it; tests and `mlplatform check` use infra.policies.rules."""

from pulumi_policy import PolicyPack

from infra.policies.rules import RULES

PolicyPack(name="mlplatform", policies=RULES)
