# stretchnas workflow: every rule calls one `stretchnas` subcommand; the logic lives in src/.
# Experiments come from params.yaml (`experiments`, `followups`), the same lists dvc.yaml's
# foreach stages read; tests/test_workflow.py checks that both define the same outputs.
#   snakemake --cores all                        # params.yaml's scale
#   snakemake --cores all --config scale=smoke   # another scale
from stretchnas.config import load_settings

configfile: "params.yaml"

SETTINGS = load_settings("params.yaml", config.get("scale"))  # validated before any job starts
SCALE = SETTINGS["scale"]
EXPERIMENTS = sorted(SETTINGS["experiments"])
FOLLOWUPS = SETTINGS["followups"]
TABLES = ["evaluations", "table1", "table3", "table4", "table5", "figure5", "search_dynamics"]
FIGURES = ["figure5", "search_dynamics"]


include: "workflow/rules/data.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/tables.smk"


rule all:
    input:
        "results/published_cells.csv",
        expand("results/{scale}/{table}.csv", scale=SCALE, table=TABLES),
        expand("results/{scale}/{figure}.png", scale=SCALE, figure=FIGURES),
