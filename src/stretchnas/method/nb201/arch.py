"""NAS-Bench-201 cells and their arch strings.

A cell has node 0 (its input) and nodes 1, 2, 3; every edge (i, j) with i < j carries one op, `none`
included, and node 3 is the output. The arch string lists the edges into node 1, then node 2, then
node 3, each as op~i: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``. The six edges in that order are
EDGES, the order of the supernet's alpha rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from stretchnas import StretchnasError
from stretchnas.method.spaces import PRIMITIVES
from stretchnas.runs.atomic import atomic_write_json
from stretchnas.runs.documents import read_document

OPS = tuple(PRIMITIVES["nb201"])
NODES = 3  # nodes after the input; the last one is the cell's output
EDGES = tuple((i, j) for j in range(1, NODES + 1) for i in range(j))
SPACE = "nb201"


class ArchError(StretchnasError, ValueError):
    """Not an NB201 cell: the message names the string or file and what is wrong."""


@dataclass(frozen=True)
class NB201Genotype:
    """One op per edge of EDGES; `meta` notes how it was derived (not part of its identity)."""

    ops: tuple[str, ...]
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        if len(self.ops) != len(EDGES):
            raise ArchError(f"an NB201 cell has {len(EDGES)} edges, got {len(self.ops)} ops")
        unknown = [op for op in self.ops if op not in OPS]
        if unknown:
            raise ArchError(f"unknown NB201 op(s) {unknown}; the space has {list(OPS)}")

    @property
    def arch_str(self) -> str:
        nodes = []
        for j in range(1, NODES + 1):
            nodes.append("|" + "|".join(f"{op}~{i}" for op, (i, jj) in zip(self.ops, EDGES) if jj == j) + "|")
        return "+".join(nodes)

    @classmethod
    def from_arch_str(cls, text: str, where: str = "arch string") -> NB201Genotype:
        nodes = text.strip().split("+")
        if len(nodes) != NODES:
            raise ArchError(f"{where} {text!r}: expected {NODES} node groups joined by '+', found {len(nodes)}")
        ops = []
        for j, group in enumerate(nodes, start=1):
            if not (group.startswith("|") and group.endswith("|")):
                raise ArchError(f"{where} {text!r}: node {j}'s group {group!r} must start and end with '|'")
            entries = group[1:-1].split("|")
            if len(entries) != j:
                raise ArchError(f"{where} {text!r}: node {j} needs {j} inputs (op~0 .. op~{j - 1}), got {entries}")
            for i, entry in enumerate(entries):
                op, sep, source = entry.partition("~")
                if not sep or source != str(i):
                    raise ArchError(f"{where} {text!r}: node {j}'s input {i} must read op~{i}, got {entry!r}")
                ops.append(op)
        try:
            return cls(tuple(ops))
        except ArchError as exc:
            raise ArchError(f"{where} {text!r}: {exc}") from None

    def depth(self) -> int:
        """Longest path, in ops other than `none`, from the input to the output node (0: no path)."""
        longest = {0: 0}
        for j in range(1, NODES + 1):
            paths = [
                longest[i] + 1
                for op, (i, jj) in zip(self.ops, EDGES)
                if jj == j and longest.get(i) is not None and op != "none"
            ]
            longest[j] = max(paths) if paths else None
        return longest[NODES] or 0

    # ----------------------------------------------------------------- JSON

    def structure(self) -> dict:
        return {"space": SPACE, "arch": self.arch_str}

    def to_dict(self) -> dict:
        return {**self.structure(), **({"meta": self.meta} if self.meta else {})}

    @classmethod
    def from_dict(cls, data: dict, where: str = "genotype") -> NB201Genotype:
        if not isinstance(data, dict) or data.get("space") != SPACE or not isinstance(data.get("arch"), str):
            raise ArchError(f"{where}: expected {{'space': 'nb201', 'arch': '|op~0|+...'}}")
        genotype = cls.from_arch_str(data["arch"], where)
        return cls(genotype.ops, dict(data.get("meta", {})))

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> NB201Genotype:
        return cls.from_dict(read_document(path, json.loads, ArchError, "NB201 genotype JSON file"), str(path))
