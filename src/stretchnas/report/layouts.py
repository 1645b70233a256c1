"""Each of the paper's tables in its own layout, from the tables stage's data: one row per row of the
paper, our numbers as mean ± std (n) over searches and, apart, over the best search's training seeds,
and the paper's numbers beside them in `paper_*` columns. Nothing is left blank: a missing number says
"not run" and why."""

from __future__ import annotations

import math

import pandas as pd

from stretchnas.report.frames import devices, errors_by_depth, final_runs, step_edits
from stretchnas.report.paper_numbers import (
    NOT_IN_THE_PAPER,
    PROTOCOL_NOT_STATED,
    TABLE1,
    TABLE1_PROTOCOL,
    TABLE1_ROW_OF_EXPERIMENT,
    TABLE2,
    TABLE2_ROW_OF_EXPERIMENT,
    TABLE3,
    TABLE4,
    TABLE5,
)
from stretchnas.report.stats import format_mean_std, mean_std, seed_summary

NOT_RUN = "not run"
PAPER_VALUE_MISSING = "not printed"


class Data:
    """The tables stage's CSVs of one scale (results/<scale>/data), read once."""

    def __init__(self, frames: dict[str, pd.DataFrame], scale: str):
        self.frames, self._scale = frames, scale
        self.experiments = frames["experiments"].set_index("experiment", drop=False)
        self.evaluations = frames["evaluations"]
        self.not_run = frames["not_run"]

    def tagged(self, table: str) -> list[str]:
        tags = self.experiments["tables"].fillna("").str.split(",")
        return [name for name, names in zip(self.experiments["experiment"], tags) if table in names]

    def final_runs(self, experiment: str, layers: int | None = None) -> pd.DataFrame:
        return final_runs(self.evaluations, experiment, layers)

    def why_not(
        self, experiment: str, genotype: str = "final", layers: int | None = None, search_seed: int | None = None
    ) -> str:
        """'not run (reason)' for trainings with no result."""
        if experiment not in self.experiments.index:
            return f"{NOT_RUN} (no experiment {experiment} at this scale)"
        if self.not_planned(experiment):
            return f"{NOT_RUN}: {self.not_planned(experiment)}"
        nr = self.not_run
        rows = nr[(nr["experiment"] == experiment) & (nr["genotype"] == genotype)]
        if layers is not None:
            rows = rows[rows["layers"] == layers]
        if search_seed is not None:
            rows = rows[rows["search_seed"] == search_seed]
        if len(rows):
            return f"{NOT_RUN} ({'; '.join(sorted(set(rows['reason'])))})"
        where = "" if layers is None else f" at {layers} layers"
        return f"{NOT_RUN} (no training of {experiment}'s {genotype} cell{where} in this scale's plan)"

    def not_planned(self, experiment: str) -> str | None:
        """Why the plan has no job for the experiment at this scale (None: it has)."""
        reason = self.experiments.loc[experiment].get("not_planned") if experiment in self.experiments.index else None
        return reason if isinstance(reason, str) and reason else None

    def scale(self) -> str:
        return self._scale


def _params(runs: pd.DataFrame) -> str:
    """Mean params (M) of the trained networks, with their range where searches gave different cells."""
    low, high, mean = runs["params_m"].min(), runs["params_m"].max(), runs["params_m"].mean()
    return f"{mean:.3f}" if math.isclose(low, high) else f"{mean:.3f} ({low:.3f}-{high:.3f})"


def _flops(runs: pd.DataFrame) -> str:
    return f"{runs['thop_style_flops_m'].mean():.1f}"


def _paper(value) -> object:
    return PAPER_VALUE_MISSING if value is None else value


# --------------------------------------------------------------------------- search cost


def search_cost(data: Data, experiment: str) -> str:
    """Mean wall time of one search of the experiment, from its per-epoch records, labelled with the device:
    GPU-days on a GPU (the paper's unit), CPU-hours on a CPU."""
    dynamics = data.frames["search_dynamics"]
    procedure = data.experiments.loc[experiment, "procedure"] if experiment in data.experiments.index else None
    if procedure == "retrain":
        return "none (trains another experiment's searched cells)"
    if data.not_planned(experiment):
        return data.why_not(experiment)
    if procedure != "search":
        return "not recorded (random sampling: its cost is the trainings')"
    rows = dynamics[dynamics["experiment"] == experiment] if "experiment" in dynamics else dynamics.iloc[:0]
    if rows.empty:
        return f"{NOT_RUN} (no search record)"
    seconds = rows.groupby("search_seed")["seconds"].sum()
    names = devices(rows)
    n = f"n={len(seconds)} search{'es' if len(seconds) != 1 else ''}"
    mean = seconds.mean()
    if not names:
        return f"{mean / 3600:.3f} hours (device not recorded; {n})"
    if len(names) > 1:  # no one unit fits searches on different devices
        return f"{mean / 3600:.3f} hours (mixed devices: {', '.join(names)}; {n})"
    if names == ["cpu"]:
        return f"{mean / 3600:.3f} CPU-hours (cpu; {n})"
    return f"{mean / 86400:.3f} GPU-days ({names[0]}; {n})"


