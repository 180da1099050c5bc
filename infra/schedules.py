"""Schedule expressions as EventBridge and EventBridge Scheduler accept them, checked before anything
is planned (a `pulumi up` would otherwise stop on the schedule).

Source: EventBridge user guide, "Cron expressions reference" (eb-cron-expressions; Scheduler's
schedule-types page uses the same format). Six fields: minutes 0-59 `, - * /`; hours 0-23 `, - * /`;
day-of-month 1-31 `, - * ? / L W`; month 1-12 or JAN-DEC `, - * /`; day-of-week 1-7 or SUN-SAT
`, - * ? L #`; year 1970-2199 `, - * /`. "You can't specify the Day-of-month and Day-of-week fields in
the same cron expression. If you specify a value or a * (asterisk) in one of the fields, you must use a
? (question mark) in the other." `3W`: the weekday nearest the 3rd; `L`: the last day of the month or
week; `3#2`: the second Tuesday, and with `#` the field holds that one expression only. Rates:
`rate(value unit)`, unit minute(s), hour(s) or day(s); a value of 1 takes the singular unit and a
larger one the plural (eb-rate-expressions).
"""

from __future__ import annotations

import re

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# name, lowest, highest, names (1-based), wildcards beyond , - * /
FIELDS = (
    ("minutes", 0, 59, (), ""),
    ("hours", 0, 23, (), ""),
    ("day-of-month", 1, 31, (), "?LW"),
    ("month", 1, 12, MONTHS, ""),
    ("day-of-week", 1, 7, DAYS, "?L#"),
    ("year", 1970, 2199, (), ""),
)
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    pass


def _value(text: str, field: tuple) -> int:
    name, low, high, names, _ = field
    if text.isdigit():
        number = int(text)
    elif text in names:
        number = names.index(text) + 1
    elif text.upper() in names:
        raise ScheduleError(f"{name}: {text!r}: names are written in capitals ({text.upper()})")
    else:
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise ScheduleError(f"{name}: {text!r} is not a value ({allowed})")
    if not low <= number <= high:
        raise ScheduleError(f"{name}: {text} is outside {low}-{high}")
    return number


def _item(text: str, field: tuple) -> None:
    """One comma-separated part: `*`, a value, a range `a-b`, any of them with a step `/n`."""
    name, *_ = field
    base, slash, step = text.partition("/")
    if slash and not (step.isdigit() and int(step) >= 1):
        raise ScheduleError(f"{name}: {text!r}: the step after / is a whole number of at least 1")
    if base == "*":
        return
    first, dash, last = base.partition("-")
    if dash:
        a, b = _value(first, field), _value(last, field)
        if a > b:
            raise ScheduleError(f"{name}: {text!r}: a range goes from the lower to the higher value")
    else:
        _value(first, field)


def _field(text: str, field: tuple) -> None:
    name, _, _, _, extra = field
    if text == "?":
        if "?" not in extra:
            raise ScheduleError(f"{name}: ? is allowed only in day-of-month and day-of-week")
        return
    if text == "L" and "L" in extra:
        return
    if "W" in extra and (found := re.fullmatch(r"(\d+)W", text)):
        _value(found.group(1), field)
        return
    if "#" in text:
        if "#" not in extra:
            raise ScheduleError(f"{name}: # is allowed only in day-of-week")
        found = re.fullmatch(r"([A-Z0-9]+)#([1-5])", text)
        if not found:
            raise ScheduleError(f"{name}: {text!r}: # takes one day and its instance 1-5 in the month, such as 3#2")
        _value(found.group(1), field)
        return
    for part in text.split(","):
        if not part:
            raise ScheduleError(f"{name}: {text!r} has an empty part")
        _item(part, field)


def check_cron(expression: str) -> None:
    """Raise ScheduleError saying what is wrong with ``cron(...)``."""
    found = re.fullmatch(r"cron\((.*)\)", expression.strip())
    if not found:
        raise ScheduleError("a cron expression is written cron(minutes hours day-of-month month day-of-week year)")
    parts = found.group(1).split()
    if len(parts) != len(FIELDS):
        raise ScheduleError(
            f"cron takes 6 fields (minutes hours day-of-month month day-of-week year), got {len(parts)}"
        )
    for text, field in zip(parts, FIELDS, strict=True):
        _field(text, field)
    day_of_month, day_of_week = parts[2], parts[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError(
            "day-of-month and day-of-week: exactly one of them must be ? (a value or * in one, ? in the other)"
        )


def rate_seconds(expression: str) -> int:
    """The period of ``rate(value unit)`` in seconds; ScheduleError when it is malformed."""
    found = re.fullmatch(r"rate\((\d+) ([a-z]+)\)", expression.strip())
    if not found:
        raise ScheduleError("a rate is written rate(value unit), such as rate(6 hours) or rate(1 day)")
    value, unit = int(found.group(1)), found.group(2)
    singular = unit.removesuffix("s")
    if singular not in RATE_UNITS:
        raise ScheduleError(f"{unit!r} is not a unit of rate (minute(s), hour(s), day(s))")
    if value < 1:
        raise ScheduleError("a rate's value is at least 1")
    if (value == 1) != (unit == singular):
        raise ScheduleError(f"rate({value} {unit}): write rate({value} {singular if value == 1 else singular + 's'})")
    return value * RATE_UNITS[singular]


def check_schedule(expression: str, min_rate_seconds: int = 60, why: str = "") -> None:
    """A cron or rate expression, rates no shorter than ``min_rate_seconds`` (``why``: the reason)."""
    if expression.strip().startswith("rate("):
        seconds = rate_seconds(expression)
        if seconds < min_rate_seconds:
            hours, minutes = divmod(min_rate_seconds // 60, 60)
            floor = f"{hours} hour{'s' * (hours != 1)}" if not minutes else f"{min_rate_seconds // 60} minutes"
            raise ScheduleError(f"{expression} is more often than every {floor}{': ' + why if why else ''}")
        return
    if expression.strip().startswith("cron("):
        check_cron(expression)
        return
    raise ScheduleError("an EventBridge Scheduler expression: rate(value unit) or cron(6 fields)")
