"""Evaluation training: a derived cell stacked into a network and trained from scratch.

Resumable like the search (`runstate`): a killed run re-run with the same command
continues and ends with bitwise-identical metrics on CPU.

Writes into the output folder: metrics.csv (one row per epoch), result.json
(final test error as the headline; the best epoch's error is labelled as such),
checkpoint.pt, run.json.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import torch
from torch.nn import functional as F
from torchvision.transforms import v2
from tqdm import tqdm

from stretchnas.atomic import atomic_write_json, atomic_write_text
from stretchnas.data.cache import PreparedData
from stretchnas.data.streams import BatchStream
from stretchnas.data.transforms import eval_transform, train_transform
from stretchnas.evalnet import EvalNetwork
from stretchnas.genotype import Genotype
from stretchnas.measure import count_macs_m, count_params_m, count_thop_style_m
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


def params_at(genotype: Genotype, layers: int, C: int, imagenet: bool, num_classes: int) -> float:
    model = EvalNetwork(genotype, C, num_classes, layers, auxiliary=True, imagenet=imagenet)
    return count_params_m(model)


def choose_channels(genotype: Genotype, layers: int, target_m: float, imagenet: bool = False, num_classes: int = 10):
    """The even C whose parameter count (M, auxiliary head excluded) is closest to `target_m`."""
    lo, hi = 2, 2
    while params_at(genotype, layers, hi, imagenet, num_classes) < target_m:
        lo, hi = hi, hi * 2
        if hi > 4096:
            raise RunError(f"--target-params {target_m}: not reached even at C={hi}")
    while hi - lo > 2:  # parameters grow monotonically with C
        mid = (lo + hi) // 2 // 2 * 2
        if params_at(genotype, layers, mid, imagenet, num_classes) < target_m:
            lo = mid
        else:
            hi = mid
    candidates = {c: params_at(genotype, layers, c, imagenet, num_classes) for c in (lo, hi)}
    best = min(candidates, key=lambda c: (abs(candidates[c] - target_m), c))
    return best, candidates[best]


def imagenet_transforms(mean, std, crop: int):
    train = v2.Compose(
        [
            v2.RandomResizedCrop(crop, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.2),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )
    test = v2.Compose(
        [
            v2.Resize(round(crop * 256 / 224), antialias=True),
            v2.CenterCrop(crop),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )
    return train, test


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset, batch_size: int) -> tuple[float, float]:
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(dataset), batch_size):
        samples = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        x = torch.stack([s[0] for s in samples])
        y = torch.tensor([s[1] for s in samples])
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += int((logits.argmax(1) == y).sum())
    model.train()
    return total_loss / len(dataset), correct / len(dataset)


class TrainRun:
    def __init__(
        self,
        genotype: Genotype,
        genotype_name: str,
        layers: int,
        channels: int,
        recipe: dict,
        data: PreparedData,
        out: str | Path,
        seed: int,
        imagenet: bool = False,
        channel_choice: dict | None = None,
        train_part: tuple[str, str] = ("", "pool"),
        eval_part: tuple[str, str] = ("", "test"),
    ):
        """`train_part` / `eval_part` are (split scheme, part): evaluation training uses every
        selected training image and the test set; random search trains on D_tr and ranks on D_val."""
        self.genotype = genotype
        self.genotype_name = genotype_name
        self.layers = layers
        self.C = channels
        self.recipe = recipe
        self.data = data
        self.out = Path(out)
        self.seed = seed
        self.imagenet = imagenet
        self.channel_choice = channel_choice
        self.train_part, self.eval_part = train_part, eval_part
        self.eval_name = "test" if eval_part[1] == "test" else "val"
        self.identity = {
            "train_part": list(train_part),
            "eval_part": list(eval_part),
            "genotype": genotype.to_dict() | {"meta": {}},
            "layers": layers,
            "channels": channels,
            "imagenet": imagenet,
            "seed": seed,
            "recipe": recipe,
            "data_manifest_sha256": data.manifest_sha256,
        }

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def _datasets(self):
        m = self.data.manifest
        if self.imagenet:
            train_t, test_t = imagenet_transforms(m["mean"], m["std"], self.recipe["crop"])
        else:
            train_t = train_transform(m["mean"], m["std"], crop=m["image_size"][0], cutout=self.recipe["cutout"])
            test_t = eval_transform(m["mean"], m["std"])
        return self.data.subset(*self.train_part, train_t), self.data.subset(*self.eval_part, test_t)

    def _scheduler(self, optimizer):
        r = self.recipe
        if r["schedule"] == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=r["epochs"], eta_min=r["lr_min"])
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=r.get("gamma", 0.97))

    def _write_run_json(self, status: str) -> None:
        atomic_write_json(
            self.out / "run.json",
            {
                "kind": "train",
                "status": status,
                "genotype": self.genotype_name,
                "layers": self.layers,
                "channels": self.C,
                "channel_choice": self.channel_choice,
                "imagenet": self.imagenet,
                "seed": self.seed,
                "recipe": self.recipe,
                **provenance(self.data),
            },
        )

    def run(self, show_progress: bool = True) -> dict:
        import json

        if is_complete(self.out, "result.json"):
            print(f"{self.out}: training already complete; nothing to do")
            return json.loads((self.out / "result.json").read_text())
        r = self.recipe
        self.out.mkdir(parents=True, exist_ok=True)
        configure_torch(r["threads"], r["deterministic"])
        seed_everything(self.seed)
        num_classes = len(self.data.manifest["classes"])
        model = EvalNetwork(
            self.genotype, self.C, num_classes, self.layers, auxiliary=r["auxiliary_weight"] > 0, imagenet=self.imagenet
        )
        optimizer = torch.optim.SGD(
            model.parameters(), lr=r["lr"], momentum=r["momentum"], weight_decay=r["weight_decay"]
        )
        scheduler = self._scheduler(optimizer)
        train_set, test_set = self._datasets()
        stream = BatchStream(train_set, r["batch_size"], self.seed, "train", mode="epoch")
        steps = min(len(stream), r["max_steps_per_epoch"] or len(stream))

        progress = {"epoch": 0, "step": 0, "sums": None, "rows": [], "seconds": 0.0}
        state = load_checkpoint(self.checkpoint_path, self.identity)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            stream.load_state_dict(state["stream"])
            restore_rng(state["rng"])
            progress = state["progress"]
        self._write_run_json("running")

        def checkpoint():
            save_checkpoint(
                self.checkpoint_path,
                {
                    "identity": self.identity,
                    "progress": progress,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "stream": stream.state_dict(),
                    "rng": capture_rng(),
                },
            )

        model.train()
        for epoch in range(progress["epoch"], r["epochs"]):
            if progress["step"] == 0:
                stream.start_pass(epoch)
                progress["sums"] = {"loss": 0.0, "correct": 0, "count": 0, "steps": 0}
            model.drop_path_prob = r["drop_path"] * epoch / r["epochs"]
            lr = scheduler.get_last_lr()[0]
            started = time.perf_counter() - progress["seconds"]
            bar = tqdm(total=steps, initial=progress["step"], disable=not show_progress, leave=False,
                       desc=f"train {self.genotype_name} epoch {epoch + 1}/{r['epochs']}")  # fmt: skip
            for step in range(progress["step"], steps):
                x, y = stream.next()
                out = model(x)
                logits, aux = out if isinstance(out, tuple) else (out, None)
                loss = F.cross_entropy(logits, y, label_smoothing=r["label_smoothing"])
                if aux is not None:
                    loss = loss + r["auxiliary_weight"] * F.cross_entropy(aux, y, label_smoothing=r["label_smoothing"])
                if not math.isfinite(loss.item()):
                    raise RunError(
                        f"non-finite loss at epoch {epoch + 1}, step {step + 1}; "
                        f"the last good checkpoint is kept in {self.checkpoint_path}"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), r["grad_clip"])
                optimizer.step()
                sums = progress["sums"]
                sums["loss"] += loss.item()
                sums["correct"] += int((logits.detach().argmax(1) == y).sum())
                sums["count"] += len(y)
                sums["steps"] += 1
                progress["step"] = step + 1
                bar.update(1)
                bar.set_postfix(
                    loss=f"{sums['loss'] / sums['steps']:.3f}", acc=f"{sums['correct'] / sums['count']:.3f}"
                )
                if progress["step"] % r["checkpoint_every_steps"] == 0 and progress["step"] < steps:
                    progress["seconds"] = time.perf_counter() - started
                    checkpoint()
            bar.close()
            test_loss, test_acc = evaluate(model, test_set, r["batch_size"])
            sums = progress["sums"]
            progress["rows"].append(
                {
                    "epoch": epoch + 1,
                    "train_loss": sums["loss"] / max(sums["steps"], 1),
                    "train_acc": sums["correct"] / max(sums["count"], 1),
                    f"{self.eval_name}_loss": test_loss,
                    f"{self.eval_name}_acc": test_acc,
                    "lr": lr,
                    "drop_path_prob": model.drop_path_prob,
                    "seconds": time.perf_counter() - started,
                    "peak_rss_mib": peak_rss_mib(),
                }
            )
            scheduler.step()
            progress.update(epoch=epoch + 1, step=0, seconds=0.0)
            atomic_write_text(self.out / "metrics.csv", pd.DataFrame(progress["rows"]).to_csv(index=False))
            checkpoint()

        result = self._result(model, progress["rows"], num_classes)
        atomic_write_json(self.out / "result.json", result)
        self._write_run_json("complete")
        return result

    def _result(self, model, rows: list[dict], num_classes: int) -> dict:
        model.eval()
        size = self.recipe["crop"] if self.imagenet else self.data.manifest["image_size"][0]
        x = torch.randn(1, 3, size, size)
        final = rows[-1]
        acc = f"{self.eval_name}_acc"
        best = max(rows, key=lambda row: row[acc])
        return {
            "genotype": self.genotype_name,
            f"{self.eval_name}_error": round(100 * (1 - final[acc]), 4),
            f"{self.eval_name}_error_note": "final epoch; the headline number",
            f"best_epoch_{self.eval_name}_error": round(100 * (1 - best[acc]), 4),
            "best_epoch": best["epoch"],
            "best_epoch_note": f"selected on the {self.eval_name} set: for diagnosis only, never a result",
            "params_m": round(count_params_m(model), 6),
            "flops_m": round(count_macs_m(model, x), 3),
            "thop_style_flops_m": round(count_thop_style_m(model, x), 3),
            "layers": self.layers,
            "channels": self.C,
            "channel_choice": self.channel_choice,
            "seed": self.seed,
            "epochs": len(rows),
            "wall_seconds": round(sum(row["seconds"] for row in rows), 2),
            f"{self.eval_name}_images": len(self.data.indices(*self.eval_part)),
            "train_images": len(self.data.indices(*self.train_part)),
            "data_source": self.data.manifest["source"].get("location"),
            "data_checksums_verified": self.data.manifest.get("checksums_verified"),
            "num_classes": num_classes,
        }
