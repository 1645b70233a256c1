"""Snakemake and DVC read the same params.yaml and the same job plan, and must define the same jobs."""

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import NB201_TABLES
from workflow_copies import (
    BIN,
    REPO,
    change_darts_wo_sc,
    planned_rules,
    produced,
    reduced_smoke,
    workflow_copy,
)

from stretchnas.report.artefacts import TABLE_FILES


def snakemake_outputs(root: Path) -> set[str]:
    result = subprocess.run(
        [BIN / "snakemake", "--summary", "--cores", "1"], cwd=root, capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("output_file"))
    return {line.split("\t")[0] for line in lines[header + 1 :] if line.strip()}


def dvc_outputs(root: Path, scale: str) -> set[str]:
    """DVC's outputs, the prepared data's files as the one folder Snakemake declares (DVC lists them file by
    file, so that each later stage depends on the files it reads)."""
    from stretchnas.data.prepare import PREPARED_FILES

    script = (
        "from dvc.repo import Repo\n"
        "for stage in Repo('.').index.stages:\n"
        "    for out in stage.outs: print(out.def_path)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True)
    outputs = set(result.stdout.split())
    folder = f"data/prepared/{scale}"
    prepared = {path for path in outputs if path.startswith(f"{folder}/")}
    assert prepared == {f"{folder}/{name}" for name in PREPARED_FILES}
    return outputs - prepared | {folder}


@pytest.mark.parametrize("scale", ["smoke", "mini", "paper"])
def test_snakemake_and_dvc_define_the_same_jobs(tmp_path, scale):
    from stretchnas.pipeline.jobs import Plan
    from stretchnas.settings.params import load_settings

    root = workflow_copy(tmp_path, scale)
    from_snakemake = snakemake_outputs(root)
    from_dvc = dvc_outputs(root, scale)
    plan = Plan(load_settings(root / "params.yaml", environ={}))
    assert from_snakemake == from_dvc == set(plan.outputs())
    experiments = set(yaml.safe_load((root / "params.yaml").read_text())["experiments"]) - set(plan.not_planned)
    assert {f"runs/{scale}/summaries/{name}.json" for name in experiments} <= from_snakemake
    assert f"results/{scale}/data/evaluations.csv" in from_snakemake and f"results/{scale}/README.md" in from_snakemake
    # one job per search seed and per training, as the plan lists them
    rules = Counter(job.rule for job in plan.jobs)
    assert planned_rules(dry_run(root)) == {**rules, "all": 1}


def test_the_committed_dvc_yaml_is_the_generated_one():
    # generated with the NAS-Bench-201 tables named, as the committed mini runs were (the plan needs only a name)
    env = {**os.environ, "STRETCHNAS_NB201": NB201_TABLES or "nasbench201"}
    result = subprocess.run(
        [BIN / "stretchnas", "dvc-yaml", "--check"], cwd=REPO, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr


def dry_run(root: Path, *extra: str, env=None) -> str:
    command = [BIN / "snakemake", "all", "--cores", "2", "--dry-run", "--quiet", "rules", *extra]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_snakemake_refuses_an_invalid_config_before_any_work(tmp_path):
    root = workflow_copy(tmp_path, "smoke")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["search"]["batch_size"] = 0
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([BIN / "snakemake", "-n", "--cores", "1"], cwd=root, capture_output=True, text=True)
    assert result.returncode != 0
    assert "search.batch_size: 0 is not allowed" in result.stdout + result.stderr


def test_a_dry_run_says_which_experiments_it_leaves_out_and_why(tmp_path):
    root = workflow_copy(tmp_path, "smoke")
    env = {k: v for k, v in os.environ.items() if k != "STRETCHNAS_NB201"}
    said = dry_run(root, env=env)
    assert "not planned, no NAS-Bench-201 table configured (nasbench201.table, or $STRETCHNAS_NB201" in said
    assert "not planned, no ImageNet source configured (data.imagenet.source): milenas_sc_imagenet" in said


@pytest.mark.realdata
@pytest.mark.slow
def test_snakemake_and_dvc_run_the_same_jobs_end_to_end(tmp_path, prepared_cifar10, nb201_tables):
    # NAS-Bench-201's tables named: its search and lookup rules run too; no ImageNet source: Table 2 says so
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "STRETCHNAS_NB201": nb201_tables}
    root = workflow_copy(tmp_path, "smoke")
    reduced_smoke(root, prepared_cifar10, env=env)
    command = [BIN / "snakemake", "all", "--cores", "2", "--rerun-triggers", "mtime"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]

    data = root / "results" / "smoke" / "data"
    report = root / "results" / "smoke"
    table1 = pd.read_csv(report / "tables" / "table1.csv").set_index("Architecture")
    assert {"darts_wo_sc", "milenas_sc_L8", "milenas_sc_L8_random_ops", "darts_wo_sc_C48"} <= set(table1.index)
    assert set(table1["scale"]) == {"smoke"}
    assert table1.loc["darts_wo_sc", "paper_test_error"] == "2.72±0.12"  # labelled as the paper's
    evaluations = pd.read_csv(data / "evaluations.csv")
    # the C=48 row: the fixed-width row it widens (smoke's C = 4) times 48/36, to an even count
    assert set(evaluations.loc[evaluations["experiment"] == "darts_wo_sc", "channels"]) == {4}
    assert set(evaluations.loc[evaluations["experiment"] == "darts_wo_sc_C48", "channels"]) == {6}
    tagged_table4 = evaluations[evaluations["tables"].str.split(",").apply(lambda tags: "table4" in tags)]
    assert set(tagged_table4["genotype"]) == {"final", "epoch_001"}  # stability snapshots are evaluated
    for name in (
        "figures/figure1.svg",
        "figures/figure5.png",
        "figures/search_dynamics.svg",
        "tables/table2.md",
        "figures/cells/milenas_sc_L8-seed2.svg",
        "figures/cells/milenas_sc_L8_random_ops-seed2.png",
    ):
        assert (report / name).stat().st_size > 0, name
    readme = (report / "README.md").read_text()
    assert "# Results at scale `smoke`" in readme and "### 7. The passive-aggressive regulariser" in readme
    table2 = pd.read_csv(report / "tables" / "table2.csv").set_index("Architecture")
    assert table2.loc["milenas_sc_imagenet", "Top-1 error (%)"] == (
        "not run: no ImageNet source configured (data.imagenet.source)"
    )
    figure4 = pd.read_csv(report / "tables" / "figure4.csv").set_index("Experiment")
    assert list(figure4.index) == ["milenas_sc_L8"]
    assert [c for c in figure4.columns if c.endswith("test error (%)")] == ["L5 test error (%)", "L6 test error (%)"]
    records = sorted(root.glob("runs/smoke/**/job.tsv"))  # each search and training's wall time and peak memory
    # 2 searches + 1 job for NB201's two searches (smoke runs an experiment's seeds as one job) + 1 random
    # baseline; trainings: 3 finals, 1 snapshot, 1 at another depth, 2 retrains of darts_wo_sc's cells (widened,
    # and at the budget for Figure 5)
    assert len(records) == 4 + 3 + 1 + 1 + 2
    assert root / "runs/smoke/nb201_darts_1st_sc/search_seeds/job.tsv" in records
    nb201 = pd.read_csv(report / "tables" / "nb201.csv").set_index("Experiment")
    assert nb201.loc["nb201_darts_1st_sc", "CIFAR-10 test acc. (%)"].endswith("(n=2 searches)")
    assert nb201.loc["nb201_darts_1st_sc", "Table"] == "nb201_hp12_minibench.csv (12 epochs)"
    assert all(pd.read_csv(path, sep="\t").loc[0, "s"] > 0 for path in records)

    # Regeneration: remove the results; the dry run plans the tables and the report alone, and the re-run
    # gives byte-identical files (CSV, Markdown, LaTeX, PNG, SVG) without touching any experiment's summary.
    before = {p.relative_to(report): p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()}
    summaries = {p: p.stat().st_mtime_ns for p in (root / "runs" / "smoke" / "summaries").glob("*.json")}
    shutil.rmtree(report)
    assert planned_rules(dry_run(root, "--rerun-triggers", "mtime", env=env)) == {"all": 1, "tables": 1, "report": 1}
    rerun = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = {p.relative_to(report): p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()}
    assert len(before) > 50 and after == before
    assert {p: p.stat().st_mtime_ns for p in summaries} == summaries

    # DVC runs the same jobs from the same params.yaml to the same genotypes, results and tables.
    dvc_root = tmp_path / "dvc"
    shutil.copytree(root, dvc_root, ignore=shutil.ignore_patterns("runs", "results", "logs", ".snakemake"))
    subprocess.run([BIN / "dvc", "commit", "-q", "-f", "prepare_data"], cwd=dvc_root, check=True, env=env)
    result = subprocess.run([BIN / "dvc", "repro", "-q"], cwd=dvc_root, capture_output=True, text=True, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    from_snakemake, from_dvc = produced(root), produced(dvc_root)
    assert {p for p in from_snakemake if p.endswith(".csv")} == {f"results/smoke/data/{n}.csv" for n in TABLE_FILES}
    assert "results/smoke/README.md" in from_snakemake
    assert sum(p.endswith("train_seed0/result.json") for p in from_snakemake) == 7
    assert from_dvc == from_snakemake

    # Precise reruns: one experiment's settings change plans that experiment's jobs and what reads
    # them, nothing else (Snakemake's default triggers; DVC's status); another scale's overlay plans nothing.
    for overlay in ("mini", "smoke"):
        for where in (root, dvc_root):
            change_darts_wo_sc(where, overlay, env)
        planned = planned_rules(dry_run(root, env=env))
        # darts_wo_sc's search, its 2 trainings and the 2 retrains of its cell, 3 gathers, the tables, the report
        expected = (
            {} if overlay == "mini" else {"search": 1, "evaluate": 4, "gather": 3, "tables": 1, "report": 1, "all": 1}
        )
        assert planned == expected, overlay
        status = subprocess.run(
            [BIN / "dvc", "status", "--json"], cwd=dvc_root, capture_output=True, text=True, env=env, check=True
        )
        stale = set(json.loads(status.stdout))
        expected_stale = (
            set()
            if overlay == "mini"
            else {
                "search-darts_wo_sc-seed2",
                "evaluate-darts_wo_sc-seed2-final-L5-train_seed0",
                "evaluate-darts_wo_sc-seed2-epoch_001-L5-train_seed0",
                "gather-darts_wo_sc",
                # the C=48 row's width follows the row it widens
                "evaluate-darts_wo_sc_C48-seed2-final-L5-train_seed0",
            }
        )
        assert stale == expected_stale, overlay

    # ... and the rerun itself: the changed search starts over (its earlier run kept under superseded/),
    # the other experiments' outputs are untouched
    untouched = root / "runs" / "smoke" / "summaries" / "milenas_sc_L8.json"
    before = untouched.stat().st_mtime_ns
    rerun = subprocess.run(
        [BIN / "snakemake", "all", "--cores", "2"], cwd=root, capture_output=True, text=True, env=env
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert list((root / "runs/smoke/darts_wo_sc/seed2/search/superseded").iterdir())
    assert untouched.stat().st_mtime_ns == before
    assert planned_rules(dry_run(root, env=env)) == {}
