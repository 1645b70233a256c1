"""Resumable batch streams: the data order is a pure function of (seed, stream, position).

A DataLoader's order lives in its iterator and is lost when a run is killed; here
the position (pass, offset) is two integers that go into every checkpoint, so a
resumed run reads exactly the batches an uninterrupted run would have read.

Modes:
  ``epoch``       one shuffled pass per epoch (weights; evaluation training);
  ``persistent``  one endless stream over the split, reshuffled per pass: every
                  image is used once per pass (architecture batches, default);
  ``fresh``       the reference DARTS code's ``next(iter(valid_queue))``: every step
                  draws the first batch of a new shuffle (sampling with replacement).
"""

from __future__ import annotations

import hashlib

import torch
from torch.utils.data import Dataset

STREAM_MODES = ("epoch", "persistent", "fresh")


def _seed(*parts) -> int:
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class BatchStream:
    def __init__(self, dataset: Dataset, batch_size: int, seed: int, name: str, mode: str = "persistent"):
        if mode not in STREAM_MODES:
            raise ValueError(f"stream mode {mode!r} is not allowed; choose one of {list(STREAM_MODES)}")
        if len(dataset) == 0:
            raise ValueError(f"stream {name!r}: the split is empty")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.name = name
        self.mode = mode
        self.pass_index = 0
        self.offset = 0
        self.draws = 0

    def __len__(self) -> int:
        """Batches per pass (the last one may be short)."""
        return -(-len(self.dataset) // self.batch_size)

    def _order(self, pass_index: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(_seed(self.seed, self.name, pass_index))
        return torch.randperm(len(self.dataset), generator=generator)

    def next_indices(self) -> torch.Tensor:
        if self.mode == "fresh":
            indices = self._order(self.draws)[: self.batch_size]
            self.draws += 1
            return indices
        order = self._order(self.pass_index)
        indices = order[self.offset : self.offset + self.batch_size]
        self.offset += len(indices)
        if self.offset >= len(order):
            self.pass_index += 1
            self.offset = 0
        return indices

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        indices = self.next_indices()
        samples = [self.dataset[int(i)] for i in indices]
        images = torch.stack([s[0] for s in samples])
        labels = torch.tensor([s[1] for s in samples], dtype=torch.long)
        return images, labels

    def start_pass(self, pass_index: int) -> None:
        """Jump to the start of a pass (epoch-mode streams: pass = epoch)."""
        self.pass_index, self.offset = pass_index, 0

    def state_dict(self) -> dict:
        return {"pass_index": self.pass_index, "offset": self.offset, "draws": self.draws}

    def load_state_dict(self, state: dict) -> None:
        self.pass_index, self.offset, self.draws = state["pass_index"], state["offset"], state["draws"]
