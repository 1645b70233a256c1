"""The one skeleton of every resumable run: search, evaluation training and the random baselines.

`ResumableRun` owns an output folder: it refuses a finished run of another
identity, returns a finished run of the same identity unchanged, and writes
run.json (status, identity, provenance). `EpochRun` adds the epoch/step loop
they share: identity-checked checkpoints every N steps and after every epoch,
RNG capture, one metrics.csv row per epoch, a progress bar and the divergence
guard. A subclass supplies only its own step and epoch logic.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from stretchnas import __version__
from stretchnas.atomic import (
    OutputError,
    atomic_save,
    atomic_write_json,
    atomic_write_text,
    machine_faults,
)
from stretchnas.device import (
    capture_cuda_rng,
    describe_device,
    make_deterministic,
    resolve_device,
    restore_cuda_rng,
)
from stretchnas.documents import read_document
from stretchnas.errors import StretchnasError
from stretchnas.processes import owner_gone, owner_mark, peak_rss_mib


class RunError(StretchnasError, RuntimeError):
    """A run cannot start or continue; the message says why and what to do."""


# --------------------------------------------------------------------------- RNG, torch, provenance


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def capture_rng() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "cuda": capture_cuda_rng()}  # fmt: skip


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    restore_cuda_rng(state.get("cuda"))


def configure_torch(threads: int | None, deterministic: bool, device: torch.device) -> None:
    if threads:
        torch.set_num_threads(threads)
    if deterministic:
        make_deterministic(device)


def _git(*args: str) -> str | None:
    """git's output for this package's checkout, or None where there is no git or no checkout."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout  # fmt: skip
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
    return {"stretchnas": __version__, "torch": torch.__version__, "git_commit": git_commit(),
            "git_tracked_changes": git_tracked_changes()}  # fmt: skip


def machine() -> dict:
    """The computer a run ran on, without naming it: OS, architecture, CPU model and logical CPUs."""
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    return {"platform": platform.platform(), "architecture": platform.machine(),
            "cpu_model": model or platform.processor() or None, "logical_cpus": os.cpu_count()}  # fmt: skip


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
            "source_name": Path(source["location"]).name if source.get("location") else None,
            "source_sha256": source.get("sha256") or source.get("content_sha256"),
        },
        **describe_device(device or torch.device("cpu")),
        "threads": torch.get_num_threads(),
    }


# --------------------------------------------------------------------------- identities and checkpoints


