"""Runs to tidy data: the one extraction step of the report (`stretchnas tables`).

Every experiment summary, search record and run record of a scale becomes a few long-format CSVs
(results/<scale>/data/): one row per evaluation training, per search epoch, per snapshot step, per NB201
lookup, per run's provenance. The tables and figures in the paper's layout are built from these by
`stretchnas.report.layouts` and `stretchnas.report.figures`, and nowhere else."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd

from stretchnas import StretchnasError
from stretchnas.evaluation.nb201_files import DATASETS as NB201_DATASETS
from stretchnas.method.genotype import Genotype
from stretchnas.report.artefacts import TABLE_FILES
from stretchnas.report.evidence import search_gates, thresholds, training_gates
from stretchnas.runs.atomic import atomic_write_text
from stretchnas.runs.documents import read_document
from stretchnas.search.snapshots import cell_changes, snapshot_chain
from stretchnas.settings.types import EvidenceSettings


class TablesError(StretchnasError, ValueError):
    """The summaries cannot make the tables; the message names the file."""


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


# --------------------------------------------------------------------------- tables from runs


SUMMARY_FIELDS = (
    "experiment",
    "procedure",
    "method",
    "optimizer",
    "topology_mode",
    "k",
    "intermediate_nodes",
    "search_layers",
    "eval_layers",
)


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
                    "num_classes": result.get("num_classes"),
                    "genotype_file": result["genotype_file"],
                    "run_dir": result.get("run_dir"),  # its run.json: the provenance table reads it
                }
            )
    return pd.DataFrame(rows)


def search_dirs(frame: pd.DataFrame, lookups: pd.DataFrame, procedure: str = "search") -> list[tuple[str, int, Path]]:
    """(experiment, search seed, folder) of every search: those trained, and NB201's, scored by lookup; with
    procedure `retrain`, of every retrain: the folder of the search whose cells it trains."""
    found = {}
    tables = [frame[frame["procedure"] == procedure]] + ([lookups] if procedure == "search" else [])
    for table in tables:
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


NB201_COLUMNS = (
    "experiment",
    "method",
    "optimizer",
    "topology_mode",
    "simplified",
    "search_seed",
    "arch",
    "nb201_index",
    *(f"{d}_{kind}_acc" for d in NB201_DATASETS for kind in ("val", "test")),
    *(f"{d}_val_acc_200ep" for d in NB201_DATASETS),
    *(f"{d}_test_percentile" for d in NB201_DATASETS),
    "source",
    "source_200ep",
    "search_seconds",
    "peak_rss_mib",
    "images_per_s",
    "device",
    "genotype_file",
)
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


NB201_SNAPSHOT_COLUMNS = (
    "experiment",
    "method",
    "topology_mode",
    "simplified",
    "search_seed",
    "label",
    "epoch",
    "search_epochs",
    "progress",
    "arch",
    "nb201_index",
    *(f"{d}_{kind}" for d in NB201_DATASETS for kind in ("val_acc", "test_acc", "test_percentile")),
    "not_derivable",
)


def nb201_snapshots(summaries: list[dict], dynamics: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every snapshot cell of every NAS-Bench-201 search with its table accuracies (its lookup job scored
    them): one row per (search, snapshot epoch), with the search's progress there, epoch / the search's
    epochs (its last recorded epoch; the last snapshot's where the search left no record)."""
    rows = []
    for summary in summaries:
        for entry in summary.get("lookups", []):
            snapshots = entry.get("snapshots") or []
            if not snapshots:
                continue
            seed = entry["search_seed"]
            epochs = _search_epochs(dynamics, summary["experiment"], seed) or max(s["epoch"] for s in snapshots)
            for snapshot in snapshots:
                row = {key: summary[key] for key in ("experiment", "method", "topology_mode")}
                row.update(simplified=bool(summary.get("simplified", False)), search_seed=seed, search_epochs=epochs)
                row.update({key: snapshot.get(key) for key in NB201_SNAPSHOT_COLUMNS if key in snapshot})
                row["progress"] = snapshot["epoch"] / epochs
                rows.append(row)
    return pd.DataFrame(rows, columns=list(NB201_SNAPSHOT_COLUMNS))


