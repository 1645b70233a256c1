"""`stretchnas prepare-data`: source -> memory-mappable cache + splits.json + manifest.json.

Storage `arrays` (the default) decodes every image into uint8 arrays of one size; `files` indexes an
ImageFolder tree in place (files.json), for ImageNet-sized data (stretchnas.data.files)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from stretchnas import __version__
from stretchnas.data.datasets import dataset_info
from stretchnas.data.files import FILES_INDEX, IMAGENET_MEAN, IMAGENET_STD, scan_imagefolder, write_index
from stretchnas.data.sources import DataSourceError, RawDataset, read_source
from stretchnas.data.splits import PARTS, make_splits
from stretchnas.runs.atomic import atomic_directory, check_replaceable, unexpected_entries
from stretchnas.runs.lock import FolderLock
from stretchnas.settings.params import Settings

ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
SPLITS_FILE = "splits.json"
PREPARED_FILES = ("manifest.json", SPLITS_FILE, *(f"{name}.npy" for name in ARRAYS))
STORAGES = ("arrays", "files")
MANIFEST_KIND = "stretchnas prepared data"


def prepared_files(storage: str) -> tuple[str, ...]:
    """The files a prepared folder of this storage holds."""
    return PREPARED_FILES if storage == "arrays" else ("manifest.json", SPLITS_FILE, FILES_INDEX)


def replaceable(folder: Path) -> str | None:
    """None if `folder` may be replaced by new prepared data (empty, or our output and nothing else);
    otherwise why not."""
    if not os.listdir(folder):
        return None
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or not (manifest.get("kind") == MANIFEST_KIND or "arrays_sha256" in manifest):
        return "it is not a prepared-data folder of this tool (no manifest.json of ours)"
    extra = unexpected_entries(folder, (*PREPARED_FILES, FILES_INDEX))
    if extra:
        return f"it also holds files this tool did not write: {extra[:5]}"
    return None


def channel_stats(images: np.ndarray, chunk: int = 5000) -> tuple[list[float], list[float]]:
    """Per-channel mean and std on [0, 1], accumulated in float64 chunk by chunk."""
    total = np.zeros(3)
    total_sq = np.zeros(3)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].astype(np.float64) / 255.0
        total += block.sum(axis=(0, 1, 2))
        total_sq += np.square(block).sum(axis=(0, 1, 2))
    count = images.shape[0] * images.shape[1] * images.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return [round(float(m), 6) for m in mean], [round(float(s), 6) for s in std]


def _class_counts(labels: np.ndarray, indices, classes: list[str]) -> dict[str, int]:
    counts = np.bincount(labels[np.asarray(indices, dtype=np.int64)], minlength=len(classes))
    return {name: int(n) for name, n in zip(classes, counts)}


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, 3) uint8 images resized to size x size: antialiased bilinear (torch), rounded back to uint8,
    a chunk at a time."""
    import torch
    import torch.nn.functional as F

    out = np.empty((len(images), size, size, images.shape[3]), np.uint8)
    for start in range(0, len(images), 5000):
        block = torch.from_numpy(np.ascontiguousarray(images[start : start + 5000])).permute(0, 3, 1, 2).float()
        block = F.interpolate(block, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + 5000] = block.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def resize_raw(raw: RawDataset, size: int | None) -> RawDataset:
    if size is None or list(raw.train_images.shape[1:3]) == [size, size]:
        return raw
    return dataclasses.replace(
        raw, train_images=resize_images(raw.train_images, size), test_images=resize_images(raw.test_images, size)
    )


def arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """One SHA-256 over the prepared arrays' bytes, in ARRAYS order (manifest.json's arrays_sha256)."""
    digest = hashlib.sha256()
    for name in ARRAYS:
        digest.update(np.ascontiguousarray(arrays[name]).reshape(-1).view(np.uint8))  # the bytes, uncopied
    return digest.hexdigest()


def stats_sha256(arrays_digest: str, mean: list[float], std: list[float]) -> str:
    """A SHA-256 binding the normalisation statistics to the arrays they were computed from (manifest.json's
    stats_sha256): a job checks the manifest's mean and std against it instead of recomputing them over
    every training image (seconds per job at 32x32)."""
    return hashlib.sha256(json.dumps([arrays_digest, mean, std]).encode()).hexdigest()


