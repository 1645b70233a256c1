"""results/mini, as committed, is what its committed runs regenerate: byte for byte, with no data, no search,
no training and no NAS-Bench-201 table (the regeneration `make reproduce` runs, and CI checks); and DVC,
from the committed dvc.lock, reruns only what a fresh clone lacks."""

import hashlib
import os
import shutil
import subprocess
from collections import Counter

import pytest
import yaml
from workflow_copies import BIN, REPO

SCALE = "mini"
REGENERATE = ["--config", f"scale={SCALE}", "from_runs=true", "--forceall"]
# what regenerates: the report (results/mini, less its tables' data, which the tables stage writes) and the
# per-experiment summaries
REGENERATED = (f"results/{SCALE}", f"runs/{SCALE}/summaries")


def committed_files(*folders: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "--", *folders], cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The committed files that regeneration reads, in a folder of their own: the workflow, params.yaml,
    DVC's files, runs/mini and results/ (no data/, no .snakemake/, no source: the installed package runs)."""
    root = tmp_path_factory.mktemp("checkout")
    files = (
        "Snakefile",
        "params.yaml",
        "environment.yml",
        "workflow",
        "runs",
        "results",
        "dvc.yaml",
        "dvc.lock",
        ".dvc",
    )
    for path in committed_files(*files):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, root / path)
    return root


def environment() -> dict:
    """No data copy and no benchmark table named: regeneration must need neither."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRETCHNAS_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def snakemake(root, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "snakemake", "--cores", "2", *args], cwd=root, capture_output=True, text=True, env=environment()
    )


def test_the_mini_runs_and_results_are_committed():
    runs, results = committed_files(f"runs/{SCALE}"), committed_files(f"results/{SCALE}")
    assert any(p.endswith("/search/genotype.json") for p in runs) and f"results/{SCALE}/README.md" in results
    # small records only: no checkpoint or weights
    assert not [p for p in runs if not p.endswith((".json", ".csv", "job.tsv"))]


def test_the_plan_reruns_no_data_search_training_or_lookup(checkout):
    result = snakemake(checkout, "--dry-run", "--quiet", "rules", *REGENERATE)
    assert result.returncode == 0, result.stderr[-3000:]
    planned = Counter()
    for line in (result.stdout + result.stderr).splitlines():
        words = line.split()
        if len(words) == 2 and words[1].isdigit() and words[0] not in ("job", "total"):
            planned[words[0]] = int(words[1])
    assert set(planned) == {"published_cells", "gather", "tables", "report", "all"}, planned
    assert planned["gather"] == len(committed_files(f"runs/{SCALE}/summaries"))


def test_regeneration_gives_the_committed_bytes(checkout):
    committed = {path: (REPO / path).read_bytes() for path in committed_files(*REGENERATED)}
    for path in committed:  # the tables, figures, claims page and summaries go; the runs stay
        (checkout / path).unlink()
    result = snakemake(checkout, *REGENERATE)
    assert result.returncode == 0, result.stderr[-3000:]
    differing = [path for path, data in committed.items() if (checkout / path).read_bytes() != data]
    assert not differing, f"regenerated files differ from the committed ones: {differing}"
    written = {
        str(p.relative_to(checkout)) for folder in REGENERATED for p in (checkout / folder).rglob("*") if p.is_file()
    }
    assert written == set(committed), f"not committed: {sorted(written - set(committed))}"


def test_the_committed_dvc_lock_matches_the_committed_runs_and_results():
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(lock) == set(stages)
    checked = 0
    for entry in lock.values():
        for out in entry.get("outs", []):
            path = REPO / out["path"]
            if out["path"].startswith(("runs/", "results/")) and path.is_file():
                assert hashlib.md5(path.read_bytes()).hexdigest() == out["md5"], out["path"]
                checked += 1
    assert checked >= len(committed_files(f"runs/{SCALE}/summaries"))


@pytest.mark.realdata
def test_dvc_repro_on_a_fresh_checkout_prepares_the_data_and_reruns_nothing_else(checkout, cifar10_source):
    """The prepared data is all a clone lacks; it regenerates byte for byte, so every stage reading it (and
    everything downstream) stays as dvc.lock records it."""
    subprocess.run(["git", "init", "-q"], cwd=checkout, check=True)
    env = {**environment(), "STRETCHNAS_CIFAR10": cifar10_source}
    result = subprocess.run([BIN / "dvc", "repro"], cwd=checkout, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ran = [line for line in result.stdout.splitlines() if line.startswith("Running stage")]
    assert ran == ["Running stage 'prepare_data':"], ran
    for path in committed_files("runs", "results"):
        assert (checkout / path).read_bytes() == (REPO / path).read_bytes(), path
    # once the data is there, a dry run plans nothing (on a fresh clone DVC's dry run stops at the first
    # stage whose input is not made yet: treeverse/dvc#9818)
    dry = subprocess.run([BIN / "dvc", "repro", "--dry"], cwd=checkout, capture_output=True, text=True, env=env)
    assert dry.returncode == 0 and "Running stage" not in dry.stdout, dry.stdout[-3000:] + dry.stderr[-3000:]
