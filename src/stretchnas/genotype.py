"""Variable-arity cell genotypes: an edge list (op, from, to) plus a concat list per cell type.

Node numbering follows DARTS: 0 and 1 are the two cell inputs (c_{k-2}, c_{k-1}),
intermediate nodes are 2, 3, ... A DARTS `Genotype` namedtuple (exactly two
(op, input) pairs per node, in node order) converts losslessly both ways.
"""

from __future__ import annotations

import json
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path

from stretchnas.atomic import atomic_write_json

DartsGenotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")


class GenotypeError(ValueError):
    pass


@dataclass(frozen=True)
class Cell:
    edges: tuple[tuple[str, int, int], ...]
    concat: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "edges", tuple((str(op), int(i), int(j)) for op, i, j in self.edges))
        object.__setattr__(self, "concat", tuple(int(n) for n in self.concat))

    @property
    def nodes(self) -> list[int]:
        """Intermediate nodes that exist (have an input edge), ascending."""
        return sorted({j for _, _, j in self.edges})

    def inputs_of(self, node: int) -> list[tuple[str, int]]:
        return [(op, i) for op, i, j in self.edges if j == node]

    def validate(self, where: str = "cell") -> None:
        nodes = set(self.nodes)
        for op, i, j in self.edges:
            if j < 2:
                raise GenotypeError(f"{where}: edge ({op}, {i}, {j}) ends at a cell input")
            if i >= j:
                raise GenotypeError(f"{where}: edge ({op}, {i}, {j}) does not go forward")
            if i >= 2 and i not in nodes:
                raise GenotypeError(f"{where}: edge ({op}, {i}, {j}) starts at node {i}, which has no input")
        if not self.concat:
            raise GenotypeError(f"{where}: concat is empty")
        for n in self.concat:
            if n not in nodes:
                raise GenotypeError(f"{where}: concat names node {n}, which has no input edge")
        if "none" in {op for op, _, _ in self.edges}:
            raise GenotypeError(f"{where}: a derived cell cannot contain the op 'none'")

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

    def validate(self) -> Genotype:
        self.normal.validate("normal")
        self.reduce.validate("reduce")
        return self

    # ----------------------------------------------------------------- JSON

    def to_dict(self) -> dict:
        out = {"normal": self.normal.to_dict(), "reduce": self.reduce.to_dict()}
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "genotype") -> Genotype:
        try:
            cells = {
                kind: Cell(tuple(tuple(e) for e in data[kind]["edges"]), tuple(data[kind]["concat"]))
                for kind in ("normal", "reduce")
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise GenotypeError(
                f"{where}: expected {{'normal': {{'edges': [[op, from, to], ...], 'concat': [...]}}, "
                f"'reduce': ...}} ({type(exc).__name__}: {exc})"
            ) from None
        return cls(cells["normal"], cells["reduce"], dict(data.get("meta", {}))).validate()

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Genotype:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise GenotypeError(f"{path}: no such genotype file") from None
        except json.JSONDecodeError as exc:
            raise GenotypeError(f"{path}: not valid JSON ({exc})") from None
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
