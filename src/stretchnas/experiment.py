"""`stretchnas experiment`: everything one experiment of params.yaml needs, resumably.

A search experiment runs its search for every seed, then trains the final
genotype (and, for experiments feeding the stability table, every snapshot
genotype) from scratch with the search's layer count, for every training seed,
with C chosen to meet the evaluation parameter budget. Random baselines run
their sampling and train the chosen genotype the same way. The summary JSON
lists every result; the tables are built from the summaries.
"""

from __future__ import annotations

from pathlib import Path

from stretchnas.atomic import atomic_write_json
from stretchnas.config import all_experiments, experiment_search
from stretchnas.data.cache import PreparedData
from stretchnas.genotype import Genotype
from stretchnas.random_baselines import run_random_baseline
from stretchnas.search.runner import SearchRun
from stretchnas.training import TrainRun, choose_channels


def genotypes_to_train(experiment: dict, settings: dict, search_dir: Path) -> dict[str, Path]:
    """Label -> genotype file: the final one, plus snapshots where the experiment's tables ask for them."""
    files = {"final": search_dir / "genotype.json"}
    wants_snapshots = set(experiment.get("tables", [])) & set(settings["evaluation"]["snapshots_for"])
    if wants_snapshots:
        for epoch in experiment_search(settings, experiment["name"])["snapshot_epochs"]:
            path = search_dir / f"genotype_epoch_{epoch:03d}.json"
            if path.exists():
                files[f"epoch_{epoch:03d}"] = path
    return files


def train_genotype(settings, data, genotype: Genotype, label: str, layers: int, out: Path, quiet: bool) -> list[dict]:
    recipe = settings["train"]
    num_classes = len(data.manifest["classes"])
    target = settings["evaluation"]["target_params_m"]
    channels, params = choose_channels(genotype, layers, target, num_classes=num_classes)
    choice = {"target_params_m": target, "chosen_channels": channels, "params_m": round(params, 6)}
    results = []
    for seed in recipe["seeds"]:
        run = TrainRun(
            genotype, label, layers, channels, recipe, data, out / f"train_seed{seed}", seed, channel_choice=choice
        )
        results.append(run.run(show_progress=not quiet))
    return results


def run_experiment(settings: dict, name: str, out: str | Path, data: PreparedData, quiet: bool = False,
                   topology_from: str | Path | None = None) -> dict:  # fmt: skip
    out = Path(out)
    experiment = {**all_experiments(settings)[name], "name": name}
    search = experiment_search(settings, name)
    rows = []
    for search_seed in search["seeds"]:
        run_dir = out / f"seed{search_seed}"
        if experiment["kind"] == "search":
            SearchRun(name, search, data, run_dir / "search", search_seed).run(show_progress=not quiet)
            to_train = genotypes_to_train(experiment, settings, run_dir / "search")
            layers = search["layers"]
        else:
            topology = Genotype.load(topology_from) if experiment["kind"] == "random_ops" else None
            run_random_baseline(
                name, experiment["kind"], search, experiment["random"], settings["train"], data,
                run_dir / "random", search_seed, topology=topology, show_progress=not quiet,
            )  # fmt: skip
            to_train = {"final": run_dir / "random" / "genotype.json"}
            layers = experiment["random"]["layers"]
        for label, path in to_train.items():
            genotype = Genotype.load(path)
            for result in train_genotype(settings, data, genotype, f"{name}/{label}", layers, run_dir / label, quiet):
                rows.append({**result, "experiment": name, "search_seed": search_seed, "genotype": label,
                             "genotype_file": str(path)})  # fmt: skip
    summary = {
        "experiment": name,
        "kind": experiment["kind"],
        "tables": experiment.get("tables", []),
        "scale": settings["scale"],
        "search": search,
        "results": rows,
    }
    return summary


def write_summary(summary: dict, path: str | Path) -> None:
    atomic_write_json(path, summary)
