"""`make mutation`: how many plausible mistakes the tests catch.

Two parts, each run in throwaway copies of the working tree (the checkout is never edited):
- mutmut (a maintained mutation-testing tool) over the decision modules of pipelines/ and the rule
  framework of infra/policies/, with their fast tests (tests/pipelines, tests/policies), configured
  in pyproject.toml [tool.mutmut];
- domain mutants (tools/domain_mutants.py): plausible mistakes in components/ and the access matrix,
  each with the tests that must catch it, and each check of each policy rule switched off (mutmut
  does not mutate decorated functions), each applied alone.

Prints the survivors and the score of each part; exits 1 when either part kills less than
``--min-score`` percent (90 by default). ``--part domain`` or ``--part tool`` runs one part."""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tools.domain_mutants import MUTANTS, Mutant, rule_mutants

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600  # seconds for one mutant's tests; a hung run is not a kill


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, survived, error
    seconds: float
    failed: list[str]


def copy_tree(into: Path) -> Path:
    """The working tree as git sees it (tracked and untracked files, minus ignored ones)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


def pytest(cwd: Path, tests: tuple[str, ...]) -> tuple[int, str]:
    # `python -m pytest` from the copy puts the copy first on sys.path, ahead of the editable install.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(command, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, "timed out"
    return done.returncode, done.stdout + done.stderr


def try_mutant(workdir: Path, mutant: Mutant) -> Outcome:
    path = workdir / mutant.file
    original = path.read_text()
    if original.count(mutant.old) != 1:
        return Outcome(mutant, "error", 0.0, [f"`old` found {original.count(mutant.old)} times in {mutant.file}"])
    start = time.monotonic()
    path.write_text(original.replace(mutant.old, mutant.new))
    try:
        code, output = pytest(workdir, mutant.tests)
    finally:
        path.write_text(original)
    failed = re.findall(r"^FAILED (\S+)", output, re.M)
    # pytest exits 1 when tests failed; 0 when all passed; anything else is a broken run, not a kill
    status = {0: "survived", 1: "killed"}.get(code, "error")
    if status == "error":
        failed = [output.strip().splitlines()[-1] if output.strip() else f"exit {code}"]
    return Outcome(mutant, status, time.monotonic() - start, failed)


def run_domain(workers: int, only: list[str] | None = None) -> list[Outcome]:
    every = [*MUTANTS, *rule_mutants(ROOT)]
    chosen = [m for m in every if not only or m.id in only]
    unknown = sorted(set(only or []) - {m.id for m in every})
    if unknown:
        raise SystemExit(f"no domain mutant {', '.join(unknown)}; see tools/domain_mutants.py")
    todo: queue.Queue[Mutant] = queue.Queue()
    for m in chosen:
        todo.put(m)
    results: list[Outcome] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        with tempfile.TemporaryDirectory(prefix=f"mlplatform-mutant-{index}-") as tmp:
            workdir = copy_tree(Path(tmp))
            while True:
                try:
                    mutant = todo.get_nowait()
                except queue.Empty:
                    return
                outcome = try_mutant(workdir, mutant)
                with lock:
                    results.append(outcome)
                    mark = {"killed": "killed  ", "survived": "SURVIVED", "error": "ERROR   "}[outcome.status]
                    detail = outcome.failed[0] if outcome.failed else ""
                    print(f"  {mark} {mutant.id:<36} {outcome.seconds:5.0f} s  {detail}", flush=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    order = {m.id: i for i, m in enumerate(every)}
    return sorted(results, key=lambda o: order[o.mutant.id])


def run_tool() -> tuple[int, int, list[str]]:
    """mutmut in a copy of the tree: (killed, total, survivors)."""
    with tempfile.TemporaryDirectory(prefix="mlplatform-mutmut-") as tmp:
        workdir = copy_tree(Path(tmp))
        # `mlplatform diff --base` plans a git ref: the copy is a repository whose HEAD is the tree
        git = ["git", "-c", "user.name=mutation", "-c", "user.email=mutation@localhost", "-c", "commit.gpgsign=false"]
        for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "tree under test"]):
            subprocess.run([*git, *step], cwd=workdir, check=True)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        mutmut = [sys.executable, "-m", "mutmut"]
        run = subprocess.run([*mutmut, "run", "--max-children", "2"], check=False, cwd=workdir, env=env, text=True)
        if run.returncode not in (0, 1):
            raise SystemExit(f"mutmut run failed (exit {run.returncode})")
        listing = subprocess.run(
            [*mutmut, "results", "--all", "true"], cwd=workdir, env=env, capture_output=True, text=True, check=True
        ).stdout
        statuses = re.findall(r"^\s*(\S+): (\w[\w ]*)$", listing, re.M)
        if any(s.strip() == "not checked" for _, s in statuses):
            raise SystemExit("mutmut left mutants unchecked (its clean test run failed?): see its output above")
        survivors = []
        for name, status in statuses:
            if status.strip() == "killed":
                continue
            shown = subprocess.run(
                [*mutmut, "show", name], cwd=workdir, env=env, capture_output=True, text=True, check=False
            ).stdout
            edit = [x[1:].strip() for x in shown.splitlines() if x[:1] in "+-" and x[:3] not in ("+++", "---")]
            survivors.append(f"{name}: {status.strip()}: {' => '.join(edit)}")
    killed = sum(1 for _, s in statuses if s.strip() == "killed")
    return killed, len(statuses), survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "domain", "tool"], default="all")
    parser.add_argument("--min-score", type=float, default=90.0, help="percent of mutants that must be killed")
    parser.add_argument("--workers", type=int, default=2, help="domain mutants tried at once")
    parser.add_argument("--only", nargs="+", metavar="ID", help="just these domain mutants")
    args = parser.parse_args(argv)
    ok = True
    started = time.monotonic()
    if args.part in ("all", "tool"):
        print("mutmut over the decision modules of pipelines/ and infra/policies/ (pyproject.toml)", flush=True)
        killed, total, survivors = run_tool()
        score = 100 * killed / total if total else 0.0
        print(f"mutmut: {killed} of {total} mutants killed ({score:.1f}%)")
        for s in survivors:
            print(f"  not killed: {s}")
        ok &= score >= args.min_score
    if args.part in ("all", "domain"):
        print("domain mutants (tools/domain_mutants.py, and each check of each rule off)", flush=True)
        outcomes = run_domain(args.workers, args.only)
        killed = sum(o.status == "killed" for o in outcomes)
        score = 100 * killed / len(outcomes)
        print(f"domain: {killed} of {len(outcomes)} mutants killed ({score:.1f}%)")
        for o in outcomes:
            if o.status != "killed":
                print(f"  {o.status}: {o.mutant.id} ({o.mutant.why}): {'; '.join(o.failed)}")
        ok &= score >= args.min_score
    print(f"mutation run: {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
