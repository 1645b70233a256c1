"""An experiment's summary (what the tables read), gathered from its trainings' or lookups' results.

Kept apart from the trainings (stretchnas.pipeline.experiment) so that writing a summary never imports torch: the
workflow runs one gather per experiment, and regenerating a scale's results from its runs is mostly these.
"""

from __future__ import annotations

import json
from pathlib import Path

from stretchnas import StretchnasError
from stretchnas.pipeline.jobs import RUNS_ROOT, Plan
from stretchnas.runs.atomic import atomic_write_json
from stretchnas.runs.documents import read_document
from stretchnas.search.snapshots import resolve as resolve_snapshot
from stretchnas.settings.params import Experiment, Settings


class GatherError(StretchnasError, ValueError):
    pass


def gather(
    settings: Settings, experiment: Experiment, out: str | Path, root: str = RUNS_ROOT, jobs: list | None = None
) -> dict:
    """`stretchnas gather`: the experiment's summary from its trainings' (an NB201 search: its lookups')
    result.json files, written last. `jobs`: the experiment's jobs, where the caller has planned them."""
    rows, not_run, lookups = [], [], []
    for job in jobs if jobs is not None else Plan(settings, root).experiment_jobs(experiment):
        if job.rule == "lookup":
            result = read_document(job.outputs[0], json.loads, GatherError, "NAS-Bench-201 lookup result")
            lookups.append({"search_seed": job.wildcards["seed"], **result})
        if job.rule != "evaluate":
            continue
        where = job.wildcards
        result = read_document(job.outputs[0], json.loads, GatherError, "training result")
        fields = {"experiment": experiment.name, "search_seed": where["seed"], "genotype": where["label"]}
        if "not_run" in result:
            not_run.append(
                {**fields, "layers": where["layers"], "train_seed": where["train_seed"], "reason": result["not_run"]}
            )
            continue
        genotype_file, _ = resolve_snapshot(job.inputs[-1], where["label"])
        run_dir = str(Path(job.outputs[0]).parent)  # its run.json says where and how it ran
        rows.append({**result, **fields, "genotype_file": str(genotype_file), "run_dir": run_dir})
    summary = {
        **experiment.fields(),
        "scale": settings.scale,
        "search": experiment.search.to_tree(),
        "results": rows,
        "not_run": not_run,
        "lookups": lookups,
    }
    atomic_write_json(out, summary)
    return summary
