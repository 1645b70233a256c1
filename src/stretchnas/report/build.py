"""`stretchnas report`: every table in the paper's layout (Markdown, CSV, LaTeX), every figure (PNG, SVG),
the cell drawings and results/<scale>/README.md with each claim's verdict, from the tables stage's data.

A pure function of its inputs (results/<scale>/data/*.csv and the searched genotype files): seconds to
run, and the same inputs give byte-identical files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stretchnas import StretchnasError
from stretchnas.method.genotype import load_genotype
from stretchnas.report.artefacts import REPORT_FIGURES, REPORT_TABLES, TABLE_FILES
from stretchnas.report.cell_drawings import draw
from stretchnas.report.claims import check_claims
from stretchnas.report.dvc_views import write_dvc_views
from stretchnas.report.figures import FIGURES
from stretchnas.report.layouts import LAYOUTS, Data
from stretchnas.report.nb201_claims import check_nb201_claims
from stretchnas.report.readme import readme
from stretchnas.report.render import write_table
from stretchnas.runs.atomic import atomic_write_text

# The columns the report reads from each data file; a file without them is refused by name.
REQUIRED_COLUMNS = {
    "experiments": ("experiment", "procedure", "method", "topology_mode", "tables", "search_layers"),
    "evaluations": (
        "experiment",
        "search_seed",
        "train_seed",
        "genotype",
        "layers",
        "own_layers",
        "params_m",
        "thop_style_flops_m",
        "test_error",
    ),
    "not_run": ("experiment", "search_seed", "genotype", "layers", "reason"),
}
# Read only when the file has rows: a search-less scale writes header-only files.
COLUMNS_WHEN_FILLED = {
    "evidence": ("min_entropy_drop", "settled_share", "chance_confidence", "confidence", "power"),
    "searches": ("experiment", "search_seed", "moved", "beta_moved", "settled", "dropped_nodes"),
    "search_dynamics": (
        "experiment",
        "search_seed",
        "epoch",
        "device",
        "seconds",
        "peak_rss_mib",
        "images_per_s",
        "dropped_nodes",
    ),
    "stability": ("experiment", "search_seed", "not_derivable"),
    "cells": ("experiment", "search_seed", "depth_normal", "width_normal"),
    "nb201_snapshots": ("experiment", "search_seed", "epoch", "progress", "arch", "cifar10_test_acc"),
    "nb201": (
        "experiment",
        "search_seed",
        "cifar10_test_acc",
        "imagenet16_120_test_acc",
        "cifar10_val_acc_200ep",
        "source",
        "search_seconds",
    ),
}


class ReportError(StretchnasError, ValueError):
    """The tables stage's data cannot make the report; the message names the file."""


# Columns of True/False, read back explicitly: a string "False" is truthy.
BOOLEAN_COLUMNS = {"evaluations": ("own_layers", "imagenet"), "stability": ("not_derivable",)}


def _booleans(frame: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    for column in columns:
        if column not in frame:
            continue
        values = frame[column].map({True: True, False: False, "True": True, "False": False})
        if values.isna().any():
            bad = frame[column][values.isna()].iloc[0]
            raise ReportError(f"{path}: column {column!r} holds {bad!r}, not True or False")
        frame[column] = values.astype(bool)
    return frame


def read_data(data_dir: Path) -> tuple[dict[str, pd.DataFrame], str]:
    """The tables stage's frames, and the one scale they are of."""
    frames, scales = {}, {}
    for name in TABLE_FILES:
        path = data_dir / f"{name}.csv"
        if not path.exists():
            raise ReportError(f"{path}: missing; run `stretchnas tables` for this scale first")
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ReportError(f"{path}: not a readable CSV ({exc})") from None
        required = REQUIRED_COLUMNS.get(name, ()) + (COLUMNS_WHEN_FILLED.get(name, ()) if len(frame) else ())
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise ReportError(f"{path}: missing columns {missing}; regenerate it with `stretchnas tables`")
        if "scale" not in frame.columns:
            raise ReportError(f"{path}: no 'scale' column; regenerate it with `stretchnas tables`")
        scales[path] = set(frame["scale"].astype(str))
        frames[name] = _booleans(frame, path, BOOLEAN_COLUMNS.get(name, ()))
    found = set().union(*scales.values())
    if len(found) > 1:
        detail = "; ".join(f"{p.name}: {sorted(s)}" for p, s in scales.items() if s)
        raise ReportError(f"{data_dir}: data of more than one scale ({detail}); one scale's numbers only")
    if frames["experiments"].empty or frames["evaluations"].empty:
        raise ReportError(f"{data_dir}: no experiments or no evaluations; the tables stage refuses to write those")
    return frames, found.pop()


def data_copy(evaluations: pd.DataFrame, imagenet: bool | None = False) -> str:
    """Which data the trainings read (CIFAR's, ImageNet's with `imagenet`, or both with None): the
    source's file name and the image counts."""
    if evaluations.empty or "data_source" not in evaluations:
        return "not recorded"
    on_imagenet = evaluations["imagenet"] if "imagenet" in evaluations else pd.Series(False, evaluations.index)
    copies = []
    for flag, label in ((False, "CIFAR-10"), (True, "ImageNet")):
        rows = evaluations[on_imagenet == flag]
        if rows.empty or imagenet not in (None, flag):
            continue
        sources = ", ".join(sorted({str(s) for s in rows["data_source"].dropna()})) or "not recorded"
        counts = ""
        if {"train_images", "test_images"} <= set(rows.columns):
            train = sorted({int(n) for n in rows["train_images"].dropna()})
            test = sorted({int(n) for n in rows["test_images"].dropna()})
            counts = f" ({'/'.join(map(str, train))} training and {'/'.join(map(str, test))} test images)"
        copies.append(f"{label} from {sources}{counts}")
    return "; ".join(copies) or f"none ({'no ImageNet training' if imagenet else 'no training'} at this scale)"


# The data each table's numbers come from (data_copy's `imagenet`): CIFAR's unless named here.
TABLE_DATA = {"table2": True, "costs": None}


def parse_cells(items: list[str]) -> dict[str, Path]:
    """NAME=GENOTYPE_FILE pairs (the plan passes one per searched genotype)."""
    cells = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ReportError(f"--cell {item!r}: expected NAME=GENOTYPE_FILE")
        cells[name] = Path(path)
    return cells


def build_report(data_dir: str | Path, out: str | Path, cells: dict[str, Path]) -> dict[str, list[Path]]:
    data_dir, out = Path(data_dir), Path(out)
    frames, scale = read_data(data_dir)
    data = Data(frames, scale)
    written: dict[str, list[Path]] = {}
    for name in REPORT_TABLES:
        copy = data_copy(frames["evaluations"], TABLE_DATA.get(name, False))
        written[name] = write_table(LAYOUTS[name](data), name, out / "tables", scale, copy)
    copy = data_copy(frames["evaluations"], None)
    (out / "figures" / "cells").mkdir(parents=True, exist_ok=True)
    for name in REPORT_FIGURES:
        written[f"figures/{name}"] = FIGURES[name](data, out / "figures" / name)
    for name, path in cells.items():
        drawing = out / "figures" / "cells" / name
        written[f"cells/{name}"] = draw(load_genotype(path), f"{name} (scale {scale})", drawing)
    claims, nb201_claims = check_claims(frames), check_nb201_claims(frames)
    written["dvc"] = write_dvc_views(data, claims, out, nb201_claims)
    text = readme(scale, copy, claims, list(cells), frames["provenance"], nb201_claims)
    atomic_write_text(out / "README.md", text)
    written["README"] = [out / "README.md"]
    return written
