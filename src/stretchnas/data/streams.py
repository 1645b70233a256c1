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
from torch.utils.data import DataLoader, Dataset

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
        cached = getattr(self, "_cached_order", None)
        if cached is None or cached[0] != pass_index:
            generator = torch.Generator().manual_seed(_seed(self.seed, self.name, pass_index))
            self._cached_order = cached = (pass_index, torch.randperm(len(self.dataset), generator=generator))
        return cached[1]

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


class WorkerStream(BatchStream):
    """A BatchStream whose images are decoded and augmented in DataLoader worker processes.

    The order is the BatchStream's; each image's random augmentation is seeded by its position in
    the stream, so the batches are the same for any number of workers, and a resumed run reads
    exactly what an uninterrupted one would. Workers read ahead; the state a checkpoint saves is the
    position of the batches consumed, and a new position (a resume, a new epoch) restarts them."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int,
        name: str,
        mode: str = "persistent",
        workers: int = 0,
        pin_memory: bool = False,
    ):
        super().__init__(dataset, batch_size, seed, name, mode)
        self.workers, self.pin_memory = workers, pin_memory
        self._batches = None

    def _keys(self):
        """(index, augmentation seed) batches from the consumed position on, for the loader's sampler."""
        plan = BatchStream(self.dataset, self.batch_size, self.seed, self.name, self.mode)
        plan.load_state_dict(self.state_dict())
        while True:
            base = _seed(self.seed, self.name, "augment", plan.pass_index, plan.offset, plan.draws)
            yield [(int(i), (base + k) & ((1 << 63) - 1)) for k, i in enumerate(plan.next_indices())]

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._batches is None:
            # its own generator: a loader draws a base seed when it starts, and the training's random
            # stream (dropout paths, checkpointed) must not move with the number of loader restarts
            generator = torch.Generator().manual_seed(_seed(self.seed, self.name, "loader"))
            loader = DataLoader(
                self.dataset,
                batch_sampler=_Keys(self),
                num_workers=self.workers,
                pin_memory=self.pin_memory,
                generator=generator,
            )
            self._batches = iter(loader)
        images, labels = next(self._batches)
        self.next_indices()  # the consumed position moves exactly as the loader's plan did
        return images, labels

    def _restart(self) -> None:
        self._batches = None  # shuts the workers down; the next batch starts them at the new position

    def start_pass(self, pass_index: int) -> None:
        if (pass_index, 0) != (self.pass_index, self.offset):
            self._restart()
        super().start_pass(pass_index)

    def load_state_dict(self, state: dict) -> None:
        self._restart()
        super().load_state_dict(state)


class _Keys:
    """A batch sampler over a WorkerStream's plan (a fresh plan each time the loader iterates)."""

    def __init__(self, stream: WorkerStream):
        self.stream = stream

    def __iter__(self):
        return self.stream._keys()


def make_stream(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    name: str,
    mode: str = "persistent",
    workers: int = 0,
    pin_memory: bool = False,
) -> BatchStream:
    """A WorkerStream for images decoded from files (stretchnas.data.files), else a BatchStream."""
    if getattr(dataset, "reads_files", False):
        return WorkerStream(dataset, batch_size, seed, name, mode, workers, pin_memory)
    return BatchStream(dataset, batch_size, seed, name, mode)
