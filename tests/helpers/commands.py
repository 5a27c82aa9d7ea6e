"""``pmp`` commands as tests run them: in the test's own environment (``child_env``), with a
deadline that scales with PMP_TEST_TIMEOUT_SCALE, and, where a fixture needs one to work,
a failure that shows what the command printed."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.helpers.processes import child_env, python, scaled

REPOSITORY = Path(__file__).resolve().parents[2]


def pmp(*args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """``pmp ARGS`` run to its end; the caller looks at its exit status and output."""
    try:
        return subprocess.run(
            python("-m", "pmp", *args),
            capture_output=True,
            text=True,
            timeout=scaled(timeout),
            env=child_env(env),
            cwd=REPOSITORY,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"pmp {' '.join(args)} still running after {scaled(timeout):g} s"
            + _printed(_text(exc.stdout), _text(exc.stderr))
        ) from None


def pmp_ok(*args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """``pmp ARGS``, which must succeed; else the test fails showing its stdout and stderr
    (a fixture's command that failed under load used to say only "exit status 1")."""
    done = pmp(*args, env=env, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(
            f"pmp {' '.join(args)} exited {done.returncode}" + _printed(done.stdout, done.stderr)
        )
    return done


def _printed(stdout: str, stderr: str) -> str:
    return f"\n--- stdout ---\n{stdout[-5000:]}\n--- stderr ---\n{stderr[-5000:]}"


def _text(output: str | bytes | None) -> str:
    """What a timed-out command printed (bytes, whatever ``text`` asked for)."""
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
