# stretchnas workflow: every rule calls one `stretchnas` subcommand; the logic lives in src/.
# Experiments come from params.yaml (`experiments`, `followups`), the same lists dvc.yaml's
# foreach stages read; tests/test_workflow.py checks that both define the same outputs.
#   snakemake --cores all                        # params.yaml's scale
#   snakemake --cores all --config scale=smoke   # another scale
# Each job declares the settings it reads as `params` (a JSON fingerprint), so Snakemake's default
# rerun triggers rerun exactly the jobs whose settings changed; threads and resources come from
# params.yaml's workflow.resources of the scale; every job logs to logs/<scale>/.
import json

from stretchnas.config import data_inputs, experiment_inputs, load_settings
from stretchnas.tables import TABLE_FILES, FIGURE_FILES

configfile: "params.yaml"

SETTINGS = load_settings("params.yaml", config.get("scale"))  # validated before any job starts
SCALE = SETTINGS["scale"]
EXPERIMENTS = sorted(SETTINGS["experiments"])
FOLLOWUPS = SETTINGS["followups"]
TABLES = list(TABLE_FILES)
FIGURES = list(FIGURE_FILES)
RESOURCES = SETTINGS["workflow"]["resources"]


def fingerprint(obj) -> str:
    return json.dumps(obj, sort_keys=True)


include: "workflow/rules/data.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/tables.smk"


rule all:
    input:
        "results/published_cells.csv",
        expand("results/{scale}/{table}.csv", scale=SCALE, table=TABLES),
        expand("results/{scale}/{figure}.png", scale=SCALE, figure=FIGURES),
