"""Several job commands in one process, one after another: the workflow's jobs that run an experiment's
seeds together (workflow.seeds_in_one_job, pipeline.jobs.Plan.units).

A command's start-up (importing torch, building the first optimiser: about 2.5 s on a 2-core CPU) is paid
once. Each command is what the per-seed job would have run: it seeds itself, writes only its own folder,
and resumes from its own checkpoint, so its files are byte for byte those of the job run alone. A failed
command stops the batch; the ones before it are complete, and re-running the batch finds them so.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

from stretchnas import StretchnasError

BATCH_SEPARATOR = "--"
# The per-seed job commands a batch may hold (each resumable and writing one folder of its own)
BATCHABLE = ("search", "random-search", "lookup")


class BatchError(StretchnasError, ValueError):
    pass


def split_commands(tokens: Sequence[str]) -> list[list[str]]:
    """`-- search ... -- search ...` -> the commands, each checked to be one a batch may hold."""
    commands: list[list[str]] = []
    for token in tokens:
        if token == BATCH_SEPARATOR:
            commands.append([])
        elif not commands:
            raise BatchError(f"expected {BATCH_SEPARATOR!r} before the first command, got {token!r}")
        else:
            commands[-1].append(token)
    if not commands or any(not command for command in commands):
        raise BatchError(
            f"give each command after {BATCH_SEPARATOR!r}, e.g. `stretchnas batch -- search ... -- search ...`"
        )
    for command in commands:
        if command[0] not in BATCHABLE:
            raise BatchError(f"{command[0]!r} cannot run in a batch; it holds {', '.join(BATCHABLE)} commands")
    return commands


def run_batch(commands: list[list[str]], run_one: Callable[[list[str]], int]) -> int:
    """Run each command with `run_one` (the CLI's main), in order; stop at the first that fails, with its exit
    status, naming it."""
    for number, command in enumerate(commands, 1):
        print(
            f"stretchnas batch: [{number}/{len(commands)}] stretchnas {' '.join(command)}", file=sys.stderr, flush=True
        )
        started = time.perf_counter()
        status = run_one(command)
        if status != 0:
            print(
                f"stretchnas batch: command {number} of {len(commands)} failed (exit {status}); "
                f"{'the ones before it are complete' if number > 1 else 'no command completed'}",
                file=sys.stderr,
                flush=True,
            )
            return status
        print(
            f"stretchnas batch: [{number}/{len(commands)}] done in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return 0
