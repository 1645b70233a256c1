import re
from pathlib import Path

import pytest
import yaml

from stretchnas.settings.params import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


def write_params(tmp_path, mutate) -> Path:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    mutate(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_every_scale_of_the_shipped_params_resolves():
    for scale in ("smoke", "mini", "paper"):
        settings = load_settings(REPO / "params.yaml", scale, environ={})
        assert settings.scale == scale
    assert load_settings(REPO / "params.yaml", "smoke", environ={}).search.batch_size == 8
    assert load_settings(REPO / "params.yaml", "paper", environ={}).data.train_per_class is None


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda r: r["scales"]["mini"]["search"].update(batch_szie=3),
            r"scales\.mini\.search\.batch_szie: unknown key",
        ),
        (lambda r: r["search"].update(batch_size=0), r"params\.yaml: search\.batch_size: 0 is not allowed"),
        (lambda r: r["scales"]["smoke"]["search"].update(batch_size=0), r"scales\.smoke\.search\.batch_size: 0"),
        (lambda r: r["search"].update(batch_size="64"), r"search\.batch_size: '64' is not allowed.*integer"),
        (lambda r: r["search"].update(arch_batches="sometimes"), r"search\.arch_batches: 'sometimes'.*persistent"),
        (lambda r: r["search"].update(channels=15), r"search\.channels: 15 is not allowed.*multiple of 2"),
        (
            lambda r: r["experiments"]["milenas_sc_L8"]["search"].update(layers=2),
            r"experiments\.milenas_sc_L8\.search\.layers: 2 is not allowed",
        ),
        (
            lambda r: r["experiments"]["milenas_sc_L8"]["search"].update(split_scheme="two_way"),
            r"experiments\.milenas_sc_L8\.search\.beta_data: 'separate' needs a D_val_beta",
        ),
        (
            lambda r: r["experiments"]["darts_1st_L8"]["search"].update(optimiser="adam"),
            r"experiments\.darts_1st_L8\.search\.optimiser: unknown key",
        ),
        (
            lambda r: r["experiments"]["darts_1st_L8"].update(procedure="walk"),
            r"experiments\.darts_1st_L8\.procedure: 'walk'",
        ),
        (lambda r: r["experiments"]["darts_1st_L8"].pop("method"), r"'method' is a required property"),
        (
            lambda r: r["followups"]["milenas_sc_L8_random_ops"].update(topology_from="nothing"),
            r"topology_from: 'nothing' is not a search experiment",
        ),
        (lambda r: r["scales"]["smoke"]["search"].update(snapshot_epochs=[5]), r"snapshot_epochs: \[5\] lie beyond"),
        (
            lambda r: r["data"]["split_schemes"]["two_way"].update(val_beta=0.2),
            r"data\.split_schemes\.two_way: fractions sum to 1\.2; they must sum to at most 1",
        ),
        (
            lambda r: r["scales"]["mini"]["data"].update(train_per_class=6000),
            r"scales\.mini\.data\.train_per_class: 6000 is more than the 5000 images per class",
        ),
        (lambda r: r.update(scale="huge"), r"scale: 'huge' is not allowed"),
        (
            lambda r: r["scales"]["mini"]["experiments"].update(nonexistent={"random": {}}),
            r"scales\.mini\.experiments: \['nonexistent'\] are not in experiments",
        ),
        (lambda r: r["scales"].update(tiny={}), r"scales: unknown scale\(s\) \['tiny'\]"),
        (lambda r: r["data"].pop("seed"), r"'seed' is a required property"),
        # YAML's .nan and .inf compare false with every bound, so the schema alone lets them through
        (lambda r: r["search"]["weights"].update(lr=float("nan")), r"search\.weights\.lr: nan is not a finite"),
        (lambda r: r["evaluation"].update(target_params_m=float("inf")), r"target_params_m: inf is not a finite"),
    ],
)
def test_bad_values_fail_with_the_key_path_the_value_and_what_is_allowed(tmp_path, mutate, expected):
    path = write_params(tmp_path, mutate)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert re.search(expected, message), message


def test_a_broken_paper_overlay_is_caught_when_running_smoke(tmp_path):
    path = write_params(tmp_path, lambda r: r["scales"]["paper"].update(search={"threads": 0}))
    with pytest.raises(ConfigError, match=r"scales\.paper\.search\.threads: 0"):
        load_settings(path, "smoke", environ={})


def test_a_workflow_job_validates_its_own_scale_and_the_planners_every_scale(tmp_path, capsys):
    from stretchnas import cli

    path = write_params(tmp_path, lambda r: r["scales"]["paper"].update(search={"threads": 0}))
    assert load_settings(path, "smoke", every_scale=False).scale == "smoke"
    assert cli.main(["config", "--params", str(path), "--scale", "smoke"]) == 2  # a planner: every scale
    assert "scales.paper.search.threads: 0" in capsys.readouterr().err
    out = tmp_path / "summary.json"  # a job (gather) gets as far as its own inputs: the paper typo is not its
    assert (
        cli.main(["gather", "--params", str(path), "--scale", "smoke", "--exp", "darts_wo_sc", "--out", str(out)]) == 2
    )
    assert "scales.paper" not in capsys.readouterr().err


