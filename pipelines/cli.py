"""The ``mlplatform`` command: offline plans of the stacks in ``stacks/``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXIT_USER_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlplatform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="run the program for a stack offline and print what it would create")
    plan.add_argument("stack", help="stack name: a stacks/Pulumi.<stack>.yaml file")
    plan.add_argument("--json", metavar="FILE", type=Path, help="also write the Plan as JSON (docs/plan-schema.md)")
    plan.add_argument("--quiet", action="store_true", help="print only the summary line")
    plan.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="directory with Pulumi.yaml and stacks/ to read the configuration from (default: this checkout)",
    )
    check = sub.add_parser("check", help="plan stacks offline and fail on any mandatory policy violation (CI)")
    check.add_argument("stacks", nargs="+", metavar="stack")
    check.add_argument("--project-dir", type=Path, default=None, help="directory with Pulumi.yaml and stacks/")
    diff = sub.add_parser("diff", help="what a change does to stacks, against a git ref (pull-request previews)")
    diff.add_argument("stacks", nargs="+", metavar="stack")
    diff.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main or HEAD~1")
    diff.add_argument("--markdown", type=Path, help="also write a pull-request comment in Markdown to FILE")
    args = parser.parse_args(argv)
    return {"plan": _plan, "check": _check, "diff": _diff}[args.command](args)


def _diff(args: argparse.Namespace) -> int:
    from infra.definitions import DefinitionError
    from infra.settings import SettingsError
    from pipelines.diff import BaseRefError, compare, plan_at_ref, render_markdown, render_text
    from pipelines.offline import UnknownStackError, plan_stack

    diffs, verdicts = [], {}
    for stack in args.stacks:
        try:
            head = plan_stack(stack)
            base = plan_at_ref(stack, args.base)
        except (SettingsError, DefinitionError, UnknownStackError, BaseRefError) as err:
            print(f"mlplatform: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        verdicts[stack], _ = _verdicts(head)
        diffs.append(compare(base, head))
        print(render_text(diffs[-1], verdicts[stack]) + "\n")
    if args.markdown:
        args.markdown.write_text(render_markdown(diffs, verdicts))
    return 0


EXIT_VIOLATIONS = 1


def _verdicts(plan) -> tuple[str, int]:
    from infra.policies.rules import RULES
    from pipelines.policy_check import evaluate

    violations = evaluate(plan)
    mandatory = sum(v.mandatory for v in violations)
    lines = [
        f"Policies: {len(RULES)} rules, {mandatory} mandatory and {len(violations) - mandatory} advisory violations"
    ]
    by_rule: dict[str, list] = {}
    for v in violations:
        by_rule.setdefault(v.rule, []).append(v)
    for rule, found in sorted(by_rule.items()):
        level = "mandatory" if found[0].mandatory else "advisory"
        lines.append(f"  {rule} ({level}, {len(found)})")
        lines += [f"    {v.path}: {v.message}" for v in found]
    return "\n".join(lines), mandatory


def _check(args: argparse.Namespace) -> int:
    from infra.definitions import DefinitionError
    from infra.settings import SettingsError
    from pipelines.offline import REPO_ROOT, UnknownStackError, plan_stack

    failed = 0
    for stack in args.stacks:
        try:
            plan = plan_stack(stack, root=args.project_dir or REPO_ROOT)
        except (SettingsError, DefinitionError, UnknownStackError) as err:
            print(f"mlplatform: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        text, mandatory = _verdicts(plan)
        print(f"{stack}: {text}")
        failed += mandatory > 0
    return EXIT_VIOLATIONS if failed else 0


def _plan(args: argparse.Namespace) -> int:
    from infra.definitions import DefinitionError
    from infra.settings import SettingsError
    from pipelines.offline import REPO_ROOT, UnknownStackError, plan_stack

    started = time.perf_counter()
    try:
        plan = plan_stack(args.stack, root=args.project_dir or REPO_ROOT)
    except (SettingsError, DefinitionError, UnknownStackError) as err:
        print(f"mlplatform: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    elapsed = time.perf_counter() - started
    if args.json:
        args.json.write_text(plan.to_json())
    verdicts, _ = _verdicts(plan)
    if not args.quiet:
        from pipelines.render import render_plan

        print(render_plan(plan))
        print()
    print(verdicts)
    custom = sum(1 for r in plan if r.custom)
    print(
        f"\nPlanned stack '{plan.stack}' offline: {custom} resources in {elapsed:.2f} s"
        + (f"; plan written to {args.json}" if args.json else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
