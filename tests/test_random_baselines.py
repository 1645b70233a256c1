import dataclasses
import json

import pandas as pd
import pytest
from conftest import REPO

from stretchnas.method.genotype import Genotype
from stretchnas.method.published_genotypes import get_genotype
from stretchnas.runs import RunError
from stretchnas.search.random_baselines import random_ops_on, run_random_baseline, sample_from_space
from stretchnas.settings.params import load_settings
from stretchnas.settings.types import RandomSettings


def smoke_settings():
    return load_settings(REPO / "params.yaml", "smoke", environ={})


def test_space_samples_are_seeded_valid_and_varied():
    search = smoke_settings().experiment("milenas_sc_L8").search
    a = [sample_from_space(search, 0, i) for i in range(6)]
    b = [sample_from_space(search, 0, i) for i in range(6)]
    assert a == b
    assert len({g.normal.edges for g in a}) == 6
    darts = smoke_settings().experiment("darts_1st_L8").search
    for g in (sample_from_space(darts, 1, i) for i in range(5)):
        assert all(len(g.normal.inputs_of(j)) == 2 for j in g.normal.nodes)  # DARTS space: two inputs per node


def test_random_ops_keep_the_topology_and_never_draw_none():
    topology = get_genotype("PC_DARTS_cifar")
    draws = [random_ops_on(topology, "darts", 3, i) for i in range(8)]
    for g in draws:
        for mine, theirs in ((g.normal, topology.normal), (g.reduce, topology.reduce)):
            assert [(i, j) for _, i, j in mine.edges] == [(i, j) for _, i, j in theirs.edges]
            assert mine.concat == theirs.concat
            assert "none" not in {op for op, _, _ in mine.edges}
    assert len({g.normal.edges for g in draws}) == 8


def test_random_search_keeps_the_sample_with_the_lowest_val_error(tmp_path, request):
    tiny = request.getfixturevalue("tiny_search_data")
    settings = smoke_settings()
    experiment = settings.experiment("random_search")
    search = experiment.search.replace(split_scheme="three_way", intermediate_nodes=4)
    random_cfg = RandomSettings(samples=3, train_epochs=1, channels=4, layers=3)
    experiment = dataclasses.replace(experiment, search=search, random=random_cfg)
    recipe = settings.train.replace(batch_size=4, max_steps_per_epoch=2)
    chosen = run_random_baseline(experiment, recipe, tiny, tmp_path / "rs", seed=0, show_progress=False)
    table = pd.read_csv(tmp_path / "rs" / "candidates.csv")
    assert list(table["sample"]) == [0, 1, 2]
    best = int(table.sort_values(["val_error", "sample"]).iloc[0]["sample"])
    assert chosen == Genotype.load(tmp_path / "rs" / "samples" / f"{best:03d}" / "genotype.json")
    assert chosen == Genotype.load(tmp_path / "rs" / "genotype.json")

    run_json = json.loads((tmp_path / "rs" / "run.json").read_text())
    assert run_json["status"] == "complete" and run_json["selected_sample"] == best

    # a finished baseline is returned as it is, and one of another configuration is refused
    again = run_random_baseline(experiment, recipe, tiny, tmp_path / "rs", seed=0, show_progress=False)
    assert again == chosen
    with pytest.raises(RunError, match=r"different configuration.*seed: 0 \(recorded\) vs 1 \(now\)"):
        run_random_baseline(experiment, recipe, tiny, tmp_path / "rs", seed=1, show_progress=False)
