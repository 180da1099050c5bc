"""Rules over the whole stack: required tags and protection of stateful resources."""

from __future__ import annotations

from foundation.conventions import REQUIRED_TAG_KEYS, STATEFUL_TYPES
from infra.policies.framework import as_json, stack_of, stack_rule

PROTECTED_STACKS = ("staging", "prod")


@stack_rule("required-tags", "Every AWS resource is tagged environment, owner, cost-center, managed-by, project")
def required_tags(args):
    providers = {}
    for r in args.resources:
        if r.resource_type == "pulumi:providers:aws":
            tags = (as_json(r.props.get("defaultTags")) or {}).get("tags") or {}
            providers[r.urn] = tags
            missing = sorted(set(REQUIRED_TAG_KEYS) - set(tags))
            if missing:
                yield f"provider {r.name}: defaultTags lack {', '.join(missing)}", r.urn
    for r in args.resources:
        if r.resource_type.startswith("aws:") and (r.provider is None or r.provider.urn not in providers):
            yield f"{r.name}: use the stack's AWS provider, whose default tags tag every resource", r.urn


@stack_rule("stateful-protected", "In staging and prod, stateful resources are protected and retained")
def stateful_protected(args):
    for r in args.resources:
        if r.resource_type not in STATEFUL_TYPES or stack_of(r.urn).split("-")[0] not in PROTECTED_STACKS:
            continue
        if not r.opts.protect:
            yield f"{r.resource_type} {r.name} must be protected in {stack_of(r.urn)}", r.urn
        # `pulumi preview` does not pass retainOnDelete to policy packs (pulumi 3.272.0's
        # AnalyzerResourceOptions has no such field), so only the offline check sees it: None there.
        if getattr(r.opts, "retain_on_delete", None) is False:
            yield (
                f"{r.resource_type} {r.name} must be retained on delete in {stack_of(r.urn)} "
                "(a removed stack must not delete its data)",
                r.urn,
            )
