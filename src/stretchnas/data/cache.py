"""Open a prepared data folder: memory-mapped arrays, splits and manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from stretchnas.data.prepare import ARRAYS
from stretchnas.errors import StretchnasError


class PreparedDataError(StretchnasError, RuntimeError):
    """A prepared data folder that is missing, incomplete or of another kind; the message names the file."""


@dataclass
class PreparedData:
    root: Path
    manifest: dict
    splits: dict
    arrays: dict[str, np.ndarray]

    @classmethod
    def open(cls, root: str | Path) -> PreparedData:
        root = Path(root)
        for name in ("manifest.json", "splits.json", *(f"{a}.npy" for a in ARRAYS)):
            if not (root / name).exists():
                raise PreparedDataError(f"{root / name}: missing; run `stretchnas prepare-data` first")
        manifest = json.loads((root / "manifest.json").read_text())
        splits = json.loads((root / "splits.json").read_text())
        arrays = {name: np.load(root / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        return cls(root, manifest, splits, arrays)

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256((self.root / "manifest.json").read_bytes()).hexdigest()

    def indices(self, scheme: str, part: str) -> list[int]:
        """Indices of one part ('train', 'val_alpha', 'val_beta') of a split scheme, of 'test',
        or of 'pool' (every selected training image, for evaluation training)."""
        if part in ("test", "pool"):
            return self.splits[part]
        schemes = self.splits["schemes"]
        if scheme not in schemes:
            raise PreparedDataError(
                f"{self.root / 'splits.json'}: no split scheme {scheme!r}; available: {sorted(schemes)}"
            )
        return schemes[scheme][part]

    def subset(self, scheme: str, part: str, transform=None) -> ArraySubset:
        prefix = "test" if part == "test" else "train"
        return ArraySubset(
            self.arrays[f"{prefix}_images"], self.arrays[f"{prefix}_labels"], self.indices(scheme, part), transform
        )


class ArraySubset(Dataset):
    """Images as uint8 CHW tensors (the transforms work on tensors, no PIL round trip)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, indices, transform=None):
        self.images = images
        self.labels = labels
        self.indices = np.asarray(indices, dtype=np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int):
        index = self.indices[item]
        image = torch.from_numpy(np.array(self.images[index])).permute(2, 0, 1)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])


def open_prepared(path: str | Path | None, scale: str) -> PreparedData:
    """The prepared data at `path`, by default data/prepared/<scale>, where the workflow puts it."""
    return PreparedData.open(path or Path("data") / "prepared" / scale)
