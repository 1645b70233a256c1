"""Copies of the workflow to run in a test: the repository's workflow files, one scale, its dvc.yaml."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKFLOW_FILES = ("Snakefile", "dvc.yaml", "params.yaml", "environment.yml", "workflow")


def workflow_copy(tmp_path: Path, scale: str) -> Path:
    root = tmp_path / scale
    root.mkdir(parents=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["scale"] = scale
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run([BIN / "dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
    generate_dvc_yaml(root)
    return root


def generate_dvc_yaml(root: Path, env: dict | None = None) -> None:
    """dvc.yaml for the plan `env` gives (the optional data sources it names decide which jobs exist)."""
    subprocess.run([BIN / "stretchnas", "dvc-yaml"], cwd=root, check=True, capture_output=True, env=env)


def reduced_smoke(root: Path, prepared: Path, edit=None, env: dict | None = None) -> None:
    """A reduced experiment list at a shrunken smoke scale, every rule type still planned (NB201's where
    `env` names its tables); `edit` changes the params further."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    # milenas_sc_imagenet is not planned (no ImageNet source); nb201_darts_1st_sc only where NB201's tables are named
    keep = {"darts_wo_sc", "milenas_sc_L8", "milenas_sc_imagenet", "nb201_darts_1st_sc"}
    params["experiments"] = {k: v for k, v in params["experiments"].items() if k in keep}
    params["followups"] = {k: v for k, v in params["followups"].items() if v["topology_from"] in keep}
    smoke = params["scales"]["smoke"]
    smoke["search"].update(epochs=1, max_steps_per_epoch=2, snapshot_epochs=[1], layers=5)
    smoke["train"].update(max_steps_per_epoch=2)
    smoke["evaluation"]["layers"] = [5, 6]  # Figure 4's depths: the searches' own 5, and 6
    for overlay in params["scales"].values():  # overlays may only refine experiments that exist
        for section in ("experiments", "followups"):
            if overlay and section in overlay:
                overlay[section] = {k: v for k, v in overlay[section].items() if k in params[section]}
    smoke["followups"]["milenas_sc_L8_random_ops"]["random"].update(samples=1, layers=5)
    params["experiments"]["nb201_darts_1st_sc"]["search"]["seeds"] = [0, 1]
    if edit:
        edit(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    generate_dvc_yaml(root, env)
    shutil.copytree(prepared, root / "data" / "prepared" / "smoke")  # same data settings as smoke


def change_darts_wo_sc(root: Path, overlay: str, env: dict | None = None) -> None:
    changed = yaml.safe_load((root / "params.yaml").read_text())
    experiment = changed["scales"][overlay].setdefault("experiments", {}).setdefault("darts_wo_sc", {})
    experiment.setdefault("search", {})["max_loss"] = 999.0
    (root / "params.yaml").write_text(yaml.safe_dump(changed))
    generate_dvc_yaml(root, env)


def produced(root: Path) -> dict[str, str]:
    """Every genotype, training result's numbers and table of a run, by path."""
    files = {}
    for path in sorted(root.glob("runs/smoke/**/genotype.json")):
        files[str(path.relative_to(root))] = path.read_text()
    for path in sorted(root.glob("results/smoke/data/*.csv")):  # without the measured times and memory
        measured = ["seconds", "peak_rss_mib", "images_per_s", "wall_seconds", "search_seconds"]
        table = pd.read_csv(path).drop(columns=measured, errors="ignore")
        files[str(path.relative_to(root))] = table.to_csv(index=False)
    # the report's pages that hold no measured time (the claims, and the tables without a cost column)
    for name in (
        "README.md",
        "tables/table3.md",
        "tables/table4.md",
        "tables/table5.md",
        "tables/cells.md",
        "tables/stability.md",
        "tables/figure4.md",
    ):
        path = root / "results" / "smoke" / name
        files[str(path.relative_to(root))] = path.read_text()
    for path in sorted(root.glob("runs/smoke/**/result.json")):
        result = json.loads(path.read_text())
        numbers = {
            k: result[k]
            for k in ("test_error", "val_error", "params_m", "channels", "arch", "cifar10_test_acc")
            if k in result
        }
        files[str(path.relative_to(root))] = json.dumps(numbers)
    return files


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
