"""Tables regenerated from code and runs (pandas), written atomically."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd

from stretchnas import StretchnasError
from stretchnas.evaluation.nb201_files import DATASETS as NB201_DATASETS
from stretchnas.method.genotype import Genotype
from stretchnas.method.published_genotypes import DARTS_FORMAT, get_genotype
from stretchnas.report.artefacts import TABLE_FILES
from stretchnas.report.paper_numbers import (
    MILENAS_FIG5_SMALL,
    TABLE1_ROW_OF_EXPERIMENT,
    TABLE1_ROW_OF_GENOTYPE,
    TABLE3,
    TABLE5,
    table1_columns,
)
from stretchnas.runs.atomic import atomic_write_text
from stretchnas.runs.documents import read_document
from stretchnas.search.snapshots import INDEX_FILE, cell_changes, read_index


class TablesError(StretchnasError, ValueError):
    """The summaries cannot make the tables; the message names the file."""


def published_cells_table(layers: int = 20, C: int = 36) -> pd.DataFrame:
    """Params and FLOPs of the published cells at DARTS's evaluation size, beside the papers' values."""
    from stretchnas.evaluation.measure import measure  # torch: only this table needs it

    rows = []
    for name in sorted(DARTS_FORMAT):
        if name in TABLE1_ROW_OF_GENOTYPE:
            paper = table1_columns(TABLE1_ROW_OF_GENOTYPE[name])
        elif name == "MILENAS_2_50":
            label, (error, params, flops) = MILENAS_FIG5_SMALL
            paper = {"paper_row": label, "paper_error": error, "paper_params_m": params, "paper_flops_m": flops}
        else:
            continue  # ImageNet cells are measured by `stretchnas measure --imagenet`
        m = measure(get_genotype(name), layers, C)
        rows.append(
            {
                "genotype": name,
                "layers": layers,
                "channels": C,
                "params_m": m["params_m"],
                "conv_linear_macs_m": m["conv_linear_macs_m"],
                "thop_style_flops_m": m["thop_style_flops_m"],
                "depth_normal": m["depth"]["normal"],
                "width_normal": m["width"]["normal"],
                **paper,
            }
        )
    return pd.DataFrame(rows)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


def write_published_cells_table(path: str | Path, layers: int = 20, C: int = 36) -> pd.DataFrame:
    """`stretchnas published-table`."""
    table = published_cells_table(layers, C)
    write_csv(table, path)
    return table


# --------------------------------------------------------------------------- tables from runs


SUMMARY_FIELDS = ("experiment", "procedure", "method", "optimizer", "topology_mode", "k", "intermediate_nodes",
                  "search_layers", "eval_layers")  # fmt: skip


def load_evaluations(summaries: list[dict]) -> pd.DataFrame:
    """One row per evaluation training across every experiment summary."""
    rows = []
    for summary in summaries:
        for result in summary["results"]:
            rows.append(
                {
                    **{key: summary[key] for key in SUMMARY_FIELDS},
                    "tables": ",".join(summary["tables"]),
                    "search_seed": result["search_seed"],
                    "genotype": result["genotype"],
                    "train_seed": result["seed"],
                    "layers": result["layers"],
                    # at the experiment's own layer count (not one of Figure 4's other depths)
                    "own_layers": result["layers"] == summary["eval_layers"],
                    "channels": result["channels"],
                    "params_m": result["params_m"],
                    "thop_style_flops_m": result["thop_style_flops_m"],
                    "test_error": result["test_error"],
                    # ImageNet trainings over more than 5 classes (Table 2); empty elsewhere
                    "test_top5_error": result.get("test_top5_error"),
                    "imagenet": bool(summary.get("imagenet", False)),
                    "epochs": result["epochs"],
                    "wall_seconds": result.get("wall_seconds"),
                    # the data copy by name: an absolute path would make the tables differ per machine
                    "data_source": Path(str(result.get("data_source", ""))).name or None,
                    "train_images": result.get("train_images"),
                    "test_images": result.get("test_images"),
                    "genotype_file": result["genotype_file"],
                    "run_dir": result.get("run_dir"),  # its run.json: the provenance table reads it
                }
            )
    return pd.DataFrame(rows)


def _summarise(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(keys, sort=False, dropna=False)
    shape = {name: (name, "first") for name in ("layers", "channels") if name not in keys}
    out = grouped.agg(
        runs=("test_error", "size"),
        test_error_mean=("test_error", "mean"),
        test_error_std=("test_error", "std"),
        params_m=("params_m", "mean"),
        thop_style_flops_m=("thop_style_flops_m", "mean"),
        **shape,
    ).reset_index()
    return out.round({"test_error_mean": 2, "test_error_std": 2, "params_m": 3, "thop_style_flops_m": 1})


def _tagged(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame[frame["tables"].str.split(",").apply(lambda tags: table in tags)]


def _final(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Evaluations of the final genotypes, at their own layer count, of the experiments that feed `table`."""
    tagged = _tagged(frame, table)
    return tagged[(tagged["genotype"] == "final") & tagged["own_layers"]]


