"""`stretchnas experiment`: everything one experiment of params.yaml needs, resumably.

A search experiment runs its search for every seed, then trains the final
genotype (and, for experiments feeding the stability table, every snapshot
genotype) from scratch with the search's layer count, for every training seed,
with C chosen to meet the evaluation parameter budget. Random baselines run
their sampling and train the chosen genotype the same way; a random_ops
followup of search seed s keeps the topology its source experiment found with
seed s. The summary JSON lists every result; the tables are built from the
summaries.
"""

from __future__ import annotations

import json
from pathlib import Path

from stretchnas.atomic import atomic_write_json
from stretchnas.config import ConfigError, Experiment, get_experiment
from stretchnas.data.cache import PreparedData
from stretchnas.documents import read_document
from stretchnas.genotype import Genotype
from stretchnas.random_baselines import RandomBaselineRun
from stretchnas.search.runner import SearchRun
from stretchnas.training import TrainRun, TrainSpec, channel_choice_for


def genotypes_to_train(experiment: Experiment, settings: dict, search_dir: Path) -> dict[str, Path]:
    """Label -> genotype file: the final one, plus snapshots where the experiment's tables ask for them."""
    files = {"final": search_dir / "genotype.json"}
    if set(experiment.tables) & set(settings["evaluation"]["snapshots_for"]):
        for epoch in experiment.search["snapshot_epochs"]:
            path = search_dir / f"genotype_epoch_{epoch:03d}.json"
            if path.exists():
                files[f"epoch_{epoch:03d}"] = path
    return files


def source_topologies(summary_file: str | Path, experiment: Experiment) -> dict[int, str]:
    """Search seed -> final genotype file of the experiment a followup keeps the topology of.

    Every search seed of the followup needs the source's genotype of the same seed."""
    summary = read_document(summary_file, json.loads, ConfigError, f"summary of {experiment.topology_from!r}")
    if summary.get("experiment") != experiment.topology_from:
        raise ConfigError(
            f"{summary_file}: a summary of {summary.get('experiment')!r}, not of {experiment.topology_from!r}"
        )
    finals = {r["search_seed"]: r["genotype_file"] for r in summary["results"] if r["genotype"] == "final"}
    missing = [seed for seed in experiment.search["seeds"] if seed not in finals]
    if missing:
        raise ConfigError(
            f"{summary_file}: {experiment.topology_from!r} has no final genotype for search seed(s) {missing} "
            f"that {experiment.name!r} runs; it has {sorted(finals)}"
        )
    return finals


def train_genotype(settings, data, genotype: Genotype, label: str, layers: int, out: Path, quiet: bool) -> list[dict]:
    """Train one genotype for every training seed at the evaluation parameter budget."""
    recipe = settings["train"]
    choice = channel_choice_for(genotype, layers, settings["evaluation"]["target_params_m"], False,
                                len(data.manifest["classes"]))  # fmt: skip
    spec = TrainSpec(genotype, label, layers, choice["chosen_channels"], channel_choice=choice)
    return [TrainRun(spec, recipe, data, out / f"train_seed{seed}", seed).run(not quiet) for seed in recipe["seeds"]]


def run_experiment(settings: dict, name: str, out: str | Path, data: PreparedData, quiet: bool = False,
                   after: str | Path | None = None) -> dict:  # fmt: skip
    """Run (or resume) every search/sampling seed and every evaluation of one experiment; return its summary."""
    out = Path(out)
    experiment = get_experiment(settings, name)
    topologies = {}
    if experiment.procedure == "random_ops":
        if after is None:
            raise ConfigError(f"followups.{name}: pass --after with the summary of {experiment.topology_from!r}")
        topologies = source_topologies(after, experiment)
    rows = []
    for search_seed in experiment.search["seeds"]:
        run_dir = out / f"seed{search_seed}"
        if experiment.procedure == "search":
            SearchRun(name, experiment.search, data, run_dir / "search", search_seed).run(not quiet)
            to_train = genotypes_to_train(experiment, settings, run_dir / "search")
        else:
            topology = Genotype.load(topologies[search_seed]) if topologies else None
            RandomBaselineRun(experiment, settings["train"], data, run_dir / "random", search_seed, topology).run(
                not quiet
            )
            to_train = {"final": run_dir / "random" / "genotype.json"}
        for label, path in to_train.items():
            genotype = Genotype.load(path)
            results = train_genotype(settings, data, genotype, f"{name}/{label}", experiment.layers, run_dir / label,
                                     quiet)  # fmt: skip
            for result in results:
                rows.append({**result, "experiment": name, "search_seed": search_seed, "genotype": label,
                             "genotype_file": str(path)})  # fmt: skip
    return {**experiment.fields(), "scale": settings["scale"], "search": experiment.search, "results": rows}


def run_and_summarise(settings: dict, name: str, out: str | Path, summary_file: str | Path, data: PreparedData,
                      after: str | Path | None = None, quiet: bool = False) -> dict:  # fmt: skip
    """`stretchnas experiment`: run it, then write the summary JSON last (the workflow's output)."""
    summary = run_experiment(settings, name, out, data, quiet=quiet, after=after)
    atomic_write_json(summary_file, summary)
    return summary
