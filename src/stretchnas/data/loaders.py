"""DataLoaders for search and evaluation, and the architecture-batch stream."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset


def make_loader(
    dataset: Dataset, batch_size: int, shuffle: bool, seed: int, num_workers: int = 0, drop_last: bool = False
) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        drop_last=drop_last,
        persistent_workers=num_workers > 0,
    )


def endless(loader: DataLoader) -> Iterator:
    """Batches forever: a new pass (a new shuffle) starts when one ends."""
    while True:
        yield from loader


class ArchBatches:
    """Where architecture steps get their batches (config field loader.arch_batches).

    ``persistent``: one endless iterator, so every validation image is used once
    per pass. ``fresh``: ``next(iter(loader))`` each step, the reference DARTS
    code's behaviour: a newly shuffled first batch, i.e. sampling with replacement
    across steps (and, with workers, a new worker pool per step).
    """

    def __init__(self, loader: DataLoader, mode: str = "persistent"):
        if mode not in ("persistent", "fresh"):
            raise ValueError(f"loader.arch_batches: {mode!r} is not allowed; choose 'persistent' or 'fresh'")
        self.loader = loader
        self.mode = mode
        self._stream = endless(loader) if mode == "persistent" else None

    def next(self):
        if self.mode == "fresh":
            return next(iter(self.loader))
        return next(self._stream)
