"""Figure 3: drawings of searched cells in DARTS's visual style (Graphviz's dot).

Inputs c_{k-2} and c_{k-1} on the left, numbered intermediate nodes, the op on every edge, the
concatenated nodes joined into the output c_{k}. Any number of inputs per node (stretchable cells).
An NAS-Bench-201 cell is drawn the same way: its input, nodes 1 and 2, its output node 3, every edge
but `none`."""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path

import matplotlib

from stretchnas import StretchnasError
from stretchnas.method.genotype import CELL_TYPES, Cell, Genotype
from stretchnas.method.nb201.arch import EDGES as NB201_EDGES
from stretchnas.method.nb201.arch import NODES as NB201_NODES
from stretchnas.method.nb201.arch import NB201Genotype
from stretchnas.report.artefacts import CELL_DRAWING_FORMATS
from stretchnas.runs.atomic import atomic_write_bytes

INPUT_NAMES = {0: "c_{k-2}", 1: "c_{k-1}"}
OUTPUT_NAME = "c_{k}"


class DrawingError(StretchnasError, RuntimeError):
    pass


def cell_graph(cell: Cell, prefix: str, graph) -> None:
    """Add one cell's nodes and edges to `graph` (node ids prefixed so two cells share one drawing)."""
    for index, name in INPUT_NAMES.items():
        graph.node(f"{prefix}{index}", name, fillcolor="darkseagreen2")
    for node in cell.nodes:
        graph.node(f"{prefix}{node}", str(node - 2), fillcolor="lightblue")
    graph.node(f"{prefix}out", OUTPUT_NAME, fillcolor="palegoldenrod")
    for op, source, target in sorted(cell.edges, key=lambda e: (e[2], e[1], e[0])):
        graph.edge(f"{prefix}{source}", f"{prefix}{target}", label=op, fillcolor="gray")
    for node in cell.concat:
        graph.edge(f"{prefix}{node}", f"{prefix}out", fillcolor="gray")


def nb201_graph(genotype: NB201Genotype, graph) -> None:
    graph.node("0", "c_{k-1}", fillcolor="darkseagreen2")
    for node in range(1, NB201_NODES):
        graph.node(str(node), str(node), fillcolor="lightblue")
    graph.node(str(NB201_NODES), OUTPUT_NAME, fillcolor="palegoldenrod")
    for op, (source, target) in zip(genotype.ops, NB201_EDGES):
        if op != "none":
            graph.edge(str(source), str(target), label=op, fillcolor="gray")


def genotype_graph(genotype: Genotype | NB201Genotype, title: str):
    """Both cells of a genotype side by side (NB201: its one cell), as a graphviz Digraph."""
    import graphviz

    graph = graphviz.Digraph(
        name=title,
        graph_attr={"rankdir": "LR", "label": title, "labelloc": "t", "fontname": "times"},
        node_attr={
            "style": "filled",
            "shape": "rect",
            "align": "center",
            "fontsize": "20",
            "height": "0.5",
            "width": "0.5",
            "penwidth": "2",
            "fontname": "times",
        },
        edge_attr={"fontsize": "16", "fontname": "times"},
        engine="dot",
    )
    if isinstance(genotype, NB201Genotype):
        nb201_graph(genotype, graph)
        return graph
    for cell_type in CELL_TYPES:
        with graph.subgraph(name=f"cluster_{cell_type}") as sub:
            sub.attr(label=f"{cell_type} cell", fontsize="18")
            cell_graph(getattr(genotype, cell_type), f"{cell_type}_", sub)
    return graph


FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>{fonts}</dir>
  <cachedir>{cache}</cachedir>
  <match target="pattern">
    <test name="family"><string>times</string></test>
    <edit name="family" mode="assign" binding="strong"><string>DejaVu Serif</string></edit>
  </match>
</fontconfig>
"""


@functools.cache
def _fonts_conf() -> tempfile.TemporaryDirectory:
    """A scratch folder holding the fontconfig file (and fontconfig's cache); held for the life of the
    process and removed when it ends."""
    folder = tempfile.TemporaryDirectory(prefix="stretchnas-fonts-")
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    cache = Path(folder.name) / "cache"
    (Path(folder.name) / "fonts.conf").write_text(FONTS_CONF.format(fonts=fonts, cache=cache))
    return folder


@functools.cache
def font_environment() -> dict[str, str]:
    """The environment `dot` runs in: fontconfig sees only the DejaVu fonts matplotlib ships (a pinned
    version), so the text's measured widths, and with them the layout and the pixels, do not depend on the
    fonts a machine has installed."""
    return {**os.environ, "FONTCONFIG_FILE": str(Path(_fonts_conf().name) / "fonts.conf")}


def render(source: str, fmt: str) -> bytes:
    """Graphviz's `dot` output for `source` in `fmt`, with the fonts of `font_environment`."""
    try:
        result = subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), capture_output=True, env=font_environment())
    except FileNotFoundError:
        raise DrawingError(
            "Figure 3 (the cell drawings) needs Graphviz's `dot` on PATH: apt-get install "
            "graphviz (Debian/Ubuntu), or the conda environment"
        ) from None
    if result.returncode != 0:
        raise DrawingError(f"dot -T{fmt} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def draw(genotype: Genotype | NB201Genotype, title: str, stem: Path) -> list[Path]:
    """`stem`.svg and `stem`.png of the genotype; a clear error where dot is missing."""
    source = genotype_graph(genotype, title).source
    paths = []
    for fmt in CELL_DRAWING_FORMATS:
        path = stem.with_suffix(f".{fmt}")
        atomic_write_bytes(path, render(source, fmt))
        paths.append(path)
    return paths
