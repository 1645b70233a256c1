"""Snakemake and DVC read the same params.yaml and must define the same outputs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKFLOW_FILES = ("Snakefile", "dvc.yaml", "params.yaml", "environment.yml", "workflow")


def workflow_copy(tmp_path: Path, scale: str) -> Path:
    root = tmp_path / scale
    root.mkdir()
    for name in WORKFLOW_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["scale"] = scale
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run([BIN / "dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
    return root


def snakemake_outputs(root: Path) -> set[str]:
    result = subprocess.run(
        [BIN / "snakemake", "--summary", "--cores", "1"], cwd=root, capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("output_file"))
    return {line.split("\t")[0] for line in lines[header + 1 :] if line.strip()}


def dvc_outputs(root: Path) -> set[str]:
    script = (
        "from dvc.repo import Repo\n"
        "for stage in Repo('.').index.stages:\n"
        "    for out in stage.outs: print(out.def_path)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("scale", ["smoke", "mini", "paper"])
def test_snakemake_and_dvc_define_the_same_outputs(tmp_path, scale):
    root = workflow_copy(tmp_path, scale)
    from_snakemake = snakemake_outputs(root)
    from_dvc = dvc_outputs(root)
    assert from_snakemake == from_dvc
    assert f"data/prepared/{scale}" in from_snakemake
    experiments = yaml.safe_load((root / "params.yaml").read_text())["experiments"]
    assert {f"runs/{scale}/summaries/{name}.json" for name in experiments} <= from_snakemake
    assert f"results/{scale}/table1.csv" in from_snakemake


def test_snakemake_refuses_an_invalid_config_before_any_work(tmp_path):
    root = workflow_copy(tmp_path, "smoke")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["search"]["batch_size"] = 0
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([BIN / "snakemake", "-n", "--cores", "1"], cwd=root, capture_output=True, text=True)
    assert result.returncode != 0
    assert "search.batch_size: 0 is not allowed" in result.stdout + result.stderr


@pytest.mark.realdata
@pytest.mark.slow
def test_snakemake_regenerates_tables_end_to_end(tmp_path, prepared_cifar10):
    """A reduced experiment list at a shrunken smoke scale, run by Snakemake on real CIFAR-10."""
    root = workflow_copy(tmp_path, "smoke")
    params = yaml.safe_load((root / "params.yaml").read_text())
    keep = {"darts_wo_sc", "milenas_sc_L8"}
    params["experiments"] = {k: v for k, v in params["experiments"].items() if k in keep}
    smoke = params["scales"]["smoke"]
    smoke["search"].update(epochs=1, max_steps_per_epoch=2, snapshot_epochs=[1], layers=5)
    smoke["train"].update(max_steps_per_epoch=2)
    for overlay in params["scales"].values():  # overlays may only refine experiments that exist
        if overlay and "experiments" in overlay:
            overlay["experiments"] = {k: v for k, v in overlay["experiments"].items() if k in keep}
    smoke["followups"]["milenas_sc_L8_random_ops"]["random"].update(samples=1, layers=5)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copytree(prepared_cifar10, root / "data" / "prepared" / "smoke")  # same data settings as smoke
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    command = [BIN / "snakemake", "all", "--cores", "2", "--rerun-triggers", "mtime"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]

    table1 = pd.read_csv(root / "results" / "smoke" / "table1.csv")
    assert set(table1["experiment"]) == keep | {"milenas_sc_L8_random_ops"}
    assert set(table1["scale"]) == {"smoke"}
    assert table1.set_index("experiment").loc["darts_wo_sc", "paper_error"] == "2.72±0.12"  # labelled as the paper's
    table4 = pd.read_csv(root / "results" / "smoke" / "table4.csv")
    assert set(table4["genotype"]) == {"final", "epoch_001"}  # stability snapshots are evaluated
    for name in ("figure5.png", "search_dynamics.png", "evaluations.csv"):
        assert (root / "results" / "smoke" / name).stat().st_size > 0

    # Regeneration: remove the tables; the dry run plans the tables job alone, and the re-run gives the
    # same numbers without touching any experiment's summary.
    before = (root / "results" / "smoke" / "evaluations.csv").read_text()
    summaries = {p: p.stat().st_mtime_ns for p in (root / "runs" / "smoke" / "summaries").glob("*.json")}
    shutil.rmtree(root / "results" / "smoke")
    plan = subprocess.run(command + ["--dry-run", "--quiet", "rules"], cwd=root, capture_output=True, text=True,
                          env=env)  # fmt: skip
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert planned_rules(plan.stdout + plan.stderr) == {"all": 1, "tables": 1}, plan.stdout + plan.stderr
    rerun = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (root / "results" / "smoke" / "evaluations.csv").read_text() == before
    assert {p: p.stat().st_mtime_ns for p in summaries} == summaries

    # Precise reruns with Snakemake's default triggers: one experiment's settings change plans that
    # experiment and what reads it, nothing else; another scale's overlay plans nothing.
    for overlay in ("mini", "smoke"):
        changed = yaml.safe_load((root / "params.yaml").read_text())
        experiment = changed["scales"][overlay].setdefault("experiments", {}).setdefault("darts_wo_sc", {})
        experiment.setdefault("search", {})["max_loss"] = 999.0
        (root / "params.yaml").write_text(yaml.safe_dump(changed))
        default_triggers = [BIN / "snakemake", "all", "--cores", "2", "--dry-run", "--quiet", "rules"]
        plan = subprocess.run(default_triggers, cwd=root, capture_output=True, text=True, env=env)
        assert plan.returncode == 0, plan.stderr[-3000:]
        planned = planned_rules(plan.stdout + plan.stderr)
        expected = {} if overlay == "mini" else {"experiment": 1, "tables": 1, "all": 1}
        assert planned == expected, (overlay, plan.stdout + plan.stderr)


def planned_rules(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count of snakemake's `--dry-run --quiet rules` table; empty when nothing is planned."""
    lines = dry_run_output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.split()[:2] == ["job", "count"]), None)
    if start is None:
        return {}
    rules = {}
    for line in lines[start + 1 :]:
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit() and fields[0] != "total":
            rules[fields[0]] = int(fields[1])
    return rules