def table1(frame: pd.DataFrame) -> pd.DataFrame:
    table = _summarise(_final(frame, "table1"), ["experiment", "method"])
    paper = pd.DataFrame([table1_columns(TABLE1_ROW_OF_EXPERIMENT.get(e)) for e in table["experiment"]])
    return pd.concat([table, paper], axis=1)


def table2(frame: pd.DataFrame) -> pd.DataFrame:
    """ImageNet: the transferred and the directly searched cells, top-1 and top-5 error."""
    finals = _final(frame, "table2")
    finals = finals.assign(test_top5_error=pd.to_numeric(finals["test_top5_error"]))
    table = _summarise(finals, ["experiment", "method"])
    top5 = finals.groupby("experiment", sort=False)["test_top5_error"].agg(["mean", "std"]).round(2)
    table["test_top5_error_mean"] = table["experiment"].map(top5["mean"])
    table["test_top5_error_std"] = table["experiment"].map(top5["std"])
    return table


def table3(frame: pd.DataFrame) -> pd.DataFrame:
    table = _summarise(_final(frame, "table3"), ["experiment", "method", "intermediate_nodes", "search_layers"])
    nodes = table["intermediate_nodes"] + 3  # the paper counts the two inputs and the output
    paper = [TABLE3.get((m, n), {}).get(layers, (None, None))
             for m, n, layers in zip(table["method"], nodes, table["search_layers"])]  # fmt: skip
    table.insert(2, "paper_nodes", nodes)
    table["paper_test_error"] = [p[0] for p in paper]
    table["paper_params_m"] = [p[1] for p in paper]
    return table


def table4(frame: pd.DataFrame) -> pd.DataFrame:
    rows = _tagged(frame, "table4")
    rows = rows[rows["own_layers"]]
    table = _summarise(rows, ["experiment", "method", "search_seed", "genotype"])
    return table.sort_values(["experiment", "search_seed", "genotype"], kind="stable").reset_index(drop=True)


def perspective(topology_mode: str) -> str:
    """Which side of a node its selected edges are counted on: 'input' or 'output'."""
    from stretchnas.method.topology import mode_space

    return mode_space(topology_mode).perspective


def table5(frame: pd.DataFrame) -> pd.DataFrame:
    table = _summarise(_final(frame, "table5"), ["experiment", "method", "topology_mode"])
    table.insert(3, "perspective", table["topology_mode"].map(perspective))
    table["paper_error"] = [TABLE5.get(key) for key in zip(table["method"], table["perspective"])]
    return table


def figure4(frame: pd.DataFrame) -> pd.DataFrame:
    """Figures 1 and 4: each final cell's test error at every evaluation layer count."""
    tagged = _tagged(frame, "figure4")
    table = _summarise(tagged[tagged["genotype"] == "final"], ["experiment", "method", "search_layers", "layers"])
    return table.sort_values(["experiment", "layers"], kind="stable").reset_index(drop=True)


def figure5(frame: pd.DataFrame) -> pd.DataFrame:
    """Figure 5: test error (and params) per number of outputs selected per node."""
    table = _summarise(_final(frame, "figure5"), ["experiment", "method", "topology_mode", "k"])
    table["outputs_per_node"] = [outputs_per_node(mode, k) for mode, k in zip(table["topology_mode"], table["k"])]
    return table.sort_values("outputs_per_node", kind="stable").reset_index(drop=True)


def outputs_per_node(topology_mode: str, k) -> str:
    """Figure 5's x value: output_k selects k outputs per node, stretchable any number (docs/method.md §2)."""
    return str(int(k)) if topology_mode == "output_k" else "arbitrary"


