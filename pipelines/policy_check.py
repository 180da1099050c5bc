"""Run the policy pack's rules against an offline Plan, as `pulumi preview --policy-pack` would
against the engine's resources (props in the engine's camelCase, options as recorded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from pipelines.plan import Plan, Resource


@dataclass(frozen=True)
class Violation:
    rule: str
    mandatory: bool
    message: str
    urn: str | None

    @property
    def path(self) -> str:
        """Where in the component tree: Component/.../name."""
        if not self.urn:
            return "(stack)"
        types = self.urn.split("::")[2].split("$")
        name = self.urn.split("::")[-1]
        return "/".join(t.rsplit(":", 1)[-1] for t in types[1:-1] if t != "pulumi:pulumi:Stack") + f"/{name}"


def _options(r: Resource) -> PolicyResourceOptions:
    opts = PolicyResourceOptions(
        protect=bool(r.options.get("protect")),
        ignore_changes=list(r.options.get("ignoreChanges", [])),
        delete_before_replace=r.options.get("deleteBeforeReplace"),
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(r.options.get("additionalSecretOutputs", [])),
        parent=r.parent,
    )
    # The engine does not send retainOnDelete to policy packs (AnalyzerResourceOptions of pulumi
    # 3.272.0 has no such field); the offline plan records it, so offline checks can see it.
    opts.retain_on_delete = bool(r.options.get("retainOnDelete"))
    return opts


def evaluate(plan: Plan, rules: Sequence | None = None) -> list[Violation]:
    """Every violation of every rule on the plan's resources (providers included, components not)."""
    if rules is None:
        from infra.policies.rules import RULES

        rules = RULES
    resources = [r for r in plan if r.custom]
    by_urn = {r.urn: r for r in resources}
    providers = {
        r.urn: PolicyProviderResource(r.type.removeprefix("pulumi:providers:"), r.inputs, r.urn, r.name)
        for r in resources
        if r.type.startswith("pulumi:providers:")
    }
    found: list[Violation] = []
    for rule in rules:
        mandatory = rule.enforcement_level == EnforcementLevel.MANDATORY

        def report(message: str, urn: str | None = None, *, _rule=rule, _mandatory=mandatory, _default=None) -> None:
            found.append(Violation(_rule.name, _mandatory, message, urn or _default))

        if isinstance(rule, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(r.type, r.inputs, r.urn, r.name, _options(r), providers.get(r.provider))
                # ResourceValidationPolicy.validate runs each of a list of validators itself
                rule.validate(args, lambda message, urn=None, _u=r.urn: report(message, urn or _u))
        else:
            policy_resources = {
                r.urn: PolicyResource(
                    r.type, r.inputs, r.urn, r.name, _options(r), providers.get(r.provider), None, [], {}
                )
                for r in resources
            }
            for urn, pr in policy_resources.items():
                pr.parent = policy_resources.get(by_urn[urn].parent)
            rule.validate(StackValidationArgs(list(policy_resources.values())), report)
    return found
