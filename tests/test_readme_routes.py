"""The README's routes in, run as a reader types them: the commands are taken from README.md (a test fails
when the README stops showing one), in a shell that has only activated .venv as the README says, on a
checkout of the committed files (no data/, no .snakemake/, no DVC cache: a fresh clone)."""

import json
import os
import re
import shlex
import subprocess

import pytest
from test_committed_results import checkout  # noqa: F401 (a fixture)
from workflow_copies import BIN, REPO, workflow_copy

from stretchnas.data.prepare import PREPARED_FILES

README = (REPO / "README.md").read_text()


def documented(command: str) -> str:
    """`command` as the README shows it (in backticks or a code block); the test fails where it does not."""
    assert re.search(rf"(`|^){re.escape(command)}(`|\s|$)", README, re.M), f"README.md no longer shows `{command}`"
    return command


def in_activated_shell(root, command: str, **env) -> subprocess.CompletedProcess:
    """`source .venv/bin/activate` then `command`, with a PATH that does not hold the environment's bin."""
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if os.path.realpath(p) != str(BIN))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRETCHNAS_", "VIRTUAL_ENV"))}
    script = f"source {shlex.quote(str(BIN / 'activate'))} && {command}"
    return subprocess.run(
        ["bash", "-c", script], cwd=root, capture_output=True, text=True, env={**base, "PATH": path, **env}
    )


def without_nulls(tree):
    if isinstance(tree, dict):
        return {key: without_nulls(value) for key, value in tree.items() if value is not None}
    return tree


def test_the_readme_says_to_activate_the_environment_before_its_commands():
    documented("source .venv/bin/activate")


def test_stretchnas_help_says_what_the_tool_is_for(tmp_path):
    result = in_activated_shell(tmp_path, documented("stretchnas --help"))
    assert result.returncode == 0, result.stderr
    assert "Reproduce" in result.stdout and "stretchnas experiments" in result.stdout


def test_a_snakemake_dry_run_of_another_scale_plans_every_job(tmp_path):
    root = workflow_copy(tmp_path, "mini")
    result = in_activated_shell(root, documented("snakemake --cores all --config scale=smoke") + " --dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    said = result.stdout + result.stderr
    assert "prepare_data" in said and "report" in said


def test_dvc_status_on_a_fresh_clone_names_what_it_lacks(checkout):  # noqa: F811
    subprocess.run(["git", "init", "-q"], cwd=checkout, check=True)
    status = in_activated_shell(checkout, documented("dvc status") + " --json")
    assert status.returncode == 0, status.stderr[-3000:]
    stale = json.loads(status.stdout)
    # the prepared data is all a clone lacks: its files, and the stages that read them (no run or result)
    missing = {path for change in stale["prepare_data"] for path in change.get("changed outs", {})}
    assert missing == {f"data/prepared/mini/{name}" for name in PREPARED_FILES}
    for name, changes in stale.items():
        deps = {path for change in changes for path in change.get("changed deps", {})}
        assert name == "prepare_data" or deps <= missing, name


def test_dvc_metrics_show_and_plots_show_give_this_scales_numbers(checkout):  # noqa: F811
    subprocess.run(["git", "init", "-q"], cwd=checkout, check=True)
    # a commit, as a clone has: `dvc exp show` compares experiments against it
    subprocess.run(["git", "add", "-A"], cwd=checkout, check=True)
    identity = ["-c", "user.name=reader", "-c", "user.email=reader@example.org"]
    subprocess.run(["git", *identity, "commit", "-q", "-m", "clone"], cwd=checkout, check=True)
    shown = in_activated_shell(checkout, documented("dvc metrics show") + " --json")
    assert shown.returncode == 0, shown.stderr[-3000:]
    committed = json.loads((REPO / "results/mini/metrics.json").read_text())
    (metrics,) = [entry["data"]["results/mini/metrics.json"]["data"] for entry in json.loads(shown.stdout).values()]
    assert metrics == without_nulls(committed) and metrics["scale"] == "mini"  # DVC leaves out null values
    plots = in_activated_shell(checkout, documented("dvc plots show") + " --json")
    assert plots.returncode == 0, plots.stderr[-3000:]
    shown_plots = json.loads(plots.stdout)["data"]
    assert not json.loads(plots.stdout).get("errors")
    (depth,) = [plot for name, plot in shown_plots.items() if name.startswith("Figures 1 and 4:")]
    rows = depth[0]["content"]["data"]["values"]
    assert {row["eval_layers"] for row in rows} == {"8", "12", "16", "20"}
    assert "results/mini/figures/figure1.png" in shown_plots
    verdicts = in_activated_shell(
        checkout, documented("dvc exp show --md --drop '.*' --keep 'Experiment|claims.*verdict'")
    )
    assert verdicts.returncode == 0, verdicts.stderr[-3000:]
    header, _, workspace = verdicts.stdout.splitlines()[:3]
    assert header.count("claims.claim") == 7 and workspace.split("|")[1].strip() == "workspace"
    assert [cell.strip() for cell in workspace.split("|")[2:-1]] == [c["verdict"] for c in committed["claims"].values()]


@pytest.mark.parametrize("tool", ["snakemake", "dvc"])
def test_a_failing_job_shows_its_error_on_screen(tmp_path, tool):
    """A job that fails says why on the terminal, not only in its log: the data source that is not there."""
    root = workflow_copy(tmp_path, "smoke")
    missing = str(tmp_path / "no-such-cifar.tar.gz")
    commands = {"snakemake": "snakemake data/prepared/smoke --cores 1 --quiet rules", "dvc": "dvc repro prepare_data"}
    command = commands[tool]
    result = in_activated_shell(root, command, STRETCHNAS_CIFAR10=missing)
    assert result.returncode != 0
    assert f"stretchnas prepare-data: error: {missing}: no such file or folder" in result.stdout + result.stderr
    assert not (root / "data" / "prepared" / "smoke" / "manifest.json").exists()