def search_method(data: Data, experiment: str) -> str:
    procedure = data.experiments.loc[experiment, "procedure"]
    return {"search": "gradient-based", "retrain": "gradient-based (retrained)"}.get(procedure, "random")


def perspective(topology_mode: str) -> str:
    """Which side of a node its selected edges are counted on: 'input' or 'output'."""
    from stretchnas.method.topology import mode_space  # torch: only Table 5 needs it

    return mode_space(topology_mode).perspective


def outputs_per_node(topology_mode: str, k) -> str:
    """Figure 5's x value: output_k selects k outputs per node, output_pairs two, stretchable any number
    (docs/method.md §2)."""
    if topology_mode == "output_pairs":
        return "2"
    return str(int(k)) if topology_mode == "output_k" else "arbitrary"


# --------------------------------------------------------------------------- tables


def table1(data: Data) -> pd.DataFrame:
    rows, reproduced = [], set()
    for experiment in data.tagged("table1"):
        runs = data.final_runs(experiment)
        paper_row = TABLE1_ROW_OF_EXPERIMENT.get(experiment)
        reproduced.add(paper_row)
        error, params, flops, cost = TABLE1.get(paper_row, (None,) * 4)
        row = {"Architecture": experiment, "Paper row": paper_row or NOT_IN_THE_PAPER}
        if runs.empty:
            reason = data.why_not(experiment)
            row.update(
                {
                    "Test error (%) over searches": reason,
                    "Test error (%) of the best search": reason,
                    "Params (M)": reason,
                    "FLOPs (M)": reason,
                }
            )
        else:
            stats = seed_summary(runs)
            row.update(
                {
                    "Test error (%) over searches": stats.over_searches,
                    "Test error (%) of the best search": stats.best_over_trainings,
                    "Params (M)": _params(runs),
                    "FLOPs (M)": _flops(runs),
                }
            )
        row.update(
            {
                "Search cost": search_cost(data, experiment),
                "Search method": search_method(data, experiment),
                "paper_test_error": _paper(error),
                "paper_params_m": _paper(params),
                "paper_flops_m": _paper(flops),
                "paper_search_cost_gpu_days": _paper(cost),
                "paper_protocol": _protocol(paper_row),
            }
        )
        rows.append(row)
    for paper_row, (error, params, flops, cost) in TABLE1.items():
        if paper_row in reproduced:
            continue
        reason = f"{NOT_RUN} (no experiment in params.yaml reproduces this row)"
        rows.append(
            {
                "Architecture": "none",
                "Paper row": paper_row,
                "Test error (%) over searches": reason,
                "Test error (%) of the best search": reason,
                "Params (M)": reason,
                "FLOPs (M)": reason,
                "Search cost": reason,
                "Search method": "none",
                "paper_test_error": _paper(error),
                "paper_params_m": _paper(params),
                "paper_flops_m": _paper(flops),
                "paper_search_cost_gpu_days": _paper(cost),
                "paper_protocol": _protocol(paper_row),
            }
        )
    return pd.DataFrame(rows)


def _protocol(paper_row: str | None) -> str:
    return TABLE1_PROTOCOL.get(paper_row, PROTOCOL_NOT_STATED) if paper_row else "none (not in the paper)"