def _check_dataset(raw: RawDataset, dataset: str, source: str) -> None:
    expected = dataset_info(dataset).num_classes
    if expected is not None and len(raw.classes) != expected:
        raise DataSourceError(
            f"{source}: found {len(raw.classes)} classes {raw.classes[:12]}, but {dataset} has {expected}"
        )


def prepare_data(
    source: str,
    out_dir: str | Path,
    dataset: str,
    split_schemes: Mapping[str, Mapping[str, float]],
    seed: int,
    train_per_class: int | None,
    test_per_class: int | None,
    verify_checksums: bool = True,
    download_root: str | Path | None = None,
    source_origin: str = "command line",
    prepared_for: dict | None = None,
    storage: str = "arrays",
    search_fraction: float | None = None,
    image_size: int | None = None,
) -> dict:
    """Read, check, split and write; returns the manifest. `image_size` resizes square images to that side
    (antialiased bilinear); None keeps the source's size. Nothing is left on failure, and an existing
    `out_dir` that is not replaceable prepared data is refused before any work."""
    out_dir = Path(out_dir)
    check_replaceable(out_dir, replaceable)  # before the long read; atomic_directory checks again before writing
    with FolderLock.beside(out_dir):  # two preparations into one folder: the second is refused, not lost
        if storage == "files":
            return _prepare_files(
                source,
                out_dir,
                dataset,
                split_schemes,
                seed,
                train_per_class,
                test_per_class,
                source_origin,
                prepared_for,
                search_fraction,
            )
        download_root = Path(download_root or out_dir.parent / "downloads")
        raw = read_source(source, dataset, verify_checksums, str(download_root))
        _check_dataset(raw, dataset, source)
        resized_from = list(raw.train_images.shape[1:3])
        raw = resize_raw(raw, image_size)
        split_index = make_splits(
            raw.train_labels, raw.test_labels, split_schemes, seed, train_per_class, test_per_class, search_fraction
        )
        mean, std = channel_stats(raw.train_images)

        manifest = _manifest(
            dataset,
            source,
            source_origin,
            raw.source,
            prepared_for,
            raw.classes,
            raw.train_labels,
            raw.test_labels,
            split_index,
            seed,
            train_per_class,
            test_per_class,
        )
        digest = arrays_sha256({name: getattr(raw, name) for name in ARRAYS})
        manifest.update(
            storage="arrays",
            arrays_sha256=digest,
            image_size=list(raw.train_images.shape[1:3]),
            resized_from=resized_from if image_size else None,
            channels=int(raw.train_images.shape[3]),
            mean=mean,
            std=std,
            stats_over="the whole training set, pixels scaled to [0, 1]",
            stats_sha256=stats_sha256(digest, mean, std),
        )

        def arrays(scratch: Path) -> None:
            for name in ARRAYS:
                np.save(scratch / f"{name}.npy", getattr(raw, name))

        return _write_prepared(out_dir, arrays, split_index, manifest)


