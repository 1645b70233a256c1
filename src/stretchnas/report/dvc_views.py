"""What `dvc metrics show` and `dvc plots show` read: the report's numbers as one JSON file and the data
of Figures 1, 4 and 5 as plain numeric CSV (DVC cannot plot "76.80 (n=1 search)"). Every number is
computed by the same selections as the tables and figures (report.frames, report.stats), none by its own.

metrics.json holds, per experiment, how many searches ran, moved and settled (the gates a verdict needs),
the test error of its final cells over searches, and its NAS-Bench-201 accuracies; and each claim's verdict
as the claims page states it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from stretchnas.report.artefacts import DVC_VIEWS
from stretchnas.report.claims import Verdict, passes
from stretchnas.report.frames import errors_by_depth
from stretchnas.report.layouts import Data, figure5_experiments
from stretchnas.report.stats import mean_std, per_search
from stretchnas.runs.atomic import atomic_write_text

# metrics.json; Figures 1 and 4: mean test error over searches, a column per experiment, a row per
# evaluation depth; Figure 5: mean test error and params over searches, a row per number of outputs per node
METRICS_FILE, DEPTH_PLOT, OUTPUTS_PLOT = DVC_VIEWS
DIGITS = 4  # as many as the tables print and more: the same bytes on every machine


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), DIGITS)


def _gates(searches: pd.DataFrame | None, experiment: str) -> dict[str, int]:
    rows = searches[searches["experiment"] == experiment] if searches is not None and len(searches) else None
    if rows is None or rows.empty:
        return {"searches": 0, "moved": 0, "settled": 0}
    passed = {gate: sum(passes(value) for value in rows[gate]) for gate in ("moved", "settled")}
    return {"searches": len(rows), **passed}


def _nb201(nb201: pd.DataFrame | None, experiment: str) -> dict:
    rows = nb201[nb201["experiment"] == experiment] if nb201 is not None and len(nb201) else None
    if rows is None or rows.empty:
        return {}
    out = {}
    for column in ("cifar10_test_acc", "imagenet16_120_test_acc"):
        mean, std, n = mean_std(rows[column].dropna())
        out[f"nb201_{column}"] = {"mean": _number(mean), "std": _number(std), "n": n}
    return out


def metrics(data: Data, claims: list[Verdict], nb201_claims: list[Verdict] = ()) -> dict:
    """Per experiment (sorted by name) its searches and gates, its final cells' test error over searches at
    their own evaluation depth, and its NAS-Bench-201 accuracies; every claim's verdict."""
    searches, nb201 = data.frames.get("searches"), data.frames.get("nb201")
    experiments = {}
    for experiment in sorted(data.experiments.index):
        runs = data.final_runs(experiment)
        mean, std, n = mean_std(per_search(runs)) if len(runs) else (math.nan, math.nan, 0)
        entry: dict = _gates(searches, experiment)
        entry["test_error"] = {"mean": _number(mean), "std": _number(std), "n": n}
        entry.update(_nb201(nb201, experiment))
        experiments[experiment] = entry
    verdicts = {
        f"claim{index}": {"artefact": claim.artefact, "verdict": claim.verdict}
        for index, claim in enumerate(claims, start=1)
    }
    verdicts.update(
        {
            f"nb201_claim{index}": {"artefact": claim.artefact, "verdict": claim.verdict}
            for index, claim in enumerate(nb201_claims, start=1)
        }
    )
    return {"scale": data.scale(), "experiments": experiments, "claims": verdicts}


def depth_plot(data: Data) -> pd.DataFrame:
    """Figures 1 and 4's lines: `eval_layers`, then one column per figure4 experiment (in the figure's order)
    holding its mean test error over searches, empty where it has none at that depth."""
    columns = {}
    for experiment in data.tagged("figure4"):
        points = errors_by_depth(data.evaluations, experiment)
        columns[experiment] = points.set_index("layers")["mean"]
    frame = pd.DataFrame(columns)
    frame.index.name = "eval_layers"
    return frame.sort_index().reset_index()


def outputs_plot(data: Data) -> pd.DataFrame:
    """Figure 5's points: outputs per node (1..4, then `arbitrary`), mean test error and params over searches."""
    rows = []
    for experiment, outputs in figure5_experiments(data):
        runs = data.final_runs(experiment)
        mean, _, n = mean_std(per_search(runs)) if len(runs) else (math.nan, math.nan, 0)
        params = _number(runs["params_m"].mean()) if len(runs) else None
        rows.append(
            {
                "outputs_per_node": outputs,
                "experiment": experiment,
                "test_error": _number(mean),
                "params_m": params,
                "searches": n,
            }
        )
    return pd.DataFrame(rows, columns=["outputs_per_node", "experiment", "test_error", "params_m", "searches"])


def write_dvc_views(data: Data, claims: list[Verdict], out: Path, nb201_claims: list[Verdict] = ()) -> list[Path]:
    """metrics.json and the plots' CSVs under `out` (results/<scale>), written atomically."""
    written = [out / METRICS_FILE]
    atomic_write_text(written[0], json.dumps(metrics(data, claims, nb201_claims), indent=2, allow_nan=False) + "\n")
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for name, frame in ((DEPTH_PLOT, depth_plot(data)), (OUTPUTS_PLOT, outputs_plot(data))):
        written.append(out / name)
        atomic_write_text(written[-1], frame.to_csv(index=False, float_format=f"%.{DIGITS}f", lineterminator="\n"))
    return written