def table2(data: Data) -> pd.DataFrame:
    """ImageNet: the 12-layer stretchable cell transferred, and a search on an ImageNet subset; top-1 and
    top-5 error over searches (each search's mean over its training seeds)."""
    rows, reproduced = [], set()
    for experiment in data.tagged("table2"):
        paper_row = TABLE2_ROW_OF_EXPERIMENT.get(experiment)
        reproduced.add(paper_row)
        top1, top5, params, flops, cost = TABLE2.get(paper_row, (None,) * 5)
        runs = data.final_runs(experiment)
        row = {"Architecture": experiment, "Paper row": paper_row or NOT_IN_THE_PAPER}
        if runs.empty:
            reason = data.why_not(experiment)
            row.update(
                {"Top-1 error (%)": reason, "Top-5 error (%)": reason, "Params (M)": reason, "FLOPs (M)": reason}
            )
        else:
            row.update(
                {
                    "Top-1 error (%)": seed_summary(runs).over_searches,
                    "Top-5 error (%)": _top5(runs),
                    "Params (M)": _params(runs),
                    "FLOPs (M)": _flops(runs),
                }
            )
        row.update(
            {
                "Search cost": search_cost(data, experiment),
                "paper_top1_error": _paper(top1),
                "paper_top5_error": _paper(top5),
                "paper_params_m": _paper(params),
                "paper_flops_m": _paper(flops),
                "paper_search_cost_gpu_days": _paper(cost),
            }
        )
        rows.append(row)
    for paper_row, (top1, top5, params, flops, cost) in TABLE2.items():
        if paper_row in reproduced:
            continue
        reason = f"{NOT_RUN} (no experiment in params.yaml reproduces this row)"
        rows.append(
            {
                "Architecture": "none",
                "Paper row": paper_row,
                "Top-1 error (%)": reason,
                "Top-5 error (%)": reason,
                "Params (M)": reason,
                "FLOPs (M)": reason,
                "Search cost": reason,
                "paper_top1_error": top1,
                "paper_top5_error": top5,
                "paper_params_m": params,
                "paper_flops_m": flops,
                "paper_search_cost_gpu_days": cost,
            }
        )
    return pd.DataFrame(rows)


def _top5(runs: pd.DataFrame) -> str:
    values = pd.to_numeric(runs["test_top5_error"], errors="coerce") if "test_top5_error" in runs else None
    if values is None or values.isna().all():
        return f"{NOT_RUN} (top-5 error is not measured with 5 classes or fewer)"
    return seed_summary(runs.assign(test_top5_error=values), "test_top5_error").over_searches


TABLE3_LAYERS = (8, 12, 16, 20)


def table3(data: Data) -> pd.DataFrame:
    """Rows (method, nodes counted as the paper does: the two inputs and the output included), a column
    pair per search (= evaluation) layer count."""
    by_cell = {}
    for experiment in data.tagged("table3"):
        e = data.experiments.loc[experiment]
        by_cell[(e["method"], int(e["intermediate_nodes"]) + 3, int(e["search_layers"]))] = experiment
    rows = []
    for (method, nodes), paper in TABLE3.items():
        row = {"Method": method, "Nodes": nodes}
        for layers in TABLE3_LAYERS:
            experiment = by_cell.get((method, nodes, layers))
            runs = data.final_runs(experiment) if experiment else pd.DataFrame()
            if experiment is None:
                error = params = f"{NOT_RUN} (no experiment in params.yaml searches this cell at this scale)"
            elif runs.empty:
                error = params = data.why_not(experiment)
            else:
                error, params = seed_summary(runs).over_searches, _params(runs)
            row[f"L{layers} test error (%)"], row[f"L{layers} params (M)"] = error, params
        for layers in TABLE3_LAYERS:
            paper_error, paper_params = paper.get(layers, (None, None))
            row[f"paper_L{layers}_test_error"] = _paper(paper_error)
            row[f"paper_L{layers}_params_m"] = _paper(paper_params)
        rows.append(row)
    return pd.DataFrame(rows)


