"""The install routes agree: pyproject.toml ranges, constraints.txt pins, environment.yml."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {Requirement(r).name.lower(): Requirement(r) for r in reqs}


def pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if match:
            out[match.group(1).lower()] = match.group(2)
    return out


def environment_pins() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return pins(pip_section)


def test_environment_yml_lists_the_same_packages_as_pyproject_with_compatible_versions():
    required = pyproject_requirements()
    pinned = environment_pins()
    assert set(pinned) == set(required)
    for name, requirement in required.items():
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, pinned[name])


def test_constraints_pin_what_environment_yml_pins_and_the_slurm_extra():
    """Jobs run in environment.yml's environment; the SLURM executor plugin runs only where Snakemake
    submits them (`.[slurm]`), so constraints.txt pins it and environment.yml does not."""
    constraints = pins((REPO / "constraints.txt").read_text().splitlines())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    submitting = {Requirement(r).name.lower() for r in project["optional-dependencies"]["slurm"]}
    assert submitting <= set(constraints)
    assert {name: pin for name, pin in constraints.items() if name not in submitting} == environment_pins()


def test_the_console_command_lists_its_subcommands():
    result = subprocess.run([Path(sys.executable).parent / "stretchnas", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for sub in ("prepare-data", "config"):
        assert sub in result.stdout


def test_cli_reports_a_bad_source_in_one_line_and_exits_2(tmp_path):
    result = subprocess.run(
        [
            Path(sys.executable).parent / "stretchnas",
            "prepare-data",
            "--params",
            str(REPO / "params.yaml"),
            "--source",
            str(tmp_path / "missing.tar.gz"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "missing.tar.gz: no such file or folder" in result.stderr
    assert not (tmp_path / "out").exists()
