# stretchnas workflow. The jobs come from the package's plan (stretchnas.pipeline.jobs), the one list that
# dvc.yaml is generated from too; tests/test_workflow.py checks that both define the same jobs.
#   snakemake --cores all                        # params.yaml's scale
#   snakemake --cores all --config scale=smoke   # another scale
#   snakemake --cores all --config from_runs=true --forceall
#       # the tables, figures and report again from the committed runs of the scale: no data, search,
#       # training or lookup is planned (`make reproduce`)
# Per scale: prepare_data; a search (or random baseline) per experiment and seed (with
# workflow.seeds_in_one_job, one per experiment running its seeds in turn); an evaluate job per training;
# a gather per experiment; the tables' data; the report (results/<scale>/README.md, tables, figures).
# Every rule calls one `stretchnas` subcommand, declares
# the settings its job reads as `params` (so Snakemake's default rerun triggers rerun exactly the jobs
# whose settings changed), takes threads and resources from params.yaml's workflow.resources, logs to
# logs/<scale>/ and records its wall time and peak memory (`benchmark:`, job.tsv beside its outputs).
import json
import sys

from stretchnas.settings.params import load_settings
from stretchnas.pipeline.jobs import LOGS, OUTPUTS, RECORDS, SEEDS_IN_ONE_JOB, Plan, log_of, pattern, record_of

configfile: "params.yaml"

SETTINGS = load_settings("params.yaml", config.get("scale"))  # validated before any job starts
SCALE = SETTINGS.scale
FROM_RUNS = str(config.get("from_runs", False)).lower() in ("true", "1", "yes")
PLAN = Plan(SETTINGS, from_runs=FROM_RUNS)
RESOURCES = SETTINGS.workflow.resources
EXPERIMENTS = sorted({job.wildcards["exp"] for job in PLAN.jobs if "exp" in job.wildcards})
# workflow.seeds_in_one_job: an experiment's per-seed jobs of a rule run as one job (workflow/rules/seeds.smk)
UNITS = PLAN.units()
SEEDS_TOGETHER = [unit for unit in UNITS if unit.rule in SEEDS_IN_ONE_JOB.values()]
# Experiments the plan leaves out, and why, said before any job runs (their table rows say it again)
for reason, names in PLAN.left_out().items():
    print(f"stretchnas: scale {SCALE}: {len(names)} experiment(s) not planned, {reason}: {', '.join(names)}",
          file=sys.stderr)


# Every rule's shell: the job's command, its output in its log, and on failure the log's last lines on
# screen (the error is the last line), whatever --quiet hides of Snakemake's own messages
LOGGED_COMMAND = (
    "{params.command} > {log} 2>&1 || {{ status=$?; "
    'echo "stretchnas: {rule} job failed (exit $status); the end of {log}:" >&2; '
    "tail -n 15 {log} >&2; exit $status; }}"
)


def job_of(rule, wildcards):
    return PLAN.job(rule, dict(wildcards.items()))


def inputs_of(rule):
    return lambda wc: job_of(rule, wc).inputs


def settings_of(rule):
    return lambda wc: json.dumps(job_of(rule, wc).fingerprint, sort_keys=True)


def command_of(rule):
    return lambda wc: job_of(rule, wc).command


def one_per_seed(rule):
    """A wildcard pattern of the experiments whose `rule` jobs run one per seed (the others: seeds.smk)."""
    together = {unit.wildcards["exp"] for unit in SEEDS_TOGETHER if unit.rule == SEEDS_IN_ONE_JOB[rule]}
    return "|".join(name for name in EXPERIMENTS if name not in together) or "(?!)"


def resources_of(rule):
    """Memory (MB), runtime (minutes) and GPUs of a rule's jobs at this scale (threads go to `threads:`)."""
    return {key: value for key, value in RESOURCES[rule].to_tree().items() if key != "threads"}


wildcard_constraints:
    scale=SCALE,
    exp="|".join(EXPERIMENTS),
    seed=r"\d+",
    train_seed=r"\d+",
    layers=r"\d+",
    label=r"final|epoch_\d+",


rule all:
    input:
        PLAN.job("published_cells", {}).outputs,
        PLAN.job("report", {"scale": SCALE}).outputs,


# From committed runs, their outputs are source files: no rule may claim to make them.
if not FROM_RUNS:

    include: "workflow/rules/data.smk"
    include: "workflow/rules/search.smk"
    include: "workflow/rules/evaluate.smk"
    include: "workflow/rules/seeds.smk"


include: "workflow/rules/gather.smk"
include: "workflow/rules/tables.smk"
