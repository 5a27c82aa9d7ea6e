"""The end of every fault experiment: ``pmp check --wait`` against the stack, as an
operator would run it, and how long the system took to agree with itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.faults.stack import FaultStack

REPO = Path(__file__).resolve().parents[2]


def check(stack: FaultStack, wait: float = 0.0) -> subprocess.CompletedProcess:
    """``pmp check [--wait]`` with the stack's own vhost and schemas, not through the
    proxies (the check is the operator's look, not a part under fault)."""
    return subprocess.run(
        [sys.executable, "-m", "pmp", "check", "--wait", str(wait)],
        capture_output=True,
        text=True,
        timeout=wait + 120,
        env={**stack.direct_env_for_commands(), "COLUMNS": "200"},
        cwd=REPO,
    )


def converge(stack: FaultStack, timeout: float) -> float:
    """Seconds until ``pmp check`` found everything consistent; fails with its output if it
    did not within ``timeout``."""
    done = check(stack, timeout)
    found = re.search(r"converged in ([0-9.]+) s", done.stdout)
    if done.returncode != 0 or not found:
        raise AssertionError(
            f"pmp check --wait {timeout} exited {done.returncode}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}\n"
            f"--- the stack's last warnings and errors ---\n{_troubles(stack)}"
        )
    seconds = float(found.group(1))
    print(f"converged in {seconds:.1f} s")
    return seconds


def _troubles(stack: FaultStack, most: int = 60) -> str:
    """The stack's last warnings and errors, one short line each: what a failed convergence
    was stuck on (a projection retrying one batch for ever says so here, and nowhere else)."""
    seen = []
    for line in stack.log_lines():
        if line.get("level") not in ("warning", "error", "critical"):
            continue
        said = " ".join(f"{k}={v}" for k, v in line.items() if k not in _SHOWN)
        failure = str(line.get("exception", "")).strip().splitlines()[-1:]
        seen.append(
            f"{line.get('timestamp', '')} {line.get('service', '')} {line.get('event', '')} "
            f"{said[:300]} {' '.join(failure)[:300]}"
        )
    return "\n".join(seen[-most:]) or "(none)"


_SHOWN = {"timestamp", "service", "event", "level", "exception", "logger"}
