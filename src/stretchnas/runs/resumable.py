"""The one skeleton of every resumable run: search, evaluation training and the random baselines.

`ResumableRun` owns an output folder: it refuses a finished run of another identity, returns a finished
run of the same identity unchanged, and writes run.json (status, identity, provenance). The epoch loop
they share is `stretchnas.runs.loop.EpochRun`.
"""

from __future__ import annotations

import json
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from stretchnas.runs import RunError
from stretchnas.runs.atomic import atomic_write_json, machine_faults
from stretchnas.runs.checkpoint import as_json, identity_differences
from stretchnas.runs.documents import read_document
from stretchnas.runs.lock import LOCK_FILE, FolderLock
from stretchnas.runs.provenance import provenance

SUPERSEDED = "superseded"  # where --supersede keeps a folder's earlier run of other settings


class ResumableRun(ABC):
    """A run that owns one output folder and can be re-run until it is complete.

    Subclasses set `run_type` (recorded in run.json) and `final_file` (written
    last, before run.json says complete), and implement `identity`, `execute`,
    `load_result` and `describe`.
    """

    run_type: ClassVar[str]
    final_file: ClassVar[str]

    def __init__(self, out: str | Path, data, seed: int):
        self.out = Path(out)
        self.data = data
        self.seed = seed

    @property
    @abstractmethod
    def identity(self) -> dict:
        """Everything that determines the result; a folder holds one identity's run."""

    @abstractmethod
    def execute(self, show_progress: bool) -> Any:
        """Do (or continue) the work; return the result."""

    @abstractmethod
    def load_result(self) -> Any:
        """The result of a complete run, read back from its folder."""

    def describe(self) -> dict:
        """Fields run.json shows besides status, identity and provenance."""
        return {}

    def stopped_at(self) -> dict:
        """Where the work stood when it failed (run.json's failure record)."""
        return {}

    def completion_fields(self, result) -> dict:
        return {"final_file": self.final_file}

    @property
    def run_json(self) -> Path:
        return self.out / "run.json"

    def write_run_json(self, status: str, extra: dict | None = None) -> None:
        atomic_write_json(
            self.run_json,
            {
                "run_type": self.run_type,
                "status": status,
                **self.describe(),
                "identity": as_json(self.identity),
                **provenance(self.data, getattr(self, "device", None)),
                **(extra or {}),
            },
        )

    def _check_recorded_identity(self, supersede: bool = False) -> dict | None:
        """run.json as recorded, refused if it belongs to another identity (finished or not), or with
        `supersede` moved aside with everything else in the folder, so the run starts over."""
        if not self.run_json.exists():
            self._check_nothing_else_here(supersede)
            return None
        recorded = read_document(self.run_json, json.loads, RunError, "run record")
        if not isinstance(recorded, dict) or "identity" not in recorded or "run_type" not in recorded:
            raise RunError(
                f"{self.run_json}: not a stretchnas run record (no run_type or identity); this folder holds "
                "someone else's files. Use another --out."
            )
        identity = as_json(self.identity)
        if recorded.get("identity") == identity:
            return recorded
        if supersede:
            self._set_aside()
            return None
        what = "finished" if recorded.get("status") == "complete" else "unfinished"
        raise RunError(
            f"{self.out}: holds a {what} {recorded.get('run_type', 'run')} of a different configuration; "
            "refusing to "
            + ("report it as this one" if what == "finished" else "mix the two")
            + ". Differing fields: "
            + "; ".join(identity_differences(recorded.get("identity") or {}, identity, "recorded"))
            + ". Use another --out, or --supersede to keep that run under superseded/ and start over."
        )

    def _check_nothing_else_here(self, supersede: bool) -> None:
        """A folder without a run record must be empty: files named like run outputs there are someone else's,
        and are never overwritten (with `supersede` they are moved aside, as an earlier run is)."""
        others = sorted(entry.name for entry in self.out.iterdir() if entry.name not in (LOCK_FILE, SUPERSEDED))
        if not others:
            return
        if supersede:
            self._set_aside("files no run recorded")
            return
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise RunError(
            f"{self.out}: holds files that no run here recorded ({shown}); a run writes only into an empty "
            "folder or its own. Use another --out, or --supersede to keep them under superseded/."
        )

    def _set_aside(self, what: str = "a run of other settings") -> Path:
        """Move every file of the folder's earlier run (another configuration) into superseded/<time>/:
        nothing is deleted, and the folder is free for this run."""
        target = self.out / SUPERSEDED / time.strftime("%Y%m%dT%H%M%S")
        suffix = 0
        while target.exists():
            suffix += 1
            target = target.with_name(f"{target.name.split('.')[0]}.{suffix}")
        with machine_faults(target):
            target.mkdir(parents=True)
            for entry in sorted(self.out.iterdir()):
                if entry.name not in (LOCK_FILE, SUPERSEDED):
                    entry.rename(target / entry.name)
        print(
            f"{self.out}: held {what}; moved it to {target} and starting over",
            file=sys.stderr,
            flush=True,
        )
        return target

    def prepare(self) -> None:  # noqa: B027 (an optional hook)
        """Set-up before run.json says running (and before any output is touched)."""

    def run(self, show_progress: bool = True, supersede: bool = False):
        """Run, resume, or return the finished result. A folder holding a run of other settings is
        refused, or with `supersede` (the workflow's jobs, whose settings changed) set aside."""
        if self.out.exists() and not self.out.is_dir():
            raise RunError(f"{self.out}: is a file; --out must be a folder")
        with machine_faults(self.out):
            self.out.mkdir(parents=True, exist_ok=True)
        with FolderLock(self.out):
            recorded = self._check_recorded_identity(supersede)
            if recorded and recorded.get("status") == "complete" and (self.out / self.final_file).exists():
                # stdout carries the command's JSON alone
                print(f"{self.out}: {self.run_type} already complete; nothing to do", file=sys.stderr, flush=True)
                return self.load_result()
            self.prepare()
            self.write_run_json("running")
            try:
                result = self.execute(show_progress)
            except RunError as exc:  # divergence and the like: run.json says so, and where; a kill leaves "running"
                self.write_run_json("failed", {"failure": {**self.stopped_at(), "reason": str(exc)}})
                raise
            self.write_run_json("complete", self.completion_fields(result))
            return result
