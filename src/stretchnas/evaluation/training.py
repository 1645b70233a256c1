"""Evaluation training: a derived cell stacked into a network and trained from scratch.

Resumable like the search (`stretchnas.runs.loop`): a killed run re-run with the same command
continues and ends with bitwise-identical metrics on CPU.

Writes into the output folder: metrics.csv (one row per epoch), result.json
(final test error as the headline; the best epoch's error is labelled as such),
checkpoint.pt, run.json.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from stretchnas.data.cache import PreparedData
from stretchnas.data.streams import make_stream
from stretchnas.data.transforms import eval_transform, imagenet_transforms, train_transform
from stretchnas.evaluation.measure import count_conv_linear_macs_m, count_params_m, count_thop_style_flops_m
from stretchnas.method.evalnet import EvalNetwork
from stretchnas.method.genotype import Genotype
from stretchnas.method.published_genotypes import get_genotype
from stretchnas.runs import RunError
from stretchnas.runs.atomic import atomic_write_json
from stretchnas.runs.device import to_device
from stretchnas.runs.documents import read_document
from stretchnas.runs.loop import EpochRun, LoopSettings
from stretchnas.settings.types import TrainSettings


def params_at(genotype: Genotype, layers: int, C: int, imagenet: bool, num_classes: int) -> float:
    model = EvalNetwork(genotype, C, num_classes, layers, auxiliary=True, imagenet=imagenet)
    return count_params_m(model)


MAX_CHANNELS = 256  # the widest C a parameter budget may choose (DARTS's networks use 36-48)


def param_curve(genotype: Genotype, layers: int, imagenet: bool, num_classes: int) -> Callable[[int], float]:
    """Params (M, auxiliary head excluded) as a function of even C, without building the network at C.

    Every weight of the network is a C x C, C x constant or constant term (stages at C, 2C, 4C; even C halves
    exactly in FactorizedReduce), so the count is a quadratic in C: interpolated exactly, in integers, through
    the networks built at C = 2, 4, 6 (tests/test_training.py checks it against built networks)."""
    points = [(c, round(params_at(genotype, layers, c, imagenet, num_classes) * 1e6)) for c in (2, 4, 6)]

    def params_m(c: int) -> float:
        total = Fraction(0)
        for i, (ci, pi) in enumerate(points):
            term = Fraction(pi)
            for j, (cj, _) in enumerate(points):
                if j != i:
                    term *= Fraction(c - cj, ci - cj)
            total += term
        return int(total) / 1e6

    return params_m


def choose_channels(genotype: Genotype, layers: int, target_m: float, imagenet: bool = False, num_classes: int = 10):
    """The even C whose parameter count (M, auxiliary head excluded) is closest to `target_m`; a target outside
    what C = 2..MAX_CHANNELS reaches is refused, with that range."""
    params = param_curve(genotype, layers, imagenet, num_classes)
    low, high = params(2), params(MAX_CHANNELS)
    if not (math.isfinite(target_m) and low <= target_m <= high):
        raise RunError(
            f"--target-params {target_m}: a parameter budget in millions that this cell at {layers} layers can "
            f"reach: {low:.4g} M (C=2) to {high:.4g} M (C={MAX_CHANNELS}); e.g. 3.4, not 3400000"
        )
    lo, hi = 2, 2
    while params(hi) < target_m:
        lo, hi = hi, min(hi * 2, MAX_CHANNELS)
    while hi - lo > 2:  # parameters grow monotonically with C
        mid = (lo + hi) // 2 // 2 * 2
        if params(mid) < target_m:
            lo = mid
        else:
            hi = mid
    candidates = {c: params(c) for c in (lo, hi)}
    best = min(candidates, key=lambda c: (abs(candidates[c] - target_m), c))
    return best, candidates[best]


def _eval_batches(dataset, batch_size: int, workers: int):
    if getattr(dataset, "reads_files", False):  # decoded from files: in DataLoader workers
        yield from DataLoader(dataset, batch_size=batch_size, num_workers=workers)
        return
    for start in range(0, len(dataset), batch_size):
        samples = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        yield torch.stack([s[0] for s in samples]), torch.tensor([s[1] for s in samples])


TOP_K = 5  # ImageNet's second error rate (DARTS train_imagenet.py reports top-1 and top-5)


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset, batch_size: int, device=None, workers: int = 0):
    """(mean loss, top-1 accuracy, top-5 accuracy); top-5 is 1.0 where there are at most 5 classes."""
    model.eval()
    total_loss, correct, correct_top_k = 0.0, 0, 0
    for x, y in _eval_batches(dataset, batch_size, workers):
        x, y = to_device((x, y), device or torch.device("cpu"))
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += int((logits.argmax(1) == y).sum())
        top_k = logits.topk(min(TOP_K, logits.shape[1]), dim=1).indices
        correct_top_k += int((top_k == y[:, None]).any(dim=1).sum())
    model.train()
    return total_loss / len(dataset), correct / len(dataset), correct_top_k / len(dataset)


@dataclass(frozen=True)
class TrainSpec:
    """What network is trained on which data: everything of an evaluation training but the recipe.

    `train_part` / `eval_part` are (split scheme, part): evaluation training uses every
    selected training image and the test set; random search trains on D_tr and ranks on D_val.
    """

    genotype: Genotype
    name: str
    layers: int
    channels: int
    imagenet: bool = False
    channel_choice: dict | None = None
    train_part: tuple[str, str] = ("", "pool")
    eval_part: tuple[str, str] = ("", "test")

    @property
    def eval_name(self) -> str:
        return "test" if self.eval_part[1] == "test" else "val"


class TrainRun(EpochRun):
    run_type = "train"
    final_file = "result.json"
    loss_keys = ("loss",)

    def __init__(self, spec: TrainSpec, recipe: TrainSettings, data: PreparedData, out: str | Path, seed: int):
        super().__init__(out, data, seed, LoopSettings.of(recipe))
        self.spec = spec
        self.recipe = recipe

    @property
    def identity(self) -> dict:
        spec = self.spec
        return {
            "train_part": list(spec.train_part),
            "eval_part": list(spec.eval_part),
            "genotype": spec.genotype.structure(),
            "layers": spec.layers,
            "channels": spec.channels,
            "imagenet": spec.imagenet,
            "seed": self.seed,
            "recipe": self.recipe.identity(),
            "data_manifest_sha256": self.data.manifest_sha256,
        }

    def describe(self) -> dict:
        spec = self.spec
        return {
            "genotype": spec.name,
            "layers": spec.layers,
            "channels": spec.channels,
            "channel_choice": spec.channel_choice,
            "imagenet": spec.imagenet,
            "seed": self.seed,
            "recipe": self.recipe.to_tree(),
        }

    def load_result(self) -> dict:
        return read_document(self.out / self.final_file, json.loads, RunError, "training result")

    # ----------------------------------------------------------------- set-up

    def build(self) -> None:
        r, spec = self.recipe, self.spec
        self.num_classes = len(self.data.manifest["classes"])
        model = EvalNetwork(
            spec.genotype,
            spec.channels,
            self.num_classes,
            spec.layers,
            auxiliary=r.auxiliary_weight > 0,
            imagenet=spec.imagenet,
        )
        self.model = model.to(self.device)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay
        )
        self.scheduler = self._scheduler(self.optimizer)
        train_set, self.eval_set = self._datasets()
        self.stream = make_stream(
            train_set,
            r.batch_size,
            self.seed,
            "train",
            mode="epoch",
            workers=r.workers,
            pin_memory=self.device.type == "cuda",
        )
        self.model.train()

    def _datasets(self):
        m = self.data.manifest
        if self.spec.imagenet:
            train_t, test_t = imagenet_transforms(m["mean"], m["std"], self.recipe.crop)
        else:
            train_t = train_transform(m["mean"], m["std"], crop=m["image_size"][0], cutout=self.recipe.cutout)
            test_t = eval_transform(m["mean"], m["std"])
        return self.data.subset(*self.spec.train_part, train_t), self.data.subset(*self.spec.eval_part, test_t)

    def _scheduler(self, optimizer):
        r = self.recipe
        if r.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=r.epochs, eta_min=r.lr_min)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=r.gamma)

    def component_state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "stream": self.stream.state_dict(),
        }

    def load_component_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.stream.load_state_dict(state["stream"])

    def steps_per_epoch(self) -> int:
        return min(len(self.stream), self.recipe.max_steps_per_epoch or len(self.stream))

    # ----------------------------------------------------------------- loop hooks

    def progress_label(self, epoch: int) -> str:
        return f"train {self.spec.name} epoch {epoch + 1}/{self.loop.epochs}"

    def start_epoch(self, epoch: int, fresh: bool) -> None:
        if fresh:
            self.stream.start_pass(epoch)
        self.model.drop_path_prob = self.recipe.drop_path * epoch / self.recipe.epochs

    def train_step(self) -> dict[str, float]:
        r = self.recipe
        x, y = to_device(self.stream.next(), self.device)
        out = self.model(x)
        logits, aux = out if isinstance(out, tuple) else (out, None)
        loss = F.cross_entropy(logits, y, label_smoothing=r.label_smoothing)
        if aux is not None:
            loss = loss + r.auxiliary_weight * F.cross_entropy(aux, y, label_smoothing=r.label_smoothing)
        value = loss.item()
        if math.isfinite(value):  # a non-finite loss stops the run before it can touch the weights
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), r.grad_clip)
            self.optimizer.step()
        return {
            "loss": value,
            "correct": int((logits.detach().argmax(1) == y).sum()),
            "count": len(y),
            "images": len(y),
        }

    def postfix(self, sums: dict) -> dict:
        return {"loss": f"{sums['loss'] / sums['steps']:.3f}", "acc": f"{sums['correct'] / sums['count']:.3f}"}

    def evaluates(self, epoch: int) -> bool:
        """Whether the epoch (0-based) ends with an evaluation: every `eval_every`-th and the last."""
        return (epoch + 1) % self.recipe.eval_every == 0 or epoch + 1 == self.loop.epochs

    def epoch_row(self, epoch: int, sums: dict) -> dict:
        if self.evaluates(epoch):
            # the pass draws nothing from the training's random streams (a DataLoader's iterator would take a
            # seed from them), so the weights are the same however often it runs
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                eval_loss, eval_acc, eval_top_k = evaluate(
                    self.model, self.eval_set, self.recipe.batch_size, self.device, self.recipe.workers
                )
        else:
            eval_loss = eval_acc = eval_top_k = None
        name = self.spec.eval_name
        row = {
            "epoch": epoch + 1,
            "train_loss": sums.get("loss", 0.0) / max(sums.get("steps", 0), 1),
            "train_acc": sums.get("correct", 0) / max(sums.get("count", 0), 1),
            f"{name}_loss": eval_loss,
            f"{name}_acc": eval_acc,
            "lr": self.scheduler.get_last_lr()[0],
            "drop_path_prob": self.model.drop_path_prob,
        }
        if self.reports_top_k:
            row[f"{name}_top5_acc"] = eval_top_k
        return row

    @property
    def reports_top_k(self) -> bool:
        """ImageNet results carry a top-5 error too; with at most 5 classes it would always be 0."""
        return self.spec.imagenet and self.num_classes > TOP_K

    def end_epoch(self, epoch: int, rows: list[dict]) -> None:
        self.scheduler.step()

    def finish(self, rows: list[dict]) -> dict:
        result = self._result(rows)
        atomic_write_json(self.out / self.final_file, result)
        return result

    def _result(self, rows: list[dict]) -> dict:
        spec, model = self.spec, self.model
        model.eval()
        size = self.recipe.crop if spec.imagenet else self.data.manifest["image_size"][0]
        x = torch.randn(1, 3, size, size, device=self.device)
        final = rows[-1]
        name = spec.eval_name
        acc = f"{name}_acc"
        best = max((row for row in rows if row[acc] is not None), key=lambda row: row[acc])
        top_k = {f"{name}_top5_error": round(100 * (1 - final[f"{name}_top5_acc"]), 4)} if self.reports_top_k else {}
        return {
            "genotype": spec.name,
            f"{name}_error": round(100 * (1 - final[acc]), 4),
            f"{name}_error_note": "final epoch; the headline number",
            **top_k,
            f"best_epoch_{name}_error": round(100 * (1 - best[acc]), 4),
            "best_epoch": best["epoch"],
            "best_epoch_note": f"selected on the {name} set: for diagnosis only, never a result",
            "params_m": round(count_params_m(model), 6),
            "conv_linear_macs_m": round(count_conv_linear_macs_m(model, x), 3),
            "thop_style_flops_m": round(count_thop_style_flops_m(model, x), 3),
            "layers": spec.layers,
            "channels": spec.channels,
            "channel_choice": spec.channel_choice,
            "seed": self.seed,
            "epochs": len(rows),
            "wall_seconds": round(sum(row["seconds"] for row in rows), 2),
            f"{name}_images": len(self.data.indices(*spec.eval_part)),
            "train_images": len(self.data.indices(*spec.train_part)),
            "data_source": source_name(self.data.manifest),  # the copy's file name: its path is the machine's
            "data_checksums_verified": self.data.manifest.get("checksums_verified"),
            "num_classes": self.num_classes,
        }


def source_name(manifest: dict) -> str | None:
    location = manifest["source"].get("location")
    return Path(location).name if location else None


def channel_choice_for(genotype: Genotype, layers: int, target_m: float, imagenet: bool, num_classes: int) -> dict:
    channels, params = choose_channels(genotype, layers, target_m, imagenet, num_classes)
    return {"target_params_m": target_m, "chosen_channels": channels, "params_m": round(params, 6)}


def run_training(
    recipe: TrainSettings,
    genotype_ref: str,
    layers: int,
    out: str | Path,
    data: PreparedData,
    channels: int | None = None,
    target_params_m: float | None = None,
    imagenet: bool = False,
    seed: int | None = None,
    show_progress: bool = True,
    supersede: bool = False,
) -> dict:
    """`stretchnas train`: a published or saved genotype, at a fixed C or the C nearest a parameter budget,
    trained with `recipe` (CIFAR's or ImageNet's, as `imagenet` says)."""
    genotype = get_genotype(genotype_ref)
    choice = None
    if target_params_m is not None:
        choice = channel_choice_for(genotype, layers, target_params_m, imagenet, len(data.manifest["classes"]))
        channels = choice["chosen_channels"]
    elif channels is None or channels < 2 or channels % 2:
        raise RunError(f"--channels {channels}: must be an even number of at least 2 (FactorizedReduce halves it)")
    name = Path(genotype_ref).stem if genotype_ref.endswith(".json") else genotype_ref
    spec = TrainSpec(genotype, name, layers, channels, imagenet, choice)
    seed = recipe.seeds[0] if seed is None else seed
    return TrainRun(spec, recipe, data, out, seed).run(show_progress, supersede)
