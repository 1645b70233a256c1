"""Snakemake and DVC read the same params.yaml and must define the same outputs."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKFLOW_FILES = ("Snakefile", "dvc.yaml", "params.yaml", "workflow")


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


def test_snakemake_refuses_an_invalid_config_before_any_work(tmp_path):
    root = workflow_copy(tmp_path, "smoke")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["search"]["batch_size"] = 0
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([BIN / "snakemake", "-n", "--cores", "1"], cwd=root, capture_output=True, text=True)
    assert result.returncode != 0
    assert "search.batch_size: 0 is not allowed" in result.stdout + result.stderr
