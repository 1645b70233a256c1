"""The paper's figures (and the search curves it describes without showing), as PNG and SVG.

Drawn with matplotlib on the Agg backend with fixed metadata and a fixed SVG hash salt, so the same data
give the same bytes. Every title names the scale: these are this run's numbers, never the paper's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stretchnas.report.frames import edits_per_derivable_step, errors_by_depth
from stretchnas.report.layouts import FIGURE5_REFERENCE, Data, figure5_experiments
from stretchnas.report.paper_numbers import TABLE3
from stretchnas.report.stats import mean_std, per_search
from stretchnas.runs.atomic import atomic_save

DPI = 130
SVG_HASH_SALT = "stretchnas"


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, stem: Path) -> list[Path]:
    """`stem`.png and `stem`.svg, written atomically, byte-identical for the same figure."""
    plt = pyplot()
    fig.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    with plt.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "path"}):
        # bbox "tight": the saved image grows to hold legends placed outside the axes
        atomic_save(
            paths[0],
            lambda buffer: fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches="tight"),
        )
        atomic_save(
            paths[1], lambda buffer: fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
        )
    plt.close(fig)
    return paths


# Beyond matplotlib's ten colours, series are told apart by marker and line style too.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
LINESTYLES = ("-", "--", "-.", ":")


def series_style(index: int) -> dict:
    """A distinct (colour, marker, line style) for the index-th series of a panel, for up to 400 series.

    Colour and line style repeat every 40 series; the marker shifts by one at each repeat."""
    return {
        "color": f"C{index % 10}",
        "marker": MARKERS[(index + index // 40) % len(MARKERS)],
        "linestyle": LINESTYLES[(index // 10) % len(LINESTYLES)],
    }


def chance_line(ax, data: Data) -> None:
    """Test error at chance (1 - 1/classes) for every class count the trainings record, dotted."""
    if "chance_error" not in data.evaluations:
        return
    for k, chance in enumerate(sorted(data.evaluations["chance_error"].dropna().unique())):
        ax.axhline(chance, color="gray", linestyle=":", linewidth=1, label="chance" if k == 0 else None, zorder=1)


def legend_outside(ax) -> None:
    """The legend right of the axes, where it cannot cover a point."""
    if ax.has_data():
        ax.legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _depth_lines(ax, data: Data, experiments: list[str]) -> int:
    """Each experiment's mean test error over searches at every evaluation depth; bars (std over searches)
    only where a point has more than one search. Returns the most searches behind any point."""
    most = 0
    for index, experiment in enumerate(experiments):
        points = errors_by_depth(data.evaluations, experiment)
        if points.empty:
            continue
        style = series_style(index)
        ax.plot(points["layers"], points["mean"], markersize=4, label=experiment, **style)
        spread = points[points["n"] > 1]
        if len(spread):
            ax.errorbar(
                spread["layers"], spread["mean"], yerr=spread["std"], fmt="none", capsize=2, color=style["color"]
            )
        own = points[points["layers"] == int(data.experiments.loc[experiment, "search_layers"])]
        ax.plot(
            own["layers"],
            own["mean"],
            style["marker"],
            markersize=9,
            markerfacecolor="white",
            zorder=3,
            color=style["color"],
        )
        most = max(most, int(points["n"].max()))
    chance_line(ax, data)
    ax.set_xlabel("evaluation layers")
    ax.set_ylabel("test error (%)")
    return most


def _searches_note(most: int) -> str:
    if most > 1:
        return f"bars: std over searches where a point has more than one; up to n={most} searches a point"
    return "one search a point: no spread to show" if most == 1 else "no result"


def paper_depth_panel(ax) -> None:
    """The paper's printed numbers beside ours, on their own axes (full-scale CIFAR-10 errors would flatten
    ours): Table 3's test error of each method's cells at their own search depth."""
    for index, ((method, nodes), by_layers) in enumerate(TABLE3.items()):
        layers = sorted(by_layers)
        style = series_style(index)
        ax.plot(
            layers,
            [by_layers[n][0] for n in layers],
            markersize=6,
            markerfacecolor="white",
            label=f"{method}, {nodes} nodes",
            **style,
        )
    ax.set_xlabel("search = evaluation layers")
    ax.set_ylabel("test error (%)")
    ax.set_title("the paper, as printed (Table 3; not this run):\neach point a search at its own layers", fontsize=7)
    legend_outside(ax)


def figure1(data: Data, stem: Path) -> list[Path]:
    """Figure 1: every method's final cells at every evaluation depth, the paper's Table 3 beside them."""
    plt = pyplot()
    fig, (ax, paper) = plt.subplots(1, 2, figsize=(10.5, 3.6))
    most = _depth_lines(ax, data, data.tagged("figure4"))
    legend_outside(ax)
    paper_depth_panel(paper)
    ax.set_title(
        f"Figure 1 at scale {data.scale()}: test error vs evaluation layers\n"
        f"(hollow: evaluated at its search layers; {_searches_note(most)})",
        fontsize=7,
    )
    return save(fig, stem)


def figure4(data: Data, stem: Path) -> list[Path]:
    """Figure 4: one panel per method, a line per searched cell."""
    plt = pyplot()
    experiments = data.tagged("figure4")
    methods = list(dict.fromkeys(data.experiments.loc[e, "method"] for e in experiments)) or ["(none)"]
    fig, axes = plt.subplots(1, len(methods) + 1, figsize=(4.2 * (len(methods) + 1), 3.6), squeeze=False)
    most = 0
    for ax, method in zip(axes[0], methods):
        most = max(
            most, _depth_lines(ax, data, [e for e in experiments if data.experiments.loc[e, "method"] == method])
        )
        ax.set_title(f"{method} (scale {data.scale()})", fontsize=8)
        legend_outside(ax)
    paper_depth_panel(axes[0][-1])
    fig.suptitle(
        f"Figure 4: results with different numbers of layers (hollow: own search layers; {_searches_note(most)})",
        fontsize=8,
    )
    return save(fig, stem)


def figure5(data: Data, stem: Path) -> list[Path]:
    """Figure 5: test error against params per number of outputs per node, DARTS (2nd order) as reference."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.8, 3.6))
    most = 0
    for index, (experiment, outputs) in enumerate([*figure5_experiments(data), (FIGURE5_REFERENCE, None)]):
        runs = data.final_runs(experiment) if experiment in data.experiments.index else pd.DataFrame()
        if runs.empty:
            continue
        if outputs is None:
            label, marker = "DARTS (2nd order)", "s"
        else:
            label, marker = (outputs if outputs == "arbitrary" else f"k={outputs}"), "o"
        mean, std, n = mean_std(per_search(runs))
        most = max(most, n)
        color = series_style(index)["color"]
        ax.plot([runs["params_m"].mean()], [mean], marker, color=color, label=label)
        if n > 1:
            ax.errorbar([runs["params_m"].mean()], [mean], yerr=[std], fmt="none", capsize=2, color=color)
    chance_line(ax, data)
    ax.set_xlabel("params (M)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"Figure 5 at scale {data.scale()}: outputs selected per node\n({_searches_note(most)})", fontsize=8)
    legend_outside(ax)
    return save(fig, stem)


SEARCH_CURVES = (
    ("alpha_entropy_normal", "alpha entropy (normal cell)"),
    ("beta_entropy_normal", "beta entropy (normal cell)"),
    ("regularizer", "regulariser value"),
    ("dropped_nodes", "dropped nodes"),
    ("val_acc", "supernet accuracy (D_val)"),
    ("seconds", "seconds per epoch"),
)


def experiment_curves(curves: pd.DataFrame) -> list[tuple[str, int, pd.DataFrame]]:
    """Per experiment (sorted by name): how many searches it has, and each curve's mean over them per epoch."""
    if "experiment" not in curves or curves.empty:
        return []
    columns = [column for column, _ in SEARCH_CURVES if column in curves]
    return [
        (experiment, group["search_seed"].nunique(), group.groupby("epoch", sort=True)[columns].mean().reset_index())
        for experiment, group in curves.groupby("experiment", sort=True)
    ]


def search_dynamics(data: Data, stem: Path) -> list[Path]:
    """Search curves per epoch, one line per experiment (the mean over its searches)."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    experiments = experiment_curves(data.frames["search_dynamics"])
    fig, axes = plt.subplots(2, 3, figsize=(11, 6))
    for ax, (column, label) in zip(axes.flat, SEARCH_CURVES):
        for index, (experiment, searches, mean) in enumerate(experiments):
            if column in mean:
                ax.plot(
                    mean["epoch"],
                    mean[column],
                    **series_style(index),
                    markersize=2,
                    linewidth=0.8,
                    label=f"{experiment} (n={searches})",
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(label, fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if experiments:
        # beside the panels, not over one: at mini there are over forty experiments
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=5, ncol=2, frameon=False)
    fig.suptitle(f"Search curves at scale {data.scale()}: each experiment's mean over its n searches", fontsize=9)
    return save(fig, stem)


def stability(data: Data, stem: Path) -> list[Path]:
    """Edits between consecutive snapshot genotypes, per search (Table 4's claim without training)."""
    plt = pyplot()
    frame = data.frames["stability"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    searches = edits_per_derivable_step(frame)
    if not len(searches):
        nothing_to_draw(ax, data, "search with two derivable snapshots")
        return save(fig, stem)
    labels = [f"{e} s{s}" for e, s in zip(searches["experiment"], searches["search_seed"])]
    per_step = pd.Series(searches["edits"].to_numpy(), index=labels).sort_index()  # ordered by label
    ax.bar(range(len(per_step)), per_step.to_numpy())
    ax.set_xticks(range(len(per_step)), per_step.index, rotation=60, ha="right", fontsize=5)
    ax.set_ylabel("edits per snapshot step (edges + ops)")
    ax.set_title(f"Genotype changes during search, scale {data.scale()}", fontsize=8)
    return save(fig, stem)


SIMPLIFIED_SUFFIX = "_simplified"  # params.yaml names each simplified NB201 search after its base method's
COST_UNIT = "nb201_darts_1st"  # search cost is shown relative to this experiment's mean search time


def nothing_to_draw(ax, data: Data, what: str, table: str | None = None) -> None:
    """An empty figure says so, and why where the plan said (no axes that look like a result)."""
    reasons = sorted({data.not_planned(e) for e in data.tagged(table)} - {None}) if table else []
    why = f":\n{'; '.join(reasons)}" if reasons else ""
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        f"No {what} at scale {data.scale()}{why}",
        ha="center",
        va="center",
        wrap=True,
        fontsize=8,
        transform=ax.transAxes,
    )


def nb201(data: Data, stem: Path) -> list[Path]:
    """NAS-Bench-201 in the style of the 2024 TopoNAS comparison: looked-up ImageNet16-120 test accuracy
    (12-epoch table) against search cost normalised by DARTS 1st order's (this run's wall time), one point per
    experiment (mean over searches, error bars: std), an arrow from each method to its simplified version."""
    plt = pyplot()
    frame = data.frames["nb201"]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    points = {}
    for experiment, group in frame.groupby("experiment", sort=True) if len(frame) else []:
        points[experiment] = (
            mean_std(group["search_seconds"].astype(float)),
            mean_std(group["imagenet16_120_test_acc"]),
        )
    if not points:
        nothing_to_draw(ax, data, "NAS-Bench-201 search", "nb201")
        return save(fig, stem)
    unit_name = COST_UNIT if COST_UNIT in points else min(points, key=lambda e: points[e][0][0])
    unit = points[unit_name][0][0]
    for experiment, ((cost, cost_std, n), (accuracy, accuracy_std, _)) in points.items():
        # one search: no error bar
        ax.errorbar(
            cost / unit,
            accuracy,
            xerr=0.0 if n < 2 else cost_std / unit,
            yerr=0.0 if n < 2 else accuracy_std,
            fmt="o",
            capsize=2,
            label=f"{experiment} (n={n})",
        )
    for experiment in points:
        base = experiment.removesuffix(SIMPLIFIED_SUFFIX)
        if experiment.endswith(SIMPLIFIED_SUFFIX) and base in points:
            start, end = points[base], points[experiment]
            ax.annotate(
                "",
                xy=(end[0][0] / unit, end[1][0]),
                xytext=(start[0][0] / unit, start[1][0]),
                arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 0.8},
            )
    ax.set_xlabel(f"search cost, relative to {unit_name}'s mean search time (this run)")
    ax.set_ylabel("ImageNet16-120 test acc. (%), NB201 12-epoch table")
    ax.set_title(f"NAS-Bench-201 searches (arrows: to the simplified search), scale {data.scale()}", fontsize=8)
    if ax.has_data():
        ax.legend(fontsize=5)
    return save(fig, stem)


def nb201_progress(data: Data, stem: Path) -> list[Path]:
    """The ground truth of NAS-Bench-201 searches as they run: the table's test accuracy of the cell each search
    would return at each snapshot, against search progress (epoch / epochs); one row of panels per base method,
    one column per data set; a line per variant (own topology, stretchable cells, simplified): mean over seeds,
    band: ± std."""
    from stretchnas.report.nb201_truth import DATA_NAMES, families, progress_curve

    plt = pyplot()
    snapshots = data.frames["nb201_snapshots"]
    ran = [e for e in data.tagged("nb201") if len(snapshots) and (snapshots["experiment"] == e).any()]
    groups = families(ran)
    if not groups:
        fig, ax = plt.subplots(figsize=(5.5, 2.5))
        nothing_to_draw(ax, data, "NAS-Bench-201 snapshot lookup", "nb201")
        return save(fig, stem)
    fig, axes = plt.subplots(len(groups), len(DATA_NAMES), figsize=(9, 1.9 * len(groups) + 0.6), squeeze=False)
    for row, family in enumerate(groups):
        for column, (key, name) in enumerate(DATA_NAMES.items()):
            ax = axes[row][column]
            for index, experiment in enumerate(e for e in family if e is not None):
                curve = progress_curve(snapshots, experiment, key)
                if curve.empty:  # no snapshot of it had a derivable cell
                    continue
                style = series_style(index)
                n = int(curve["n"].max())
                ax.plot(
                    curve["progress"],
                    curve["mean"],
                    color=style["color"],
                    marker=style["marker"],
                    markersize=2.5,
                    linewidth=1,
                    label=f"{experiment} (n={n})",
                )
                spread = curve["std"].fillna(0.0)
                ax.fill_between(
                    curve["progress"],
                    curve["mean"] - spread,
                    curve["mean"] + spread,
                    color=style["color"],
                    alpha=0.15,
                    linewidth=0,
                )
            ax.set_xlim(0, 1)
            ax.tick_params(labelsize=6)
            if row == 0:
                ax.set_title(f"{name} test acc. (%)", fontsize=7)
            if row == len(groups) - 1:
                ax.set_xlabel("search progress (epoch / epochs)", fontsize=6)
            if column == 0:
                ax.set_ylabel(family[0], fontsize=6)
            if column == len(DATA_NAMES) - 1:
                ax.legend(fontsize=5, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(
        f"NAS-Bench-201: true accuracy (12-epoch table) of the cell each search would return, scale {data.scale()}",
        fontsize=8,
    )
    return save(fig, stem)


FIGURES = {
    "figure1": figure1,
    "figure4": figure4,
    "figure5": figure5,
    "search_dynamics": search_dynamics,
    "stability": stability,
    "nb201": nb201,
    "nb201_progress": nb201_progress,
}