def _write_prepared(out_dir: Path, write_images, split_index: dict, manifest: dict) -> dict:
    """The prepared folder, whole or not at all: the images (arrays, or the file index), splits.json
    and manifest.json. Returns the manifest."""
    with atomic_directory(out_dir, replaceable) as scratch:
        write_images(scratch)
        (scratch / SPLITS_FILE).write_text(json.dumps(split_index) + "\n")
        (scratch / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _manifest(
    dataset,
    source,
    origin,
    source_info,
    prepared_for,
    classes,
    train_labels,
    test_labels,
    split_index,
    seed,
    train_per_class,
    test_per_class,
) -> dict:
    """What every prepared folder records: where from, what for, the classes and every part's counts."""
    return {
        "kind": MANIFEST_KIND,
        # the scale and data settings this folder was prepared for (None: prepared by hand)
        "prepared_for": prepared_for,
        "dataset": dataset,
        "stretchnas_version": __version__,
        "source": {"location": source, "origin": origin, **source_info},
        "checksums_verified": source_info.get("checksums_verified", False),
        "classes": classes,
        "counts": {
            "train": int(len(train_labels)),
            "test": int(len(test_labels)),
            "train_per_class": _class_counts(train_labels, np.arange(len(train_labels)), classes),
            "test_per_class": _class_counts(test_labels, np.arange(len(test_labels)), classes),
        },
        "splits": {
            "seed": seed,
            "train_per_class": train_per_class,
            "test_per_class": test_per_class,
            **({"search_fraction": split_index["search_fraction"]} if "search_fraction" in split_index else {}),
            "test": {
                "count": len(split_index["test"]),
                "per_class": _class_counts(test_labels, split_index["test"], classes),
            },
            "schemes": {
                name: {
                    key: {"count": len(scheme[key]), "per_class": _class_counts(train_labels, scheme[key], classes)}
                    for key in PARTS
                }
                for name, scheme in split_index["schemes"].items()
            },
        },
    }


def _prepare_files(
    source,
    out_dir: Path,
    dataset,
    split_schemes,
    seed,
    train_per_class,
    test_per_class,
    origin,
    prepared_for,
    search_fraction,
) -> dict:
    if dataset != "imagefolder":
        raise DataSourceError(f"--storage files reads an ImageFolder tree in place; dataset {dataset!r} is not one")
    index = scan_imagefolder(source)
    train_labels, test_labels = index.labels["train"], index.labels["test"]
    split_index = make_splits(
        train_labels, test_labels, split_schemes, seed, train_per_class, test_per_class, search_fraction
    )
    manifest = _manifest(
        dataset,
        source,
        origin,
        index.info,
        prepared_for,
        index.classes,
        train_labels,
        test_labels,
        split_index,
        seed,
        train_per_class,
        test_per_class,
    )
    stats = "DARTS's ImageNet statistics (train_imagenet.py), not computed from these images"
    manifest.update(
        storage="files", image_size=None, channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD, stats_over=stats
    )
    return _write_prepared(out_dir, lambda scratch: write_index(index, scratch), split_index, manifest)


def prepared_for(settings: Settings, imagenet: bool = False) -> dict:
    """What a prepared folder must match to serve a run of these settings (of data.imagenet's data)."""
    data = settings.data.to_tree()
    keys = ("seed", "train_per_class", "test_per_class", "split_schemes")  # what selects and cuts the images
    if not imagenet:
        return {"scale": settings.scale, "data": {key: data[key] for key in (*keys, "image_size")}}
    chosen = {**data, **data["imagenet"]}
    return {"scale": settings.scale, "imagenet": {key: chosen[key] for key in (*keys, "search_fraction")}}


def prepare_from_settings(
    settings: Settings,
    out_dir: str | Path,
    source: str | None = None,
    dataset: str | None = None,
    verify_checksums: bool = True,
    storage: str | None = None,
    imagenet: bool = False,
) -> dict:
    """`stretchnas prepare-data`: the data section of the settings (data.imagenet's with `imagenet`), with
    the command line's overrides.

    Returns a short summary of what was written."""
    data = settings.data
    if imagenet:
        section = data.imagenet
        if section is None or not (source or section.source):
            raise DataSourceError(
                f"{settings.params_file}: data.imagenet.source: not set; "
                "name an ImageFolder tree there or in $STRETCHNAS_IMAGENET"
            )
        # an ImageNet tree is read in place: decoding it into arrays would not fit in memory
        chosen = {
            "source": section.source,
            "source_origin": section.source_origin,
            "dataset": "imagefolder",
            "storage": "files",
            "verify_checksums": False,
            "train_per_class": section.train_per_class,
            "test_per_class": section.test_per_class,
            "search_fraction": section.search_fraction,
            "image_size": None,
        }
    else:
        chosen = {
            "source": data.source,
            "source_origin": data.source_origin,
            "dataset": data.dataset,
            "storage": data.storage,
            "verify_checksums": data.verify_checksums,
            "train_per_class": data.train_per_class,
            "test_per_class": data.test_per_class,
            "search_fraction": None,
            "image_size": data.image_size,
        }
    manifest = prepare_data(
        source=source or chosen["source"],
        out_dir=out_dir,
        dataset=dataset or chosen["dataset"],
        split_schemes={name: scheme.fractions() for name, scheme in data.split_schemes.items()},
        seed=data.seed,
        train_per_class=chosen["train_per_class"],
        test_per_class=chosen["test_per_class"],
        verify_checksums=chosen["verify_checksums"] and verify_checksums,
        source_origin="command line --source" if source else chosen["source_origin"],
        prepared_for=prepared_for(settings, imagenet),
        storage=storage or chosen["storage"],
        search_fraction=chosen["search_fraction"],
        image_size=chosen["image_size"],
    )
    return {
        "out": str(Path(out_dir)),
        "train": manifest["counts"]["train"],
        "test": manifest["counts"]["test"],
        "mean": manifest["mean"],
        "std": manifest["std"],
        "checksums_verified": manifest["checksums_verified"],
    }
