"""Image files read in place: for ImageNet-sized ImageFolder trees that cannot live in memory at one size.

`prepare-data --storage files` indexes a tree (``train/<class>/*``, ``test/<class>/*``) without
decoding it: files.json lists each image's path and label, and the splits cut that list like the
arrays. Training decodes and augments in DataLoader workers (stretchnas.data.streams.WorkerStream);
each image's random crop is seeded by its position in the stream, so the batches, and a resumed
run, do not depend on the number of workers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from stretchnas.data.sources import IMAGE_SUFFIXES, IMAGEFOLDER_SETS, DataSourceError
from stretchnas.runs.documents import read_document

FILES_INDEX = "files.json"
# The channel statistics DARTS's train_imagenet.py normalises with (not computed: decoding every
# image of ImageNet to compute them would take hours).
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@dataclass
class FileIndex:
    root: Path
    classes: list[str]
    files: dict[str, list[str]]  # split -> paths relative to root
    labels: dict[str, np.ndarray]  # split -> class index per file
    info: dict


def _check_image_header(file: Path) -> None:
    """The file opens as an image (its header, not its pixels): a stray file is named now, at preparation,
    not by a DataLoader worker hours into a training."""
    try:
        with Image.open(file) as image:
            image.size  # noqa: B018 (reading the header is the check)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataSourceError(f"{file}: not a readable image ({exc}); remove it from the source") from None


def scan_imagefolder(path: str | os.PathLike) -> FileIndex:
    """Every image file of an ImageFolder tree, in a fixed order, its header checked (not decoded)."""
    root = Path(path).resolve()
    if not root.exists():
        raise DataSourceError(f"{path}: no such folder; name the ImageFolder tree (train/<class>/*, test/<class>/*)")
    if not root.is_dir():
        raise DataSourceError(
            f"{path}: --storage files reads images in place, so the source must be a folder "
            "(train/<class>/*, test/<class>/*); extract the archive first"
        )
    files, labels, class_sets = {}, {}, {}
    digest = hashlib.sha256()
    for split in IMAGEFOLDER_SETS:
        split_dir = root / split
        if not split_dir.is_dir():
            raise DataSourceError(f"{split_dir}: missing; an ImageFolder source has train/<class>/ and test/<class>/")
        class_sets[split] = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if class_sets["train"] != class_sets["test"]:
        raise DataSourceError(f"{root}: class folders differ between train/ and test/")
    classes = class_sets["train"]
    for split in IMAGEFOLDER_SETS:
        paths, ys = [], []
        for label, name in enumerate(classes):
            found = 0
            for file in sorted((root / split / name).iterdir()):
                if file.name.startswith("."):
                    continue
                if not file.is_file() or file.suffix.lower() not in IMAGE_SUFFIXES:
                    raise DataSourceError(f"{file}: not an image file (suffix {file.suffix or 'none'!r})")
                _check_image_header(file)
                rel = file.relative_to(root).as_posix()
                digest.update(f"{rel}\0{file.stat().st_size}\n".encode())
                paths.append(rel)
                ys.append(label)
                found += 1
            if not found:
                raise DataSourceError(f"{root / split / name}: empty")
        files[split], labels[split] = paths, np.asarray(ys, np.int64)
    info = {
        "kind": "imagefolder files",
        "listing_sha256": digest.hexdigest(),
        "checksums_verified": False,
        "checksum_note": "the listing (paths and sizes) is hashed; image contents are read at training time",
    }
    return FileIndex(root, classes, files, labels, info)


def write_index(index: FileIndex, folder: Path) -> None:
    document = {
        "root": str(index.root),
        "classes": index.classes,
        **{split: [[f, int(y)] for f, y in zip(index.files[split], index.labels[split])] for split in IMAGEFOLDER_SETS},
    }
    (folder / FILES_INDEX).write_text(json.dumps(document) + "\n")


def read_index(folder: Path, error_cls) -> dict:
    document = read_document(folder / FILES_INDEX, json.loads, error_cls, "image file index (JSON)")
    missing = [key for key in ("root", *IMAGEFOLDER_SETS) if key not in document]
    if missing:
        raise error_cls(f"{folder / FILES_INDEX}: not an image file index of this tool (missing {missing})")
    return document


class FileSubset(Dataset):
    """Images decoded from their files. An item is an index, or (index, seed): the transform's random
    draws then come from `seed` alone, whatever process decodes it."""

    reads_files = True  # streams read it through DataLoader workers (stretchnas.data.streams.make_stream)

    def __init__(self, root: str, entries: list, indices, transform=None):
        self.root = Path(root)
        self.entries = entries
        self.indices = np.asarray(indices, dtype=np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def decode(self, item: int) -> tuple[torch.Tensor, int]:
        relative, label = self.entries[int(self.indices[item])]
        path = self.root / relative
        try:
            with Image.open(path) as image:
                return TF.pil_to_tensor(image.convert("RGB")), int(label)
        except (OSError, UnidentifiedImageError, SyntaxError) as exc:
            raise DataSourceError(f"{path}: not a readable image ({exc})") from None

    def __getitem__(self, key):
        item, seed = key if isinstance(key, tuple) else (key, None)
        image, label = self.decode(item)
        if self.transform is not None:
            if seed is None:
                image = self.transform(image)
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    image = self.transform(image)
        return image, label
