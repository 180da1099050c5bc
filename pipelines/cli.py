"""The ``mlplatform`` command: offline plans of the stacks in ``stacks/`` (and of the account
bootstrap in ``bootstrap/``, with ``--project-dir bootstrap``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

EXIT_USER_ERROR = 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"mlplatform {version('mlplatform')}"
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "mlplatform (not installed)"


def find_project(start: Path | None = None) -> Path | None:
    """The nearest directory, from ``start`` (the working directory) upward, with a Pulumi.yaml: the
    project, as the pulumi CLI finds it."""
    here = (start or Path.cwd()).resolve()
    return next((d for d in (here, *here.parents) if (d / "Pulumi.yaml").is_file()), None)


def _project_dir(args: argparse.Namespace) -> Path:
    """--project-dir, or the project around the working directory; a UserError when there is none."""
    from pipelines.offline import StackFileError

    if args.project_dir is not None:
        if not (args.project_dir / "Pulumi.yaml").is_file():
            raise StackFileError(f"--project-dir {args.project_dir}: no Pulumi.yaml there (a Pulumi project has one)")
        return args.project_dir
    found = find_project()
    if found is None:
        raise StackFileError(
            f"no Pulumi.yaml in {Path.cwd()} or its parents: run from the project, or give --project-dir"
        )
    return found


def build_parser() -> argparse.ArgumentParser:
    """The command line: subcommands and their options (tests check the documented commands parse)."""
    parser = argparse.ArgumentParser(prog="mlplatform", description=__doc__)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="run the program for a stack offline and print what it would create")
    plan.add_argument("stack", help="stack name: a stacks/Pulumi.<stack>.yaml file of the project")
    plan.add_argument("--json", metavar="FILE", type=Path, help="also write the Plan as JSON (docs/plan-schema.md)")
    plan.add_argument("--quiet", action="store_true", help="print only the summary line")
    plan.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="the Pulumi project to plan: its Pulumi.yaml, stacks and program (the `main` of its Pulumi.yaml; "
        "a directory with only Pulumi.yaml and stacks/ runs this checkout's program). Default: the Pulumi.yaml "
        "nearest the working directory, as pulumi finds it; `--project-dir bootstrap` plans the account bootstrap",
    )
    check = sub.add_parser("check", help="plan stacks offline and fail on any mandatory policy violation (CI)")
    check.add_argument("stacks", nargs="+", metavar="stack", help="stacks to check, e.g. dev staging prod")
    check.add_argument(
        "--format",
        choices=["text", "json", "markdown", "sarif"],
        default="text",
        help="text (default), json, markdown (a PR comment) or sarif (GitHub code scanning)",
    )
    check.add_argument("-o", "--output", type=Path, help="write the report to FILE instead of standard output")
    check.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="the platform project to check (default: the Pulumi.yaml nearest the working directory)",
    )
    diff = sub.add_parser("diff", help="what a change does to stacks, against a git ref (pull-request previews)")
    diff.add_argument("stacks", nargs="+", metavar="stack", help="stacks whose plans to compare")
    diff.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main or HEAD~1")
    diff.add_argument("--markdown", type=Path, help="also write a pull-request comment in Markdown to FILE")
    diff.add_argument(
        "--format",
        choices=["text", "json", "markdown"],
        default="text",
        help="text (default), json, or markdown (the pull-request comment)",
    )
    diff.add_argument("-o", "--output", type=Path, help="write the report to FILE instead of standard output")
    diff.add_argument(
        "--exit-code", action="store_true", help="exit 1 when any stack changes, like `git diff --exit-code`"
    )
    diff.add_argument(
        "--project-dir", type=Path, default=None, help="the platform project, a git checkout (default: found upward)"
    )
    _add_promote(sub)
    release = sub.add_parser("release", help="the commit a stack runs: its pinned ci.release, or this checkout's")
    release.add_argument("stack", help="a stack, e.g. staging")
    release.add_argument(
        "--deployed", action="store_true", help="the commit its last deployment recorded (needs the Pulumi CLI)"
    )
    release.add_argument(
        "--stack-files", action="store_true", help="with --deployed: the commit of the stack files it deployed"
    )
    release.add_argument(
        "--project-dir", type=Path, default=None, help="the platform project (default: the Pulumi.yaml found upward)"
    )
    cost = sub.add_parser("cost", help="monthly cost of stacks offline: idle, at their ceilings, and priced by use")
    cost.add_argument("stacks", nargs="+", metavar="stack", help="stacks to price, e.g. dev staging prod")
    cost.add_argument("--format", choices=["text", "json"], default="text", help="text (default) or json")
    cost.add_argument("--project-dir", type=Path, default=None, help="the platform project (default: found upward)")
    _add_prices_and_drift(sub)
    _add_preflight(sub)
    _exit_status_help(parser)
    return parser


def _add_prices_and_drift(sub) -> None:
    prices = sub.add_parser("prices", help="the price table (infra/prices.json): its summary, or `refresh` it")
    prices_sub = prices.add_subparsers(dest="action", help="refresh: rebuild a region's EC2 prices (none: the summary)")
    refresh = prices_sub.add_parser(
        "refresh",
        help="rebuild the instance prices from the AWS Price List (network)",
        description="Updates a region's EC2 instance prices in infra/prices.json from its AWS Price List offer "
        "file (Linux on-demand, shared tenancy) and prints what is added, changed and removed. A price the offer "
        "file lacks is only removed with --prune: without it the refresh is refused and nothing is written.",
        epilog=f"exit status: {EXIT_STATUS['prices refresh']}",
    )
    refresh.add_argument(
        "--region",
        default="eu-west-1",
        help="the AWS region whose EC2 prices to rebuild, checked as a stack's region setting is (default: eu-west-1)",
    )
    refresh.add_argument(
        "--offer-file",
        type=Path,
        help='the region\'s AmazonEC2 offer file, already downloaded: JSON with "products" and "terms" from '
        "pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/<region>/index.json (default: "
        "download it)",
    )
    refresh.add_argument(
        "--prune",
        action="store_true",
        help="remove the region's prices of instance types the offer file has no price for (default: refuse, "
        "exit 1 and write nothing when there are any)",
    )
    _add_baseline(sub)
    drift = sub.add_parser("drift", help="has a deployed stack drifted from the program? (needs the Pulumi CLI)")
    drift.add_argument("stack", help="a deployed stack, e.g. prod")
    drift.add_argument("--markdown", type=Path, help="write the report as Markdown (for an issue)")
    drift.add_argument(
        "--project-dir", type=Path, default=None, help="the platform project (default: the Pulumi.yaml found upward)"
    )


def _add_preflight(sub) -> None:
    preflight = sub.add_parser(
        "preflight",
        help="can this AWS account run the stack? read-only checks before `pulumi up` (AWS credentials)",
        description="Reads the stack's account with your AWS credentials (read-only calls: docs/deploying.md, "
        "Preflight) and reports ok, warn or fail per check, with what to do: instance offerings and vCPU quotas of "
        "the pools, the "
        "Kubernetes version, EKS add-ons and node image, SageMaker endpoint quotas, the bootstrap's outputs, Chatbot "
        "workspaces, the budget's cost allocation tag, the Spot service-linked role and the region's services.",
    )
    preflight.add_argument("stacks", nargs="+", metavar="stack", help="stacks to check, e.g. dev")
    preflight.add_argument(
        "--format", choices=["text", "json", "markdown"], default="text", help="text (default), json or markdown"
    )
    preflight.add_argument("-o", "--output", type=Path, help="write the report to FILE instead of standard output")
    preflight.add_argument(
        "--backend-url",
        help="the Pulumi backend whose state bucket to check (default: PULUMI_BACKEND_URL, Pulumi.yaml's backend.url, "
        "or the backend `pulumi login` stored)",
    )
    preflight.add_argument(
        "--policy",
        action="store_true",
        help="print the IAM policy that allows exactly preflight's reads of this stack, and check nothing",
    )
    preflight.add_argument("--project-dir", type=Path, default=None, help="default: the Pulumi.yaml found upward")


def _add_promote(sub) -> None:
    promote = sub.add_parser("promote", help="move the promotable settings of one stack to the next stage")
    promote.add_argument("source", metavar="from", help="the stack whose promotable settings move, e.g. dev")
    promote.add_argument("target", metavar="to", help="the stack that receives them, e.g. staging")
    promote.add_argument("--dry-run", action="store_true", help="show the change, write nothing")
    promote.add_argument("--force", action="store_true", help="allow skipping a stage (needs --reason)")
    promote.add_argument("--reason", default="", help="why a stage is skipped; recorded in stacks/promotions.log")
    promote.add_argument("--skip-preview", action="store_true", help="do not preview the target on the engine")
    promote.add_argument(
        "--release",
        metavar="COMMIT",
        help="the commit the source runs (`mlplatform release <from> --deployed`): the target will run it (ci.release)",
    )
    promote.add_argument(
        "--require-checks",
        action="store_true",
        help="fail (exit 1, nothing written) when a guard cannot check: the model registry or the preview (CI)",
    )
    promote.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1, nothing written) on a warning, such as a model version moved into a family no "
        "endpoint of the target serves (serving.endpoints[].modelFamily)",
    )
    promote.add_argument("--report", type=Path, help="write what the guards checked, in Markdown, to FILE")
    promote.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="the platform project whose stacks/ to edit (default: found upward)",
    )


def _add_baseline(sub) -> None:
    baseline = sub.add_parser(
        "baseline",
        help="the drift job's baseline of an endpoint, from its training data (a CSV file with a header row)",
        description="Writes baseline.json: per feature, bins at the training data's quantiles (numeric) or its "
        "categories, and the share of rows in each. Upload it to the endpoint's monitor.baselinePrefix.",
    )
    baseline.add_argument("training", type=Path, help="the training data: CSV with a header row of feature names")
    baseline.add_argument(
        "--columns",
        type=_names,
        help="comma-separated features in the order the endpoint receives them (default: every column of the "
        "header, in its order; leave the label out)",
    )
    baseline.add_argument(
        "--categorical", type=_names, default=[], help="comma-separated features binned by category, not by value"
    )
    baseline.add_argument("--bins", type=int, default=10, help="bins per numeric feature (2-100, default 10)")
    baseline.add_argument("-o", "--output", type=Path, default=Path("baseline.json"), help="default: baseline.json")
    baseline.add_argument("--stack", help="check against this stack's settings and name the S3 object to upload to")
    baseline.add_argument("--endpoint", help="with --stack: the endpoint (serving.endpoints[].name) it is for")
    baseline.add_argument("--project-dir", type=Path, default=None, help="default: the Pulumi.yaml found upward")


# What each command's exit status means (printed by --help).
EXIT_STATUS = {
    "plan": "0 planned; 2 a usage or configuration error (nothing planned)",
    "check": "0 no mandatory violation; 1 mandatory violations; 2 a usage or configuration error",
    "diff": "0 compared (with --exit-code: and nothing changed); 1 with --exit-code, a stack changed; 2 a usage or "
    "configuration error",
    "promote": "0 promoted, or nothing to promote; 1 refused by a guard (nothing written); 2 a usage or configuration "
    "error",
    "release": "0 printed; 2 a usage or configuration error, or no recorded deployment",
    "cost": "0 priced; 2 a usage or configuration error",
    "prices": "0 done; 1 refresh refused: it would remove prices and --prune was not given (nothing written); 2 a "
    "usage error, an unknown --region or an unreadable offer file (nothing written)",
    "prices refresh": "0 written; 1 refused: the offer file lacks prices the table has and --prune was not given "
    "(nothing written); 2 a usage error, an unknown --region, an unreadable offer file or table (nothing written)",
    "baseline": "0 written; 2 a usage error, an unreadable training file or a stack mismatch (nothing written)",
    "drift": "0 no drift; 1 drift found; 2 a usage error or no Pulumi CLI",
    "preflight": "0 no check failed (warnings allowed); 1 a check failed; 2 a usage or configuration error, no AWS "
    "credentials, or credentials of another account than the stack's",
}


def _exit_status_help(parser: argparse.ArgumentParser) -> None:
    """Each subcommand's --help ends with what its exit status means."""
    for action in parser._subparsers._group_actions if parser._subparsers else []:  # argparse has no public API
        for name, command in action.choices.items():
            command.epilog = f"exit status: {EXIT_STATUS[name]}"
    parser.epilog = (
        "exit status: 0 success; 1 a check found something (violations, changes, drift, a refusal); 2 a "
        "usage or configuration error. `mlplatform <command> --help` says what each command's means."
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {
        "plan": _plan,
        "check": _check,
        "diff": _diff,
        "promote": _promote,
        "drift": _drift,
        "baseline": _baseline,
        "cost": _cost,
        "prices": _prices,
        "release": _release,
        "preflight": _preflight,
    }
    return commands[args.command](args)


def _preflight(args: argparse.Namespace) -> int:
    """Read the stacks' account and judge it (pipelines/preflight/); --policy prints what that needs."""
    import os

    from foundation.conventions import PROJECT
    from infra.settings import SettingsError
    from pipelines import preflight as pf
    from pipelines.offline import project_file, stack_file_setting, stack_settings

    if args.output and not args.output.parent.is_dir():
        print(f"mlplatform: -o {args.output}: the directory {args.output.parent} does not exist", file=sys.stderr)
        return EXIT_USER_ERROR
    results: dict[str, list] = {}
    try:
        root = _project_dir(args)
        project = project_file(root)["name"]
        if project != PROJECT:  # the bootstrap's stacks have other settings and nothing to preflight
            print(f"mlplatform: preflight checks the platform's stacks; {root} is project {project}", file=sys.stderr)
            return EXIT_USER_ERROR
        contexts = [
            pf.Context(
                stack, stack_settings(stack, root), secrets_provider=stack_file_setting(stack, "secretsprovider", root)
            )
            for stack in args.stacks
        ]
        if args.policy:
            policies = [pf.policy(c) for c in contexts]  # one document per stack, one stack: the document
            print(json.dumps(policies[0] if len(policies) == 1 else policies, indent=2))
            return 0

        for ctx in contexts:
            ctx.backend_url, ctx.backend_source = pf.backend(
                args.backend_url, dict(os.environ), Path.home(), project_file(root)
            )
            results[ctx.stack] = pf.run(ctx, pf.Account(ctx.settings.region), _progress)
    except (SettingsError, pf.PreflightError, *_user_errors()) as err:
        _progress("")
        print(f"mlplatform: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    report = pf.render(args.format, results)
    if args.output:
        args.output.write_text(report)
    else:
        print(report, end="")
    return max(pf.exit_status(f) for f in results.values())


def _release(args: argparse.Namespace) -> int:
    """Print the commit a stack runs: ``ci.release`` when it pins one, else the checkout's HEAD; with
    --deployed, what its last deployment recorded (stack outputs deployedCommit, deployedStackFiles)."""
    import subprocess

    from infra.settings import SettingsError
    from pipelines.engine import EngineUnavailableError, deployed_outputs
    from pipelines.offline import read_stack_config, stack_settings

    try:
        root = _project_dir(args)
        read_stack_config(args.stack, root)  # an unknown stack is named, with the stacks
        if args.deployed:
            outputs = deployed_outputs(args.stack)
            value = outputs.get("deployedStackFiles" if args.stack_files else "deployedCommit") or "unknown"
            if value == "unknown":
                print(f"mlplatform: {args.stack} recorded no commit (deployed from outside CI?)", file=sys.stderr)
                return EXIT_USER_ERROR
            print(value)
            return 0
        pinned = stack_settings(args.stack, root).ci.release
    except (SettingsError, EngineUnavailableError, *_user_errors()) as err:
        print(f"mlplatform: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    if pinned:
        print(pinned)
        return 0
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode != 0:
        print(f"mlplatform: {args.stack} pins no release and {root} is not a git checkout", file=sys.stderr)
        return EXIT_USER_ERROR
    print(head.stdout.strip())
    return 0


def _promote(args: argparse.Namespace) -> int:
    from infra.settings import SettingsError
    from pipelines.promotion import PromotionError, check_model_versions, plan_promotion, write

    report = [f"## Promotion {args.source} -> {args.target}", ""]
    try:
        root = _project_dir(args)
        promotion = plan_promotion(
            root, args.source, args.target, force=args.force, reason=args.reason, release=args.release
        )
        strict_refusal = bool(args.strict and promotion.warnings)  # refused before asking the registry
        versions = check_model_versions(root, promotion) if promotion.changed and not strict_refusal else None
    except (PromotionError, SettingsError, *_user_errors()) as err:
        print(f"mlplatform: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    if not promotion.changed:
        print(f"{args.target} already has every promotable setting of {args.source}; nothing to do.")
        _write_report(args.report, [*report, "Nothing to promote."])
        return 0
    print(promotion.diff())
    if _promotion_refused(args, promotion, versions):
        return EXIT_VIOLATIONS
    report += [f"- settings: {', '.join(sorted(promotion.changed))}"]
    report += [f"- warning: {w}" for w in promotion.warnings]
    if args.release:
        report.append(f"- code: {args.target} will run {args.release}, the commit {args.source} runs")
    report += [f"- model check: {a}" for a in versions.approved]
    report += [f"- model check skipped: {n}" for n in versions.notices]
    if args.dry_run:
        return 0
    write(root, promotion, reason=args.reason if args.force else "")
    print(f"Wrote stacks/Pulumi.{args.target}.yaml ({', '.join(sorted(promotion.changed))}).")
    status = 0 if args.skip_preview else _preview_guard(args, root, promotion, report)
    if status == 0:
        _write_report(args.report, report)
    return status


def _promotion_refused(args: argparse.Namespace, promotion, versions) -> bool:
    """Say the warnings and what the model check found; whether that refuses the promotion (nothing
    is written then): a warning with --strict, an unapproved version, or a check that could not run
    with --require-checks."""
    for warning in promotion.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if versions is None:  # --strict with warnings: the registry was not asked
        print(f"Refused: {len(promotion.warnings)} warning(s) and --strict; nothing written.", file=sys.stderr)
        return True
    for notice in versions.notices:
        print(f"Model check skipped: {notice}.", file=sys.stderr)
    if versions.refusals:
        print(f"Refused: {args.target} would serve versions that are not Approved in the registry:", file=sys.stderr)
        for refusal in versions.refusals:
            print(f"  - {refusal}", file=sys.stderr)
        return True
    if versions.notices and args.require_checks:
        print("Refused: a guard could not check (--require-checks); nothing written.", file=sys.stderr)
        return True
    return False


def _preview_guard(args: argparse.Namespace, root: Path, promotion, report: list[str]) -> int:
    """Preview the target with the promoted file; restore it when the preview would lose stateful
    resources, or (--require-checks) when the preview cannot run."""
    from pipelines.engine import EngineUnavailableError, preview
    from pipelines.guard import stateful_losses

    restore = lambda: (root / "stacks" / f"Pulumi.{args.target}.yaml").write_text(promotion.old_text)  # noqa: E731
    try:
        # The platform project holds every stateful resource; the in-cluster one needs the private API.
        previewed = preview(args.target, projects=("platform",))
    except EngineUnavailableError as err:
        print(f"Preview skipped: {err}.")
        if args.require_checks:
            restore()
            print("Refused: the preview could not run (--require-checks); the stack file restored.", file=sys.stderr)
            return EXIT_VIOLATIONS
        report.append(f"- preview skipped: {err}")
        return 0
    refusals = stateful_losses(previewed)
    if refusals:
        restore()
        print("Refused, and the stack file restored: the preview would lose stateful resources:", file=sys.stderr)
        for r in refusals:
            print(f"  - {r}", file=sys.stderr)
        return EXIT_VIOLATIONS
    counts = ", ".join(f"{op} {n}" for op, n in sorted(previewed.get("changeSummary", {}).items()))
    report.append(f"- preview of {args.target} (platform project): {counts or 'no changes'}; no stateful resource lost")
    return 0


def _write_report(path: Path | None, lines: list[str]) -> None:
    if path is not None:
        path.write_text("\n".join(lines) + "\n")


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("a comma-separated list of column names, such as age,plan,tenure")
    return names


def _baseline(args: argparse.Namespace) -> int:
    from pipelines.baseline import BaselineError, destination, make_baseline

    if (args.stack is None) != (args.endpoint is None):
        print("mlplatform: --stack and --endpoint go together (the endpoint of that stack)", file=sys.stderr)
        return EXIT_USER_ERROR
    if not args.output.parent.is_dir():
        print(f"mlplatform: -o {args.output}: the directory {args.output.parent} does not exist", file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        where = destination(_project_dir(args), args.stack, args.endpoint) if args.stack else None
        result = make_baseline(
            args.training,
            args.columns,
            args.categorical,
            args.bins,
            watched=where.features if where else (),
        )
    except (BaselineError, *_user_errors()) as err:
        print(f"mlplatform: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    kinds = [spec["type"] for spec in result["features"].values()]
    print(
        f"Wrote {args.output}: {len(kinds)} features ({kinds.count('numeric')} numeric, "
        f"{kinds.count('categorical')} categorical)."
    )
    if where:
        print(f"Upload it where the drift job of {args.endpoint} reads it:\n  aws s3 cp {args.output} {where.uri}")
    return 0


def _drift(args: argparse.Namespace) -> int:
    from pipelines.engine import EngineUnavailableError, preview
    from pipelines.guard import drift_report
    from pipelines.offline import read_stack_config

    try:
        read_stack_config(args.stack, _project_dir(args))  # an unknown stack is named, with the stacks
        report = drift_report(args.stack, preview(args.stack, refresh=True))
    except (EngineUnavailableError, *_user_errors()) as err:
        print(f"mlplatform: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(report.markdown())
    if args.markdown:
        args.markdown.write_text(report.markdown() + "\n")
    return 0 if report.clean else EXIT_VIOLATIONS


def _diff(args: argparse.Namespace) -> int:
    from pipelines.diff import BaseRefError, compare, plan_at_ref, priced_change, render_markdown, render_text, to_json
    from pipelines.offline import plan_stack

    for target in (args.output, args.markdown):
        if target is not None and not target.parent.is_dir():
            print(f"mlplatform: {target}: the directory {target.parent} does not exist", file=sys.stderr)
            return EXIT_USER_ERROR
    diffs, verdicts = [], {}
    for stack in args.stacks:
        try:
            root = _project_dir(args)
            head = plan_stack(stack, root=root)
            base = plan_at_ref(stack, args.base, root)
        except (*_user_errors(), BaseRefError) as err:
            print(f"mlplatform: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        verdicts[stack], _ = _verdicts(head)
        diffs.append(compare(base, head))
        if _policy_pack_applies(head):  # the platform's cost; the bootstrap is not priced
            try:
                diffs[-1].cost, diffs[-1].unpriced = priced_change(base, head)
            except KeyError as err:  # a region without prices: the comment says so instead of a figure
                print(f"Cost not estimated: {err}", file=sys.stderr)
    if args.format == "json":
        report = json.dumps([to_json(d, verdicts.get(d.stack, "")) for d in diffs], indent=2, default=str) + "\n"
    elif args.format == "markdown":
        report = render_markdown(diffs, verdicts)
    else:
        report = "".join(render_text(d, verdicts[d.stack]) + "\n\n" for d in diffs)
    if args.output:
        args.output.write_text(report)
    else:
        print(report, end="")
    if args.markdown:
        args.markdown.write_text(render_markdown(diffs, verdicts))
    return EXIT_VIOLATIONS if args.exit_code and not all(d.empty for d in diffs) else 0


EXIT_VIOLATIONS = 1


def _user_errors() -> tuple[type[Exception], ...]:
    """What a user's configuration raises: printed as a message, exit 2. A program's RunError is
    what `pulumi up` prints without a traceback (the platform's SettingsError and DefinitionError,
    the bootstrap's BootstrapSettingsError)."""
    import pulumi

    from pipelines.offline import UnknownStackError

    return (pulumi.RunError, UnknownStackError)


def _policy_pack_applies(plan) -> bool:
    """infra/policies guards the platform (project `mlplatform`); other projects, such as the account
    bootstrap whose admin role holds AdministratorAccess by design, are not judged by it."""
    from foundation.conventions import PROJECT

    return plan.project == PROJECT


def _verdicts(plan, violations: list | None = None) -> tuple[str, int]:
    from infra.policies.rules import RULES
    from pipelines.policy_check import evaluate

    if not _policy_pack_applies(plan):
        return f"Policies: policy pack not applied to project {plan.project} (infra/policies guards the platform)", 0
    violations = evaluate(plan) if violations is None else violations
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


def _check_exceptions_file() -> None:
    """What can be refused before a 15-second plan: a malformed exceptions file (exit 2); expired
    exceptions are announced on stderr."""
    from infra.policies.rules import check_exceptions

    for notice in check_exceptions():
        print(f"mlplatform: {notice}", file=sys.stderr)


def _check(args: argparse.Namespace) -> int:
    from pipelines.offline import plan_stack

    try:
        _check_exceptions_file()
    except _user_errors() as err:
        print(f"mlplatform: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.output and not args.output.parent.is_dir():
        print(f"mlplatform: -o {args.output}: the directory {args.output.parent} does not exist", file=sys.stderr)
        return EXIT_USER_ERROR
    failed, texts, results = 0, [], {}
    for stack in args.stacks:
        try:
            _progress(f"{stack}: planning offline")
            plan = plan_stack(stack, root=_project_dir(args))
        except _user_errors() as err:
            print(f"mlplatform: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        if not _policy_pack_applies(plan):
            print(
                f"mlplatform: the policy pack (infra/policies) is not applied to project {plan.project}; "
                f"nothing to check (`mlplatform plan {stack} --project-dir ...` plans it)",
                file=sys.stderr,
            )
            return EXIT_USER_ERROR
        _progress(f"{stack}: {sum(1 for r in plan if r.custom)} resources planned; checking policies")
        results[stack] = _violations(plan)
        text, mandatory = _verdicts(plan, results[stack])
        texts.append(f"{stack}: {text}")
        failed += mandatory > 0
    _progress("")
    report = _report(args.format, texts, results)
    if args.output:
        args.output.write_text(report)
    else:
        print(report, end="")
    return EXIT_VIOLATIONS if failed else 0


def _violations(plan) -> list:
    from pipelines.policy_check import evaluate

    return evaluate(plan)


def _report(fmt: str, texts: list[str], results: dict) -> str:
    from infra.policies.rules import RULES
    from pipelines import report

    if fmt == "json":
        return report.as_json(results, RULES)
    if fmt == "markdown":
        return report.as_markdown(results, RULES)
    if fmt == "sarif":
        return report.as_sarif(results, RULES, _version().removeprefix("mlplatform "))
    return "\n".join(texts) + "\n"


def _progress(stage: str) -> None:
    """What a long command is doing, on stderr, only for a person at a terminal (CI logs stay clean)."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[K{stage}" if stage else "\r\033[K")
        sys.stderr.flush()


def _cost(args: argparse.Namespace) -> int:
    from infra.cost import from_plan
    from pipelines.offline import plan_stack
    from pipelines.render import render_cost

    try:
        _check_exceptions_file()
        root = _project_dir(args)
        costs = []
        for stack in args.stacks:
            _progress(f"{stack}: planning offline")
            costs.append(from_plan(plan_stack(stack, root=root)))
    except (*_user_errors(), KeyError) as err:
        print(f"mlplatform: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    _progress("")
    if args.format == "json":
        print(json.dumps([c.to_dict() for c in costs], indent=2))
    else:
        print("\n\n".join(render_cost(c) for c in costs))
    return 0


def _prices_summary() -> int:
    """`mlplatform prices`: what the table holds and how sure it is."""
    from collections import Counter

    from infra.cost import PRICES_FILE, prices

    table = prices()
    print(
        f"{PRICES_FILE.relative_to(PRICES_FILE.parents[1])}: prices as of {table.as_of}, {table.hours:g} hours a month"
    )
    for region, data in sorted(table.data["regions"].items()):
        status = Counter(e["status"] for part in ("ec2", "sagemaker", "items") for e in data[part].values())
        said = ", ".join(f"{n} {k}" for k, n in sorted(status.items()))
        print(
            f"  {region}: {len(data['ec2'])} EC2 instance types, {len(data['sagemaker'])} SageMaker instance types, "
            f"{len(data['items'])} service prices ({said})"
        )
    print("`mlplatform prices refresh --region <region>` rebuilds a region's EC2 prices from the AWS Price List.")
    return 0


def _prices(args: argparse.Namespace) -> int:
    import pipelines.prices as module

    if args.action is None:
        return _prices_summary()
    table = module.PRICES_FILE
    try:
        module.check_region(args.region)  # before reading or downloading anything
        if args.offer_file:
            offer, source = module.read_offer(args.offer_file), str(args.offer_file)
        else:  # pragma: no cover - needs the network
            offer, source = module.download(args.region)
        changes = module.refresh(args.region, offer, source, table, prune=args.prune)
    except module.RemovalRefusedError as refused:
        print(_price_changes(refused.changes, table, "not written"))
        print(f"mlplatform: prices refresh: {refused}", file=sys.stderr)
        return 1
    except module.PricesError as err:
        print(f"mlplatform: prices refresh: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as err:  # writing the table
        print(f"mlplatform: prices refresh: {table}: not written ({err}); it is unchanged", file=sys.stderr)
        return EXIT_USER_ERROR
    print(_price_changes(changes, table, "written"))
    return 0


def _price_changes(changes, table: Path, verb: str) -> str:
    """What a refresh adds, changes and removes, a line per type."""
    try:
        shown = table.relative_to(Path.cwd())
    except ValueError:
        shown = table
    lines = [
        f"{shown} ({verb}): {changes.count} instance price{'s' if changes.count != 1 else ''} for {changes.region} "
        f"from {changes.source} "
        f"(publicationDate {changes.published}); {len(changes.changed)} changed, {len(changes.added)} added, "
        f"{len(changes.removed)} removed, {len(changes.unchanged)} unchanged."
    ]
    lines += [f"  changed {t}: {old:g} -> {new:g} USD/hour" for t, (old, new) in changes.changed.items()]
    lines += [f"  added   {t}: {usd:g} USD/hour" for t, usd in changes.added.items()]
    lines += [f"  removed {t}: {usd:g} USD/hour" for t, usd in changes.removed.items()]
    return "\n".join(lines)


def _plan(args: argparse.Namespace) -> int:
    from pipelines.offline import plan_stack

    if args.json and not args.json.parent.is_dir():
        print(f"mlplatform: --json {args.json}: the directory {args.json.parent} does not exist", file=sys.stderr)
        return EXIT_USER_ERROR
    started = time.perf_counter()
    try:
        _check_exceptions_file()
        _progress(f"{args.stack}: planning offline")
        plan = plan_stack(args.stack, root=_project_dir(args))
    except _user_errors() as err:
        print(f"mlplatform: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    elapsed = time.perf_counter() - started
    if args.json:
        args.json.write_text(plan.to_json())
    _progress(f"{args.stack}: checking policies")
    verdicts, _ = _verdicts(plan)
    _progress("")
    custom = sum(1 for r in plan if r.custom)
    summary = f"Planned stack '{plan.stack}' offline: {custom} resources in {elapsed:.2f} s" + (
        f"; plan written to {args.json}" if args.json else ""
    )
    if args.quiet:  # one line: the summary and the first line of the verdicts
        print(f"{summary}. {verdicts.splitlines()[0]}")
        return 0
    from pipelines.render import render_plan

    print(render_plan(plan))
    print()
    print(verdicts)
    print(f"\n{summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
