"""What run.json records about where a run ran: versions and commit, command line, machine, data copy
and device."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from stretchnas import __version__
from stretchnas.runs.device import describe_device

PACKAGE = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    """git's output for this package's checkout, or None where there is no git or no checkout."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=PACKAGE).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def git_commit() -> str | None:
    out = _git("rev-parse", "HEAD")
    return None if out is None else out.strip()


def git_tracked_changes() -> bool | None:
    """Whether the package's tracked files differ from the commit (so git_commit alone does not say what
    code ran). Only the package's: a rerun rewrites committed run records, which is not a change of code."""
    out = _git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return None if out is None else bool(out.strip())


def versions() -> dict:
    return {
        "stretchnas": __version__,
        "torch": torch.__version__,
        "git_commit": git_commit(),
        "git_tracked_changes": git_tracked_changes(),
    }


def machine() -> dict:
    """The computer a run ran on, without naming it: OS, architecture, CPU model and logical CPUs."""
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "architecture": platform.machine(),
        "cpu_model": model or platform.processor() or None,
        "logical_cpus": os.cpu_count(),
    }


def command() -> list[str]:
    """The command line of this process, with the program's path cut to its name."""
    return [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else []


def provenance(data, device: torch.device | None = None) -> dict:
    """What run.json records about where a run ran, how it was started and on which data."""
    source = data.manifest["source"]
    return {
        "versions": versions(),
        "command": command(),
        "machine": machine(),
        # the data copy by name and checksum: its path is the machine's, not the run's
        "data": {
            "root": str(data.root),
            "manifest_sha256": data.manifest_sha256,
            "arrays_sha256": data.manifest.get("arrays_sha256"),
            "arrays_verified": getattr(data, "arrays_verified", False),  # checked when the run opened them
            "source_name": Path(source["location"]).name if source.get("location") else None,
            "source_sha256": source.get("sha256") or source.get("content_sha256"),
        },
        **describe_device(device or torch.device("cpu")),
        "threads": torch.get_num_threads(),
    }