def search_dirs(frame: pd.DataFrame, lookups: pd.DataFrame) -> list[tuple[str, int, Path]]:
    """(experiment, search seed, folder) of every search: those trained, and NB201's, scored by lookup."""
    found = {}
    for table in (frame[frame["procedure"] == "search"], lookups):
        for (experiment, seed), group in table.groupby(["experiment", "search_seed"]):
            found[(experiment, seed)] = Path(group["genotype_file"].iloc[0]).parent
    return [(experiment, seed, folder) for (experiment, seed), folder in sorted(found.items())]


def search_dynamics(frame: pd.DataFrame, lookups: pd.DataFrame) -> pd.DataFrame:
    """Every search's per-epoch metrics (entropies, regulariser, dropped nodes, supernet accuracy, time,
    memory), with the device it ran on."""
    curves = []
    for experiment, seed, search_dir in search_dirs(frame, lookups):
        if (search_dir / "metrics.csv").exists():
            metrics = pd.read_csv(search_dir / "metrics.csv")
            metrics.insert(0, "device", _device_of(search_dir))
            metrics.insert(0, "search_seed", seed)
            metrics.insert(0, "experiment", experiment)
            curves.append(metrics)
    return pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()


NB201_COLUMNS = ("experiment", "method", "optimizer", "topology_mode", "simplified", "search_seed", "arch",
                 "nb201_index", *(f"{d}_{kind}_acc" for d in NB201_DATASETS for kind in ("val", "test")),
                 *(f"{d}_val_acc_200ep" for d in NB201_DATASETS), "source", "source_200ep", "search_seconds",
                 "peak_rss_mib", "images_per_s", "device", "genotype_file")  # fmt: skip
NO_COST = {"search_seconds": None, "peak_rss_mib": None, "images_per_s": None, "device": None}


