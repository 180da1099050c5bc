"""Rules over the whole stack: required tags and protection of stateful resources."""

from __future__ import annotations

from components.conventions import REQUIRED_TAG_KEYS, STATEFUL_TYPES
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
        protected_stack = stack_of(r.urn).split("-")[0] in PROTECTED_STACKS
        if r.resource_type in STATEFUL_TYPES and protected_stack and not r.opts.protect:
            yield f"{r.resource_type} {r.name} must be protected in {stack_of(r.urn)}", r.urn
