"""Tables regenerated from code and runs (pandas), written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stretchnas.atomic import atomic_write_text
from stretchnas.measure import measure
from stretchnas.paper_values import TABLE1_PUBLISHED
from stretchnas.published import get_genotype


def published_cells_table(layers: int = 20, C: int = 36) -> pd.DataFrame:
    """Params and FLOPs of the published cells at DARTS's evaluation size, beside the paper's values."""
    rows = []
    for name, paper in TABLE1_PUBLISHED.items():
        m = measure(get_genotype(name), layers, C)
        rows.append(
            {
                "genotype": name,
                "paper_row": paper["row"],
                "layers": layers,
                "channels": C,
                "params_m": m["params_m"],
                "paper_params_m": paper["paper_params_m"],
                "conv_linear_macs_m": m["flops_m"],
                "thop_style_flops_m": m["thop_style_m"],
                "paper_flops_m": paper["paper_flops_m"],
                "depth_normal": m["depth"]["normal"],
                "width_normal": m["width"]["normal"],
                "paper_test_error": paper["paper_error"],
            }
        )
    return pd.DataFrame(rows)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


# --------------------------------------------------------------------------- tables from runs


def load_evaluations(summaries: list[dict]) -> pd.DataFrame:
    """One row per evaluation training across every experiment summary."""
    rows = []
    for summary in summaries:
        for result in summary["results"]:
            rows.append(
                {
                    "experiment": summary["experiment"],
                    "kind": summary["kind"],
                    "tables": ",".join(summary["tables"]),
                    "search_layers": summary["search"]["layers"],
                    "intermediate_nodes": summary["search"]["intermediate_nodes"],
                    "search_seed": result["search_seed"],
                    "genotype": result["genotype"],
                    "train_seed": result["seed"],
                    "layers": result["layers"],
                    "channels": result["channels"],
                    "params_m": result["params_m"],
                    "flops_m": result["thop_style_flops_m"],
                    "test_error": result["test_error"],
                    "epochs": result["epochs"],
                    "genotype_file": result["genotype_file"],
                }
            )
    return pd.DataFrame(rows)


def _summarise(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(keys, sort=False)
    out = grouped.agg(
        runs=("test_error", "size"),
        test_error_mean=("test_error", "mean"),
        test_error_std=("test_error", "std"),
        params_m=("params_m", "mean"),
        flops_m=("flops_m", "mean"),
        layers=("layers", "first"),
        channels=("channels", "first"),
    ).reset_index()
    return out.round({"test_error_mean": 2, "test_error_std": 2, "params_m": 3, "flops_m": 1})


def _tagged(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame[frame["tables"].str.split(",").apply(lambda tags: table in tags)]


def _final(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Evaluations of the final genotypes of the experiments that feed `table`."""
    tagged = _tagged(frame, table)
    return tagged[tagged["genotype"] == "final"]


def _with_paper(table: pd.DataFrame, paper_rows: dict) -> pd.DataFrame:
    paper = pd.DataFrame([{"experiment": k, **v} for k, v in paper_rows.items()])
    return table.merge(paper, on="experiment", how="left")


def table1(frame: pd.DataFrame) -> pd.DataFrame:
    from stretchnas.paper_values import TABLE1_EXPERIMENTS

    return _with_paper(_summarise(_final(frame, "table1"), ["experiment"]), TABLE1_EXPERIMENTS)


def table3(frame: pd.DataFrame) -> pd.DataFrame:
    from stretchnas.paper_values import TABLE3

    table = _summarise(_final(frame, "table3"), ["experiment", "intermediate_nodes", "search_layers"])
    method = table["experiment"].map(lambda e: "MiLeNAS-SC" if e.startswith("milenas_sc") else "DARTS (2nd order)")
    nodes = table["intermediate_nodes"] + 3  # the paper counts the two inputs and the output
    paper = [
        TABLE3.get((m, n), {}).get(layer, (None, None)) for m, n, layer in zip(method, nodes, table["search_layers"])
    ]
    table.insert(1, "paper_method", method)
    table.insert(2, "paper_nodes", nodes)
    table["paper_test_error"] = [p[0] for p in paper]
    table["paper_params_m"] = [p[1] for p in paper]
    return table


