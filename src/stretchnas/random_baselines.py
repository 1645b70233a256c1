"""Random baselines: random search over a space, and random operations on a fixed topology.

Both sample N genotypes, short-train each on D_tr and pick the one with the best
D_val accuracy (DARTS's random-search protocol; the SC paper's "MiLeNAS-SC-L8
(random operation)" keeps a searched topology and draws the ops). Samples are
a pure function of (seed, sample index) and each sample's training resumes, so a
killed baseline re-run continues where it stopped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from stretchnas.atomic import atomic_write_json, atomic_write_text
from stretchnas.data.cache import PreparedData
from stretchnas.derive import derive
from stretchnas.genotype import Cell, Genotype
from stretchnas.ops import candidate_ops
from stretchnas.runstate import provenance
from stretchnas.search.runner import build_network
from stretchnas.training import TrainRun


def _generator(seed: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + index)


def sample_from_space(search: dict, seed: int, index: int) -> Genotype:
    """A genotype of the search space: i.i.d. Gumbel architecture parameters, then the usual
    derivation, i.e. a uniform draw of each node's subset (or top-2 pair) and of each op."""
    net = build_network(search)
    generator = _generator(seed, index)
    with torch.no_grad():
        for p in net.arch_parameters():
            uniform = torch.rand(p.shape, generator=generator).clamp_(1e-9, 1 - 1e-9)
            p.copy_(-torch.log(-torch.log(uniform)))
    return derive(net)


def random_ops_on(topology: Genotype, op_space: str, seed: int, index: int) -> Genotype:
    """The same edges and concat lists, each edge's op drawn uniformly (never `none`)."""
    ops = candidate_ops(op_space, with_none=False)
    generator = _generator(seed, index)

    def redraw(cell: Cell) -> Cell:
        picks = torch.randint(len(ops), (len(cell.edges),), generator=generator).tolist()
        return Cell(tuple((ops[k], i, j) for k, (_, i, j) in zip(picks, cell.edges)), cell.concat)

    return Genotype(redraw(topology.normal), redraw(topology.reduce)).validate()


def run_random_baseline(
    name: str,
    kind: str,
    search: dict,
    random_cfg: dict,
    recipe: dict,
    data: PreparedData,
    out: str | Path,
    seed: int,
    topology: Genotype | None = None,
    show_progress: bool = True,
) -> Genotype:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    short = {**recipe, "epochs": random_cfg["train_epochs"], "seeds": [seed]}
    rows = []
    for index in range(random_cfg["samples"]):
        if kind == "random_ops":
            genotype = random_ops_on(topology, search["op_space"], seed, index)
        else:
            genotype = sample_from_space(search, seed, index)
        sample_dir = out / "samples" / f"{index:03d}"
        result = TrainRun(
            genotype,
            f"{name}[{index}]",
            random_cfg["layers"],
            random_cfg["channels"],
            short,
            data,
            sample_dir,
            seed,
            train_part=(search["split"], "train"),
            eval_part=(search["split"], "val_alpha"),
        ).run(show_progress=show_progress)
        genotype.save(sample_dir / "genotype.json")
        rows.append({"sample": index, "val_error": result["val_error"], "params_m": result["params_m"]})
    table = pd.DataFrame(rows)
    best = int(table.sort_values(["val_error", "sample"]).iloc[0]["sample"])
    atomic_write_text(out / "candidates.csv", table.to_csv(index=False))
    chosen = Genotype.load(out / "samples" / f"{best:03d}" / "genotype.json")
    chosen = Genotype(chosen.normal, chosen.reduce, {"selected_sample": best, "selected_by": "D_val error"})
    chosen.save(out / "genotype.json")
    atomic_write_json(
        out / "run.json",
        {
            "kind": kind,
            "status": "complete",
            "experiment": name,
            "seed": seed,
            "random": random_cfg,
            "search": search,
            "recipe": short,
            "selected_sample": best,
            **provenance(data),
        },
    )
    return chosen
