"""``make bench``: how long an offline plan takes, against the floor of importing Pulumi.

For each stack, the wall time of ``mlplatform plan <stack>`` in a fresh process next to the floor:
a process that only imports the pulumi modules the plan loads. Then, in one warm process, how
plan time grows when the dev stack is scaled up (more key domains: 10x and 20x the keys).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from pipelines.offline import available_stacks, plan_stack

RUNS = 3
TARGET_RATIO = 1.5
BIN = Path(sys.executable).parent


def _wall(cmd: list[str]) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _pulumi_modules(stack: str) -> list[str]:
    probe = (
        "import sys; from pipelines.offline import plan_stack; plan_stack(sys.argv[1]); "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe, stack], check=True, capture_output=True, text=True).stdout
    return out.split()


def main() -> int:
    print(f"Offline plan wall time, median of {RUNS} fresh processes (target: plan <= {TARGET_RATIO}x floor)\n")
    print(f"{'stack':<10}{'resources':>10}{'plan s':>9}{'floor s':>9}{'ratio':>7}")
    worst = 0.0
    for stack in available_stacks():
        count = sum(1 for r in plan_stack(stack) if r.custom)
        plan = _wall([str(BIN / "mlplatform"), "plan", stack, "--quiet"])
        floor = _wall([sys.executable, "-c", "import " + ", ".join(_pulumi_modules(stack))])
        ratio = plan / floor
        worst = max(worst, ratio)
        print(f"{stack:<10}{count:>10}{plan:>9.2f}{floor:>9.2f}{ratio:>7.2f}")

    print("\nScaling in one warm process (dev, extra key domains), median of 5 plans:\n")
    print(f"{'keys':>6}{'resources':>11}{'plan ms':>9}{'ms/resource':>13}")
    plan_stack("dev")  # warm imports
    base = None
    for factor in (1, 10, 20):
        extra = [f"scale{i:03d}" for i in range(4 * factor - 4)]
        overrides = {"mlplatform:encryption": {"additionalDomains": extra}}
        samples, count = [], 0
        for _ in range(5):
            started = time.perf_counter()
            count = sum(1 for r in plan_stack("dev", overrides=overrides) if r.custom)
            samples.append(time.perf_counter() - started)
        ms = statistics.median(samples) * 1000
        base = base or ms / count
        per = ms / count
        print(f"{4 * factor:>6}{count:>11}{ms:>9.0f}{per:>13.2f}  ({per / base:.2f}x the 1x cost per resource)")
    verdict = "within" if worst <= TARGET_RATIO else "OVER"
    print(f"\nWorst plan/floor ratio {worst:.2f}: {verdict} the {TARGET_RATIO}x target.")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
