"""Facts about processes: who holds a lock or a scratch folder and whether that process is surely
gone, and this process's peak memory. Free of torch, so the CLI starts fast.

A mark records the holder's PID, host and process start time (from /proc, where there
is one), so a PID reused by a later process is not mistaken for the holder.
"""

from __future__ import annotations

import os
import resource
import socket
from pathlib import Path


def process_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot), or None where it cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_mark() -> dict:
    """This process, as a lock file or scratch folder records its holder."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": process_start(os.getpid())}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return True


def owner_gone(mark: dict) -> bool:
    """True only when the marked process surely no longer runs: it was on this host and its PID is
    free, or taken by a later process. A holder on another host, or a mark without a usable PID,
    cannot be judged from here and counts as alive."""
    try:
        pid = int(mark.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if mark.get("host") != socket.gethostname() or pid <= 0:
        return False
    if not _running(pid):
        return True
    recorded, now = mark.get("start"), process_start(pid)
    return recorded is not None and now is not None and recorded != now


def peak_rss_mib() -> float:
    """This process's peak resident memory, MiB.

    VmHWM where Linux has it: after exec, getrusage's ru_maxrss also counts the peak of
    the process that started this one (a workflow engine, a benchmark driver).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