def nb201(summaries: list[dict], dynamics: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every NAS-Bench-201 search's cell with its table accuracies (and their source), and from the search
    records (`search_dynamics`) its wall time, peak memory, median throughput and device; empty where
    `dynamics` has no record of it."""
    rows = []
    for summary in summaries:
        for entry in summary.get("lookups", []):
            row = {key: summary[key] for key in ("experiment", "method", "optimizer", "topology_mode")}
            row["simplified"] = bool(summary.get("simplified", False))  # summaries written before the setting
            row.update({key: entry.get(key) for key in NB201_COLUMNS if key in entry})
            rows.append({**row, **_search_cost(dynamics, row["experiment"], row["search_seed"])})
    return pd.DataFrame(rows, columns=list(NB201_COLUMNS))


def _search_cost(dynamics: pd.DataFrame | None, experiment: str, seed) -> dict:
    if dynamics is None or dynamics.empty:
        return NO_COST
    epochs = dynamics[(dynamics["experiment"] == experiment) & (dynamics["search_seed"] == seed)]
    if epochs.empty:
        return NO_COST
    return {"search_seconds": float(epochs["seconds"].sum()), "peak_rss_mib": float(epochs["peak_rss_mib"].max()),
            "images_per_s": float(epochs["images_per_s"].median()), "device": epochs["device"].iloc[0]}  # fmt: skip


PROVENANCE_COLUMNS = ("kind", "experiment", "search_seed", "run_dir", "git_commit", "package_changed", "command",
                      "platform", "cpu_model", "logical_cpus", "threads", "device", "data_source",
                      "data_source_sha256")  # fmt: skip


def provenance(frame: pd.DataFrame, lookups: pd.DataFrame) -> pd.DataFrame:
    """Where every search and training ran, from the run.json beside its outputs: the commit (and whether the
    package differed from it), the command, the machine, and the data copy by name and checksum. A run
    without a record (or one written before these fields) has empty cells."""
    runs = [("search", experiment, seed, folder) for experiment, seed, folder in search_dirs(frame, lookups)]
    sampled = frame[frame["procedure"].isin(("random_search", "random_ops"))]
    for (experiment, seed), group in sampled.groupby(["experiment", "search_seed"]):
        runs.append(("random", experiment, seed, Path(group["genotype_file"].iloc[0]).parent))
    if "run_dir" in frame:
        trainings = frame.dropna(subset=["run_dir"]).drop_duplicates("run_dir")
        runs += [("training", row.experiment, row.search_seed, Path(row.run_dir))
                 for row in trainings.itertuples()]  # fmt: skip
    rows = []
    for kind, experiment, seed, folder in runs:
        run_file = folder / "run.json"
        run = read_document(run_file, json.loads, TablesError, "run record") if run_file.exists() else {}
        versions, machine, data = run.get("versions", {}), run.get("machine", {}), run.get("data", {})
        command = run.get("command")
        rows.append({"kind": kind, "experiment": experiment, "search_seed": seed, "run_dir": str(folder),
                     "git_commit": versions.get("git_commit"), "package_changed": versions.get("git_tracked_changes"),
                     "command": shlex.join(command) if command else None, "platform": machine.get("platform"),
                     "cpu_model": machine.get("cpu_model"), "logical_cpus": machine.get("logical_cpus"),
                     "threads": run.get("threads"), "device": run.get("device_name"), "data_source":
                     data.get("source_name"), "data_source_sha256": data.get("source_sha256")})  # fmt: skip
    return pd.DataFrame(rows, columns=list(PROVENANCE_COLUMNS))


def _device_of(run_dir: Path) -> str | None:
    """The device a run recorded (run.json's device_name, e.g. 'cpu' or the GPU's name)."""
    run_file = run_dir / "run.json"
    if not run_file.exists():
        return None
    run = read_document(run_file, json.loads, TablesError, "run record")
    return run.get("device_name") or run.get("device")


def _final_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment, search seed): an evaluation of its final cell at its own layer count."""
    finals = frame[(frame["genotype"] == "final") & frame["own_layers"]]
    return finals.drop_duplicates(["experiment", "search_seed"])


def cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Depth and width of every searched final cell, per experiment and search seed (the paper's "shallow
    and wide" claim: depth is the longest path in ops from a cell input to its output, width the number
    of edges leaving the two cell inputs)."""
    rows = []
    for row in _final_cells(frame).itertuples(index=False):
        genotype = Genotype.load(row.genotype_file)
        rows.append({"experiment": row.experiment, "method": row.method, "procedure": row.procedure,
                     "topology_mode": row.topology_mode, "search_seed": row.search_seed,
                     "search_layers": row.search_layers, "intermediate_nodes": row.intermediate_nodes,
                     **{f"{key}_{cell_type}": getattr(getattr(genotype, cell_type), key)()
                        for cell_type in ("normal", "reduce") for key in ("depth", "width")},
                     "genotype_file": row.genotype_file})  # fmt: skip
    return pd.DataFrame(rows)


def _snapshot_genotype(search_dir: Path, entry: dict) -> Genotype | None:
    """A snapshot's genotype from its index entry (inline, or its file in an index written before
    genotypes were inlined); None where the epoch had no derivable cell."""
    if "genotype" in entry:
        return Genotype.from_dict(entry["genotype"], f"{search_dir / INDEX_FILE} epoch {entry['epoch']}")
    return Genotype.load(search_dir / entry["genotype_file"]) if "genotype_file" in entry else None


def stability(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 4's claim without training: how much each search's derived cell changes from one snapshot
    epoch to the next, and from the last snapshot to the final cell (stretchnas.search.snapshots.cell_changes)."""
    rows = []
    for row in _final_cells(frame[frame["procedure"] == "search"]).itertuples(index=False):
        search_dir = Path(row.genotype_file).parent
        index = read_index(search_dir / INDEX_FILE)
        chain = [(entry["epoch"], _snapshot_genotype(search_dir, entry))
                 for entry in sorted(index.values(), key=lambda e: e["epoch"])]  # fmt: skip
        chain.append(("final", Genotype.load(row.genotype_file)))
        for (start, before), (end, after) in zip(chain, chain[1:]):
            changes = cell_changes(before, after) if before is not None and after is not None else {}
            rows.append({"experiment": row.experiment, "method": row.method, "topology_mode": row.topology_mode,
                         "search_seed": row.search_seed, "from_epoch": start, "to_epoch": end,
                         "not_derivable": before is None or after is None, **changes})  # fmt: skip
    return pd.DataFrame(rows)


