"""Selections from the tables stage's data that the layouts, the figures and the claims all make."""

from __future__ import annotations

import pandas as pd

from stretchnas.report.stats import mean_std, per_search

EDIT_COLUMNS = r"^(edges|ops)_changed_"  # stretchnas.search.snapshots.cell_changes, both cell types


def final_runs(evaluations: pd.DataFrame, experiment: str, layers: int | None = None) -> pd.DataFrame:
    """An experiment's trainings of its final cell at `layers` (default: its own evaluation layers)."""
    rows = evaluations[(evaluations["experiment"] == experiment) & (evaluations["genotype"] == "final")]
    return rows[rows["own_layers"]] if layers is None else rows[rows["layers"] == layers]


def errors_by_depth(evaluations: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """Per evaluation depth of the experiment's final cell: mean, std (NaN for one search) and n over
    searches of its test error."""
    finals = evaluations[(evaluations["experiment"] == experiment) & (evaluations["genotype"] == "final")]
    rows = [
        dict(zip(("mean", "std", "n"), mean_std(per_search(runs))), layers=layers)
        for layers, runs in finals.groupby("layers", sort=True)
    ]
    return pd.DataFrame(rows, columns=["layers", "mean", "std", "n"])


def step_edits(stability: pd.DataFrame) -> pd.Series:
    """Edges gained or lost plus ops changed, both cell types, per snapshot step (row)."""
    return stability.filter(regex=EDIT_COLUMNS).sum(axis=1)


def edits_per_derivable_step(stability: pd.DataFrame) -> pd.DataFrame:
    """Per (experiment, search seed): the mean edits over the steps whose two cells are derivable. A step
    with no derivable cell is left out, never counted as no change."""
    derivable = stability[~stability["not_derivable"]] if len(stability) else stability
    if derivable.empty:
        return pd.DataFrame(columns=["experiment", "search_seed", "edits"])
    edits = derivable[["experiment", "search_seed"]].assign(edits=step_edits(derivable))
    return edits.groupby(["experiment", "search_seed"], sort=True)["edits"].mean().reset_index()


def devices(records: pd.DataFrame) -> list[str]:
    """The devices search records name, sorted; empty where none is recorded."""
    return sorted({str(d) for d in records["device"].dropna()}) if "device" in records else []