def _search_epochs(dynamics: pd.DataFrame | None, experiment: str, seed) -> int | None:
    if dynamics is None or dynamics.empty:
        return None
    epochs = dynamics[(dynamics["experiment"] == experiment) & (dynamics["search_seed"] == seed)]["epoch"]
    return None if epochs.empty else int(epochs.max())


def _search_cost(dynamics: pd.DataFrame | None, experiment: str, seed) -> dict:
    if dynamics is None or dynamics.empty:
        return NO_COST
    epochs = dynamics[(dynamics["experiment"] == experiment) & (dynamics["search_seed"] == seed)]
    if epochs.empty:
        return NO_COST
    return {
        "search_seconds": float(epochs["seconds"].sum()),
        "peak_rss_mib": float(epochs["peak_rss_mib"].max()),
        "images_per_s": float(epochs["images_per_s"].median()),
        "device": epochs["device"].iloc[0],
    }


PROVENANCE_COLUMNS = (
    "kind",
    "experiment",
    "search_seed",
    "run_dir",
    "git_commit",
    "package_changed",
    "command",
    "platform",
    "cpu_model",
    "logical_cpus",
    "threads",
    "device",
    "data_source",
    "data_source_sha256",
)


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
        runs += [("training", row.experiment, row.search_seed, Path(row.run_dir)) for row in trainings.itertuples()]
    rows = []
    for kind, experiment, seed, folder in runs:
        run_file = folder / "run.json"
        run = read_document(run_file, json.loads, TablesError, "run record") if run_file.exists() else {}
        versions, machine, data = run.get("versions", {}), run.get("machine", {}), run.get("data", {})
        command = run.get("command")
        rows.append(
            {
                "kind": kind,
                "experiment": experiment,
                "search_seed": seed,
                "run_dir": str(folder),
                "git_commit": versions.get("git_commit"),
                "package_changed": versions.get("git_tracked_changes"),
                "command": shlex.join(command) if command else None,
                "platform": machine.get("platform"),
                "cpu_model": machine.get("cpu_model"),
                "logical_cpus": machine.get("logical_cpus"),
                "threads": run.get("threads"),
                "device": run.get("device_name"),
                "data_source": data.get("source_name"),
                "data_source_sha256": data.get("source_sha256"),
            }
        )
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
        rows.append(
            {
                "experiment": row.experiment,
                "method": row.method,
                "procedure": row.procedure,
                "topology_mode": row.topology_mode,
                "search_seed": row.search_seed,
                "search_layers": row.search_layers,
                "intermediate_nodes": row.intermediate_nodes,
                **{
                    f"{key}_{cell_type}": getattr(getattr(genotype, cell_type), key)()
                    for cell_type in ("normal", "reduce")
                    for key in ("depth", "width")
                },
                "genotype_file": row.genotype_file,
            }
        )
    return pd.DataFrame(rows)


def _last_epoch(dynamics: pd.DataFrame, experiment: str, seed) -> int | None:
    """The last epoch a search recorded (its metrics.csv, as search_dynamics read it); None without one."""
    if dynamics.empty:
        return None
    epochs = dynamics[(dynamics["experiment"] == experiment) & (dynamics["search_seed"] == seed)]["epoch"]
    return int(epochs.max()) if len(epochs) else None


