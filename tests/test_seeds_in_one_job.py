"""workflow.seeds_in_one_job: an experiment's per-seed searches (and lookups) run as one job, one command after
another in one process (`stretchnas batch`), with every file what the per-seed jobs write."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, kill_at_first_checkpoint

from stretchnas.cli import main
from stretchnas.pipeline.batch import BATCH_SEPARATOR, BatchError, split_commands
from stretchnas.pipeline.jobs import SEEDS_IN_ONE_JOB, Plan, record_of
from stretchnas.settings.params import load_settings

EXPERIMENT = "nb201_darts_1st"
SEEDS = (0, 1, 2)  # its search seeds at every scale


def settings_for(tmp_path, together: bool):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["scales"]["smoke"]["workflow"]["seeds_in_one_job"] = together
    table = tmp_path / "nb201.csv"
    table.write_text("arch,cifar10\n")
    raw["nasbench201"]["table"] = str(table)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_settings(path, "smoke", environ={})


def test_the_units_run_the_plans_jobs_and_write_the_same_files(tmp_path):
    plan = Plan(settings_for(tmp_path, together=True))
    units = plan.units()
    assert sorted(path for unit in units for path in unit.outputs) == sorted(plan.outputs())
    written = set()
    for unit in units:  # each runs after what it reads, as the plan's jobs do
        assert all(path in written or path == plan.data_dir for path in unit.inputs), unit.name
        written |= set(unit.outputs)
    together = {unit.name: unit for unit in units if unit.rule in SEEDS_IN_ONE_JOB.values()}
    nb201 = sorted(name for name, experiment in plan.settings.experiments.items() if experiment.on_nb201)
    assert sorted(together) == sorted(f"{rule}-{name}" for name in nb201 for rule in ("lookup_seeds", "search_seeds"))
    # a unit's command holds its members' commands, in seed order; its record lies beside their folders
    searches = together[f"search_seeds-{EXPERIMENT}"]
    members = [job for job in plan.jobs if job.rule == "search" and job.wildcards["exp"] == EXPERIMENT]
    assert [int(job.wildcards["seed"]) for job in members] == list(SEEDS)
    assert searches.argv[:2] == ("stretchnas", "batch")
    assert split_commands(searches.argv[2:]) == [list(job.argv[1:]) for job in members]
    assert searches.fingerprint == members[0].fingerprint
    assert record_of(searches) == f"runs/smoke/{EXPERIMENT}/search_seeds/job.tsv"
    # experiments with a single seed keep their per-seed job; off, the units are the jobs
    assert any(unit.rule == "search" for unit in units)
    assert Plan(settings_for(tmp_path, together=False)).units() == Plan(settings_for(tmp_path, together=False)).jobs


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ([], "give each command"),
        (["search", "--seed", "0"], "expected '--' before the first command"),
        ([BATCH_SEPARATOR, "search", BATCH_SEPARATOR], "give each command"),
        ([BATCH_SEPARATOR, "tables", "--scale", "smoke"], "'tables' cannot run in a batch"),
        ([BATCH_SEPARATOR, "batch", BATCH_SEPARATOR, "search"], "'batch' cannot run in a batch"),
    ],
)
def test_a_batch_refuses_what_is_not_a_list_of_seed_commands(tokens, message):
    with pytest.raises(BatchError, match=message):
        split_commands(tokens)


def search_argv(params: Path, data: Path, seed: int, out: Path, experiment: str = EXPERIMENT) -> list[str]:
    return ["search", "--params", str(params), "--scale", "smoke", "--exp", experiment, "--seed", str(seed),
            "--out", str(out), "--data", str(data), "--quiet", "--supersede"]  # fmt: skip


def batch_argv(params, data, outs: dict[int, Path]) -> list[str]:
    argv = ["batch"]
    for seed, out in outs.items():
        argv += [BATCH_SEPARATOR, *search_argv(params, data, seed, out)]
    return argv


TIMING = ["seconds", "peak_rss_mib", "images_per_s"]  # metrics.csv's measurements of this machine


def search_files(out: Path) -> dict:
    """Every file a search leaves that its result depends on, metrics.csv without its timings (run.json holds
    times, the lock nothing)."""
    files = {
        path.name: path.read_bytes()
        for path in sorted(out.iterdir())
        if path.is_file() and path.name not in ("run.json", ".lock", "checkpoint.pt", "metrics.csv")
    }
    metrics = pd.read_csv(out / "metrics.csv")
    assert not metrics[TIMING].isna().any().any()
    return {**files, "metrics.csv": metrics.drop(columns=TIMING).to_csv(index=False)}


def search_alone(argv: list[str]) -> None:
    """A command in a process of its own, as a workflow job runs it."""
    subprocess.run([sys.executable, "-m", "stretchnas.cli", *argv], check=True, capture_output=True)


@pytest.fixture(scope="module")
def alone(tmp_path_factory, tiny_search_data):
    """Each seed's search run alone, as the per-seed jobs run it."""
    root = tmp_path_factory.mktemp("alone")
    params = root / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    outs = {}
    for seed in SEEDS:
        outs[seed] = root / f"seed{seed}"
        search_alone(search_argv(params, tiny_search_data.root, seed, outs[seed]))
    return params, {seed: search_files(out) for seed, out in outs.items()}


