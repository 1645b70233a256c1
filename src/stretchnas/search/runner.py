"""One supernet search, resumable at any step with a bitwise-identical result on CPU.

Writes into the output folder:
  arch_epoch_NNN.pt        alpha and beta after every epoch
  genotype_epoch_NNN.json  the derived genotype at each snapshot epoch
  genotype.json            the final genotype
  metrics.csv              one row per epoch
  run.json                 resolved config, versions, data checksum, device, seed, status
  checkpoint.pt            everything needed to continue (removed only by the user)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from stretchnas.atomic import atomic_write_json, atomic_write_text
from stretchnas.data.cache import PreparedData
from stretchnas.data.streams import BatchStream
from stretchnas.data.transforms import train_transform
from stretchnas.derive import derive
from stretchnas.genotype import Genotype, GenotypeError
from stretchnas.runstate import (
    RunError,
    capture_rng,
    configure_torch,
    is_complete,
    load_checkpoint,
    peak_rss_mib,
    provenance,
    restore_rng,
    save_checkpoint,
    seed_everything,
)
from stretchnas.search.strategies import StepBatches, build_strategy
from stretchnas.supernet import CELL_TYPES, SearchNetwork
from stretchnas.topology import build_space


class SearchError(RunError):
    pass


def entropy(probs: torch.Tensor) -> float:
    return float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean())


def build_network(search: dict, num_classes: int = 10) -> SearchNetwork:
    topo = search["topology"]
    space = build_space(
        topo["mode"],
        search["intermediate_nodes"],
        k=topo.get("k", 2),
        allow_empty_output=topo.get("allow_empty_output", False),
    )
    return SearchNetwork(
        space,
        C=search["channels"],
        num_classes=num_classes,
        layers=search["layers"],
        op_space=search["op_space"],
        arch_init_std=search["arch"]["init_std"],
        channels_last=search["channels_last"],
        recompute=search["recompute"],
    )


@dataclass
class Progress:
    epoch: int = 0  # the epoch in progress (0-based)
    step: int = 0  # steps of that epoch already done
    sums: dict | None = None  # running sums of the epoch in progress
    rows: list | None = None  # finished epochs' metrics
    seconds: float = 0.0  # wall seconds spent in the epoch so far

    def fresh_sums(self):
        self.sums = {
            k: 0.0
            for k in (
                "train_loss",
                "train_correct",
                "train_count",
                "val_loss",
                "val_correct",
                "val_count",
                "regularizer",
                "steps",
            )
        }


class SearchRun:
    def __init__(self, name: str, search: dict, data: PreparedData, out: str | Path, seed: int):
        self.name = name
        self.search = search
        self.data = data
        self.out = Path(out)
        self.seed = seed
        self.identity = {
            "experiment": name,
            "seed": seed,
            "search": search,
            "data_manifest_sha256": data.manifest_sha256,
        }

    # ----------------------------------------------------------------- set-up

    def _streams(self) -> dict[str, BatchStream | None]:
        s = self.search
        manifest = self.data.manifest
        transform = train_transform(manifest["mean"], manifest["std"], crop=manifest["image_size"][0])
        # DARTS wraps one dataset object for both queues, so architecture batches are
        # augmented like training batches; we keep that.
        part = lambda name: self.data.subset(s["split"], name, transform)  # noqa: E731
        streams = {
            "train": BatchStream(part("train"), s["batch_size"], self.seed, "train", mode="epoch"),
            "val_alpha": BatchStream(part("val_alpha"), s["batch_size"], self.seed, "val_alpha", s["arch_batches"]),
            "val_beta": None,
        }
        if self.net.topology.has_beta and s["arch_split"] == "separate":
            streams["val_beta"] = BatchStream(
                part("val_beta"), s["batch_size"], self.seed, "val_beta", s["arch_batches"]
            )
        return streams

    def steps_per_epoch(self) -> int:
        full = len(self.streams["train"])
        cap = self.search["max_steps_per_epoch"]
        return min(full, cap) if cap else full

    # ----------------------------------------------------------------- checkpoint

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def _save_checkpoint(self, progress: Progress) -> None:
        state = {
            "identity": self.identity,
            "progress": progress.__dict__,
            "model": self.net.state_dict(),
            "strategy": self.strategy.state_dict(),
            "streams": {k: v.state_dict() for k, v in self.streams.items() if v is not None},
            "rng": capture_rng(),
        }
        save_checkpoint(self.checkpoint_path, state)

    def _load_checkpoint(self) -> Progress | None:
        state = load_checkpoint(self.checkpoint_path, self.identity)
        if state is None:
            return None
        self.net.load_state_dict(state["model"])
        self.strategy.load_state_dict(state["strategy"])
        for key, stream_state in state["streams"].items():
            self.streams[key].load_state_dict(stream_state)
        restore_rng(state["rng"])
        return Progress(**state["progress"])

    # ----------------------------------------------------------------- outputs

    def _arch_state(self) -> dict:
        return {
            "alpha": {k: self.net.alpha[k].detach().clone() for k in CELL_TYPES},
            "beta": {k: self.net.beta[k].detach().clone() for k in self.net.beta},
            "op_names": self.net.op_names,
            "topology": self.net.topology.mode,
        }

    def _genotype(self) -> tuple[Genotype | None, int]:
        try:
            genotype = derive(self.net)
        except GenotypeError:
            return None, self.net.topology.n_nodes * 2
        return genotype, genotype.meta["num_dropped"]

    def _epoch_row(self, progress: Progress, epoch: int, seconds: float, lr: float, dropped: int) -> dict:
        s = progress.sums
        row = {
            "epoch": epoch + 1,
            "train_loss": s["train_loss"] / max(s["steps"], 1),
            "train_acc": s["train_correct"] / max(s["train_count"], 1),
            "val_loss": s["val_loss"] / max(s["steps"], 1),
            "val_acc": s["val_correct"] / max(s["val_count"], 1),
            "lr": lr,
            "arch_lr": self.search["arch"]["lr"],
            "regularizer": s["regularizer"] / max(s["steps"], 1),
            "dropped_nodes": dropped,
            "seconds": seconds,
            "peak_rss_mib": peak_rss_mib(),
            "images_per_s": s["train_count"] / seconds if seconds > 0 else float("nan"),
        }
        with torch.no_grad():
            for kind in CELL_TYPES:
                row[f"alpha_entropy_{kind}"] = entropy(torch.softmax(self.net.alpha[kind], -1))
                if self.net.topology.has_beta:
                    probs = self.net.topology_weights.probabilities(self.net.beta[kind])
                    row[f"beta_entropy_{kind}"] = float(np.mean([entropy(p) for p in probs]))
        return row

    def _write_run_json(self, status: str, extra: dict | None = None) -> None:
        atomic_write_json(
            self.out / "run.json",
            {
                "kind": "search",
                "status": status,
                "experiment": self.name,
                "seed": self.seed,
                "config": self.search,
                **provenance(self.data),
                **(extra or {}),
            },
        )

    # ----------------------------------------------------------------- loop

    def run(self, show_progress: bool = True) -> Genotype:
        s = self.search
        if is_complete(self.out, "genotype.json"):
            print(f"{self.out}: search already complete; nothing to do")
            return Genotype.load(self.out / "genotype.json")
        self.out.mkdir(parents=True, exist_ok=True)
        configure_torch(s["threads"], s["deterministic"])
        seed_everything(self.seed)
        self.net = build_network(s, num_classes=len(self.data.manifest["classes"]))
        self.strategy = build_strategy(s["optimizer"], self.net, s)
        self.streams = self._streams()
        progress = self._load_checkpoint() or Progress(rows=[])
        if progress.sums is None:
            progress.fresh_sums()
        self._write_run_json("running")
        steps = self.steps_per_epoch()

        for epoch in range(progress.epoch, s["epochs"]):
            if progress.step == 0:
                self.streams["train"].start_pass(epoch)
            lr = self.strategy.scheduler.get_last_lr()[0]
            bar = tqdm(
                total=steps,
                initial=progress.step,
                desc=f"{self.name} epoch {epoch + 1}/{s['epochs']}",
                disable=not show_progress,
                leave=False,
            )
            started = time.perf_counter() - progress.seconds
            for step in range(progress.step, steps):
                batches = StepBatches(
                    self.streams["train"].next(),
                    self.streams["val_alpha"].next(),
                    self.streams["val_beta"].next() if self.streams["val_beta"] else None,
                )
                result = self.strategy.step(batches)
                if not (math.isfinite(result.train_loss) and math.isfinite(result.val_loss)):
                    raise SearchError(
                        f"non-finite loss at epoch {epoch + 1}, step {step + 1} (train {result.train_loss}, "
                        f"val {result.val_loss}); the last good checkpoint is kept in {self.checkpoint_path}"
                    )
                sums = progress.sums
                for key in ("train_loss", "val_loss", "regularizer"):
                    sums[key] += getattr(result, key)
                for key in ("train_correct", "train_count", "val_correct", "val_count"):
                    sums[key] += getattr(result, key)
                sums["steps"] += 1
                progress.step = step + 1
                bar.update(1)
                bar.set_postfix(
                    loss=f"{sums['train_loss'] / sums['steps']:.3f}",
                    acc=f"{sums['train_correct'] / max(sums['train_count'], 1):.3f}",
                )
                if progress.step % s["checkpoint_every_steps"] == 0 and progress.step < steps:
                    progress.seconds = time.perf_counter() - started
                    self._save_checkpoint(progress)
            bar.close()
            seconds = time.perf_counter() - started
            genotype, dropped = self._genotype()
            progress.rows.append(self._epoch_row(progress, epoch, seconds, lr, dropped))
            self.strategy.scheduler.step()
            self._write_epoch_outputs(epoch, progress.rows, genotype)
            progress.epoch, progress.step, progress.seconds = epoch + 1, 0, 0.0
            progress.fresh_sums()
            self._save_checkpoint(progress)

        genotype, _ = self._genotype()
        if genotype is None:
            raise SearchError("the final architecture has no intermediate node with an input")
        genotype.save(self.out / "genotype.json")
        self._write_run_json("complete", {"final_genotype": "genotype.json"})
        return genotype

    def _write_epoch_outputs(self, epoch: int, rows: list[dict], genotype: Genotype | None) -> None:
        number = epoch + 1
        tmp = self.out / f".arch_epoch_{number:03d}.pt.tmp"
        torch.save(self._arch_state(), tmp)
        tmp.replace(self.out / f"arch_epoch_{number:03d}.pt")
        if number in self.search["snapshot_epochs"]:
            if genotype is not None:
                genotype.save(self.out / f"genotype_epoch_{number:03d}.json")
        atomic_write_text(self.out / "metrics.csv", pd.DataFrame(rows).to_csv(index=False))
