"""Where a process spends its CPU, from py-spy: its top frames by samples of their own (the
flame graph's widest tops), while a load runs. py-spy needs to read the process's memory
(root, or ptrace allowed); without it the frames are left out and the note says why."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

TOP = 8


def top_frames(pids: dict[str, int], seconds: float, load: Callable[[], object]) -> list[str]:
    """Lines "process: share  frame" for each process, recorded while ``load`` runs."""
    beside = Path(sys.executable).with_name("py-spy")  # the venv's, when not on PATH
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if not spy:
        return ["py-spy is not installed: no flame graph (pip install py-spy)"]
    with tempfile.TemporaryDirectory(prefix="bench-flames-") as tmp:
        outputs = {name: Path(tmp) / f"{name}.txt" for name in pids}
        recorders = {
            name: subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "250",
                    "--nonblocking",
                    "--function",
                    "--format",
                    "raw",
                    "--output",
                    str(outputs[name]),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )  # fmt: skip
            for name, pid in pids.items()
        }
        load()
        lines: list[str] = []
        for name, recorder in recorders.items():
            _, error = recorder.communicate(timeout=seconds + 60)
            if recorder.returncode != 0 or not outputs[name].exists():
                lines.append(f"{name}: py-spy failed: {error.decode()[-300:].strip()}")
                continue
            lines += [f"{name}: {line}" for line in _tops(outputs[name].read_text())]
    return lines


def _tops(collapsed: str) -> list[str]:
    """The frames with the most samples of their own in py-spy's collapsed stacks, and the
    frames of ours (pmp, services, gateway) with the most samples beneath them."""
    own: Counter[str] = Counter()
    beneath: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            if any(f"{part}/" in frame for part in ("pmp", "services", "gateway")):
                beneath[frame] += samples
    if not total:
        return ["no samples"]
    shown = [f"{100 * n / total:5.1f}% own   {frame}" for frame, n in own.most_common(TOP)]
    shown += [f"{100 * n / total:5.1f}% under {frame}" for frame, n in beneath.most_common(TOP)]
    return [f"{total:,} samples"] + shown
