"""The smoke DAG through Snakemake's SLURM executor against a real slurmctld on loopback.

Skips, saying why, where the SLURM and munge packages, root, or the executor plugin are missing."""

import os
import subprocess
import time

import pytest
from slurm_loopback import LoopbackSlurm, missing
from workflow_copies import BIN, produced, reduced_smoke, workflow_copy

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = missing()
    if reason:
        pytest.skip(f"no loopback SLURM cluster: {reason}")
    with LoopbackSlurm(tmp_path_factory.mktemp("slurm")) as started:
        yield started


def slow_search(params):
    """darts_wo_sc's search checkpoints after every step, so it can be cancelled mid-epoch."""
    overlay = params["scales"]["smoke"].setdefault("experiments", {}).setdefault("darts_wo_sc", {})
    overlay["search"] = {"epochs": 2, "max_steps_per_epoch": 8, "checkpoint_every_steps": 1}
    for resources in params["workflow"]["resources"].values():  # two one-thread jobs at a time on a small node
        resources.update(threads=1, mem_mb=1500)


def wait_for(condition, what: str, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"snakemake exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def test_the_smoke_dag_through_slurm_equals_the_local_run_and_a_cancelled_search_resumes(
    cluster, tmp_path, prepared_cifar10
):
    env = {**cluster.env, "PATH": f"{BIN}{os.pathsep}{cluster.env['PATH']}"}
    local = workflow_copy(tmp_path / "local", "smoke")
    reduced_smoke(local, prepared_cifar10, slow_search)
    result = subprocess.run(
        [BIN / "snakemake", "all", "--cores", "2"], cwd=local, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]

    remote = workflow_copy(tmp_path / "slurm", "smoke")
    reduced_smoke(remote, prepared_cifar10, slow_search)
    # The project's profile (retries, resources from params.yaml), with this cluster's partition; without
    # accounting storage the job status comes from squeue.
    command = [
        BIN / "snakemake",
        "all",
        "--profile",
        "workflow/profiles/slurm",
        "--jobs",
        "2",
        "--default-resources",
        "slurm_partition=debug",
        "--slurm-no-account",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--seconds-between-status-checks",
        "2",
        "--latency-wait",
        "5",
    ]
    with open(tmp_path / "snakemake.log", "w") as log:
        process = subprocess.Popen(command, cwd=remote, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            checkpoint = remote / "runs/smoke/darts_wo_sc/seed2/search/checkpoint.pt"
            wait_for(checkpoint.exists, "the search's first checkpoint", process)
            search = [
                job
                for job, state, comment in cluster.jobs()
                if "rule_search" in comment and "darts_wo_sc" in comment and state == "RUNNING"
            ]
            assert len(search) == 1, cluster.jobs()
            cluster.cancel(search[0])
            returncode = process.wait(timeout=1200)
        finally:
            if process.poll() is None:
                process.kill()
    output = (tmp_path / "snakemake.log").read_text()
    assert returncode == 0, output[-4000:]
    assert "Trying to restart job" in output or "retry" in output.lower(), output[-4000:]
    search_log = (remote / "logs/smoke/darts_wo_sc/search_seed2.log").read_text()
    assert "resuming at epoch 1, step" in search_log, search_log
    assert produced(remote) == produced(local)
