"""Class-balanced subsets and disjoint D_tr / D_val_alpha / D_val_beta index sets."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stretchnas import StretchnasError

# The parts a split scheme cuts the selected training images into: D_tr, D_val_alpha, D_val_beta.
PARTS = ("train", "val_alpha", "val_beta")


class SplitError(StretchnasError, ValueError):
    """A subset or split scheme the data cannot serve."""


def balanced_subset(
    labels: np.ndarray, per_class: int | None, rng: np.random.Generator, field: str
) -> list[np.ndarray]:
    """Per class, a shuffled array of `per_class` indices (all of them when None)."""
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if per_class is not None and per_class > len(members):
            raise SplitError(
                f"{field}: {per_class} images per class requested but class {int(cls)} has only {len(members)}"
            )
        members = rng.permutation(members)
        chosen.append(members if per_class is None else members[:per_class])
    return chosen


def part_bounds(count: int, fractions: Mapping[str, float]) -> dict[str, tuple[int, int]]:
    """(start, stop) of each part within one class's `count` shuffled images: the rounded cumulative
    fractions, so thirds written as 0.3333333 cut 60 images 20/20/20 rather than losing one to truncation."""
    bounds, start, cumulative = {}, 0, 0.0
    for key in PARTS:
        cumulative += fractions[key]
        stop = min(count, int(np.floor(cumulative * count + 0.5)))
        bounds[key] = (start, stop)
        start = stop
    return bounds


def make_splits(
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    schemes: Mapping[str, Mapping[str, float]],
    seed: int,
    train_per_class: int | None,
    test_per_class: int | None,
    search_fraction: float | None = None,
) -> dict:
    """Index sets into the prepared training/test arrays.

    The per-class subset is drawn once, so every scheme cuts the same images;
    each scheme's parts are consecutive runs of each class's shuffled indices
    (`part_bounds`), so every part is class-balanced and the parts are disjoint by
    construction. A part given a fraction that ends up empty is refused.

    `search_fraction` (ImageNet): the schemes cut only the first round(fraction * n) of each class's n
    shuffled images, a random sample of that share; evaluation training still reads the whole pool.
    """
    rng = np.random.default_rng(seed)
    per_class_train = balanced_subset(train_labels, train_per_class, rng, "data.train_per_class")
    per_class_test = balanced_subset(test_labels, test_per_class, rng, "data.test_per_class")
    out = {
        "seed": seed,
        "train_per_class": train_per_class,
        "test_per_class": test_per_class,
        "schemes": {},
        # every selected training image: what evaluation training uses (D_tr + D_val)
        "pool": sorted(int(i) for part in per_class_train for i in part),
        "test": sorted(int(i) for part in per_class_test for i in part),
    }
    searched = per_class_train
    if search_fraction is not None:
        searched = [members[: int(np.floor(search_fraction * len(members) + 0.5))] for members in per_class_train]
        out["search_fraction"] = search_fraction
    for name, fractions in schemes.items():
        parts = {key: [] for key in PARTS}
        for members in searched:
            for key, (start, stop) in part_bounds(len(members), fractions).items():
                parts[key].extend(int(i) for i in members[start:stop])
        empty = [key for key in PARTS if fractions[key] > 0 and not parts[key]]
        if empty:
            raise SplitError(
                f"data.split_schemes.{name}: part(s) {empty} get no image from "
                f"{min(len(m) for m in searched)} images per class; select more images per class"
            )
        out["schemes"][name] = {
            "fractions": {key: fractions[key] for key in PARTS},
            **{key: sorted(parts[key]) for key in PARTS},
        }
    return out
