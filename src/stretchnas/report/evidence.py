"""Evidence gates (docs/method.md §11): whether a search did what a search is for, and a training learned.

A number counts as a method's result only if its run did what it is named for:

* a search *moved* when its mean alpha entropy per edge (over cell types) fell by at least
  `min_entropy_drop` nats from its first epoch to its last; beta likewise where the mode has beta;
* a search *settled* when its derived cell did not change over the last `settled_share` of its
  snapshot steps (consecutive snapshot epochs, then the last snapshot to the final cell where the final
  cell comes later than the last snapshot: a step from the last epoch to itself is no evidence);
* a training *learned* when its test error is below chance, 1 - 1/classes, at one-sided binomial
  confidence `chance_confidence` at its test-set size: P(X >= correct | chance) < 1 - chance_confidence.

The tables stage records every search's and training's gates; the claims use only runs that pass.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from scipy import stats

from stretchnas.method.nb201.arch import NB201Genotype
from stretchnas.search.snapshots import INDEX_FILE, snapshot_chain
from stretchnas.settings.types import EvidenceSettings

SEARCH_COLUMNS = (
    "experiment",
    "search_seed",
    "searched_by",  # the experiment whose search it is: itself, or a retrain's source
    "epochs",
    "alpha_entropy_first",
    "alpha_entropy_last",
    "alpha_entropy_drop",
    "moved",
    "beta_entropy_first",
    "beta_entropy_last",
    "beta_entropy_drop",
    "beta_moved",
    "dropped_nodes",
    "snapshot_steps",
    "steps_checked",
    "settled",
)


def chance_p_value(test_error: float, test_images, num_classes) -> float:
    """P(at least the observed number of correct answers | guessing uniformly among `num_classes`): NaN
    where the test-set size or the class count was not recorded."""
    if test_images is None or num_classes is None or pd.isna(test_images) or pd.isna(num_classes):
        return math.nan
    n, classes = int(test_images), int(num_classes)
    correct = round((100.0 - float(test_error)) / 100.0 * n)
    return float(stats.binom.sf(correct - 1, n, 1.0 / classes))


def training_gates(evaluations: pd.DataFrame, evidence: EvidenceSettings) -> pd.DataFrame:
    """`evaluations` with chance_error (%), chance_p_value and learned (True, False, or None where unknown)."""
    frame = evaluations.copy()
    unknown = pd.Series([None] * len(frame), index=frame.index)
    classes = frame["num_classes"] if "num_classes" in frame else unknown
    images = frame["test_images"] if "test_images" in frame else unknown
    frame["chance_error"] = [100.0 * (1 - 1 / c) if pd.notna(c) else math.nan for c in classes]
    frame["chance_p_value"] = [chance_p_value(e, n, c) for e, n, c in zip(frame["test_error"], images, classes)]
    frame["learned"] = [
        None if math.isnan(p) else bool(p < 1 - evidence.chance_confidence) for p in frame["chance_p_value"]
    ]
    return frame


def _mean_entropy(row: pd.Series, kind: str) -> float:
    values = [row[c] for c in row.index if c.startswith(f"{kind}_entropy_") and pd.notna(row[c])]
    return float(sum(values) / len(values)) if values else math.nan


def _cell_key(genotype):
    """What identifies a derived cell (its structure, not the notes about it); None: no derivable cell."""
    if genotype is None:
        return None
    if isinstance(genotype, NB201Genotype):
        return genotype.arch_str
    return json.dumps(genotype.structure(), sort_keys=True)


def cell_chain(search_dir: Path, last_epoch: int | None) -> list[tuple[int | str, object]]:
    """(epoch, cell key) of every snapshot in epoch order, then the final cell where it is later than the
    last snapshot (stretchnas.search.snapshots.snapshot_chain); none for a search without a snapshot index."""
    if not (search_dir / INDEX_FILE).exists():
        return []
    return [(epoch, _cell_key(genotype)) for epoch, genotype in snapshot_chain(search_dir, last_epoch)]


def settled(chain: list[tuple[int | str, object]], share: float) -> tuple[int, int, bool | None]:
    """(snapshot steps, steps checked, settled): the last ceil(share * steps) steps have derivable cells
    that do not change; None where there is no step."""
    steps = list(zip(chain, chain[1:]))
    if not steps:
        return 0, 0, None
    checked = max(1, math.ceil(share * len(steps)))
    unchanged = all(a is not None and a == b for (_, a), (_, b) in steps[-checked:])
    return len(steps), checked, unchanged


def search_gates(
    dynamics: pd.DataFrame,
    search_dirs: list[tuple[str, int, Path]],
    evidence: EvidenceSettings,
    retrained: list[tuple[str, int, Path]] = (),
) -> pd.DataFrame:
    """One row per search: its entropy drop and whether it moved, its snapshot steps and whether it settled.
    `retrained` (experiment, seed, search folder) of each retrain: its source search's row again, under its own
    name, so its trainings pass the gates of the search that found their cell."""
    rows = []
    for experiment, seed, search_dir in search_dirs:
        row = {"experiment": experiment, "search_seed": seed, "searched_by": experiment}
        if dynamics.empty:
            rows.append(row)
            continue
        epochs = dynamics[(dynamics["experiment"] == experiment) & (dynamics["search_seed"] == seed)]
        if epochs.empty:
            rows.append(row)
            continue
        epochs = epochs.sort_values("epoch")
        first, last = epochs.iloc[0], epochs.iloc[-1]
        row["epochs"] = int(last["epoch"])
        for kind in ("alpha", "beta"):
            start, end = _mean_entropy(first, kind), _mean_entropy(last, kind)
            drop = start - end
            row[f"{kind}_entropy_first"], row[f"{kind}_entropy_last"], row[f"{kind}_entropy_drop"] = start, end, drop
            row["moved" if kind == "alpha" else "beta_moved"] = (
                None if math.isnan(drop) else bool(drop >= evidence.min_entropy_drop)
            )
        row["dropped_nodes"] = int(last["dropped_nodes"]) if "dropped_nodes" in last else None
        steps, checked, is_settled = settled(cell_chain(search_dir, row["epochs"]), evidence.settled_share)
        row.update(snapshot_steps=steps, steps_checked=checked, settled=is_settled)
        rows.append(row)
    by_folder = {folder: row for (_, _, folder), row in zip(search_dirs, rows)}
    for experiment, seed, folder in retrained:
        source = by_folder.get(folder, {"searched_by": None})  # its search not in these summaries: no gates
        rows.append({**source, "experiment": experiment, "search_seed": seed})
    return pd.DataFrame(rows, columns=list(SEARCH_COLUMNS))


def thresholds(evidence: EvidenceSettings) -> pd.DataFrame:
    """The gates' and the claims' settings, one row: the report states them beside every verdict."""
    return pd.DataFrame([evidence.to_tree()])
