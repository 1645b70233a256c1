"""End-to-end searches through the CLI: outputs, resume after SIGKILL, refusals, real-data smoke runs."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, kill_at_first_checkpoint

from stretchnas.runs.checkpoint import read_checkpoint

STRETCHNAS = Path(sys.executable).parent / "stretchnas"
TINY = {
    "layers": 3,
    "channels": 4,
    "batch_size": 2,
    "epochs": 2,
    "max_steps_per_epoch": 6,
    "checkpoint_every_steps": 2,
    "snapshot_epochs": [1, 2],
    "split_scheme": "three_way",
    "intermediate_nodes": 4,
    "topology": {"mode": "stretchable"},
    "optimizer": "milenas",
    "threads": 1,
}


@pytest.fixture(scope="module")
def tiny_data(tiny_search_data):
    return tiny_search_data.root


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def search_config(tmp_path, **overrides) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({"search": {**TINY, **overrides}}))
    return path


def search_cmd(config, out, data, *extra):
    return [
        STRETCHNAS,
        "search",
        "--params",
        REPO / "params.yaml",
        "--scale",
        "smoke",
        "--config",
        config,
        "--out",
        out,
        "--data",
        data,
        "--quiet",
        *extra,
    ]


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def test_search_writes_every_output(tiny_data, tmp_path):
    out = tmp_path / "run"
    result = run(search_cmd(search_config(tmp_path), out, tiny_data))
    assert result.returncode == 0, result.stderr
    names = {p.name for p in out.iterdir()}
    expected = {
        "arch_epoch_001.pt",
        "arch_epoch_002.pt",
        "genotype_epoch_001.json",
        "genotype_epoch_002.json",
        "genotype.json",
        "metrics.csv",
        "run.json",
        "checkpoint.pt",
    }
    assert expected <= names
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["status"] == "complete" and run_json["seed"] == 2
    assert run_json["config"]["optimizer"] == "milenas"
    assert len(run_json["data"]["manifest_sha256"]) == 64 and run_json["versions"]["torch"] == torch.__version__
    # provenance: the command, the machine (unnamed), the data copy by checksum rather than by its path
    assert run_json["command"][:2] == ["stretchnas", "search"] and "--out" in run_json["command"]
    assert run_json["machine"]["logical_cpus"] == os.cpu_count() and "hostname" not in run_json["machine"]
    assert len(run_json["data"]["source_sha256"]) == 64 and "/" not in run_json["data"]["source_name"]
    assert isinstance(run_json["versions"]["git_tracked_changes"], bool)
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2]
    columns = ["train_loss", "train_acc", "val_loss", "val_acc", "lr", "regularizer", "dropped_nodes"]
    columns += ["alpha_entropy_normal", "beta_entropy_reduce", "seconds", "peak_rss_mib", "images_per_s"]
    for column in columns:
        assert column in metrics and metrics[column].notna().all(), column
    arch = torch.load(out / "arch_epoch_002.pt")
    assert oct((out / "metrics.csv").stat().st_mode & 0o777) == oct(0o666 & ~current_umask())  # not mkstemp's 0600
    assert set(arch["alpha"]) == set(arch["beta"]) == {"normal", "reduce"}

    again = run(search_cmd(search_config(tmp_path), out, tiny_data))
    assert again.returncode == 0 and "already complete" in again.stderr
    assert json.loads(again.stdout)["genotype"] == json.loads((out / "genotype.json").read_text())  # JSON alone
    # a finished folder is never reported as the result of another configuration or seed
    other = run(search_cmd(search_config(tmp_path, batch_size=3), out, tiny_data))
    assert other.returncode == 2 and "search.batch_size: 2 (recorded) vs 3 (now)" in other.stderr
    other_seed = run(search_cmd(search_config(tmp_path), out, tiny_data, "--seed", "5"))
    assert other_seed.returncode == 2 and "seed: 2 (recorded) vs 5 (now)" in other_seed.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "complete"  # untouched


def test_killed_search_resumes_to_the_same_result(tiny_data, tmp_path):
    config = search_config(tmp_path)
    reference = tmp_path / "reference"
    assert run(search_cmd(config, reference, tiny_data)).returncode == 0

    out = tmp_path / "killed"
    cmd = [str(c) for c in search_cmd(config, out, tiny_data)]
    kill_at_first_checkpoint(cmd, out)
    progress = read_checkpoint(out / "checkpoint.pt")["progress"]
    assert progress["epoch"] == 0 and 0 < progress["step"] < 6, progress  # killed mid-epoch

    resumed = run(cmd)
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "genotype.json").read_text() == (reference / "genotype.json").read_text()
    timing = ["seconds", "peak_rss_mib", "images_per_s"]
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "metrics.csv").drop(columns=timing),
        pd.read_csv(reference / "metrics.csv").drop(columns=timing),
        check_exact=True,
    )
    for epoch in (1, 2):
        a = torch.load(out / f"arch_epoch_{epoch:03d}.pt")
        b = torch.load(reference / f"arch_epoch_{epoch:03d}.pt")
        for group in ("alpha", "beta"):
            for kind in ("normal", "reduce"):
                assert torch.equal(a[group][kind], b[group][kind])  # bitwise


def test_a_checkpoint_from_another_config_is_refused(tiny_data, tmp_path):
    out = tmp_path / "run"
    assert run(search_cmd(search_config(tmp_path, epochs=1, snapshot_epochs=[1]), out, tiny_data)).returncode == 0
    record = json.loads((out / "run.json").read_text())
    record["status"] = "running"  # not complete: the checkpoint decides
    record["identity"]["search"]["batch_size"] = 3  # as a run of the new settings killed before its first step
    (out / "run.json").write_text(json.dumps(record))
    result = run(search_cmd(search_config(tmp_path, epochs=1, snapshot_epochs=[1], batch_size=3), out, tiny_data))
    assert result.returncode == 2
    assert (
        "different configuration" in result.stderr and "search.batch_size: 2 (checkpoint) vs 3 (now)" in result.stderr
    )


def test_a_non_finite_loss_stops_with_epoch_and_step(tiny_data, tmp_path):
    out = tmp_path / "run"
    config = search_config(
        tmp_path, weights={"lr": 1.0e30, "lr_min": 0.0, "momentum": 0.9, "weight_decay": 0.0, "grad_clip": 1.0e30}
    )
    result = run(search_cmd(config, out, tiny_data))
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert re.search(r"(non-finite loss|diverged: loss above max_loss 1000) at epoch 1, step \d+", message), message
    assert not (out / "genotype.json").exists()


# Optimiser x topology combinations the paper's experiments use (params.yaml `experiments`).
PAPER_COMBINATIONS = sorted(
    {
        (e["search"].get("optimizer", "darts_1st"), e["search"].get("topology", {"mode": "darts"})["mode"])
        for e in yaml.safe_load((REPO / "params.yaml").read_text())["experiments"].values()
        if e["procedure"] == "search"
    }
)


@pytest.mark.realdata
@pytest.mark.parametrize("optimizer, mode", PAPER_COMBINATIONS)
def test_smoke_search_on_real_cifar10(prepared_cifar10, tmp_path, optimizer, mode):
    topology = {"mode": mode, **({"k": 2} if mode == "output_k" else {})}
    split = "two_way" if mode.startswith("darts") else "three_way"
    config = search_config(
        tmp_path,
        layers=5,
        channels=4,
        batch_size=4,
        epochs=1,
        max_steps_per_epoch=2,
        snapshot_epochs=[1],
        optimizer=optimizer,
        topology=topology,
        split_scheme=split,
    )
    out = tmp_path / "run"
    result = run(search_cmd(config, out, prepared_cifar10))
    assert result.returncode == 0, result.stderr
    for name in ("arch_epoch_001.pt", "genotype_epoch_001.json", "genotype.json", "metrics.csv", "run.json"):
        assert (out / name).exists(), name
