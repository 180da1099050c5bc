"""What a Glue Data Quality ruleset accepts: a parser for the part of DQDL the platform writes, and
the evaluation of its number conditions as the reference implementation does it.

Source: awslabs/dqdl (the DQDL parser Glue uses), at commit 398288ee26492f4c3f88ae9dd52b63a3936c3c52:
- model/condition/number/NumberBasedCondition.java, evaluate(): ``between a and b`` is
  ``metric > a && metric < b`` (both ends EXCLUDED); ``>=``/``<=`` include their bound;
- configuration/rules/rules-config.json (commit 04e97bc80cdd5e060abdacca18e140c052cab4f1): the rule
  types, their column parameters and return types (ColumnValues returns each value, so its condition
  applies per value; DataFreshness returns the values' ages)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# rule type -> (number of column parameters, or -1 for one or more; whether it takes a condition).
RULE_TYPES: dict[str, tuple[int, bool]] = {
    "RowCount": (0, True),
    "IsComplete": (1, False),
    "IsUnique": (1, False),
    "IsPrimaryKey": (-1, False),
    "ColumnValues": (1, True),
    "DataFreshness": (1, True),
}
DURATION_UNITS = {"hours": 1.0, "days": 24.0}  # model/condition/duration/DurationUnit.java (27e8cb6); in hours

_RULE = re.compile(r'^(?P<type>[A-Za-z]+)(?P<columns>(?:\s+"[^"]+")*)\s*(?P<condition>.*)$', re.S)
_NUMBER = r"-?\d+(?:\.\d+)?"
_CONDITION = re.compile(
    rf"^(?:between\s+(?P<lo>{_NUMBER})\s+and\s+(?P<hi>{_NUMBER})"
    rf"|(?P<op>>=|<=|>|<|=)\s*(?P<value>{_NUMBER}))(?:\s+(?P<unit>hours|days))?$"
)


@dataclass(frozen=True)
class Condition:
    op: str  # between, >=, >, <=, <, =
    operands: tuple[float, ...]
    unit: str | None = None

    def holds(self, metric: float) -> bool:
        """NumberBasedCondition.evaluate (durations in the condition's unit scaled to hours)."""
        scale = DURATION_UNITS[self.unit] if self.unit else 1.0
        bounds = [x * scale for x in self.operands]
        if self.op == "between":
            return bounds[0] < metric < bounds[1]
        return {
            ">=": metric >= bounds[0],
            ">": metric > bounds[0],
            "<=": metric <= bounds[0],
            "<": metric < bounds[0],
            "=": metric == bounds[0],
        }[self.op]


@dataclass(frozen=True)
class Rule:
    type: str
    columns: tuple[str, ...]
    condition: Condition | None


def _split(body: str) -> list[str]:
    """Top-level comma-separated rules (commas inside quotes or brackets do not split)."""
    out, depth, quoted, current = [], 0, False, ""
    for ch in body:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "[(":
            depth += 1
        elif not quoted and ch in "])":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        out.append(current.strip())
    return out


def parse(ruleset: str) -> list[Rule]:
    """The rules of ``Rules = [ ... ]``; anything outside the subset above is an error, not skipped."""
    found = re.fullmatch(r"\s*Rules\s*=\s*\[(?P<body>.*)\]\s*", ruleset, re.S)
    if not found:
        raise ValueError("a DQDL ruleset is 'Rules = [ rule, ... ]'")
    rules = []
    for text in _split(found["body"]):
        m = _RULE.match(text)
        if not m or m["type"] not in RULE_TYPES:
            raise ValueError(f"unknown DQDL rule: {text!r}")
        columns = tuple(re.findall(r'"([^"]+)"', m["columns"]))
        arity, takes_condition = RULE_TYPES[m["type"]]
        if (arity == -1 and not columns) or (arity >= 0 and len(columns) != arity):
            raise ValueError(f"{m['type']} takes {'one or more' if arity == -1 else arity} columns: {text!r}")
        condition = None
        if m["condition"]:
            c = _CONDITION.match(m["condition"].strip())
            if not c or not takes_condition:
                raise ValueError(f"not a condition of {m['type']}: {m['condition']!r}")
            if c["lo"] is not None:
                condition = Condition("between", (float(c["lo"]), float(c["hi"])), c["unit"])
            else:
                condition = Condition(c["op"], (float(c["value"]),), c["unit"])
        elif takes_condition:
            raise ValueError(f"{m['type']} needs a condition: {text!r}")
        if m["type"] == "DataFreshness" and (condition is None or condition.unit is None):
            raise ValueError(f"DataFreshness compares durations (hours or days): {text!r}")
        rules.append(Rule(m["type"], columns, condition))
    return rules


def value_accepted(rules: list[Rule], column: str, value: float) -> bool:
    """Whether a row whose ``column`` holds ``value`` passes every ColumnValues rule on that column."""
    return all(r.condition.holds(value) for r in rules if r.type == "ColumnValues" and r.columns == (column,))