def table4(data: Data) -> pd.DataFrame:
    """A row per (method, search): the test error over training seeds and params of the cell derived at
    each snapshot epoch of this scale, and of the final cell; the paper's runs in paper_* columns (run i
    beside our i-th search)."""
    e = data.evaluations
    rows = []
    for experiment in data.tagged("table4"):
        method = data.experiments.loc[experiment, "method"]
        runs = e[(e["experiment"] == experiment) & e["own_layers"]]
        planned = data.not_run[data.not_run["experiment"] == experiment]
        labels = sorted(set(runs["genotype"]) | set(planned["genotype"]), key=_label_order)
        seeds = sorted(set(runs["search_seed"]) | set(planned["search_seed"]))
        if not seeds:
            rows.append({"Method": method, "Experiment": experiment, "Search": data.why_not(experiment)})
            continue
        for i, seed in enumerate(seeds):
            row = {"Method": method, "Experiment": experiment, "Search": f"seed {seed}"}
            for label in labels:
                title = "final cell" if label == "final" else f"epoch {_label_order(label)[1]}"
                at = runs[(runs["search_seed"] == seed) & (runs["genotype"] == label)]
                if at.empty:
                    reason = data.why_not(experiment, label, search_seed=seed)
                    row[f"{title} test error (%)"] = row[f"{title} params (M)"] = reason
                else:
                    row[f"{title} test error (%)"] = format_mean_std(*mean_std(at["test_error"]), unit="trainings")
                    row[f"{title} params (M)"] = _params(at)
            paper_runs = TABLE4.get(method, ())
            for epoch in (20, 30, 40, 50):
                paper_error, paper_params = paper_runs[i][epoch] if i < len(paper_runs) else (None, None)
                row[f"paper_epoch{epoch}_test_error"] = _paper(paper_error)
                row[f"paper_epoch{epoch}_params_m"] = _paper(paper_params)
            rows.append(row)
    return pd.DataFrame(rows)


def _label_order(label: str):
    return (1, 0) if label == "final" else (0, int(label.split("_")[1]))


def table5(data: Data) -> pd.DataFrame:
    cells = {}
    for experiment in data.tagged("table5"):
        e = data.experiments.loc[experiment]
        cells[(e["method"], perspective(e["topology_mode"]))] = experiment
    rows = []
    for method in dict.fromkeys(method for method, _ in TABLE5):
        row = {"Method": method}
        for side in ("input", "output"):
            experiment = cells.get((method, side))
            runs = data.final_runs(experiment) if experiment else pd.DataFrame()
            if experiment is None:
                value = f"{NOT_RUN} (no experiment in params.yaml searches this way at this scale)"
            elif runs.empty:
                value = data.why_not(experiment)
            else:
                value = f"{seed_summary(runs).over_searches} [{experiment}]"
            row[f"{side.capitalize()} edges: test error (%)"] = value
        row["paper_input_edges_test_error"] = TABLE5.get((method, "input"))
        row["paper_output_edges_test_error"] = TABLE5.get((method, "output"))
        rows.append(row)
    return pd.DataFrame(rows)


def figure4(data: Data) -> pd.DataFrame:
    """Figures 1 and 4 as a table: a row per final cell, its test error at every evaluation depth."""
    e = data.evaluations
    tagged = data.tagged("figure4")
    depths = sorted(set(e[e["experiment"].isin(tagged) & (e["genotype"] == "final")]["layers"]))
    rows = []
    for experiment in tagged:
        points = errors_by_depth(e, experiment).set_index("layers")
        row = {
            "Experiment": experiment,
            "Method": data.experiments.loc[experiment, "method"],
            "Search layers": int(data.experiments.loc[experiment, "search_layers"]),
        }
        for layers in depths:
            if layers not in points.index:
                row[f"L{layers} test error (%)"] = data.why_not(experiment, layers=layers)
                continue
            point = points.loc[layers]
            row[f"L{layers} test error (%)"] = format_mean_std(
                point["mean"], point["std"], int(point["n"]), unit="searches"
            )
        rows.append(row)
    return pd.DataFrame(rows)


FIGURE5_REFERENCE = "darts_2nd_L8"  # DARTS (2nd order), the paper's reference point in Figure 5


def figure5_experiments(data: Data) -> list[tuple[str, str]]:
    """Figure 5's experiments and their outputs per node, 1..4 then arbitrary (the reference not included)."""
    experiments = data.experiments
    found = [
        (outputs_per_node(experiments.loc[e, "topology_mode"], experiments.loc[e, "k"]), e)
        for e in data.tagged("figure5")
        if e in experiments.index
    ]
    return [(e, outputs) for outputs, e in sorted(found, key=lambda pair: (pair[0] == "arbitrary", pair[0]))]


def figure5(data: Data) -> pd.DataFrame:
    rows = []
    reference = (
        [(FIGURE5_REFERENCE, "DARTS (2nd order), reference")] if FIGURE5_REFERENCE in data.experiments.index else []
    )
    for experiment, outputs in figure5_experiments(data) + reference:
        runs = data.final_runs(experiment)
        row = {"Outputs per node": outputs, "Experiment": experiment}
        if runs.empty:
            row["Test error (%)"] = row["Params (M)"] = data.why_not(experiment)
        else:
            row["Test error (%)"], row["Params (M)"] = seed_summary(runs).over_searches, _params(runs)
        rows.append(row)
    return pd.DataFrame(rows)


