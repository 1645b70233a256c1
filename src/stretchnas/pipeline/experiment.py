"""One experiment of params.yaml: its evaluation trainings, its summary, and all of it in one process.

The workflow runs an experiment as separate jobs (stretchnas.pipeline.jobs): a search (or random baseline) per
seed, then `evaluate` per genotype, depth and training seed (the final genotype, plus every snapshot
where the experiment's tables ask for them; C by `training_width`), then `gather`, which writes the
summary the tables read. `run_experiment` runs the
same jobs, in the same folders, in one process, for a laptop or a debugger.
"""

from __future__ import annotations

from pathlib import Path

from stretchnas.data.cache import PreparedData
from stretchnas.evaluation.training import TrainRun, TrainSpec, channel_choice_for
from stretchnas.pipeline.jobs import RUNS_ROOT, Job, Plan
from stretchnas.pipeline.summaries import gather
from stretchnas.runs.atomic import atomic_write_json
from stretchnas.search.random_baselines import run_random_baseline
from stretchnas.search.runner import SearchRun
from stretchnas.search.snapshots import load as load_snapshot
from stretchnas.settings.params import Experiment, Settings, widened


def evaluate(
    settings: Settings,
    experiment: Experiment,
    genotype_file: str | Path,
    label: str,
    seed: int | None,
    out: str | Path,
    data: PreparedData,
    quiet: bool = False,
    layers: int | None = None,
    supersede: bool = False,
) -> dict:
    """`stretchnas evaluate`: train one of an experiment's genotypes from scratch, with `layers` cells
    (default: the experiment's own count) and the C `training_width` gives; seed None: the recipe's first.

    A snapshot without a derivable cell gets a result.json saying so (`not_run`), not a number."""
    name = experiment.name
    layers = layers or experiment.layers
    recipe = settings.recipe(experiment)
    seed = recipe.seeds[0] if seed is None else seed
    genotype, reason = load_snapshot(genotype_file, label)
    if genotype is None:
        result = {"experiment": name, "genotype": label, "layers": layers, "seed": seed, "not_run": reason}
        atomic_write_json(Path(out) / "result.json", result)
        return result
    channels, choice = training_width(settings, experiment, genotype, layers, len(data.manifest["classes"]))
    spec = TrainSpec(genotype, f"{name}/{label}", layers, channels, experiment.imagenet, channel_choice=choice)
    return TrainRun(spec, recipe, data, out, seed).run(not quiet, supersede)


def training_width(
    settings: Settings, experiment: Experiment, genotype, layers: int, num_classes: int
) -> tuple[int, dict | None]:
    """The C an experiment trains `genotype` at with `layers` cells, and how the budget chose it (None where no
    budget did): its fixed C (as the settings resolved it); a widened retrain of a budget row: the C its source
    trains the same cell at, times the factor; else the parameter budget's C."""
    if experiment.channels:
        return experiment.channels, None
    if experiment.widen:
        source = settings.experiment(experiment.topology_from)
        base, _ = training_width(settings, source, genotype, layers, num_classes)
        return widened(base, experiment.widen), None
    choice = channel_choice_for(genotype, layers, settings.evaluation.target_params_m, False, num_classes)
    return choice["chosen_channels"], choice


def run_job(settings: Settings, job: Job, data: PreparedData, quiet: bool = False):
    """Run one search, random baseline or evaluation job of the plan in this process."""
    experiment = settings.experiment(job.wildcards["exp"])
    seed, folder = job.wildcards["seed"], Path(job.outputs[0]).parent
    if job.rule == "search":
        return SearchRun(experiment.name, experiment.search, data, folder, seed, experiment.searches_imagenet).run(
            not quiet
        )
    if job.rule == "random":
        topology = job.inputs[1] if experiment.procedure == "random_ops" else None
        return run_random_baseline(experiment, settings.train, data, folder, seed, topology, not quiet)
    if job.rule == "evaluate":
        where = job.wildcards
        return evaluate(
            settings,
            experiment,
            job.inputs[1],
            where["label"],
            where["train_seed"],
            folder,
            data,
            quiet,
            where["layers"],
        )
    if job.rule == "lookup":
        from stretchnas.evaluation.lookup import Tables, score_file

        return score_file(job.inputs[0], Tables.from_settings(settings), job.outputs[0], snapshots=job.inputs[1])
    raise ValueError(f"{job.rule} jobs do not run inside an experiment")


def run_experiment(
    settings: Settings, experiment: Experiment, data: PreparedData, root: str = RUNS_ROOT, quiet: bool = False
) -> dict:
    """`stretchnas experiment`: every job of one experiment, in order, resumably; returns its summary."""
    jobs = Plan(settings, root).experiment_jobs(experiment)
    for job in jobs[:-1]:
        run_job(settings, job, data, quiet)
    return gather(settings, experiment, jobs[-1].outputs[0], root, jobs)
