"""The epoch/step loop every search and training shares: identity-checked checkpoints every N steps
and after every epoch, RNG capture, one metrics.csv row per epoch, a progress bar and the divergence
guard. A subclass supplies only its own step and epoch logic."""

from __future__ import annotations

import math
import sys
import time
from abc import abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from tqdm import tqdm

from stretchnas.runs import RunError
from stretchnas.runs.atomic import atomic_write_text
from stretchnas.runs.checkpoint import (
    capture_rng,
    checkpoint_problem,
    load_checkpoint,
    non_finite_tensors,
    restore_rng,
    save_checkpoint,
    seed_everything,
)
from stretchnas.runs.device import configure_torch, resolve_device
from stretchnas.runs.processes import peak_rss_mib
from stretchnas.runs.resumable import ResumableRun


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
    def of(cls, recipe) -> LoopSettings:
        """The loop's part of a SearchSettings or TrainSettings."""
        return cls(**{name: getattr(recipe, name) for name in cls.__dataclass_fields__})


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

    def stopped_at(self) -> dict:
        progress = getattr(self, "progress", None)
        if progress is None:
            return {}
        return {"epoch": progress.epoch + 1, "steps_completed_in_epoch": progress.step}

    def _kept(self) -> str:
        """What a failed run leaves to resume from, said only after checking it."""
        if not self.checkpoint_path.exists():
            return "no checkpoint was written yet"
        problem = checkpoint_problem(self.checkpoint_path)
        if problem:
            return f"the checkpoint {self.checkpoint_path} does not verify ({problem}); delete it to start over"
        return f"the last good checkpoint (checksum verified) is kept in {self.checkpoint_path}"

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
            print(
                f"{self.out}: resuming at epoch {self.progress.epoch + 1}, step {self.progress.step} "
                f"from {self.checkpoint_path.name}",
                file=sys.stderr,
                flush=True,
            )

    def execute(self, show_progress: bool):
        progress = self.progress
        steps = self.steps_per_epoch()
        ran_no_epoch = progress.epoch >= self.loop.epochs
        for epoch in range(progress.epoch, self.loop.epochs):
            fresh = progress.step == 0
            if fresh:
                progress.sums = {}
            self.start_epoch(epoch, fresh)
            started = time.perf_counter() - progress.seconds
            bar = tqdm(
                total=steps,
                initial=progress.step,
                desc=self.progress_label(epoch),
                disable=not show_progress,
                leave=False,
            )
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
            self._write_metrics(progress.rows)
            progress.epoch, progress.step, progress.seconds, progress.sums = epoch + 1, 0, 0.0, {}
            self._save(progress, f"the end of epoch {epoch + 1}")
        if ran_no_epoch:
            # resumed after its last epoch, its declared outputs perhaps removed (a workflow rerunning a finished
            # job does that first): the checkpoint's rows, the same bytes
            self._write_metrics(progress.rows)
        return self.finish(progress.rows)

    def _write_metrics(self, rows: list[dict]) -> None:
        atomic_write_text(self.out / "metrics.csv", pd.DataFrame(rows).to_csv(index=False))