def cells(data: Data) -> pd.DataFrame:
    """Depth and width of every searched cell, per experiment: mean over searches."""
    frame = data.frames["cells"]
    rows = []
    for experiment, group in frame.groupby("experiment", sort=True) if len(frame) else []:
        row = {
            "Experiment": experiment,
            "Method": group["method"].iloc[0],
            "Search layers": int(group["search_layers"].iloc[0]),
        }
        for column in ("depth_normal", "width_normal", "depth_reduce", "width_reduce"):
            row[column.replace("_", " (") + " cell)"] = format_mean_std(*mean_std(group[column]), 1, "searches")
        rows.append(row)
    return pd.DataFrame(rows)


def stability(data: Data) -> pd.DataFrame:
    """Table 4's claim without training: edits between consecutive snapshot genotypes, per search."""
    frame = data.frames["stability"]
    rows = []
    for (experiment, seed), group in frame.groupby(["experiment", "search_seed"], sort=True) if len(frame) else []:
        edits = step_edits(group[~group["not_derivable"]])
        last_edits = (
            int(step_edits(group).iloc[-1])
            if not group["not_derivable"].iloc[-1]
            else f"{NOT_RUN} (the last snapshot has no derivable cell)"
        )
        rows.append(
            {
                "Experiment": experiment,
                "Method": group["method"].iloc[0],
                "Search": f"seed {seed}",
                "Snapshot steps": len(group),
                "Not derivable": int(group["not_derivable"].sum()),
                "Edits per derivable step": format_mean_std(*mean_std(edits), 1, "steps"),
                "Edits, last snapshot to final": last_edits,
            }
        )
    return pd.DataFrame(rows)


def costs(data: Data) -> pd.DataFrame:
    """Per experiment: search time per epoch and in all, peak memory, throughput, and training time."""
    dynamics, e = data.frames["search_dynamics"], data.evaluations
    rows = []
    for experiment in data.experiments["experiment"]:
        search = dynamics[dynamics["experiment"] == experiment] if "experiment" in dynamics else dynamics
        trainings = e[e["experiment"] == experiment]
        row = {
            "Experiment": experiment,
            "Method": data.experiments.loc[experiment, "method"],
            "Search cost": search_cost(data, experiment),
        }
        if len(search):
            row.update(
                {
                    "Device": ", ".join(devices(search)) or "not recorded",
                    "Search seconds per epoch": format_mean_std(*mean_std(search["seconds"]), unit="epochs"),
                    "Search peak RSS (MiB)": f"{search['peak_rss_mib'].max():.0f}",
                    "Search images/s": format_mean_std(*mean_std(search["images_per_s"]), 1, "epochs"),
                }
            )
        else:
            row.update(
                {
                    "Device": "no search",
                    "Search seconds per epoch": "no search",
                    "Search peak RSS (MiB)": "no search",
                    "Search images/s": "no search",
                }
            )
        seconds = trainings["wall_seconds"].dropna() if "wall_seconds" in trainings else pd.Series(dtype=float)
        row["Training hours (all trainings)"] = f"{seconds.sum() / 3600:.3f} (n={len(seconds)} trainings)"
        rows.append(row)
    return pd.DataFrame(rows)


NB201_DATA_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16_120": "ImageNet16-120"}


