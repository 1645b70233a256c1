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

from stretchnas.data.cache import PreparedData
from stretchnas.evaluation.training import TrainRun, TrainSpec
from stretchnas.method.derive import derive
from stretchnas.method.genotype import Cell, Genotype
from stretchnas.method.networks import build_search_network
from stretchnas.method.spaces import candidate_ops
from stretchnas.runs import RunError
from stretchnas.runs.atomic import atomic_write_text
from stretchnas.runs.device import resolve_device
from stretchnas.runs.resumable import ResumableRun
from stretchnas.settings.params import Experiment
from stretchnas.settings.types import SearchSettings, TrainSettings


def _generator(seed: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + index)


def sample_from_space(search: SearchSettings, seed: int, index: int) -> Genotype:
    """A genotype of the search space: i.i.d. Gumbel architecture parameters, then the usual
    derivation, i.e. a uniform draw of each node's subset (or top-2 pair) and of each op."""
    net = build_search_network(search)
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


class RandomBaselineRun(ResumableRun):
    """N sampled genotypes, each short-trained (a resumable TrainRun of its own), the best on D_val kept."""

    run_type = "random_baseline"
    final_file = "genotype.json"

    def __init__(
        self,
        experiment: Experiment,
        recipe: TrainSettings,
        data: PreparedData,
        out: str | Path,
        seed: int,
        topology: Genotype | None = None,
    ):
        super().__init__(out, data, seed)
        if (experiment.procedure == "random_ops") != (topology is not None):
            raise RunError(f"{experiment.name}: random_ops, and only it, keeps a searched topology")
        self.experiment = experiment
        self.topology = topology
        self.short = recipe.replace(epochs=experiment.random.train_epochs, seeds=(seed,))

    @property
    def identity(self) -> dict:
        e = self.experiment
        return {
            "experiment": e.name,
            "procedure": e.procedure,
            "seed": self.seed,
            "random": e.random.to_tree(),
            "search": e.search.identity(),
            "recipe": self.short.identity(),
            "topology": self.topology.structure() if self.topology else None,
            "data_manifest_sha256": self.data.manifest_sha256,
        }

    def describe(self) -> dict:
        e = self.experiment
        return {
            "experiment": e.name,
            "procedure": e.procedure,
            "seed": self.seed,
            "random": e.random.to_tree(),
            "search": e.search.to_tree(),
            "recipe": self.short.to_tree(),
        }

    def load_result(self) -> Genotype:
        return Genotype.load(self.out / self.final_file)

    def prepare(self) -> None:
        self.device = resolve_device(self.short.device)  # what its trainings use, for run.json

    def completion_fields(self, result: Genotype) -> dict:
        return {"final_file": self.final_file, "selected_sample": result.meta["selected_sample"]}

    def sample(self, index: int) -> Genotype:
        if self.topology is not None:
            return random_ops_on(self.topology, self.experiment.search.op_space, self.seed, index)
        return sample_from_space(self.experiment.search, self.seed, index)

    def execute(self, show_progress: bool) -> Genotype:
        e, random_cfg = self.experiment, self.experiment.random
        rows = []
        for index in range(random_cfg.samples):
            genotype = self.sample(index)
            sample_dir = self.out / "samples" / f"{index:03d}"
            spec = TrainSpec(
                genotype,
                f"{e.name}[{index}]",
                random_cfg.layers,
                random_cfg.channels,
                train_part=(e.search.split_scheme, "train"),
                eval_part=(e.search.split_scheme, "val_alpha"),
            )
            result = TrainRun(spec, self.short, self.data, sample_dir, self.seed).run(show_progress)
            genotype.save(sample_dir / "genotype.json")
            rows.append({"sample": index, "val_error": result["val_error"], "params_m": result["params_m"]})
        table = pd.DataFrame(rows)
        best = int(table.sort_values(["val_error", "sample"]).iloc[0]["sample"])
        atomic_write_text(self.out / "candidates.csv", table.to_csv(index=False))
        chosen = Genotype.load(self.out / "samples" / f"{best:03d}" / "genotype.json")
        chosen = Genotype(chosen.normal, chosen.reduce, {"selected_sample": best, "selected_by": "D_val error"})
        chosen.save(self.out / self.final_file)
        return chosen


def run_random_baseline(
    experiment: Experiment,
    recipe: TrainSettings,
    data: PreparedData,
    out: str | Path,
    seed: int | None = None,
    topology_from: str | Path | None = None,
    show_progress: bool = True,
    supersede: bool = False,
) -> Genotype:
    """`stretchnas random-search`: one seed of a random_search or random_ops experiment."""
    if experiment.procedure == "random_ops" and topology_from is None:
        raise RunError(f"{experiment.name} keeps a searched topology: pass --topology-from genotype.json")
    topology = Genotype.load(topology_from) if experiment.procedure == "random_ops" else None
    seed = experiment.search.seeds[0] if seed is None else seed
    return RandomBaselineRun(experiment, recipe, data, out, seed, topology).run(show_progress, supersede)
