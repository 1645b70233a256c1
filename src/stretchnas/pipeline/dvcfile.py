"""dvc.yaml, generated from the same job plan as the Snakefile's rules (stretchnas.pipeline.jobs).

DVC's foreach cannot give each job its own parameter keys, so `stretchnas dvc-yaml` writes one stage
per job. Each stage lists exactly the params.yaml keys its job reads: the base key and the scale
overlay's key where the file has one; the search, training and data sections key by key, without what
changes no job's result (jobs.SECTIONS_NOT_READ: the device, the seed list, ImageNet's settings for
CIFAR's data). A test checks that the
committed file equals a fresh generation.

Beside the stages, `metrics:` (the report's metrics.json) and `plots:` (search curves, Figures 1, 4 and 5 as
data, the report's figures as images), so that `dvc metrics show` and `dvc plots show` show this scale's
numbers.

A job that reads prepared CIFAR data depends, for DVC, on the arrays and splits in the folder rather than
on the folder: its manifest also records where this machine's copy of the source lies, which changes no
result, so data prepared again elsewhere from the same source leaves every later stage up to date.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from stretchnas import StretchnasError
from stretchnas.data.folders import prepared_folder
from stretchnas.data.prepare import ARRAYS, PREPARED_FILES, SPLITS_FILE
from stretchnas.pipeline.jobs import MISSING, SECTIONS_NOT_READ, Job, Plan, at_key
from stretchnas.report.artefacts import DVC_VIEWS, REPORT_FIGURES
from stretchnas.runs.atomic import atomic_write_text
from stretchnas.runs.documents import read_document
from stretchnas.settings.params import Settings, load_yaml


class DvcFileError(StretchnasError, ValueError):
    pass


def params_keys(raw: Mapping, scale: str, reads: tuple[str, ...]) -> list[str]:
    """The keys of params.yaml, as written, that hold the settings a job reads at `scale`."""
    keys = []
    for key in reads:
        for written in (key, f"scales.{scale}.{key}"):
            value = at_key(raw, written)
            if value is MISSING:
                continue
            if key in SECTIONS_NOT_READ and isinstance(value, Mapping):
                keys += [f"{written}.{sub}" for sub in value if sub not in SECTIONS_NOT_READ[key]]
            else:
                keys.append(written)
    return keys


def data_contents(scale: str) -> list[str]:
    """The files of prepared CIFAR data whose bytes decide what a job computes."""
    folder = prepared_folder(scale)
    return [f"{folder}/{SPLITS_FILE}", *(f"{folder}/{name}.npy" for name in ARRAYS)]


def stage(job: Job, raw: Mapping, scale: str) -> dict:
    entry: dict = {"cmd": job.command}
    data = prepared_folder(scale)
    if job.inputs:
        entry["deps"] = [dep for path in job.inputs for dep in (data_contents(scale) if path == data else [path])]
    keys = params_keys(raw, scale, job.reads)
    if keys:
        entry["params"] = keys
    # The preparation's outputs file by file, as the later stages list the files they read: `dvc status`
    # names each file a clone lacks, and each stage is linked to the files it depends on
    outs = [
        out for path in job.outputs for out in ([f"{data}/{n}" for n in PREPARED_FILES] if path == data else [path])
    ]
    entry["outs"] = [{path: {"cache": False}} for path in outs]
    return entry


METRICS_FILE, DEPTH_PLOT, OUTPUTS_PLOT = DVC_VIEWS
# Per-epoch search curves `dvc plots show` draws, a line per search: (column of metrics.csv, title)
SEARCH_CURVES = (
    ("alpha_entropy_normal", "Search curves: alpha entropy of the normal cell (nats), a line per search"),
    ("val_acc", "Search curves: supernet accuracy on D_val, a line per search"),
)


def plots(settings: Settings, plan: Plan) -> list:
    """dvc.yaml's top-level plots: the search curves from every search's metrics.csv, Figures 1/4 and 5 from
    the report's numeric CSVs (report.dvc_views), and the report's figures as images."""
    out = f"results/{settings.scale}"
    records = plan.search_records()
    depth = [name for name, experiment in settings.experiments.items() if "figure4" in experiment.tables]
    entries: list = [
        {title: {"x": "epoch", "y": {path: column for path in records}, "x_label": "epoch", "y_label": column}}
        for column, title in SEARCH_CURVES
        if records
    ]
    entries += [
        {
            "Figures 1 and 4: mean test error (%) over searches by evaluation layers, a line per experiment": {
                "x": "eval_layers",
                "y": {f"{out}/{DEPTH_PLOT}": depth},
                "y_label": "test error (%)",
            }
        },
        {
            "Figure 5: mean test error (%) over searches by outputs per node (1-4, arbitrary)": {
                "x": "test_error",
                "y": {f"{out}/{OUTPUTS_PLOT}": "outputs_per_node"},
                "template": "bar_horizontal",
                "x_label": "test error (%)",
            }
        },
    ]
    return entries + [f"{out}/figures/{name}.png" for name in REPORT_FIGURES]


def render(settings: Settings) -> str:
    raw = read_document(settings.params_file, load_yaml, DvcFileError, "params file")
    scale = settings.scale
    plan = Plan(settings)
    stages = {job.name: stage(job, raw, scale) for job in plan.units()}
    views = {"metrics": [f"results/{scale}/{METRICS_FILE}"], "plots": plots(settings, plan)}
    nb201 = (
        "NAS-Bench-201's experiments are planned: the benchmark's tables were named ($STRETCHNAS_NB201)"
        if any(job.rule == "lookup" for job in plan.jobs)
        else "NAS-Bench-201's experiments are not planned: no benchmark table was named"
    )
    header = (
        f"# Generated by `stretchnas dvc-yaml --scale {scale}` from params.yaml; do not edit by hand.\n"
        "# One stage per workflow job (the same jobs as the Snakefile's rules), each listing the params.yaml\n"
        "# keys it reads. After editing params.yaml's experiments or lists, regenerate it; for another scale:\n"
        "#   stretchnas dvc-yaml --scale smoke && dvc repro\n"
        f"# {nb201}.\n"
    )
    return header + yaml.safe_dump({"stages": stages, **views}, sort_keys=False, width=120, default_flow_style=None)


def write_dvc_yaml(settings: Settings, out: str | Path = "dvc.yaml") -> int:
    text = render(settings)
    atomic_write_text(out, text)
    return text.count("\n    cmd: ")


def check_dvc_yaml(settings: Settings, path: str | Path = "dvc.yaml") -> None:
    """Refuse a dvc.yaml that is not what the plan and params.yaml generate now."""
    path = Path(path)
    current = path.read_text() if path.exists() else None
    if current != render(settings):
        raise DvcFileError(
            f"{path}: not the stages params.yaml defines at scale {settings.scale!r}; "
            f"regenerate it with `stretchnas dvc-yaml --scale {settings.scale}`"
        )
