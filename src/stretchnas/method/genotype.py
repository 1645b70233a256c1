"""Variable-arity cell genotypes: an edge list (op, from, to) plus a concat list per cell type.

Node numbering follows DARTS: 0 and 1 are the two cell inputs (c_{k-2}, c_{k-1}),
intermediate nodes are 2, 3, ... A DARTS `Genotype` namedtuple (exactly two
(op, input) pairs per node, in node order) converts losslessly both ways.
"""

from __future__ import annotations

import json
import numbers
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path

from stretchnas import StretchnasError
from stretchnas.method.nb201.arch import NB201Genotype
from stretchnas.method.spaces import candidate_ops
from stretchnas.runs.atomic import atomic_write_json
from stretchnas.runs.documents import read_document

DartsGenotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")

CELL_TYPES = ("normal", "reduce")


class GenotypeError(StretchnasError, ValueError):
    pass


def _node_index(value) -> int | None:
    """`value` as a node index, or None if it is not a non-negative integer (2.7 and True are not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        return None
    return int(value)


@dataclass(frozen=True)
class Cell:
    edges: tuple[tuple[str, int, int], ...]
    concat: tuple[int, ...]

    def __post_init__(self):
        # numpy integers become ints; anything else is left as it is, for validate() to name
        as_int = lambda v: int(v) if _node_index(v) is not None else v  # noqa: E731
        edges = tuple((e[0], as_int(e[1]), as_int(e[2])) if len(e) == 3 else tuple(e) for e in self.edges)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "concat", tuple(as_int(n) for n in self.concat))

    @property
    def nodes(self) -> list[int]:
        """Intermediate nodes that exist (have an input edge), ascending."""
        return sorted({j for _, _, j in self.edges})

    def inputs_of(self, node: int) -> list[tuple[str, int]]:
        return [(op, i) for op, i, j in self.edges if j == node]

    def validate(self, where: str = "cell", op_space: str = "darts") -> None:
        """Refuse anything an evaluation network cannot be built from; messages name `where` and the edge."""
        known_ops = candidate_ops(op_space, with_none=False)
        for k, edge in enumerate(self.edges):
            label = f"{where}: edge {k} {list(edge)}"
            if len(edge) != 3:
                raise GenotypeError(f"{label}: expected [op, from, to]")
            op, i, j = edge
            if op == "none":
                raise GenotypeError(f"{label}: a derived cell cannot contain the op 'none'")
            if op not in known_ops:
                raise GenotypeError(f"{label}: unknown op {op!r}; the {op_space} space has {known_ops}")
            if _node_index(i) is None or _node_index(j) is None:
                raise GenotypeError(f"{label}: node indices must be non-negative integers")
            if j < 2:
                raise GenotypeError(f"{label}: ends at a cell input (nodes 0 and 1 are the inputs)")
            if i >= j:
                raise GenotypeError(f"{label}: does not go forward (from {i} to {j})")
        nodes = set(self.nodes)
        for k, (op, i, j) in enumerate(self.edges):
            if i >= 2 and i not in nodes:
                raise GenotypeError(f"{where}: edge {k} {[op, i, j]}: starts at node {i}, which has no input")
        if not self.concat:
            raise GenotypeError(f"{where}: concat is empty")
        for n in self.concat:
            if _node_index(n) is None or n not in nodes:
                raise GenotypeError(f"{where}: concat names node {n!r}, which has no input edge")
        reaching = set(self.concat)  # nodes whose value reaches the cell output
        for _, i, j in sorted(self.edges, key=lambda e: -e[2]):
            if j in reaching:
                reaching.add(i)
        for node in sorted(nodes - reaching):
            feeding = [k for k, (_, _, j) in enumerate(self.edges) if j == node]
            raise GenotypeError(
                f"{where}: edges {feeding} go into node {node}, which is neither concatenated nor feeds a node that is"
            )

    def depth(self) -> int:
        """Longest path, in ops, from a cell input to the output (through the concat nodes)."""
        longest = {0: 0, 1: 0}
        for node in self.nodes:
            longest[node] = max(longest[i] + 1 for _, i in self.inputs_of(node))
        return max(longest[n] for n in self.concat)

    def width(self) -> int:
        """Number of edges leaving the two cell inputs."""
        return sum(1 for _, i, _ in self.edges if i < 2)

    def to_dict(self) -> dict:
        return {"edges": [list(e) for e in self.edges], "concat": list(self.concat)}


@dataclass(frozen=True)
class Genotype:
    normal: Cell
    reduce: Cell
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def validate(self, where: str = "genotype") -> Genotype:
        self.normal.validate(f"{where}: normal cell")
        self.reduce.validate(f"{where}: reduce cell")
        return self

    # ----------------------------------------------------------------- JSON

    def structure(self) -> dict:
        """The cells alone, as JSON: what identifies a genotype (meta is a note about it)."""
        return {"normal": self.normal.to_dict(), "reduce": self.reduce.to_dict(), "meta": {}}

    def to_dict(self) -> dict:
        out = {"normal": self.normal.to_dict(), "reduce": self.reduce.to_dict()}
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "genotype") -> Genotype:
        try:
            cells = {
                cell_type: Cell(tuple(tuple(e) for e in data[cell_type]["edges"]), tuple(data[cell_type]["concat"]))
                for cell_type in CELL_TYPES
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise GenotypeError(
                f"{where}: expected {{'normal': {{'edges': [[op, from, to], ...], 'concat': [...]}}, "
                f"'reduce': ...}} ({type(exc).__name__}: {exc})"
            ) from None
        return cls(cells["normal"], cells["reduce"], dict(data.get("meta", {}))).validate(where)

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Genotype:
        data = read_document(path, json.loads, GenotypeError, "genotype JSON file")
        return cls.from_dict(data, where=str(path))

    # ----------------------------------------------------------------- DARTS format

    @classmethod
    def from_darts(cls, genotype) -> Genotype:
        def cell(pairs, concat):
            edges = [(op, int(i), 2 + k // 2) for k, (op, i) in enumerate(pairs)]
            return Cell(tuple(edges), tuple(concat))

        return cls(cell(genotype.normal, genotype.normal_concat), cell(genotype.reduce, genotype.reduce_concat))

    def to_darts(self) -> DartsGenotype:
        def pairs(cell: Cell, kind: str):
            out = []
            for k, (op, i, j) in enumerate(cell.edges):
                if j != 2 + k // 2:
                    raise GenotypeError(
                        f"{kind}: DARTS format needs exactly two inputs per node in node order; "
                        f"edge {k} ({op}, {i}, {j}) breaks that"
                    )
                out.append((op, i))
            if len(out) % 2:
                raise GenotypeError(f"{kind}: DARTS format needs exactly two inputs per node")
            return out

        return DartsGenotype(
            pairs(self.normal, "normal"),
            list(self.normal.concat),
            pairs(self.reduce, "reduce"),
            list(self.reduce.concat),
        )


def load_genotype(path: str | Path):
    """A genotype file of either space: a DARTS-space `Genotype`, or an NB201 cell (`"space": "nb201"`)."""
    return genotype_from_dict(read_document(path, json.loads, GenotypeError, "genotype JSON file"), str(path))


def genotype_from_dict(data, where: str = "genotype"):
    """A genotype of either space from its JSON form (NB201's says `"space": "nb201"`)."""
    if isinstance(data, dict) and data.get("space") == "nb201":
        return NB201Genotype.from_dict(data, where)
    return Genotype.from_dict(data, where=where)
