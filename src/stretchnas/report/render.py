"""One report table written three ways: Markdown, CSV and LaTeX, each stating its scale and data copy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stretchnas.runs.atomic import atomic_write_text

TITLES = {
    "table1": "Table 1: search results on CIFAR-10",
    "table2": "Table 2: search results on ImageNet",
    "table3": "Table 3: DARTS and MiLeNAS-SC searched and evaluated at the same number of layers",
    "table4": "Table 4: evaluation of the cells derived at different epochs in search",
    "table5": "Table 5: test errors with different perspectives of edge selection",
    "figure4": "Figures 1 and 4: final cells evaluated at different numbers of layers",
    "figure5": "Figure 5: different numbers of outputs selected per node",
    "cells": "Cell depth and width per method and layer count (the 'shallow and wide' claim)",
    "stability": "Genotype stability across snapshot epochs, without training (Table 4's claim)",
    "costs": "Search and training cost per experiment (wall time, peak memory, throughput)",
    "nb201": "NAS-Bench-201 searches scored by table lookup (not in the SC paper)",
    "nb201_stability": "NAS-Bench-201: true accuracy across a search's late snapshot cells (Table 4's question on "
    "ground truth; not in the SC paper)",
}


NO_RESULT = "not run (no result)"
PAPER_MISSING = "not printed"
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def filled(frame: pd.DataFrame) -> pd.DataFrame:
    """No blank cell: a paper value the paper does not print, or a number of ours that a row lacks
    (a column another row has), says so."""
    return frame.astype(object).apply(
        lambda col: col.where(col.notna(), PAPER_MISSING if col.name.startswith("paper_") else NO_RESULT)
    )


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(char, char) for char in text)


def caption(name: str, scale: str, data_copy: str) -> str:
    return (
        f"{TITLES[name]}. Scale {scale}; data: {data_copy}. Our numbers: mean ± std (n); "
        f"paper_* columns: the paper's printed values."
    )


def markdown(frame: pd.DataFrame, name: str, scale: str, data_copy: str) -> str:
    # numparse off: "3.400" stays as written, the same text as in the CSV and LaTeX
    body = frame.to_markdown(index=False, disable_numparse=True) if len(frame.columns) else "(no rows)"
    return f"# {TITLES[name]}\n\n{caption(name, scale, data_copy)}\n\n{body}\n"


def latex(frame: pd.DataFrame, name: str, scale: str, data_copy: str) -> str:
    if not len(frame.columns):
        frame = pd.DataFrame({"": ["(no rows)"]})
    # pandas escapes the cells and the header, not the caption
    text = frame.to_latex(
        index=False, escape=True, caption=latex_escape(caption(name, scale, data_copy)), label=f"tab:{scale}-{name}"
    )
    return text.replace("±", r"$\pm$")


def csv(frame: pd.DataFrame, scale: str, data_copy: str) -> str:
    out = frame.copy()
    out.insert(0, "data", data_copy)
    out.insert(0, "scale", scale)
    return out.to_csv(index=False)


def write_table(frame: pd.DataFrame, name: str, folder: Path, scale: str, data_copy: str) -> list[Path]:
    frame = filled(frame)
    paths = [folder / f"{name}.md", folder / f"{name}.csv", folder / f"{name}.tex"]
    texts = [
        markdown(frame, name, scale, data_copy),
        csv(frame, scale, data_copy),
        latex(frame, name, scale, data_copy),
    ]
    for path, text in zip(paths, texts):
        atomic_write_text(path, text)
    return paths
