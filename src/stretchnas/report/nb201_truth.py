"""NAS-Bench-201 ground truth during search: selections from the tables stage's `nb201_snapshots` data
(every snapshot cell of every search, looked up in the benchmark's table) that the NB201 tables, figure
and claims share (docs/method.md §12)."""

from __future__ import annotations

import pandas as pd

from stretchnas.report.stats import mean_std

# Table 4's question on ground truth looks at the snapshots past this share of the search (the paper's
# snapshots are epochs 20-50 of 50)
LATE_FROM = 0.4
SC_SUFFIX, SIMPLIFIED_SUFFIX = "_sc", "_simplified"  # params.yaml names each twin after its base method
DATA_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16_120": "ImageNet16-120"}


def families(experiments: list[str]) -> list[tuple[str, str | None, str | None]]:
    """(base, its stretchable-cell twin, its simplified twin) per base method among `experiments` (NB201's,
    in params.yaml's order); a twin the list lacks is None."""
    names = set(experiments)
    bases = [e for e in experiments if not e.endswith((SC_SUFFIX, SIMPLIFIED_SUFFIX))]
    return [
        (
            base,
            f"{base}{SC_SUFFIX}" if f"{base}{SC_SUFFIX}" in names else None,
            f"{base}{SIMPLIFIED_SUFFIX}" if f"{base}{SIMPLIFIED_SUFFIX}" in names else None,
        )
        for base in bases
    ]


def derivable(snapshots: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """An experiment's snapshot rows that have a cell (and so accuracies)."""
    if snapshots.empty:
        return snapshots
    rows = snapshots[snapshots["experiment"] == experiment]
    if "not_derivable" in rows:
        rows = rows[rows["not_derivable"].isna()]
    return rows


def late(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["progress"] > LATE_FROM + 1e-12]


def snapshot_spread(snapshots: pd.DataFrame, experiment: str, data: str = "cifar10") -> dict[int, float]:
    """Per search seed: the standard deviation of its late snapshot cells' test accuracy on `data` (a search
    needs two such snapshots)."""
    rows = late(derivable(snapshots, experiment))
    spreads = {}
    for seed, group in rows.groupby("search_seed", sort=True):
        if len(group) >= 2:
            spreads[int(seed)] = float(group[f"{data}_test_acc"].astype(float).std())
    return spreads


def distinct_cells(snapshots: pd.DataFrame, experiment: str) -> dict[int, int]:
    """Per search seed: how many different cells its late snapshots are."""
    rows = late(derivable(snapshots, experiment))
    return {int(seed): int(group["arch"].nunique()) for seed, group in rows.groupby("search_seed", sort=True)}


def late_snapshot_counts(snapshots: pd.DataFrame, experiment: str) -> list[int]:
    rows = late(derivable(snapshots, experiment))
    return [len(group) for _, group in rows.groupby("search_seed", sort=True)]


def progress_curve(snapshots: pd.DataFrame, experiment: str, data: str = "cifar10") -> pd.DataFrame:
    """Per snapshot progress: mean, std and n over searches of the snapshot cells' test accuracy on `data`."""
    rows = derivable(snapshots, experiment)
    out = [
        dict(zip(("mean", "std", "n"), mean_std(group[f"{data}_test_acc"])), progress=float(progress))
        for progress, group in rows.groupby("progress", sort=True)
    ]
    return pd.DataFrame(out, columns=["progress", "mean", "std", "n"])
