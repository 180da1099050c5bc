"""Helpers shared by the rule modules: a rule decorator that consults reviewed exceptions,
JSON-property access that works on both the engine's and the offline plan's props, and the
environment of a resource."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pulumi import RunError
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra import yamlfile

EXCEPTIONS_FILE = Path(__file__).with_name("exceptions.yaml")
MANDATORY = EnforcementLevel.MANDATORY


class ExceptionsFileError(RunError):
    """infra/policies/exceptions.yaml is malformed: every problem, with the entry it is in."""


REQUIRED_FIELDS = ("rule", "resource", "reason", "approved_by", "expires")


def read_exceptions(path: Path | None = None) -> list[dict]:
    """Every entry of the exceptions file, checked: a list of mappings, each with a rule, a resource
    URN suffix, a reason, who approved it and an ISO date it expires on. Raises ExceptionsFileError."""
    path = path or EXCEPTIONS_FILE
    if not path.exists():
        return []
    where = f"infra/policies/{path.name}"
    try:
        entries = yamlfile.load(path.read_text()) or []
    except yamlfile.YamlFileError as err:
        raise ExceptionsFileError(f"{where} is not valid YAML {err}") from None
    if not isinstance(entries, list):
        raise ExceptionsFileError(f"{where} must be a list of exceptions (- rule: ..., resource: ..., ...)")
    problems = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            problems.append(f"entry {i + 1}: must be a mapping with {', '.join(REQUIRED_FIELDS)}")
            continue
        missing = [f for f in REQUIRED_FIELDS if f not in e]
        if missing:
            problems.append(f"entry {i + 1} ({e.get('rule', '?')}): lacks {', '.join(sorted(missing))}")
            continue
        problems += [f"entry {i + 1} ({e['rule']}): {p}" for p in _entry_problems(e)]
        try:
            e["expires"] = dt.date.fromisoformat(str(e["expires"]))
        except ValueError:
            problems.append(f"entry {i + 1} ({e['rule']}): expires {e['expires']!r} is not a date (YYYY-MM-DD)")
    if problems:
        raise ExceptionsFileError("\n".join([f"{where} has {len(problems)} problem(s):", *problems]))
    return entries


MIN_REASON_WORDS = 3  # "temporary", "TODO" or "x" is not a reason a reviewer can judge


def _entry_problems(e: dict) -> list[str]:
    """Every field says something: text that is not blank, a reason of a few words, an approver that
    names someone (an email or a principal, no spaces), a resource that is a URN suffix (type::name)."""
    problems = []
    for key in REQUIRED_FIELDS:
        value = e.get(key)
        if key != "expires" and (not isinstance(value, str) or not value.strip()):
            problems.append(f"{key} is empty; every entry needs {', '.join(REQUIRED_FIELDS)}")
    reason, approver, resource = (str(e.get(k) or "") for k in ("reason", "approved_by", "resource"))
    if reason.strip() and len(reason.split()) < MIN_REASON_WORDS:
        problems.append(f"reason {reason!r} says too little: at least {MIN_REASON_WORDS} words of why, and until when")
    if approver.strip() and (
        " " in approver.strip() or not re.fullmatch(r"[^@\s]+@[^@\s]+|arn:[^\s]+|[\w.-]+", approver)
    ):
        problems.append(f"approved_by {approver!r} does not name someone: an email or an IAM principal")
    if resource.strip() and "::" not in resource:
        problems.append(
            f"resource {resource!r} is not the end of a URN (type::name, e.g. aws:s3/bucket:Bucket::lake-raw)"
        )
    return problems


def load_exceptions(path: Path | None = None, today: dt.date | None = None) -> list[dict]:
    """Granted exceptions still in force (an exception is in force on the day it expires)."""
    today = today or dt.date.today()
    return [e for e in read_exceptions(path) if e["expires"] >= today]


_EXCEPTIONS: list[dict] | None = None  # loaded on first use, so a bad file is reported, not raised on import


def _active() -> list[dict]:
    global _EXCEPTIONS  # noqa: PLW0603
    if _EXCEPTIONS is None:
        _EXCEPTIONS = load_exceptions()
    return _EXCEPTIONS


def excepted(rule_id: str, urn: str | None) -> bool:
    return bool(urn) and any(e["rule"] == rule_id and urn.endswith(e["resource"]) for e in _active())


# The two factories run once, at import, before mutmut switches a mutant on (its fork mode): mutants
# of their lines could never be killed, whatever the tests ("no mutate"). What they build is tested
# through every rule (test_rule_checks.py); their logic is in validate_resource and validate_stack.
def resource_rule(
    rule_id: str, description: str, types: Iterable[str], level: EnforcementLevel = MANDATORY
) -> Callable[[Callable[[ResourceValidationArgs], Iterable[str]]], ResourceValidationPolicy]:
    """A resource rule: ``check(args)`` yields the messages of its violations for the given types."""
    wanted = frozenset(types)  # pragma: no mutate

    def wrap(check: Callable[[ResourceValidationArgs], Iterable[str]]) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            validate_resource(rule_id, wanted, check, args, report)  # pragma: no mutate

        return ResourceValidationPolicy(rule_id, description, validate, level)  # pragma: no mutate

    return wrap


def validate_resource(rule_id: str, wanted: frozenset[str], check, args, report: ReportViolation) -> None:
    """One resource against one rule: its types only, unless a reviewed exception covers it.
    (Top-level, not in the decorator's closure, so it runs and is tested at evaluation time.)"""
    if args.resource_type not in wanted or excepted(rule_id, args.urn):
        return
    for message in check(args):
        report(message)


def stack_rule(
    rule_id: str, description: str, level: EnforcementLevel = MANDATORY
) -> Callable[[Callable[[StackValidationArgs], Iterable[tuple[str, str | None]]]], StackValidationPolicy]:
    """A stack rule: ``check(args)`` yields (message, urn) of its violations."""

    def wrap(check: Callable[[StackValidationArgs], Iterable[tuple[str, str | None]]]) -> StackValidationPolicy:
        def validate(args: StackValidationArgs, report: ReportViolation) -> None:
            validate_stack(rule_id, check, args, report)  # pragma: no mutate

        return StackValidationPolicy(rule_id, description, validate, level)  # pragma: no mutate

    return wrap


def validate_stack(rule_id: str, check, args, report: ReportViolation) -> None:
    """The stack against one rule, less the violations a reviewed exception covers."""
    for message, urn in check(args):
        if not excepted(rule_id, urn):
            report(message, urn)


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
    return urn.partition("::")[0].removeprefix("urn:pulumi:")


def is_prod(urn: str) -> bool:
    return stack_of(urn).split("-")[0] == "prod"
