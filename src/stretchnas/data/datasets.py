"""What the package knows about each data set, in one place.

Class counts and images per class bound what params.yaml may ask for; the
torchvision class is the downloader and the source of the official MD5s; the
environment variable points the pipeline at a local copy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int | None  # None: read from the ImageFolder tree
    train_per_class: int | None  # images per class in the official training set
    test_per_class: int | None
    image_size: int | None
    torchvision_class: str | None  # name in torchvision.datasets
    source_env_var: str | None


DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo("cifar10", 10, 5000, 1000, 32, "CIFAR10", "STRETCHNAS_CIFAR10"),
    "cifar100": DatasetInfo("cifar100", 100, 500, 100, 32, "CIFAR100", "STRETCHNAS_CIFAR100"),
    "imagefolder": DatasetInfo("imagefolder", None, None, None, None, None, None),
}


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}") from None


def torchvision_class(name: str):
    """The torchvision dataset class of `name`, or None when torchvision has none."""
    info = dataset_info(name)
    if info.torchvision_class is None:
        return None
    import torchvision.datasets

    return getattr(torchvision.datasets, info.torchvision_class)


def downloadable() -> list[str]:
    return sorted(name for name, info in DATASETS.items() if info.torchvision_class)