def nb201(data: Data) -> pd.DataFrame:
    """NAS-Bench-201: per method, topology and simplification, the looked-up test accuracy of its searched cells
    on each data set (mean ± std over searches; the benchmark's 12-epoch table, whose file each row names), the
    200-epoch validation accuracy where the subset holds the cell, and the search cost: wall time, peak memory
    and throughput of the search processes."""
    frame = data.frames["nb201"]
    rows = []
    for experiment in data.tagged("nb201"):
        e = data.experiments.loc[experiment]
        simplified = str(e.get("simplified", False)) == "True"  # a column of experiments.csv, read as text or bool
        row = {
            "Experiment": experiment,
            "Method": e["method"],
            "Topology": e["topology_mode"],
            "Simplified": "yes" if simplified else "no",
        }
        found = frame[frame["experiment"] == experiment] if len(frame) else frame
        if found.empty:
            reason = data.why_not(experiment) if data.not_planned(experiment) else f"{NOT_RUN} (no lookup result)"
            row.update({f"{name} test acc. (%)": reason for name in NB201_DATA_NAMES.values()})
            row.update({"200-epoch val. acc. (%), CIFAR-10": reason, "Table": reason})
            row.update({"CIFAR-10 percentile among the 15,625 cells": reason, "Searches that moved / settled": reason})
            row.update({"Peak memory (MiB)": reason, "Images/s": reason})
        else:
            for key, name in NB201_DATA_NAMES.items():
                row[f"{name} test acc. (%)"] = format_mean_std(*mean_std(found[f"{key}_test_acc"]), unit="searches")
            listed = found["cifar10_val_acc_200ep"].dropna()
            row["200-epoch val. acc. (%), CIFAR-10"] = (
                format_mean_std(*mean_std(listed), unit="searches") + f", {len(listed)} of {len(found)} cells listed"
                if len(listed)
                else f"none of the {len(found)} cells is in the 200-epoch subset"
            )
            row["CIFAR-10 percentile among the 15,625 cells"] = format_mean_std(
                *mean_std(found["cifar10_test_percentile"].dropna()), digits=1, unit="searches"
            )
            row["Searches that moved / settled"] = gate_shares(data.frames.get("searches"), experiment)
            row["Table"] = ", ".join(sorted(set(found["source"].astype(str)))) + " (12 epochs)"
            for column, name, digits in (("peak_rss_mib", "Peak memory (MiB)", 0), ("images_per_s", "Images/s", 1)):
                values = found[column].dropna().astype(float) if column in found else found.iloc[:0, 0]
                row[name] = (
                    format_mean_std(*mean_std(values), unit="searches", digits=digits)
                    if len(values)
                    else f"{NOT_RUN} (no search record)"
                )
        row["Search cost"] = search_cost(data, experiment)
        rows.append(row)
    return pd.DataFrame(rows)


def gate_shares(searches: pd.DataFrame | None, experiment: str) -> str:
    """'5 of 5 moved, 4 of 5 settled' for an experiment's searches (the evidence gates of docs/method.md §11)."""
    rows = searches[searches["experiment"] == experiment] if searches is not None and len(searches) else None
    if rows is None or rows.empty:
        return "no search record"
    n = len(rows)
    moved, settled = (sum(str(v) == "True" for v in rows[gate]) for gate in ("moved", "settled"))
    return f"{moved} of {n} moved, {settled} of {n} settled"


def nb201_stability(data: Data) -> pd.DataFrame:
    """Table 4's question on ground truth: per NAS-Bench-201 experiment, how much the table's test accuracy of
    the cells derived at a search's late snapshots (past LATE_FROM of the search) varies, mean ± std over its
    searches, per data set; how many different cells those snapshots are; how many searches moved."""
    from stretchnas.report.nb201_truth import (
        DATA_NAMES,
        LATE_FROM,
        distinct_cells,
        late_snapshot_counts,
        snapshot_spread,
    )

    snapshots = data.frames["nb201_snapshots"]
    rows = []
    for experiment in data.tagged("nb201"):
        e = data.experiments.loc[experiment]
        row = {"Experiment": experiment, "Method": e["method"], "Topology": e["topology_mode"]}
        counts = late_snapshot_counts(snapshots, experiment)
        if not counts:
            reason = data.why_not(experiment) if data.not_planned(experiment) else f"{NOT_RUN} (no snapshot lookups)"
            row[f"Snapshots past {LATE_FROM:.0%} of the search"] = reason
            rows.append(row)
            continue
        row[f"Snapshots past {LATE_FROM:.0%} of the search"] = format_mean_std(*mean_std(counts), 1, "searches")
        for key, name in DATA_NAMES.items():
            spreads = snapshot_spread(snapshots, experiment, key)
            row[f"Std of {name} test acc. (%) over them"] = format_mean_std(
                *mean_std(spreads.values()), unit="searches"
            )
        distinct = distinct_cells(snapshots, experiment)
        row["Different cells among them"] = format_mean_std(*mean_std(distinct.values()), 1, "searches")
        row["Searches that moved / settled"] = gate_shares(data.frames.get("searches"), experiment)
        rows.append(row)
    return pd.DataFrame(rows)


LAYOUTS = {
    "table1": table1,
    "table2": table2,
    "table3": table3,
    "table4": table4,
    "table5": table5,
    "figure4": figure4,
    "figure5": figure5,
    "cells": cells,
    "stability": stability,
    "costs": costs,
    "nb201": nb201,
    "nb201_stability": nb201_stability,
}