def test_environment_variable_overrides_the_data_source():
    settings = load_settings(REPO / "params.yaml", "smoke", environ={"STRETCHNAS_CIFAR10": "/data/c10.tar"})
    assert settings.data.source == "/data/c10.tar"
    assert "STRETCHNAS_CIFAR10" in settings.data.source_origin
    settings = load_settings(REPO / "params.yaml", "smoke", environ={})
    assert settings.data.source == "download"


def test_schema_defaults_are_filled_in_and_only_there():
    """Code reads optional keys directly: the loader writes the schema's defaults into the settings."""
    settings = load_settings(REPO / "params.yaml", "smoke", environ={})
    assert settings.train_imagenet.gamma == 0.97  # set in params.yaml
    assert settings.tree["train"]["gamma"] == settings.train.gamma == 0.97  # not in params.yaml: the schema's
    assert settings.search.topology.allow_empty_output is False
    assert "k" not in settings.tree["search"]["topology"]  # no default: only output_k takes k
    assert settings.search.topology.k is None


def test_schema_dataset_names_are_the_known_datasets():
    from stretchnas.data.datasets import DATASETS
    from stretchnas.settings.params import _schema

    assert set(_schema()["properties"]["data"]["properties"]["dataset"]["enum"]) == set(DATASETS)


def test_experiments_are_looked_up_with_one_clear_error():
    settings = load_settings(REPO / "params.yaml", "smoke", environ={})
    experiment = settings.experiment("darts_sc_out3")
    assert (experiment.method, experiment.optimizer, experiment.topology_mode, experiment.k) == (
        "DARTS-SC (1st order)",
        "darts_1st",
        "output_k",
        3,
    )
    with pytest.raises(ConfigError, match=r"params\.yaml: no experiment 'nope'; `stretchnas experiments` lists"):
        settings.experiment("nope")
    with pytest.raises(ConfigError, match=r"experiments\.random_search: procedure is 'random_search'"):
        settings.experiment("random_search", procedures=("search",))


@pytest.mark.parametrize(
    "twin",
    [
        # Figure 5's two outputs per node, written as output_k: the same space as output_pairs
        {"topology": {"mode": "output_k", "k": 2}},
        # only the seeds differ: more seeds of the same experiment, not another experiment
        {"topology": {"mode": "output_pairs"}, "seeds": [3, 4]},
    ],
)
def test_a_second_experiment_running_the_same_search_is_refused_naming_the_first(tmp_path, twin):
    def mutate(raw):
        raw["experiments"]["twin"] = {
            "procedure": "search",
            "method": "DARTS-SC (1st order)",
            "tables": ["figure5"],
            "search": {"optimizer": "darts_1st", "split_scheme": "three_way", **twin},
        }

    with pytest.raises(ConfigError, match=r"experiments\.twin\.search: the same search as 'darts_wo_sc'"):
        load_settings(write_params(tmp_path, mutate), "smoke", environ={})


def test_searches_that_differ_in_what_they_compute_are_not_twins(tmp_path):
    def mutate(raw):
        raw["experiments"]["twin"] = {
            "procedure": "search",
            "method": "DARTS-SC (1st order)",
            "tables": ["figure5"],
            "search": {
                "optimizer": "darts_1st",
                "split_scheme": "three_way",
                "topology": {"mode": "output_pairs"},
                "grad_clip_target": "none",
            },
        }

    assert load_settings(write_params(tmp_path, mutate), "smoke", environ={}).experiment("twin")


def test_experiments_prints_a_table_for_people_and_json_on_request(capsys):
    import json

    from stretchnas import cli

    assert cli.main(["experiments", "--scale", "paper"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("scale paper, ") and lines[1].split()[:3] == ["experiment", "procedure", "method"]
    row = next(line.split() for line in lines if line.split()[0] == "darts_wo_sc")
    assert "output_pairs" in row and "C=36" in row and "5" in row  # topology, fixed width, five searches
    assert len(lines) == 2 + len(load_settings(REPO / "params.yaml", "paper", environ={}).experiments)
    assert cli.main(["experiments", "--scale", "paper", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["experiments"]["darts_wo_sc"]["eval_width"] == "fixed"


def test_the_top_level_help_says_what_the_tool_is_for(capsys):
    from stretchnas import cli

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "Stretchable Cells Help DARTS Search Better" in text and "make reproduce" in text


def test_an_unknown_scale_asked_for_is_blamed_on_the_asker_not_the_file():
    with pytest.raises(ConfigError, match=r"^the scale asked for: 'tiny' is not allowed; choose one of"):
        load_settings(REPO / "params.yaml", "tiny", environ={})
