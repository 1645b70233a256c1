"""Read a data set from wherever it lives into uint8 arrays, checking it strictly.

Three kinds of source:
  * ``download``: torchvision's CIFAR download (it verifies the archive's MD5);
  * the official python archive (``cifar-10-python.tar.gz``) or its extracted
    ``cifar-10-batches-py/`` folder, with torchvision's published MD5s;
  * an ImageFolder tree (``train/<class>/*``, ``test/<class>/*``) or a .tar /
    .tar.gz of one.

Every problem is a DataSourceError naming the offending file.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError
from torchvision.datasets.utils import check_integrity
from tqdm import tqdm

from stretchnas import StretchnasError
from stretchnas.data.datasets import dataset_info, downloadable, torchvision_class
from stretchnas.data.identity import sha256_file

IMAGEFOLDER_SETS = ("train", "test")  # the top folders of an ImageFolder source


class DataSourceError(StretchnasError, RuntimeError):
    """The data source cannot be used; the message names the file and the problem."""


@dataclass
class RawDataset:
    train_images: np.ndarray  # (N, H, W, 3) uint8
    train_labels: np.ndarray  # (N,) int64
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: list[str]
    source: dict = field(default_factory=dict)  # what was read and how it was checked


def read_source(source: str, dataset: str, verify_checksums: bool, download_root: str) -> RawDataset:
    if source == "download":
        return _download(dataset, download_root)
    path = Path(source)
    if not path.exists():
        raise DataSourceError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "train").is_dir() or (path / "test").is_dir():
            return read_imagefolder(path)
        batches = _find_batches_folder(path, dataset)
        if batches is not None:
            return _read_cifar_batches(batches, dataset, verify_checksums, source_info={})
        raise DataSourceError(f"{path}: neither an ImageFolder tree (train/, test/) nor a CIFAR python folder")
    if _is_official_archive(path, dataset):
        return _read_official_archive(path, dataset, verify_checksums)
    if tarfile.is_tarfile(path):
        return read_imagefolder(path)
    raise DataSourceError(f"{path}: not a folder or a tar archive")


# --------------------------------------------------------------------------- download


def _download(dataset: str, root: str) -> RawDataset:
    cls = torchvision_class(dataset)
    if cls is None:
        raise DataSourceError(f"data.source: 'download' is only available for {downloadable()}")
    existed = Path(root).exists()
    try:
        cls(root=root, train=True, download=True)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        if not existed:
            shutil.rmtree(root, ignore_errors=True)  # no half-downloaded archive left behind
        var = dataset_info(dataset).source_env_var
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataSourceError(
            f"could not download {dataset} ({reason}); point the pipeline at a local copy with "
            f"the environment variable {var}=PATH or the params.yaml key data.source: PATH"
        ) from None
    folder = Path(root) / cls.base_folder
    return _read_cifar_batches(folder, dataset, True, source_info={"kind": "torchvision download"})


# --------------------------------------------------------------------------- official CIFAR python format


def _is_official_archive(path: Path, dataset: str) -> bool:
    cls = torchvision_class(dataset)
    return cls is not None and path.name == cls.filename


def _find_batches_folder(path: Path, dataset: str) -> Path | None:
    cls = torchvision_class(dataset)
    if cls is None:
        return None
    for candidate in (path, path / cls.base_folder):
        if (candidate / cls.train_list[0][0]).exists():
            return candidate
    return None


def _read_official_archive(path: Path, dataset: str, verify: bool) -> RawDataset:
    cls = torchvision_class(dataset)
    info = {"kind": "official archive", "sha256": sha256_file(path), "md5_expected": cls.tgz_md5}
    if verify and not check_integrity(str(path), cls.tgz_md5):
        raise DataSourceError(
            f"{path}: MD5 does not match the official {cls.tgz_md5}; the archive is corrupt or "
            "not the official one (set data.verify_checksums: false to use it anyway)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with tarfile.open(path) as archive:
                archive.extractall(tmp, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataSourceError(f"{path}: corrupt archive ({exc})") from None
        folder = _find_batches_folder(Path(tmp), dataset)
        if folder is None:
            raise DataSourceError(f"{path}: no {cls.base_folder}/ folder inside the archive")
        return _read_cifar_batches(folder, dataset, verify, source_info=info, archive_verified=verify)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle, encoding="latin1")
    except FileNotFoundError:
        raise DataSourceError(f"{path}: missing from the CIFAR folder") from None
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DataSourceError(f"{path}: corrupt CIFAR batch ({exc})") from None


def _read_cifar_batches(
    folder: Path, dataset: str, verify: bool, source_info: dict, archive_verified: bool = False
) -> RawDataset:
    cls = torchvision_class(dataset)
    checked = []
    for name, md5 in [*cls.train_list, *cls.test_list, (cls.meta["filename"], cls.meta["md5"])]:
        file = folder / name
        if verify and not check_integrity(str(file), md5):
            reason = "missing" if not file.exists() else f"MD5 does not match the official {md5}"
            raise DataSourceError(f"{file}: {reason} (set data.verify_checksums: false to use it anyway)")
        checked.append(name)

    def load(entries):
        images, labels = [], []
        for name, _ in entries:
            batch = _unpickle(folder / name)
            images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(batch.get("labels", batch.get("fine_labels", [])))
        return np.concatenate(images).transpose(0, 2, 3, 1).copy(), np.asarray(labels, np.int64)

    train_x, train_y = load(cls.train_list)
    test_x, test_y = load(cls.test_list)
    meta = _unpickle(folder / cls.meta["filename"])
    classes = list(meta[cls.meta["key"]])
    info = dict(source_info)
    info.setdefault("kind", "official python folder")
    info["checksums_verified"] = bool(verify)
    info["checksum_note"] = (
        "official MD5s verified" + (" (archive and batch files)" if archive_verified else " (batch files)")
        if verify
        else "verification switched off by data.verify_checksums: false"
    )
    info["files_checked"] = checked if verify else []
    return RawDataset(train_x, train_y, test_x, test_y, classes, info)


# --------------------------------------------------------------------------- ImageFolder tree or tar

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff"}


def _iter_tree(root: Path) -> Iterator[tuple[PurePosixPath, bytes | None, str]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        if rel_dir != PurePosixPath(".") and len(rel_dir.parts) <= 2:
            yield rel_dir, None, str(Path(dirpath))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            yield rel_dir / name, full.read_bytes(), str(full)


def _iter_tar(path: Path) -> Iterator[tuple[PurePosixPath, bytes | None, str]]:
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                rel = PurePosixPath(member.name.lstrip("./") or ".")
                label = f"{path}:{member.name}"
                if member.isdir():
                    yield rel, None, label
                elif member.isfile():
                    handle = archive.extractfile(member)
                    yield rel, handle.read(), label
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise DataSourceError(f"{path}: corrupt archive ({exc})") from None


def _strip_common_root(rel: PurePosixPath) -> PurePosixPath:
    # Archives often wrap the tree in one top folder (e.g. cifar10/train/...).
    parts = rel.parts
    for index, part in enumerate(parts):
        if part in IMAGEFOLDER_SETS:
            return PurePosixPath(*parts[index:])
    return rel


def read_imagefolder(path: Path) -> RawDataset:
    entries = _iter_tree(path) if path.is_dir() else _iter_tar(path)
    entries = tqdm(entries, desc=f"reading {path.name}", unit=" files", disable=None, leave=False)
    images: dict[str, dict[str, list]] = {split: {} for split in IMAGEFOLDER_SETS}
    digest = hashlib.sha256()
    shape = None
    for rel, payload, label in entries:
        rel = _strip_common_root(rel)
        parts = rel.parts
        if not parts or parts[0] not in IMAGEFOLDER_SETS:
            if payload is not None and not rel.name.startswith("."):
                raise DataSourceError(f"{label}: unexpected file outside train/<class>/ and test/<class>/")
            continue
        split = parts[0]
        if payload is None:
            if len(parts) == 2:
                images[split].setdefault(parts[1], [])
            continue
        if len(parts) != 3:
            raise DataSourceError(f"{label}: expected {split}/<class>/<image>, found a file at another depth")
        if rel.name.startswith("."):
            continue  # hidden files such as .DS_Store are not data
        if rel.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataSourceError(f"{label}: not an image file (suffix {rel.suffix or 'none'!r})")
        try:
            with Image.open(io.BytesIO(payload)) as img:
                array = np.asarray(img.convert("RGB"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise DataSourceError(f"{label}: not a readable image ({exc})") from None
        if shape is None:
            shape = array.shape
        elif array.shape != shape:
            raise DataSourceError(
                f"{label}: image size {array.shape[1]}x{array.shape[0]} differs from "
                f"{shape[1]}x{shape[0]} of the other images"
            )
        digest.update(rel.as_posix().encode())
        digest.update(payload)
        images[split].setdefault(parts[1], []).append(array)

    for split in IMAGEFOLDER_SETS:
        if not images[split]:
            raise DataSourceError(f"{path}: no {split}/<class>/ folders found")
    train_classes, test_classes = set(images["train"]), set(images["test"])
    if train_classes != test_classes:
        missing = sorted(train_classes - test_classes)
        extra = sorted(test_classes - train_classes)
        raise DataSourceError(
            f"{path}: class folders differ between train/ and test/: "
            f"missing in test/: {missing}; extra in test/: {extra}"
        )
    classes = sorted(train_classes)
    for split in IMAGEFOLDER_SETS:
        for name in classes:
            if not images[split][name]:
                raise DataSourceError(f"{path}: {split}/{name}/ is empty")

    def stack(split):
        xs, ys = [], []
        for index, name in enumerate(classes):
            xs.extend(images[split][name])
            ys.extend([index] * len(images[split][name]))
        return np.stack(xs), np.asarray(ys, np.int64)

    train_x, train_y = stack("train")
    test_x, test_y = stack("test")
    info = {
        "kind": "imagefolder " + ("folder" if path.is_dir() else "archive"),
        "content_sha256": digest.hexdigest(),
        "checksums_verified": False,
        "checksum_note": "no official checksum exists for an ImageFolder copy; not verifiable",
    }
    if path.is_file():
        info["sha256"] = sha256_file(path)
    return RawDataset(train_x, train_y, test_x, test_y, classes, info)
