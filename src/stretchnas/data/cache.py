"""Open a prepared data folder: memory-mapped arrays (or an index of image files), splits and manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from stretchnas import StretchnasError
from stretchnas.data.files import FileSubset, read_index
from stretchnas.data.folders import prepared_folder
from stretchnas.data.prepare import (
    ARRAYS,
    SPLITS_FILE,
    arrays_sha256,
    channel_stats,
    prepared_files,
    prepared_for,
    stats_sha256,
)
from stretchnas.runs.documents import read_document
from stretchnas.settings.params import Settings


class PreparedDataError(StretchnasError, RuntimeError):
    """A prepared data folder that is missing, incomplete or of another kind; the message names the file."""


def verify_arrays(root: Path, manifest: dict, arrays: dict[str, np.ndarray], redo: str) -> bool:
    """The arrays are the bytes that were prepared (manifest.json's arrays_sha256), and the normalisation
    statistics are theirs: data edited after preparation, even at the same size, is refused, never trained on.
    A tenth of a second for CIFAR-10's 180 MB; folders prepared before checksums were recorded are not checked."""
    recorded = manifest.get("arrays_sha256")
    if recorded is None:
        return False
    actual = arrays_sha256(arrays)
    if actual != recorded:
        raise PreparedDataError(
            f"{root}: the arrays changed after they were prepared (SHA-256 {actual[:12]}..., manifest.json "
            f"records {recorded[:12]}...){redo}"
        )
    if "stats_sha256" in manifest:
        consistent = manifest["stats_sha256"] == stats_sha256(actual, manifest["mean"], manifest["std"])
    else:  # prepared before the statistics were bound to the arrays: recomputed
        consistent = list(channel_stats(arrays["train_images"])) == [manifest["mean"], manifest["std"]]
    if not consistent:
        mean, std = channel_stats(arrays["train_images"])
        raise PreparedDataError(
            f"{root / 'manifest.json'}: mean {manifest['mean']} / std {manifest['std']} are not the training "
            f"images' ({mean} / {std}): the manifest was edited after preparation{redo}"
        )
    return True


@dataclass
class PreparedData:
    root: Path
    manifest: dict
    splits: dict
    arrays: dict[str, np.ndarray]
    files: dict | None = None  # storage `files`: the index of image files, read in place
    arrays_verified: bool = False  # the arrays' bytes and statistics were checked against the manifest

    @classmethod
    def open(cls, root: str | Path) -> PreparedData:
        root = Path(root)
        if not (root / "manifest.json").exists():
            raise PreparedDataError(f"{root / 'manifest.json'}: missing; run `stretchnas prepare-data` first")
        redo = "; prepare the data again with `stretchnas prepare-data`"
        manifest = read_document(root / "manifest.json", json.loads, PreparedDataError, "manifest (JSON)")
        storage = manifest.get("storage", "arrays") if isinstance(manifest, dict) else "arrays"
        for name in prepared_files(storage):
            if not (root / name).exists():
                raise PreparedDataError(f"{root / name}: missing; run `stretchnas prepare-data` first")
        splits = read_document(root / SPLITS_FILE, json.loads, PreparedDataError, "split index (JSON)")
        for file, doc, keys in (
            (root / "manifest.json", manifest, ("classes", "counts", "mean", "std", "image_size")),
            (root / SPLITS_FILE, splits, ("schemes", "pool", "test")),
        ):
            missing = [key for key in keys if not isinstance(doc, dict) or key not in doc]
            if missing:
                raise PreparedDataError(f"{file}: not a prepared-data file of this tool (missing {missing}){redo}")
        if storage == "files":
            return cls._open_files(root, manifest, splits, redo)
        arrays = {}
        for name in ARRAYS:
            file = root / f"{name}.npy"
            try:
                arrays[name] = np.load(file, mmap_mode="r")
            except (ValueError, OSError, EOFError) as exc:
                raise PreparedDataError(f"{file}: corrupt or truncated array ({exc}){redo}") from None
        for part in ("train", "test"):
            count, images, labels = manifest["counts"][part], arrays[f"{part}_images"], arrays[f"{part}_labels"]
            if len(images) != count or len(labels) != count:
                raise PreparedDataError(
                    f"{root}: {part} arrays hold {len(images)} images and {len(labels)} labels, "
                    f"manifest.json says {count}{redo}"
                )
        verified = verify_arrays(root, manifest, arrays, redo)
        return cls(root, manifest, splits, arrays, arrays_verified=verified)

    @classmethod
    def _open_files(cls, root: Path, manifest: dict, splits: dict, redo: str) -> PreparedData:
        files = read_index(root, PreparedDataError)
        for part in ("train", "test"):
            if len(files[part]) != manifest["counts"][part]:
                raise PreparedDataError(
                    f"{root}: files.json lists {len(files[part])} {part} images, manifest.json "
                    f"says {manifest['counts'][part]}{redo}"
                )
        return cls(root, manifest, splits, {}, files)

    def check_serves(self, settings: Settings, imagenet: bool = False) -> None:
        """Refuse data prepared for another scale, other data settings than the run's, or the other data
        set (CIFAR's for an ImageNet run, or the reverse)."""
        recorded = self.manifest.get("prepared_for")
        if not recorded:
            return  # prepared by hand (a library call or an older version): the user chose it
        wanted = prepared_for(settings, imagenet)
        if recorded == wanted:
            return
        section = "imagenet" if imagenet else "data"
        command = f"stretchnas prepare-data --scale {wanted['scale']}{' --imagenet' if imagenet else ''}"
        if section not in recorded:
            ours, theirs = "data.imagenet.source", "data.source"
            what = f"{theirs}'s images, not {ours}'s" if imagenet else f"{ours}'s images, not {theirs}'s"
        elif recorded["scale"] != wanted["scale"]:
            what = f"scale {recorded['scale']!r}, not {wanted['scale']!r}"
        else:
            what = "other data settings: " + ", ".join(
                k for k in wanted[section] if recorded[section].get(k) != wanted[section][k]
            )
        raise PreparedDataError(
            f"{self.root}: prepared for {what}; run `{command}` into another folder, or pass the matching --data"
        )

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

    def subset(self, scheme: str, part: str, transform=None) -> ArraySubset | FileSubset:
        prefix = "test" if part == "test" else "train"
        if self.files is not None:
            return FileSubset(self.files["root"], self.files[prefix], self.indices(scheme, part), transform)
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


def open_prepared(path: str | Path | None, settings: Settings, imagenet: bool = False) -> PreparedData:
    """The prepared data at `path` (default: where the workflow puts it), checked to serve runs of
    `settings` (on data.imagenet's data with `imagenet`)."""
    data = PreparedData.open(path or prepared_folder(settings.scale, imagenet))
    data.check_serves(settings, imagenet)
    return data
