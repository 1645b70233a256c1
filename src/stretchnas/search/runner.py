"""One supernet search, resumable at any step with a bitwise-identical result on CPU.

Writes into the output folder:
  arch_epoch_NNN.pt        alpha and beta after every epoch
  genotype_epoch_NNN.json  the derived genotype at each snapshot epoch
  snapshots.json           the index of the snapshot epochs (stretchnas.search.snapshots)
  genotype.json            the final genotype
  metrics.csv              one row per epoch
  run.json                 identity, resolved config, versions, data checksum, device, seed, status
  checkpoint.pt            everything needed to continue (removed only by the user)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from stretchnas.data.cache import PreparedData
from stretchnas.data.streams import BatchStream, make_stream
from stretchnas.data.transforms import imagenet_transforms, train_transform
from stretchnas.method.derive import Derivation, derive_architecture
from stretchnas.method.genotype import Genotype, load_genotype
from stretchnas.method.networks import build_search_network
from stretchnas.method.supernet import IMAGENET_SEARCH_CROP
from stretchnas.runs import RunError
from stretchnas.runs.atomic import atomic_save
from stretchnas.runs.device import to_device
from stretchnas.runs.loop import EpochRun, LoopSettings
from stretchnas.search.optimizers import StepBatches, build_search_optimizer
from stretchnas.search.snapshots import snapshot_file, write_index
from stretchnas.settings.params import Experiment
from stretchnas.settings.types import SearchSettings


class SearchError(RunError):
    pass


def entropy(probs: torch.Tensor) -> float:
    return float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean())


class SearchRun(EpochRun):
    run_type, final_file = "search", "genotype.json"
    loss_keys = ("train_loss", "val_loss")

    def __init__(
        self, name: str, search: SearchSettings, data: PreparedData, out: str | Path, seed: int, imagenet: bool = False
    ):
        self.name, self.search, self.imagenet = name, search, imagenet
        super().__init__(out, data, seed, LoopSettings.of(search))

    @property
    def identity(self) -> dict:
        identity = {
            "experiment": self.name,
            "seed": self.seed,
            "search": self.search.identity(),
            "data_manifest_sha256": self.data.manifest_sha256,
        }
        return {**identity, "imagenet": True} if self.imagenet else identity  # CIFAR runs keep their identity

    def describe(self) -> dict:
        return {"experiment": self.name, "seed": self.seed, "config": self.search.to_tree(), "imagenet": self.imagenet}

    def load_result(self) -> Genotype:
        return load_genotype(self.out / self.final_file)

    # ----------------------------------------------------------------- set-up

    def build(self) -> None:
        s = self.search
        self.net = build_search_network(s, len(self.data.manifest["classes"]), self.imagenet).to(self.device)
        self.optimizer = build_search_optimizer(s.optimizer, self.net, s)
        self.streams = self._streams()

    def _streams(self) -> dict[str, BatchStream | None]:
        s = self.search
        manifest = self.data.manifest
        if self.imagenet:  # PC-DARTS's ImageNet search reads 224x224 crops, augmented as in training
            transform = imagenet_transforms(manifest["mean"], manifest["std"], IMAGENET_SEARCH_CROP)[0]
        else:
            transform = train_transform(manifest["mean"], manifest["std"], crop=manifest["image_size"][0])
        # DARTS wraps one dataset object for both queues, so architecture batches are
        # augmented like training batches; we keep that.
        pin = self.device.type == "cuda"

        def stream(part: str, mode: str) -> BatchStream:
            dataset = self.data.subset(s.split_scheme, part, transform)
            return make_stream(dataset, s.batch_size, self.seed, part, mode, s.workers, pin)

        streams = {
            "train": stream("train", "epoch"),
            "val_alpha": stream("val_alpha", s.arch_batches),
            "val_beta": None,
        }
        if self.net.topology.has_beta and s.beta_data == "separate":
            streams["val_beta"] = stream("val_beta", s.arch_batches)
        return streams

    def component_state(self) -> dict:
        return {
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "streams": {k: v.state_dict() for k, v in self.streams.items() if v is not None},
        }

    def load_component_state(self, state: dict) -> None:
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for key, stream_state in state["streams"].items():
            self.streams[key].load_state_dict(stream_state)

    def steps_per_epoch(self) -> int:
        full = len(self.streams["train"])
        cap = self.loop.max_steps_per_epoch
        return min(full, cap) if cap else full

    # ----------------------------------------------------------------- loop hooks

    def progress_label(self, epoch: int) -> str:
        return f"{self.name} epoch {epoch + 1}/{self.loop.epochs}"

    def start_epoch(self, epoch: int, fresh: bool) -> None:
        if fresh:
            self.streams["train"].start_pass(epoch)
        self.optimizer.start_epoch(epoch)

    def train_step(self) -> dict[str, float]:
        batches = StepBatches(
            to_device(self.streams["train"].next(), self.device),
            to_device(self.streams["val_alpha"].next(), self.device),
            to_device(self.streams["val_beta"].next(), self.device) if self.streams["val_beta"] else None,
        )
        result = self.optimizer.step(batches)
        return {
            "train_loss": result.train_loss,
            "val_loss": result.val_loss,
            "regularizer": result.regularizer,
            "train_correct": result.train_correct,
            "train_count": result.train_count,
            "val_correct": result.val_correct,
            "val_count": result.val_count,
            "images": result.train_count,
        }

    def postfix(self, sums: dict) -> dict:
        return {
            "loss": f"{sums['train_loss'] / sums['steps']:.3f}",
            "acc": f"{sums['train_correct'] / max(sums['train_count'], 1):.3f}",
        }

    def epoch_row(self, epoch: int, sums: dict) -> dict:
        self.derivation = derive_architecture(self.net)
        steps = max(sums.get("steps", 0), 1)
        # no architecture step this epoch (PC-DARTS's warm-up): no validation batch was read
        validated = sums.get("val_count", 0) > 0
        row = {
            "epoch": epoch + 1,
            "train_loss": sums.get("train_loss", 0.0) / steps,
            "train_acc": sums.get("train_correct", 0) / max(sums.get("train_count", 0), 1),
            "val_loss": sums.get("val_loss", 0.0) / steps if validated else None,
            "val_acc": sums.get("val_correct", 0) / sums["val_count"] if validated else None,
            "lr": self.optimizer.scheduler.get_last_lr()[0],
            "arch_lr": self.search.arch.lr,
            "regularizer": sums.get("regularizer", 0.0) / steps,
            "dropped_nodes": self.derivation.num_dropped,
        }
        with torch.no_grad():
            for cell_type in self.net.cell_types:
                row[f"alpha_entropy_{cell_type}"] = entropy(torch.softmax(self.net.alpha[cell_type], -1))
                if self.net.topology.has_beta:
                    probs = self.net.topology_weights.probabilities(self.net.beta[cell_type])
                    row[f"beta_entropy_{cell_type}"] = float(np.mean([entropy(p) for p in probs]))
        return row

    def end_epoch(self, epoch: int, rows: list[dict]) -> None:
        self.optimizer.scheduler.step()
        self._write_epoch_outputs(epoch + 1, self.derivation)

    def _write_epoch_outputs(self, number: int, derivation: Derivation) -> None:
        atomic_save(self.out / f"arch_epoch_{number:03d}.pt", lambda buffer: torch.save(self._arch_state(), buffer))
        if number in self.search.snapshot_epochs and derivation.genotype is not None:
            derivation.genotype.save(snapshot_file(self.out, number))

    def _arch_state(self) -> dict:
        return {
            "alpha": {c: self.net.alpha[c].detach().cpu().clone() for c in self.net.cell_types},
            "beta": {c: self.net.beta[c].detach().cpu().clone() for c in self.net.beta},
            "op_names": self.net.op_names,
            "topology": self.net.topology.mode,
        }

    def finish(self, rows: list[dict]) -> Genotype:
        genotype = derive_architecture(self.net).genotype
        if genotype is None:
            raise SearchError("the final architecture has no intermediate node with an input")
        write_index(self.out, self.search.snapshot_epochs)
        genotype.save(self.out / self.final_file)
        return genotype


def run_search(
    experiment: Experiment,
    data: PreparedData,
    out: str | Path,
    seed: int | None = None,
    show_progress: bool = True,
    supersede: bool = False,
) -> Genotype:
    """Search (or resume) one seed of an experiment; default seed: the experiment's first."""
    seed = experiment.search.seeds[0] if seed is None else seed
    run = SearchRun(experiment.name, experiment.search, data, out, seed, experiment.searches_imagenet)
    return run.run(show_progress, supersede)