def test_a_batch_writes_what_each_search_writes_alone(tmp_path, alone, tiny_search_data, capsys):
    params, expected = alone
    outs = {seed: tmp_path / f"seed{seed}" for seed in SEEDS}
    assert main(batch_argv(params, tiny_search_data.root, outs)) == 0
    for seed, out in outs.items():
        files = search_files(out)
        assert {"genotype.json", "metrics.csv", "snapshots.json", "arch_epoch_002.pt"} <= set(files)
        assert files == expected[seed], seed
    assert "[3/3] done" in capsys.readouterr().err


# Every optimiser and sampling, both spaces, stretchable cells and the simplification: nothing of one search
# (global random streams, Python's `random` that EDAS draws its edges from, cached data) reaches the next
@pytest.mark.parametrize(
    "experiment",
    ["nb201_darts_2nd", "nb201_gdas_sc", "nb201_pc_darts", "nb201_beta_darts", "nb201_darts_1st_simplified",
     "edas_L8", "milenas_L8"],
)  # fmt: skip
def test_each_optimiser_searches_the_same_in_a_batch_as_alone(tmp_path, tiny_search_data, experiment):
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())

    def argv(seed, out):
        return search_argv(params, tiny_search_data.root, seed, out, experiment)

    alone = {seed: tmp_path / f"alone{seed}" for seed in (3, 4)}
    for seed, out in alone.items():
        search_alone(argv(seed, out))
    together = {seed: tmp_path / f"together{seed}" for seed in alone}
    batch = ["batch"]
    for seed, out in together.items():
        batch += [BATCH_SEPARATOR, *argv(seed, out)]
    search_alone(batch)  # in a process of its own too: this one's tests set kernel thresholds (conftest)
    for seed in alone:
        assert search_files(together[seed]) == search_files(alone[seed]), seed


def test_a_killed_batch_resumes_every_search_to_the_same_bytes(tmp_path, alone, tiny_search_data):
    params, expected = alone
    outs = {seed: tmp_path / f"seed{seed}" for seed in SEEDS}
    command = [sys.executable, "-m", "stretchnas.cli", *batch_argv(params, tiny_search_data.root, outs)]
    kill_at_first_checkpoint(command, outs[SEEDS[1]])  # the first search complete, the second under way
    assert (outs[SEEDS[0]] / "genotype.json").exists() and not (outs[SEEDS[1]] / "genotype.json").exists()
    # Snakemake removes an incomplete job's declared outputs before running it again
    for name in ("genotype.json", "snapshots.json", "metrics.csv"):
        (outs[SEEDS[0]] / name).unlink()
    subprocess.run(command, check=True, capture_output=True)
    for seed, out in outs.items():
        assert search_files(out) == expected[seed], seed


def test_a_failing_command_stops_the_batch_and_says_which(tmp_path, alone, tiny_search_data, capsys):
    params, _ = alone
    outs = {seed: tmp_path / f"seed{seed}" for seed in SEEDS}
    outs[SEEDS[1]].mkdir()
    (outs[SEEDS[1]] / "notes.txt").write_text("mine")
    # without --supersede, a folder holding files no run wrote is refused (with it, they are moved aside)
    argv = [token for token in batch_argv(params, tiny_search_data.root, outs) if token != "--supersede"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "command 2 of 3 failed (exit 2); the ones before it are complete" in err
    assert not (outs[SEEDS[2]]).exists() and (outs[SEEDS[1]] / "notes.txt").read_text() == "mine"
