"""The workflow's units of work, listed once: the Snakefile's rules and dvc.yaml's stages both come from here.

Per scale: one `prepare_data`; one `search` per (experiment, search seed) or one `random` per
(random baseline, seed); one `evaluate` per training (experiment, search seed, genotype label,
evaluation layers, training seed); one `gather` per experiment, which writes its summary; one
`tables`. A `retrain` followup has only trainings, of its source's final cells. The link from a
search to its trainings is a file (genotype.json, or the snapshot index), never a loop in a process.

With workflow.seeds_in_one_job, the workflow runs each experiment's searches (or random baselines) as one
job, and its NAS-Bench-201 lookups as another (`Plan.units`): `stretchnas batch` runs the per-seed commands
one after another in one process. The per-seed jobs stay the plan; each seed keeps its folder, records and
resume point, and every file has the same path and bytes either way.

Jobs run with --supersede: when a job reruns because its settings changed, the earlier run in its
folder is kept under superseded/ rather than refused.

Each job carries its command, the files it reads and writes, and the params.yaml keys it reads
(`reads`): Snakemake fingerprints their resolved values (its default rerun triggers then rerun
exactly the jobs whose settings changed), and dvc.yaml lists them as `params`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from stretchnas.data.folders import prepared_folder
from stretchnas.data.identity import source_identity
from stretchnas.pipeline.batch import BATCH_SEPARATOR
from stretchnas.report.artefacts import TABLE_FILES, report_outputs
from stretchnas.search.snapshots import FINAL, INDEX_FILE, snapshot_label
from stretchnas.settings.params import ConfigError, Experiment, Settings
from stretchnas.settings.types import PLACEMENT_KEYS, NB201Tables

# Output patterns by rule; the Snakefile's rules declare exactly these (wildcards in braces).
SEARCH_DIR = "{root}/{scale}/{exp}/seed{seed}/search"
RANDOM_DIR = "{root}/{scale}/{exp}/seed{seed}/random"
TRAIN_DIR = "{root}/{scale}/{exp}/seed{seed}/{label}/L{layers}/train_seed{train_seed}"
LOOKUP_DIR = "{root}/{scale}/{exp}/seed{seed}/lookup"
OUTPUTS = {
    "prepare_data": ("data/prepared/{scale}",),
    "prepare_imagenet": ("data/prepared/{scale}-imagenet",),
    "published_cells": ("results/published_cells.csv",),
    "search": tuple(f"{SEARCH_DIR}/{name}" for name in ("genotype.json", INDEX_FILE, "metrics.csv")),
    "random": (f"{RANDOM_DIR}/genotype.json",),
    "evaluate": (f"{TRAIN_DIR}/result.json",),
    "lookup": (f"{LOOKUP_DIR}/result.json",),
    "gather": ("{root}/{scale}/summaries/{exp}.json",),
    "tables": tuple(f"results/{{scale}}/data/{name}.csv" for name in TABLE_FILES),
    # report: its files depend on the searches (one cell drawing each): artefacts.report_outputs
}
# Each job's log, and Snakemake's `benchmark:` record of its wall time and peak memory.
LOGS = {
    "prepare_data": "logs/{scale}/prepare_data.log",
    "prepare_imagenet": "logs/{scale}/prepare_imagenet.log",
    "published_cells": "logs/published_cells.log",
    "search": "logs/{scale}/{exp}/search_seed{seed}.log",
    "random": "logs/{scale}/{exp}/random_seed{seed}.log",
    "evaluate": "logs/{scale}/{exp}/seed{seed}_{label}_L{layers}_train_seed{train_seed}.log",
    "lookup": "logs/{scale}/{exp}/lookup_seed{seed}.log",
    "gather": "logs/{scale}/{exp}/gather.log",
    "tables": "logs/{scale}/tables.log",
    "report": "logs/{scale}/report.log",
}
RECORDS = {
    "search": f"{SEARCH_DIR}/job.tsv",
    "random": f"{RANDOM_DIR}/job.tsv",
    "evaluate": f"{TRAIN_DIR}/job.tsv",
}
# Per-seed rules whose jobs workflow.seeds_in_one_job runs as one job per experiment -> that job's rule
SEEDS_IN_ONE_JOB = {"search": "search_seeds", "random": "random_seeds", "lookup": "lookup_seeds"}
LOGS.update({rule: f"logs/{{scale}}/{{exp}}/{rule}.log" for rule in SEEDS_IN_ONE_JOB.values()})
# One record per such job: its wall time and peak memory cover all its seeds
RECORDS.update({rule: f"{{root}}/{{scale}}/{{exp}}/{rule}/job.tsv" for rule in ("search_seeds", "random_seeds")})
RUNS_ROOT = "runs"
NO_IMAGENET_SOURCE = "no ImageNet source configured (data.imagenet.source)"
NO_NB201_TABLE = "no NAS-Bench-201 table configured (nasbench201.table, or $STRETCHNAS_NB201 naming its folder)"


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: dict
    argv: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    reads: tuple[str, ...]  # params.yaml keys (dotted) whose values determine the outputs
    fingerprint: dict = field(compare=False)  # their resolved values at this scale

    @property
    def name(self) -> str:
        """A stage name: the rule and its wildcard values (the scale left out), e.g.
        evaluate-darts_2nd_L8-seed2-epoch_020-L8-train_seed0."""
        prefix = {"seed": "seed", "layers": "L", "train_seed": "train_seed"}
        parts = [f"{prefix.get(k, '')}{v}" for k, v in self.wildcards.items() if k != "scale"]
        return "-".join([self.rule, *parts])

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


# Keys of the run sections that change no single job's result: the device and data-loading workers, and
# the seed list (each job runs one seed, a wildcard), so adding a seed adds jobs and reruns none.
RUN_SECTIONS = ("search", "train", "train_imagenet")
NOT_READ = ("device", "workers", "seeds")
# Sections a job reads key by key, and the keys of each it does not read: where the loader found a source
# (file or environment) is not the source, and CIFAR's preparation does not read ImageNet's settings.
SECTIONS_NOT_READ = {
    **{section: NOT_READ for section in RUN_SECTIONS},
    "data": ("source_origin", "imagenet"),
    "data.imagenet": ("source_origin",),
}


MISSING = object()


def at_key(tree: Mapping, key: str):
    """The value at a dotted params.yaml key (``scales.smoke.search``), or MISSING."""
    value = tree
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def resolved(settings: Mapping, key: str):
    """The merged value at a dotted params.yaml key, as far as a job's result depends on it."""
    value = at_key(settings, key)
    if value is MISSING:
        raise KeyError(f"{key}: not in the settings")
    if key in SECTIONS_NOT_READ:
        value = {k: v for k, v in value.items() if k not in SECTIONS_NOT_READ[key]}
    return {k: v for k, v in value.items() if k not in PLACEMENT_KEYS} if isinstance(value, dict) else value


