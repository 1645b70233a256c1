# stretchnas workflow. Every rule calls one `stretchnas` subcommand; the logic is in src/.
# The stages and their outputs come from params.yaml through stretchnas.plan, the same
# list that dvc.yaml's stages are checked against (tests/test_workflow.py).
#   snakemake --cores all                      # params.yaml's scale
#   snakemake --cores all --config scale=smoke # another scale
from stretchnas.config import load_settings

configfile: "params.yaml"

SETTINGS = load_settings("params.yaml", config.get("scale"))
SCALE = SETTINGS["scale"]

include: "workflow/rules/data.smk"
include: "workflow/rules/tables.smk"


rule all:
    input:
        f"data/prepared/{SCALE}",
        "results/published_cells.csv",