def summary_files(paths: list[str | Path]) -> list[Path]:
    """The summary JSONs named, folders expanded to the JSONs they hold."""
    files = []
    for item in map(Path, paths):
        files.extend(sorted(item.glob("*.json")) if item.is_dir() else [item])
    return files


def read_summaries(files: list[Path], scale: str) -> list[dict]:
    summaries = []
    for file in files:
        summary = read_document(file, json.loads, TablesError, "experiment summary JSON")
        missing = [key for key in (*SUMMARY_FIELDS, "scale", "tables", "results") if key not in summary]
        if missing:
            raise TablesError(f"{file}: not an experiment summary of this version (missing {missing})")
        if summary["scale"] != scale:
            raise TablesError(f"{file}: a summary of scale {summary['scale']!r}, not {scale!r}")
        summaries.append(summary)
    return summaries


def experiments(summaries: list[dict], not_planned: dict[str, tuple[dict, str]] | None = None) -> pd.DataFrame:
    """One row per experiment summary: what defines it, which tables it feeds, and how many of its
    trainings produced a result or did not run (the report's rows come from here, so an experiment with
    no result still gets a row saying why); then a row per experiment the plan left out, with why. An
    experiment with a summary ran, whatever the plan of this process says (results regenerated from
    committed runs, without the NAS-Bench-201 table that planned their lookups)."""
    rows = []
    summarised = {summary["experiment"] for summary in summaries}
    for summary in summaries:
        rows.append({**{key: summary[key] for key in SUMMARY_FIELDS}, "tables": ",".join(summary["tables"]),
                     "simplified": bool(summary.get("simplified", False)),  # older summaries: before the setting
                     "search_seeds": ",".join(map(str, summary.get("search", {}).get("seeds", []))),
                     "results": len(summary["results"]), "not_run": len(summary.get("not_run", [])),
                     "not_planned": None})  # fmt: skip
    for name, (fields, reason) in (not_planned or {}).items():
        if name in summarised:
            continue
        rows.append({**{key: fields[key] for key in SUMMARY_FIELDS}, "tables": ",".join(fields["tables"]),
                     "simplified": fields["simplified"], "search_seeds": "", "results": 0, "not_run": 0,
                     "not_planned": reason})  # fmt: skip
    return pd.DataFrame(rows)


def not_run(summaries: list[dict]) -> pd.DataFrame:
    """Every training that did not run, and why (a snapshot with no derivable cell)."""
    rows = [{"experiment": summary["experiment"], **{key: entry[key] for key in NOT_RUN_FIELDS}}
            for summary in summaries for entry in summary.get("not_run", [])]  # fmt: skip
    return pd.DataFrame(rows, columns=["experiment", *NOT_RUN_FIELDS])


NOT_RUN_FIELDS = ("search_seed", "genotype", "layers", "train_seed", "reason")


def build_tables(paths: list[str | Path], out_dir: str | Path, scale: str,
                 not_planned: dict[str, tuple[dict, str]] | None = None) -> dict[str, pd.DataFrame]:  # fmt: skip
    """`stretchnas tables`: the data behind every table and figure of `scale`, from its experiment
    summaries, as CSV (the report renders them). `not_planned`: experiment -> (its fields, why the plan
    has no job for it), listed in experiments.csv so the report can say why."""
    files = summary_files(paths)
    summaries = read_summaries(files, scale)
    frame = load_evaluations(summaries)
    lookups = nb201(summaries)  # their search folders; the search records give their cost below
    dynamics = search_dynamics(frame, lookups)
    if frame.empty:
        raise TablesError(f"no evaluation results in {len(files)} summaries")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "experiments": experiments(summaries, not_planned),
        "evaluations": frame,
        "not_run": not_run(summaries),
        "table1": table1(frame),
        "table2": table2(frame),
        "table3": table3(frame),
        "table4": table4(frame),
        "table5": table5(frame),
        "figure4": figure4(frame),
        "figure5": figure5(frame),
        "search_dynamics": dynamics,
        "cells": cells(frame),
        "stability": stability(frame),
        "nb201": nb201(summaries, dynamics),
        "provenance": provenance(frame, lookups),
    }
    assert tuple(tables) == TABLE_FILES
    for name, table in tables.items():
        table.insert(0, "scale", scale)  # numbers of one scale are never read as another's
        write_csv(table, out_dir / f"{name}.csv")
    return tables