def table_identities(tables: NB201Tables) -> dict[str, list[int] | None]:
    """Each configured NAS-Bench-201 table file: [size, modification time in ns], None where it is absent."""
    identities = {}
    for path in filter(None, (tables.table, tables.table_200ep)):
        try:
            stat = Path(path).stat()
        except OSError:
            identities[str(path)] = None
        else:
            identities[str(path)] = [stat.st_size, stat.st_mtime_ns]
    return identities


def _with_source_identity(job: Job, section: str, prepared: str) -> Job:
    """The preparation's fingerprint with its source by content (data.identity), not by the path it is
    reached through: a symlinked or moved copy, or the variable unset after preparation, replans nothing."""
    settings = dict(job.fingerprint[section])
    settings["source"] = source_identity(str(settings["source"]), prepared) if settings.get("source") else None
    return replace(job, fingerprint={**job.fingerprint, section: settings})


# The jobs a plan from committed runs keeps: whatever reads searches, trainings and lookups, never those.
FROM_RUNS_RULES = ("published_cells", "gather", "tables", "report")


class Plan:
    """Every job of one scale, in an order that runs each after what it reads.

    With `from_runs`, only the jobs that turn finished runs into summaries, tables and the report: the
    searches', trainings' and lookups' outputs are then source files that must be in the checkout (the
    committed results of a scale), so no data, search or training is planned, and NB201's experiments
    are planned without the benchmark's table (their lookups are among those files)."""

    def __init__(self, settings: Settings, root: str = RUNS_ROOT, from_runs: bool = False):
        self.settings, self.root, self.scale, self.from_runs = settings, root, settings.scale, from_runs
        # experiment -> why it has no jobs at this scale: ImageNet's without an ImageNet source, NB201's
        # without its table
        self.not_planned = {
            name: reason
            for name, experiment in settings.experiments.items()
            if (reason := self._missing_input(experiment))
        }
        self.jobs: list[Job] = [self._prepare_data(), self._published_cells()]
        if any(experiment.imagenet for experiment in self.planned_experiments()):
            self.jobs.append(self._prepare_imagenet())
        for experiment in self.planned_experiments():
            self.jobs += self.experiment_jobs(experiment)
        tables = self._tables()
        self.jobs += [tables, self._report(tables)]
        if from_runs:
            self.jobs = [job for job in self.jobs if job.rule in FROM_RUNS_RULES]
            self._check_runs_present()
        self._by_key = {(job.rule, self._key(job.wildcards)): job for job in self.jobs}

    def _missing_input(self, experiment: Experiment) -> str | None:
        imagenet = self.settings.data.imagenet
        if experiment.imagenet and not (imagenet and imagenet.source):
            return NO_IMAGENET_SOURCE
        if experiment.on_nb201 and not self.settings.nasbench201.table and not self.from_runs:
            return NO_NB201_TABLE
        return None

    def left_out(self) -> dict[str, list[str]]:
        """Why -> the experiments the plan has no job for (say, NB201's without its table), for a note up front."""
        reasons: dict[str, list[str]] = {}
        for name, reason in self.not_planned.items():
            reasons.setdefault(reason, []).append(name)
        return reasons

    def run_outputs(self) -> list[str]:
        """The files of finished runs that the kept jobs read (with `from_runs`: what must be committed)."""
        produced = {path for job in self.jobs for path in job.outputs}
        read = [path for job in self.jobs for path in job.inputs if path not in produced]
        return list(dict.fromkeys(read))

    def _check_runs_present(self) -> None:
        missing = [path for path in self.run_outputs() if not Path(path).exists()]
        if missing:
            shown = "\n  ".join(missing[:10]) + (f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise ConfigError(
                f"regenerating results/{self.scale} from its runs needs {len(missing)} run output(s) missing "
                f"from this checkout:\n  {shown}\nRun the {self.scale} pipeline itself instead: "
                f"snakemake --cores all --config scale={self.scale}"
            )

    def planned_experiments(self) -> list[Experiment]:
        return [e for name, e in self.settings.experiments.items() if name not in self.not_planned]

    @staticmethod
    def _key(wildcards: Mapping) -> tuple:
        return tuple(sorted((k, str(v)) for k, v in wildcards.items()))

    def job(self, rule: str, wildcards: Mapping) -> Job:
        """The job a Snakemake rule's wildcards name; unknown ones are a clear error."""
        try:
            return self._by_key[(rule, self._key(wildcards))]
        except KeyError:
            raise ConfigError(f"no {rule} job with {dict(wildcards)} at scale {self.scale!r}") from None

    def outputs(self) -> list[str]:
        return [path for job in self.jobs for path in job.outputs]

    def units(self) -> list[Job]:
        """The jobs as the workflow runs them: the plan's, except that with workflow.seeds_in_one_job an
        experiment's per-seed jobs of each rule in SEEDS_IN_ONE_JOB become one job (where there are several),
        in the place of its first."""
        if not self.settings.workflow.seeds_in_one_job:
            return list(self.jobs)
        members: dict[tuple, list[Job]] = {}
        for job in self.jobs:
            if job.rule in SEEDS_IN_ONE_JOB:
                members.setdefault((job.rule, job.wildcards["exp"]), []).append(job)
        units, merged = [], set()
        for job in self.jobs:
            key = (job.rule, job.wildcards.get("exp"))
            if len(members.get(key, ())) < 2:
                units.append(job)
            elif key not in merged:
                merged.add(key)
                units.append(seeds_in_one_job(members[key], self.root))
        return units

    # ----------------------------------------------------------------- jobs

    def _make(self, rule: str, wildcards: dict, argv: list, inputs, reads) -> Job:
        # published_cells writes the same file at every scale
        wildcards = wildcards if rule == "published_cells" else {"scale": self.scale, **wildcards}
        outputs = tuple(p.format(root=self.root, **wildcards) for p in OUTPUTS.get(rule, ()))
        reads = tuple(reads)
        fingerprint = {key: resolved(self.settings.tree, key) for key in reads}
        return Job(rule, wildcards, tuple(str(a) for a in argv), tuple(inputs), tuple(outputs), reads, fingerprint)

    @property
    def data_dir(self) -> str:
        return prepared_folder(self.scale)

    def data_of(self, experiment: Experiment) -> str:
        """The prepared data an experiment's jobs read: CIFAR's, or data.imagenet's."""
        return prepared_folder(self.scale, experiment.imagenet)

    def _prepare_data(self) -> Job:
        argv = ["stretchnas", "prepare-data", "--scale", self.scale, "--out", self.data_dir]
        job = self._make("prepare_data", {}, argv, (), ["data"])
        return _with_source_identity(job, "data", self.data_dir)

    def _prepare_imagenet(self) -> Job:
        out = prepared_folder(self.scale, imagenet=True)
        argv = ["stretchnas", "prepare-data", "--scale", self.scale, "--imagenet", "--out", out]
        job = self._make("prepare_imagenet", {}, argv, (), ["data.imagenet", "data.seed", "data.split_schemes"])
        return _with_source_identity(job, "data.imagenet", out)

    def _published_cells(self) -> Job:
        argv = [
            "stretchnas",
            "published-table",
            "--layers",
            20,
            "--channels",
            36,
            "--out",
            OUTPUTS["published_cells"][0],
        ]
        return self._make("published_cells", {}, argv, (), [])

    def experiment_jobs(self, experiment: Experiment) -> list[Job]:
        """The experiment's searches (or samplings), its trainings (an NB201 search: its lookups), then its
        gather, in running order."""
        entry = f"{experiment.section}.{experiment.name}"
        jobs = []
        for seed in experiment.search.seeds:
            if experiment.on_nb201:
                jobs += [search := self._search(experiment, entry, seed), self._lookup(experiment, seed, search)]
                continue
            if experiment.procedure == "search":
                jobs.append(self._search(experiment, entry, seed))
            elif experiment.procedure != "retrain":
                jobs.append(self._random(experiment, entry, seed))
            for label, genotype_file in self.genotypes_to_train(experiment, seed).items():
                for layers in self.evaluation_layers(experiment, label):
                    for train_seed in self.settings.recipe(experiment).seeds:
                        jobs.append(self._evaluate(experiment, entry, (seed, label, layers, train_seed), genotype_file))
        scored = [job for job in jobs if job.rule in ("evaluate", "lookup")]
        jobs.append(self._gather(experiment, entry, scored))
        return jobs

    def genotypes_to_train(self, experiment: Experiment, seed: int) -> dict[str, str]:
        """Label -> the file its genotype comes from: the final one, and the snapshots where the
        experiment's tables ask for them (evaluation.snapshots_for)."""
        wildcards = {"root": self.root, "scale": self.scale, "exp": experiment.name, "seed": seed}
        if experiment.procedure == "retrain":
            return {FINAL: self.topology_source(experiment, seed)}
        if experiment.procedure != "search":
            return {FINAL: OUTPUTS["random"][0].format(**wildcards)}
        search_dir = SEARCH_DIR.format(**wildcards)
        files = {FINAL: f"{search_dir}/genotype.json"}
        if set(experiment.tables) & set(self.settings.evaluation.snapshots_for):
            for epoch in experiment.search.snapshot_epochs:
                files[snapshot_label(epoch)] = f"{search_dir}/{INDEX_FILE}"
        return files

    def evaluation_layers(self, experiment: Experiment, label: str) -> list[int]:
        """The layer counts a genotype is trained at: the experiment's own, and for final cells of the
        experiments in evaluation.layers_for (Figures 1 and 4) every one of evaluation.layers."""
        own, evaluation = experiment.layers, self.settings.evaluation
        if label != FINAL or not set(experiment.tables) & set(evaluation.layers_for):
            return [own]
        return [own] + [layers for layers in evaluation.layers if layers != own]

    def _search(self, experiment: Experiment, entry: str, seed: int) -> Job:
        out = SEARCH_DIR.format(root=self.root, scale=self.scale, exp=experiment.name, seed=seed)
        argv = [
            "stretchnas",
            "search",
            "--scale",
            self.scale,
            "--exp",
            experiment.name,
            "--seed",
            seed,
            "--out",
            out,
            "--quiet",
            "--supersede",
            *self._data_option(experiment),
        ]
        inputs = [self.data_of(experiment)]
        return self._make("search", {"exp": experiment.name, "seed": seed}, argv, inputs, ["search", entry])

    def _data_option(self, experiment: Experiment) -> list[str]:
        """--data where it is not the command's default for the experiment (spelt out for the reader)."""
        return ["--data", self.data_of(experiment)] if experiment.imagenet else []

    def topology_source(self, experiment: Experiment, seed: int) -> str:
        """The final genotype a followup's seed starts from (its `topology_seed` rule)."""
        source_seed = experiment.topology_source_seed(seed)
        return f"{SEARCH_DIR}/genotype.json".format(
            root=self.root, scale=self.scale, exp=experiment.topology_from, seed=source_seed
        )

    def _random(self, experiment: Experiment, entry: str, seed: int) -> Job:
        out = RANDOM_DIR.format(root=self.root, scale=self.scale, exp=experiment.name, seed=seed)
        argv = [
            "stretchnas",
            "random-search",
            "--scale",
            self.scale,
            "--exp",
            experiment.name,
            "--seed",
            seed,
            "--out",
            out,
            "--quiet",
            "--supersede",
        ]
        inputs = [self.data_dir]
        if experiment.procedure == "random_ops":
            inputs.append(self.topology_source(experiment, seed))
            argv += ["--topology-from", inputs[-1]]
        return self._make("random", {"exp": experiment.name, "seed": seed}, argv, inputs, ["search", "train", entry])

    def _evaluate(self, experiment: Experiment, entry: str, which: tuple, genotype_file: str) -> Job:
        seed, label, layers, train_seed = which
        wildcards = {"exp": experiment.name, "seed": seed, "label": label, "layers": layers, "train_seed": train_seed}
        out = TRAIN_DIR.format(root=self.root, scale=self.scale, **wildcards)
        argv = [
            "stretchnas",
            "evaluate",
            "--scale",
            self.scale,
            "--exp",
            experiment.name,
            "--genotype",
            genotype_file,
            "--label",
            label,
            "--layers",
            layers,
            "--seed",
            train_seed,
            "--out",
            out,
            "--quiet",
            "--supersede",
            *self._data_option(experiment),
        ]
        reads = [experiment.recipe_section, *self.width_reads(experiment), entry]
        return self._make("evaluate", wildcards, argv, [self.data_of(experiment), genotype_file], reads)

    def width_reads(self, experiment: Experiment) -> list[str]:
        """The settings its trainings' C and depth depend on (settings.params._evaluated_at and
        pipeline.experiment.training_width)."""
        if experiment.widen:
            source = self.settings.experiment(experiment.topology_from)
            return [*self.width_reads(source), f"{source.section}.{source.name}"]
        if experiment.width in ("fixed", "darts_network"):  # under protocol budget, both are budget rows
            depth = ["evaluation.darts_layers"] if experiment.width == "darts_network" else []
            return ["evaluation.protocol", "evaluation.fixed_channels", *depth, "evaluation.target_params_m"]
        return [] if experiment.channels else ["evaluation.target_params_m"]

    def _lookup(self, experiment: Experiment, seed: int, search: Job) -> Job:
        out = OUTPUTS["lookup"][0].format(root=self.root, scale=self.scale, exp=experiment.name, seed=seed)
        genotype, index = search.outputs[0], search.outputs[1]  # its final cell and its snapshots' index
        argv = ["stretchnas", "lookup", "--scale", self.scale, "--genotype", genotype, "--snapshots", index]
        argv += ["--out", out]
        job = self._make("lookup", {"exp": experiment.name, "seed": seed}, argv, [genotype, index], ["nasbench201"])
        # A table replaced in place keeps its path: its size and modification time rerun the lookup too
        return replace(job, fingerprint={**job.fingerprint, "table_files": table_identities(self.settings.nasbench201)})

    def _gather(self, experiment: Experiment, entry: str, trainings: list[Job]) -> Job:
        summary = OUTPUTS["gather"][0].format(root=self.root, scale=self.scale, exp=experiment.name)
        argv = ["stretchnas", "gather", "--scale", self.scale, "--exp", experiment.name, "--out", summary]
        if self.root != RUNS_ROOT:
            argv += ["--root", self.root]
        inputs = [path for job in trainings for path in job.outputs]
        return self._make("gather", {"exp": experiment.name}, argv, inputs, ["search", entry])

    def summaries(self) -> list[str]:
        return [job.outputs[0] for job in self.jobs if job.rule == "gather"]

    def search_records(self) -> list[str]:
        """Every search's per-epoch metrics.csv. The tables also read the device from run.json beside it,
        written by the same job; it is not a declared output, since Snakemake deletes a rerun job's
        outputs first, and --supersede keeps the earlier run's record under superseded/."""
        return [path for job in self.jobs if job.rule == "search" for path in job.outputs if path.endswith(".csv")]

    def snapshot_indexes(self) -> list[str]:
        return [path for job in self.jobs if job.rule == "search" for path in job.outputs if path.endswith(INDEX_FILE)]

    def final_genotypes(self) -> list[str]:
        """Every final genotype file a training reads (a retrain's are its source's)."""
        finals = [job.inputs[-1] for job in self.jobs if job.rule == "evaluate" and job.wildcards["label"] == FINAL]
        return list(dict.fromkeys(finals))

    def _tables(self) -> Job:
        out = f"results/{self.scale}/data"
        argv = ["stretchnas", "tables", "--scale", self.scale, "--summaries", *self.summaries(), "--out", out]
        # The tables read the summaries, every search's metrics.csv (search dynamics and cost) and
        # snapshot index (stability), and every final genotype (the cells' depth and width).
        inputs = self.summaries() + self.search_records() + self.snapshot_indexes() + self.final_genotypes()
        return self._make("tables", {}, argv, inputs, ["evidence"])

    def searched_cells(self) -> dict[str, str]:
        """Name -> genotype file of every search's (or random baseline's) final cell: what Figure 3 draws."""
        return {
            f"{job.wildcards['exp']}-seed{job.wildcards['seed']}": job.outputs[0]
            for job in self.jobs
            if job.rule in ("search", "random")
        }

    def _report(self, tables: Job) -> Job:
        out = f"results/{self.scale}"
        cells = self.searched_cells()
        argv = [
            "stretchnas",
            "report",
            "--data",
            f"{out}/data",
            "--out",
            out,
            *(f"--cell={name}={path}" for name, path in cells.items()),
        ]
        inputs = list(tables.outputs) + list(cells.values())
        return replace(self._make("report", {}, argv, inputs, []), outputs=tuple(report_outputs(out, list(cells))))


def seeds_in_one_job(members: list[Job], root: str = RUNS_ROOT) -> Job:
    """One job that runs `members` (one experiment's per-seed jobs of one rule) in one process, in order."""
    first = members[0]
    if any(job.rule != first.rule or job.wildcards["exp"] != first.wildcards["exp"] for job in members):
        raise ValueError("one job runs the seeds of one experiment's jobs of one rule")
    if any(job.fingerprint != first.fingerprint for job in members):  # seeds are not among the settings read
        raise ValueError(f"{first.wildcards['exp']}: its {first.rule} jobs read different settings")
    argv = ["stretchnas", "batch"]
    for job in members:
        argv += [BATCH_SEPARATOR, *job.argv[1:]]
    produced = {path for job in members for path in job.outputs}
    inputs = [path for job in members for path in job.inputs if path not in produced]
    wildcards = {"scale": first.wildcards["scale"], "exp": first.wildcards["exp"]}
    return Job(
        SEEDS_IN_ONE_JOB[first.rule],
        wildcards,
        tuple(argv),
        tuple(dict.fromkeys(inputs)),
        tuple(path for job in members for path in job.outputs),
        first.reads,
        first.fingerprint,
    )


def log_of(job: Job, root: str = RUNS_ROOT) -> str:
    return LOGS[job.rule].format(root=root, **job.wildcards)


def record_of(job: Job, root: str = RUNS_ROOT) -> str | None:
    """Where Snakemake's `benchmark:` keeps the job's wall time and peak memory (None: not recorded)."""
    return RECORDS[job.rule].format(root=root, **job.wildcards) if job.rule in RECORDS else None


def pattern(paths, root: str = RUNS_ROOT):
    """A Snakefile pattern (or tuple of them): the runs root filled in, the wildcards left."""
    if isinstance(paths, str):
        return paths.replace("{root}", root)
    return tuple(p.replace("{root}", root) for p in paths)
