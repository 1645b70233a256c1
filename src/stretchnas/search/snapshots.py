"""A search's stability snapshots: the genotype derived at each snapshot epoch, indexed in one file.

The index names every snapshot epoch the search settings list, so the workflow knows before the
search runs which evaluation jobs follow it. An epoch whose architecture derives no valid cell
(every intermediate node dropped) is listed with the reason instead of a genotype; its evaluation
job records that reason rather than a number.
"""

from __future__ import annotations

import json
from pathlib import Path

from stretchnas import StretchnasError
from stretchnas.method.genotype import Genotype, genotype_from_dict, load_genotype
from stretchnas.runs.atomic import atomic_write_json
from stretchnas.runs.documents import read_document

INDEX_FILE = "snapshots.json"
FINAL = "final"


class SnapshotError(StretchnasError, ValueError):
    pass


def snapshot_label(epoch: int) -> str:
    return f"epoch_{epoch:03d}"


def snapshot_file(search_dir: str | Path, epoch: int) -> Path:
    return Path(search_dir) / f"genotype_epoch_{epoch:03d}.json"


def write_index(search_dir: str | Path, epochs: list[int]) -> dict:
    """Index the snapshot genotype files the search wrote; a missing one had no derivable cell."""
    index = {}
    for epoch in epochs:
        path = snapshot_file(search_dir, epoch)
        if path.exists():  # the genotype inline too, so the index alone serves readers of every snapshot
            index[snapshot_label(epoch)] = {
                "epoch": epoch,
                "genotype_file": path.name,
                "genotype": load_genotype(path).to_dict(),
            }
        else:
            index[snapshot_label(epoch)] = {"epoch": epoch, "not_derivable": "every intermediate node was dropped"}
    atomic_write_json(Path(search_dir) / INDEX_FILE, index)
    return index


def resolve(genotype_file: str | Path, label: str) -> tuple[Path | None, str | None]:
    """(genotype file, None) for `label`, or (None, reason) for a snapshot with no derivable cell.

    `final` takes `genotype_file` itself; a snapshot label reads the search's index it names."""
    genotype_file = Path(genotype_file)
    if label == FINAL:
        return genotype_file, None
    if genotype_file.name != INDEX_FILE:
        raise SnapshotError(f"{genotype_file}: a snapshot ({label}) is found through the search's {INDEX_FILE}")
    index = read_index(genotype_file)
    if label not in index:
        raise SnapshotError(f"{genotype_file}: no snapshot {label!r}; it has {sorted(index)}")
    entry = index[label]
    if "not_derivable" in entry:
        return None, f"{label}: {entry['not_derivable']}"
    return genotype_file.parent / entry["genotype_file"], None


def load(genotype_file: str | Path, label: str) -> tuple[Genotype | None, str | None]:
    """(genotype, None), or (None, reason) where the snapshot has no derivable cell."""
    path, reason = resolve(genotype_file, label)
    return (None, reason) if path is None else (load_genotype(path), None)


def read_index(index_file: str | Path) -> dict:
    return read_document(index_file, json.loads, SnapshotError, "snapshot index")


def snapshot_chain(search_dir: str | Path, last_epoch: int | None) -> list[tuple[int | str, object]]:
    """(epoch, genotype) of every snapshot of a search in epoch order (None where the epoch had no derivable
    cell), then ("final", its final genotype) where that is a later epoch's than the last snapshot: the
    final cell is the last epoch's, so a step to it from a snapshot of that epoch cannot change it."""
    search_dir = Path(search_dir)
    chain = []
    for entry in sorted(read_index(search_dir / INDEX_FILE).values(), key=lambda e: e["epoch"]):
        genotype = None
        if "genotype" in entry:
            genotype = genotype_from_dict(entry["genotype"], f"{search_dir / INDEX_FILE} epoch {entry['epoch']}")
        elif "genotype_file" in entry:  # an index written before the genotypes were inlined
            genotype = load_genotype(search_dir / entry["genotype_file"])
        chain.append((entry["epoch"], genotype))
    final = search_dir / "genotype.json"
    if final.exists() and (not chain or last_epoch is None or chain[-1][0] < last_epoch):
        chain.append((FINAL, load_genotype(final)))
    return chain


def cell_changes(before: Genotype, after: Genotype) -> dict[str, int]:
    """How much a derived genotype changed between two snapshots, without any training: per cell type,
    edges gained or lost (a (node, input) pair in one and not the other) and ops changed on the edges
    both keep."""
    changes = {}
    for cell_type in ("normal", "reduce"):
        old = {(node, source): op for op, source, node in getattr(before, cell_type).edges}
        new = {(node, source): op for op, source, node in getattr(after, cell_type).edges}
        changes[f"edges_changed_{cell_type}"] = len(old.keys() ^ new.keys())
        changes[f"ops_changed_{cell_type}"] = sum(old[e] != new[e] for e in old.keys() & new.keys())
    return changes
