"""Helpers shared by the rule modules: a rule decorator that consults reviewed exceptions,
JSON-property access that works on both the engine's and the offline plan's props, and the
environment of a resource."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

EXCEPTIONS_FILE = Path(__file__).with_name("exceptions.yaml")
MANDATORY = EnforcementLevel.MANDATORY


def load_exceptions(path: Path = EXCEPTIONS_FILE, today: dt.date | None = None) -> list[dict]:
    """Granted exceptions still in force: each names a rule, a resource URN suffix, a reason, who
    approved it and when it expires. Expired ones no longer apply."""
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text()) or []
    today = today or dt.date.today()
    for e in entries:
        missing = {"rule", "resource", "reason", "approved_by", "expires"} - set(e)
        if missing:
            raise ValueError(f"{path.name}: exception {e} lacks {', '.join(sorted(missing))}")
    return [e for e in entries if dt.date.fromisoformat(str(e["expires"])) >= today]


_EXCEPTIONS = load_exceptions()


def excepted(rule_id: str, urn: str | None) -> bool:
    return bool(urn) and any(e["rule"] == rule_id and urn.endswith(e["resource"]) for e in _EXCEPTIONS)


def resource_rule(
    rule_id: str, description: str, types: Iterable[str], level: EnforcementLevel = MANDATORY
) -> Callable[[Callable[[ResourceValidationArgs], Iterable[str]]], ResourceValidationPolicy]:
    """A resource rule: ``check(args)`` yields the messages of its violations for the given types."""
    wanted = set(types)

    def wrap(check: Callable[[ResourceValidationArgs], Iterable[str]]) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if args.resource_type not in wanted or excepted(rule_id, args.urn):
                return
            for message in check(args):
                report(message)

        return ResourceValidationPolicy(rule_id, description, validate, level)

    return wrap


def stack_rule(
    rule_id: str, description: str, level: EnforcementLevel = MANDATORY
) -> Callable[[Callable[[StackValidationArgs], Iterable[tuple[str, str | None]]]], StackValidationPolicy]:
    """A stack rule: ``check(args)`` yields (message, urn) of its violations."""

    def wrap(check: Callable[[StackValidationArgs], Iterable[tuple[str, str | None]]]) -> StackValidationPolicy:
        def validate(args: StackValidationArgs, report: ReportViolation) -> None:
            for message, urn in check(args):
                if not excepted(rule_id, urn):
                    report(message, urn)

        return StackValidationPolicy(rule_id, description, validate, level)

    return wrap


def as_json(value: Any) -> Any:
    """A policy-document property: a JSON string (as the provider takes it) or already an object."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value or {}


def statements(document: Any) -> list[dict]:
    st = as_json(document).get("Statement", [])
    return [st] if isinstance(st, dict) else list(st)


def as_list(value: Any) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str | dict) else list(value)


def principals(statement: dict) -> list[str]:
    p = statement.get("Principal")
    if p is None:
        return []
    if isinstance(p, str):
        return [p]
    return [v for values in p.values() for v in as_list(values)]


def stack_of(urn: str) -> str:
    """The stack name of a URN (urn:pulumi:<stack>::<project>::...)."""
    return urn.split("::", maxsplit=1)[0].removeprefix("urn:pulumi:")


def is_prod(urn: str) -> bool:
    return stack_of(urn).split("-")[0] == "prod"
