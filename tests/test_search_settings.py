"""Run-level tests of the search switches: each changes what a real search run does, as documented."""

import json

import pytest
import torch
from conftest import REPO

from stretchnas.runs.checkpoint import read_checkpoint
from stretchnas.search.runner import SearchRun
from stretchnas.settings.params import load_settings
from stretchnas.settings.types import SearchSettings


def tiny_search(**overrides) -> SearchSettings:
    settings = load_settings(REPO / "params.yaml", "smoke", environ={})
    search = settings.experiment("milenas_sc_L8").search  # stretchable cells, three-way split
    return search.replace(
        layers=3,
        channels=4,
        batch_size=2,
        epochs=1,
        max_steps_per_epoch=3,
        snapshot_epochs=(1,),
        intermediate_nodes=4,
        optimizer="darts_1st",
        threads=1,
        checkpoint_every_steps=10,
    ).merged(overrides)


def prepared_run(data, tmp_path, **overrides) -> SearchRun:
    run = SearchRun("tiny", tiny_search(**overrides), data, tmp_path / "run", seed=0)
    run.out.mkdir()
    run.prepare()
    return run


def record_order(run: SearchRun) -> list[str]:
    calls = []
    for name in ("arch_step", "weight_step"):
        original = getattr(run.optimizer, name)

        def wrapped(*args, _original=original, _name=name):
            calls.append(_name)
            return _original(*args)

        setattr(run.optimizer, name, wrapped)
    return calls


@pytest.mark.parametrize(
    "order, expected", [("arch_first", ["arch_step", "weight_step"]), ("weights_first", ["weight_step", "arch_step"])]
)
def test_update_order_decides_which_step_comes_first(tiny_search_data, tmp_path, order, expected):
    run = prepared_run(tiny_search_data, tmp_path, update_order=order)
    calls = record_order(run)
    run.start_epoch(0, fresh=True)
    run.train_step()
    run.train_step()
    assert calls == expected * 2


def test_update_order_changes_the_searched_architecture(tiny_search_data, tmp_path):
    alphas = []
    for order in ("arch_first", "weights_first"):
        search = tiny_search(update_order=order)
        run = SearchRun("tiny", search, tiny_search_data, tmp_path / order, seed=0)
        run.run(show_progress=False)
        assert json.loads((run.out / "run.json").read_text())["config"]["update_order"] == order
        alphas.append(torch.load(run.out / "arch_epoch_001.pt")["alpha"]["normal"])
    assert not torch.equal(*alphas)


@pytest.mark.parametrize("mode", ["persistent", "fresh"])
def test_arch_batches_fresh_draws_a_new_shuffle_every_step(tiny_search_data, tmp_path, mode):
    run = SearchRun("tiny", tiny_search(arch_batches=mode), tiny_search_data, tmp_path / "run", seed=0)
    run.run(show_progress=False)
    streams = read_checkpoint(run.checkpoint_path)["streams"]
    val_alpha = streams["val_alpha"]
    if mode == "fresh":  # three steps: three independent shuffles, no position within a pass
        assert val_alpha == {"pass_index": 0, "offset": 0, "draws": 3}
    else:  # 12 images, batch 2: three steps walk 6 images into the first pass
        assert val_alpha == {"pass_index": 0, "offset": 6, "draws": 0}


@pytest.mark.parametrize("beta_data", ["separate", "shared"])
def test_beta_data_shared_steps_beta_on_alphas_batch(tiny_search_data, tmp_path, beta_data):
    run = prepared_run(tiny_search_data, tmp_path, beta_data=beta_data)
    run.start_epoch(0, fresh=True)
    run.train_step()
    groups_seen = []
    original = run.optimizer.groups
    run.optimizer.groups = lambda batches: groups_seen.append(original(batches)) or groups_seen[-1]
    run.train_step()
    groups = groups_seen[-1]
    alpha, beta = run.net.alpha_parameters(), run.net.beta_parameters()
    if beta_data == "shared":
        assert run.streams["val_beta"] is None
        assert len(groups) == 1 and groups[0].params == alpha + beta and groups[0].regularized
    else:
        assert run.streams["val_beta"].state_dict()["offset"] == 4  # two steps of 2 images of D_val_beta
        assert [g.params for g in groups] == [alpha, beta]
        assert [g.regularized for g in groups] == [False, True]
        assert not torch.equal(groups[0].batch[0], groups[1].batch[0])  # alpha and beta see different images