def _flatten(tree, prefix="") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def identity_differences(recorded: dict, requested: dict, recorded_as: str) -> list[str]:
    """'field: old (recorded_as) vs new (now)' for every field in which two identities differ."""
    a, b = _flatten(recorded), _flatten(requested)
    return [
        f"{k}: {a.get(k, '<unset>')!r} ({recorded_as}) vs {b.get(k, '<unset>')!r} (now)"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


def as_json(obj: Any) -> Any:
    """`obj` as it reads back from JSON (tuples become lists), so identities compare equal."""
    return json.loads(json.dumps(obj))


def non_finite_tensors(tree, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in a (nested) state dict that hold NaN or infinity."""
    bad = []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list | tuple) else ()
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                bad.append(name)
        else:
            bad.extend(non_finite_tensors(value, f"{name}."))
    return bad


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_save(path, lambda buffer: torch.save(state, buffer))


def load_checkpoint(path: Path, identity: dict) -> dict | None:
    """The checkpoint's state, or None; refuses one written under another identity, or unreadable."""
    if not path.exists():
        return None
    try:
        # on the CPU; load_state_dict then copies each tensor to the device that resumes the run
        state = torch.load(path, weights_only=False, map_location="cpu")
        if not isinstance(state, dict) or "identity" not in state:
            raise ValueError("not a checkpoint of this tool")
    except Exception as exc:  # truncated or empty files raise EOFError, RuntimeError, UnpicklingError, ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunError(
            f"{path}: corrupt checkpoint ({reason}); delete it to start this run over from the beginning, "
            "or use another --out"
        ) from None
    if as_json(state["identity"]) != as_json(identity):
        raise RunError(
            f"{path}: written by a different configuration; refusing to resume. Differing fields: "
            + "; ".join(identity_differences(as_json(state["identity"]), as_json(identity), "checkpoint"))
            + ". Use another --out or delete the folder."
        )
    return state


# --------------------------------------------------------------------------- the folder lock

LOCK_FILE = ".stretchnas.lock"
SUPERSEDED = "superseded"  # where --supersede keeps a folder's earlier run of other settings


class FolderLock:
    """An exclusive claim on an output folder for the life of a run.

    A lock file created with O_EXCL holds the holder's PID, host and process start time;
    it is removed on exit. A lock whose holder no longer runs on this host (killed, or its
    PID reused) is stale and taken over; one held by another host is reported, not
    guessed about, since its process cannot be checked from here.
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_FILE
        self.owner = owner_mark()

    def __enter__(self) -> FolderLock:
        for _ in range(3):
            try:
                with machine_faults(self.path):
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except OutputError as exc:
                if exc.errno != errno.EEXIST:
                    raise
            else:
                with os.fdopen(fd, "w") as handle:
                    json.dump(self.owner, handle)
                return self
            try:
                holder = json.loads(self.path.read_text() or "{}")
            except (OSError, ValueError):
                holder = {}  # being written right now, or garbage: treat as held
            holder = holder if isinstance(holder, dict) else {}
            if owner_gone(holder):
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            raise RunError(
                f"{self.path.parent}: another run is using this folder (process {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}); wait for it or use another --out. If that run is gone, delete {self.path}"
            )
        raise RunError(f"{self.path}: could not take the lock; try again")

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


# --------------------------------------------------------------------------- the skeleton


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
            return None
        recorded = read_document(self.run_json, json.loads, RunError, "run record")
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

    def _set_aside(self) -> Path:
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
        print(f"{self.out}: held a run of other settings; moved it to {target} and starting over",
              file=sys.stderr, flush=True)  # fmt: skip
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
                print(f"{self.out}: {self.run_type} already complete; nothing to do")
                return self.load_result()
            self.prepare()
            self.write_run_json("running")
            result = self.execute(show_progress)
            self.write_run_json("complete", self.completion_fields(result))
            return result


@dataclass(frozen=True)
class LoopSettings:
    """What the epoch loop reads from a search or training recipe."""

    epochs: int
    max_steps_per_epoch: int | None
    checkpoint_every_steps: int
    max_loss: float
    device: str
    threads: int | None
    deterministic: bool

    @classmethod
    def of(cls, recipe: dict) -> LoopSettings:
        return cls(**{name: recipe[name] for name in cls.__dataclass_fields__})


@dataclass
class Progress:
    """Where the loop stands; saved in every checkpoint."""

    epoch: int = 0  # the epoch in progress (0-based)
    step: int = 0  # steps of that epoch already done
    sums: dict = field(default_factory=dict)  # running sums of the epoch in progress
    rows: list = field(default_factory=list)  # finished epochs' metrics
    seconds: float = 0.0  # wall seconds spent in the epoch so far


class EpochRun(ResumableRun):
    """Epochs of steps, resumable at any step with a bitwise-identical result on CPU.

    Hooks, called in this order: `build` once; per epoch `start_epoch`, then
    `train_step` (returns numbers to sum over the epoch) for each step, then
    `epoch_row` (the metrics row; may evaluate) and `end_epoch` (scheduler step,
    per-epoch outputs); finally `finish`.
    """

    loss_keys: ClassVar[tuple[str, ...]]  # the step outputs the divergence guard checks

    def __init__(self, out, data, seed: int, loop: LoopSettings):
        super().__init__(out, data, seed)
        self.loop = loop

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    # ----------------------------------------------------------------- hooks

    @abstractmethod
    def build(self) -> None:
        """Create the model, optimisers and batch streams (after seeding)."""

    @abstractmethod
    def component_state(self) -> dict:
        """State of the model, optimisers and streams for a checkpoint."""

    @abstractmethod
    def load_component_state(self, state: dict) -> None: ...

    @abstractmethod
    def steps_per_epoch(self) -> int: ...

    def start_epoch(self, epoch: int, fresh: bool) -> None:
        """Called before the epoch's first step, or before its first remaining step on resume."""

    @abstractmethod
    def train_step(self) -> dict[str, float]:
        """One step; numbers summed over the epoch (`images`: images the weights were trained on)."""

    @abstractmethod
    def epoch_row(self, epoch: int, sums: dict) -> dict:
        """The epoch's metrics (without timing) from the summed step outputs."""

    def end_epoch(self, epoch: int, rows: list[dict]) -> None:
        """After the row: scheduler step and per-epoch outputs."""

    @abstractmethod
    def finish(self, rows: list[dict]) -> Any:
        """Write the final file; return the result."""

    def progress_label(self, epoch: int) -> str:
        return f"{self.run_type} epoch {epoch + 1}/{self.loop.epochs}"

    def postfix(self, sums: dict) -> dict:
        return {}

    # ----------------------------------------------------------------- checkpoints

    def _kept(self) -> str:
        if self.checkpoint_path.exists():
            return f"the last good checkpoint is kept in {self.checkpoint_path}"
        return "no checkpoint was written yet"

    def _checked_state(self, where: str) -> dict:
        """The components' state, refused if any weight, optimiser state or statistic is non-finite."""
        components = self.component_state()
        bad = non_finite_tensors(components)
        if bad:
            raise RunError(
                f"diverged: non-finite values at {where} in {', '.join(bad[:3])}"
                + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
                + f"; not checkpointed; {self._kept()}"
            )
        return components

    def _save(self, progress: Progress, where: str) -> None:
        components = self._checked_state(where)
        state = {"identity": self.identity, "progress": asdict(progress), "rng": capture_rng()}
        save_checkpoint(self.checkpoint_path, state | components)

    def _resume(self) -> Progress:
        state = load_checkpoint(self.checkpoint_path, self.identity)
        if state is None:
            return Progress()
        self.load_component_state(state)
        restore_rng(state["rng"])
        return Progress(**state["progress"])

    def _check_loss(self, stats: dict, epoch: int, step: int) -> None:
        bad = {key: stats[key] for key in self.loss_keys if not math.isfinite(stats[key])}
        if bad:
            values = ", ".join(f"{k} {v}" for k, v in bad.items())
            raise RunError(f"non-finite loss at epoch {epoch + 1}, step {step + 1} ({values}); {self._kept()}")
        high = {key: stats[key] for key in self.loss_keys if stats[key] > self.loop.max_loss}
        if high:
            values = ", ".join(f"{k} {v:.4g}" for k, v in high.items())
            raise RunError(
                f"diverged: loss above max_loss {self.loop.max_loss:g} at epoch {epoch + 1}, step {step + 1} "
                f"({values}); {self._kept()}"
            )

    def _check_row(self, row: dict, epoch: int) -> None:
        bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise RunError(f"diverged: non-finite {', '.join(bad)} at the end of epoch {epoch + 1}; {self._kept()}")

    # ----------------------------------------------------------------- loop

    def prepare(self) -> None:
        self.device = resolve_device(self.loop.device)
        configure_torch(self.loop.threads, self.loop.deterministic, self.device)
        seed_everything(self.seed)
        self.build()
        self.progress = self._resume()
        if self.progress.epoch or self.progress.step:  # to the log, so a retried job shows it continued
            print(f"{self.out}: resuming at epoch {self.progress.epoch + 1}, step {self.progress.step} "
                  f"from {self.checkpoint_path.name}", file=sys.stderr, flush=True)  # fmt: skip

    def execute(self, show_progress: bool):
        progress = self.progress
        steps = self.steps_per_epoch()
        for epoch in range(progress.epoch, self.loop.epochs):
            fresh = progress.step == 0
            if fresh:
                progress.sums = {}
            self.start_epoch(epoch, fresh)
            started = time.perf_counter() - progress.seconds
            bar = tqdm(total=steps, initial=progress.step, desc=self.progress_label(epoch),
                       disable=not show_progress, leave=False)  # fmt: skip
            for step in range(progress.step, steps):
                stats = self.train_step()
                self._check_loss(stats, epoch, step)
                for key, value in stats.items():
                    progress.sums[key] = progress.sums.get(key, 0) + value
                progress.sums["steps"] = progress.sums.get("steps", 0) + 1
                progress.step = step + 1
                bar.update(1)
                bar.set_postfix(self.postfix(progress.sums))
                if progress.step % self.loop.checkpoint_every_steps == 0 and progress.step < steps:
                    progress.seconds = time.perf_counter() - started
                    self._save(progress, f"epoch {epoch + 1}, step {progress.step}")
            bar.close()
            row = self.epoch_row(epoch, progress.sums)
            self._check_row(row, epoch)
            self._checked_state(f"the end of epoch {epoch + 1}")  # before any per-epoch output is written
            row["seconds"] = seconds = time.perf_counter() - started
            row["peak_rss_mib"] = peak_rss_mib()
            row["images_per_s"] = progress.sums.get("images", 0) / seconds if seconds > 0 else float("nan")
            progress.rows.append(row)
            self.end_epoch(epoch, progress.rows)
            atomic_write_text(self.out / "metrics.csv", pd.DataFrame(progress.rows).to_csv(index=False))
            progress.epoch, progress.step, progress.seconds, progress.sums = epoch + 1, 0, 0.0, {}
            self._save(progress, f"the end of epoch {epoch + 1}")
        return self.finish(progress.rows)