def table4(frame: pd.DataFrame) -> pd.DataFrame:
    rows = _tagged(frame, "table4")
    table = _summarise(rows, ["experiment", "search_seed", "genotype"])
    return table.sort_values(["experiment", "search_seed", "genotype"], kind="stable").reset_index(drop=True)


def table5(frame: pd.DataFrame) -> pd.DataFrame:
    from stretchnas.paper_values import TABLE5

    return _with_paper(_summarise(_final(frame, "table5"), ["experiment"]), TABLE5)


def figure5(frame: pd.DataFrame, png: Path) -> pd.DataFrame:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = _summarise(_final(frame, "figure5"), ["experiment"])
    table["inputs"] = table["experiment"].map(lambda e: e.removeprefix("darts_sc_in") if "_in" in e else "arbitrary")
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.errorbar(table["inputs"], table["test_error_mean"], yerr=table["test_error_std"].fillna(0), fmt="o-")
    ax.set_xlabel("outputs selected per node (k)")
    ax.set_ylabel("test error (%)")
    ax.set_title("Figure 5 (this run's scale; not the paper's numbers)", fontsize=8)
    fig.tight_layout()
    _save_figure(fig, png)
    plt.close(fig)
    return table


def search_dynamics(frame: pd.DataFrame, png: Path) -> pd.DataFrame:
    """Alpha entropy and dropped nodes per epoch of every search (stability during search)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = []
    for (experiment, seed), group in frame[frame["kind"] == "search"].groupby(["experiment", "search_seed"]):
        metrics_file = Path(group["genotype_file"].iloc[0]).parent / "metrics.csv"
        if metrics_file.exists():
            metrics = pd.read_csv(metrics_file)
            metrics.insert(0, "search_seed", seed)
            metrics.insert(0, "experiment", experiment)
            curves.append(metrics)
    table = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for (experiment, seed), group in table.groupby(["experiment", "search_seed"]) if len(table) else []:
        axes[0].plot(group["epoch"], group["alpha_entropy_normal"], label=f"{experiment} s{seed}")
        axes[1].plot(group["epoch"], group["val_acc"])
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("alpha entropy (normal cell)")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("supernet val accuracy")
    if len(table):
        axes[0].legend(fontsize=5, ncol=2)
    fig.tight_layout()
    _save_figure(fig, png)
    plt.close(fig)
    return table


def _save_figure(fig, png: Path) -> None:
    tmp = png.with_name(f".{png.name}.tmp.png")
    fig.savefig(tmp, dpi=130)
    tmp.replace(png)


def build_tables(summary_files: list[Path], out_dir: Path, scale: str) -> dict[str, pd.DataFrame]:
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = [json.loads(Path(f).read_text()) for f in summary_files]
    wrong = [s["experiment"] for s in summaries if s["scale"] != scale]
    if wrong:
        raise ValueError(f"summaries of another scale than {scale!r}: {wrong}")
    frame = load_evaluations(summaries)
    if frame.empty:
        raise ValueError(f"no evaluation results in {len(summary_files)} summaries")
    tables = {
        "evaluations": frame,
        "table1": table1(frame),
        "table3": table3(frame),
        "table4": table4(frame),
        "table5": table5(frame),
        "figure5": figure5(frame, out_dir / "figure5.png"),
        "search_dynamics": search_dynamics(frame, out_dir / "search_dynamics.png"),
    }
    for name, table in tables.items():
        if len(table):
            table.insert(0, "scale", scale)  # numbers of one scale are never read as another's
        write_csv(table, out_dir / f"{name}.csv")
    return tables