def stability(frame: pd.DataFrame, dynamics: pd.DataFrame) -> pd.DataFrame:
    """Table 4's claim without training: how much each search's derived cell changes from one snapshot
    epoch to the next, and from the last snapshot to the final cell where that is a later epoch's
    (stretchnas.search.snapshots.snapshot_chain, cell_changes)."""
    rows = []
    for row in _final_cells(frame[frame["procedure"] == "search"]).itertuples(index=False):
        last = _last_epoch(dynamics, row.experiment, row.search_seed)
        chain = snapshot_chain(Path(row.genotype_file).parent, last)
        for (start, before), (end, after) in zip(chain, chain[1:]):
            changes = cell_changes(before, after) if before is not None and after is not None else {}
            rows.append(
                {
                    "experiment": row.experiment,
                    "method": row.method,
                    "topology_mode": row.topology_mode,
                    "search_seed": row.search_seed,
                    "from_epoch": start,
                    "to_epoch": end,
                    "not_derivable": before is None or after is None,
                    **changes,
                }
            )
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
        rows.append(
            {
                **{key: summary[key] for key in SUMMARY_FIELDS},
                "tables": ",".join(summary["tables"]),
                "simplified": bool(summary.get("simplified", False)),  # older summaries: before the setting
                "search_seeds": ",".join(map(str, summary.get("search", {}).get("seeds", []))),
                "results": len(summary["results"]),
                "not_run": len(summary.get("not_run", [])),
                "not_planned": None,
            }
        )
    for name, (fields, reason) in (not_planned or {}).items():
        if name in summarised:
            continue
        rows.append(
            {
                **{key: fields[key] for key in SUMMARY_FIELDS},
                "tables": ",".join(fields["tables"]),
                "simplified": fields["simplified"],
                "search_seeds": "",
                "results": 0,
                "not_run": 0,
                "not_planned": reason,
            }
        )
    return pd.DataFrame(rows)


def not_run(summaries: list[dict]) -> pd.DataFrame:
    """Every training that did not run, and why (a snapshot with no derivable cell)."""
    rows = [
        {"experiment": summary["experiment"], **{key: entry[key] for key in NOT_RUN_FIELDS}}
        for summary in summaries
        for entry in summary.get("not_run", [])
    ]
    return pd.DataFrame(rows, columns=["experiment", *NOT_RUN_FIELDS])


NOT_RUN_FIELDS = ("search_seed", "genotype", "layers", "train_seed", "reason")


def build_tables(
    paths: list[str | Path],
    out_dir: str | Path,
    scale: str,
    not_planned: dict[str, tuple[dict, str]] | None = None,
    evidence: EvidenceSettings | None = None,
) -> dict[str, pd.DataFrame]:
    """`stretchnas tables`: the data behind every table and figure of `scale`, from its experiment
    summaries, as CSV (the report renders them). `not_planned`: experiment -> (its fields, why the plan
    has no job for it), listed in experiments.csv so the report can say why."""
    evidence = evidence or EvidenceSettings()
    files = summary_files(paths)
    summaries = read_summaries(files, scale)
    frame = load_evaluations(summaries)
    lookups = nb201(summaries)  # their search folders; the search records give their cost below
    dynamics = search_dynamics(frame, lookups)
    if not frame.empty:
        frame = training_gates(frame, evidence)
    if frame.empty:
        raise TablesError(f"no evaluation results in {len(files)} summaries")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "experiments": experiments(summaries, not_planned),
        "evaluations": frame,
        "not_run": not_run(summaries),
        "evidence": thresholds(evidence),
        "searches": search_gates(
            dynamics, search_dirs(frame, lookups), evidence, search_dirs(frame, lookups, "retrain")
        ),
        "search_dynamics": dynamics,
        "cells": cells(frame),
        "stability": stability(frame, dynamics),
        "nb201": nb201(summaries, dynamics),
        "nb201_snapshots": nb201_snapshots(summaries, dynamics),
        "provenance": provenance(frame, lookups),
    }
    assert tuple(tables) == TABLE_FILES
    for name, table in tables.items():
        table.insert(0, "scale", scale)  # numbers of one scale are never read as another's
        write_csv(table, out_dir / f"{name}.csv")
    return tables
