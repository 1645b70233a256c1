"""Evaluation training: channel choice, outputs, resume after SIGKILL, ImageNet path."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, kill_at_first_checkpoint, write_image
from PIL import Image

from stretchnas.data.prepare import prepare_data
from stretchnas.evaluation.training import choose_channels, evaluate
from stretchnas.method.published_genotypes import get_genotype
from stretchnas.runs import RunError
from stretchnas.runs.checkpoint import read_checkpoint

STRETCHNAS = Path(sys.executable).parent / "stretchnas"
TWO_WAY = {"two_way": {"train": 0.5, "val_alpha": 0.5, "val_beta": 0.0}}


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def train_cmd(out, data, *extra, params=REPO / "params.yaml"):
    return [
        STRETCHNAS,
        "train",
        "--params",
        params,
        "--scale",
        "smoke",
        "--out",
        out,
        "--data",
        data,
        "--quiet",
        *extra,
    ]


def params_with_longer_smoke_training(tmp_path) -> Path:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["scales"]["smoke"]["train"].update(epochs=2, max_steps_per_epoch=8, checkpoint_every_steps=2, batch_size=2)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_target_params_picks_the_darts_channel_count():
    channels, params = choose_channels(get_genotype("DARTS_V2"), 20, 3.3)
    assert channels == 36 and params == pytest.approx(3.349342, rel=1e-6)
    channels, _ = choose_channels(get_genotype("DARTS_V2"), 14, 4.7, imagenet=True, num_classes=1000)
    assert channels == 48


@pytest.mark.parametrize(
    "name, layers, imagenet, classes",
    [("DARTS_V2", 20, False, 10), ("DARTS_V1", 8, False, 100), ("PC_DARTS_image", 14, True, 1000)],
)
def test_the_parameter_curve_equals_the_built_networks_count_at_every_even_width(name, layers, imagenet, classes):
    from stretchnas.evaluation.training import param_curve, params_at

    genotype = get_genotype(name)
    curve = param_curve(genotype, layers, imagenet, classes)
    for channels in (8, 16, 36, 48, 50):
        assert curve(channels) == params_at(genotype, layers, channels, imagenet, classes), channels


@pytest.mark.parametrize("target", [float("nan"), float("inf"), 3300000.0, -1.0, 1e-4])
def test_a_budget_no_width_reaches_is_refused_with_the_reachable_range(target):
    with pytest.raises(RunError, match=r"can reach: 0\.\d+ M \(C=2\) to \d+(\.\d+)? M \(C=256\)"):
        choose_channels(get_genotype("DARTS_V2"), 20, target)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0"])
def test_the_command_line_refuses_a_budget_that_is_not_a_positive_finite_number(tmp_path, value):
    result = run([STRETCHNAS, "train", "--genotype", "DARTS_V2", f"--target-params={value}", "--out", tmp_path])
    assert result.returncode == 2 and "is not a positive number of parameters (M)" in result.stderr, result.stderr
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def tiny32(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny32")
    seed = 0
    for split, count in (("train", 8), ("test", 2)):
        for cls in ("a", "b"):
            for i in range(count):
                seed += 1
                write_image(root / "tree" / split / cls / f"{i}.png", size=(32, 32), seed=seed)
    prepare_data(str(root / "tree"), root / "prepared", "imagefolder", TWO_WAY, 0, None, None)
    return root / "prepared"


def test_killed_training_resumes_to_bitwise_identical_metrics(tiny32, tmp_path):
    args = ("--genotype", "PC_DARTS_cifar", "--layers", "3", "--channels", "4", "--seed", "1")
    params = params_with_longer_smoke_training(tmp_path)
    reference = tmp_path / "reference"
    assert run(train_cmd(reference, tiny32, *args, params=params)).returncode == 0
    out = tmp_path / "killed"
    cmd = [str(c) for c in train_cmd(out, tiny32, *args, params=params)]
    kill_at_first_checkpoint(cmd, out)
    assert read_checkpoint(out / "checkpoint.pt")["progress"]["epoch"] == 0  # mid-epoch
    resumed = run(cmd)
    assert resumed.returncode == 0, resumed.stderr
    timing = ["seconds", "peak_rss_mib", "images_per_s"]
    a = pd.read_csv(out / "metrics.csv").drop(columns=timing)
    b = pd.read_csv(reference / "metrics.csv").drop(columns=timing)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ra, rb = (json.loads((d / "result.json").read_text()) for d in (out, reference))
    assert ra["test_error"] == rb["test_error"]
    ma = read_checkpoint(out / "checkpoint.pt")["model"]
    mb = read_checkpoint(reference / "checkpoint.pt")["model"]
    assert all(torch.equal(ma[k], mb[k]) for k in mb)


@pytest.mark.realdata
def test_darts_v2_trains_at_smoke_scale_on_real_cifar10(prepared_cifar10, tmp_path):
    out = tmp_path / "run"
    result = run(train_cmd(out, prepared_cifar10, "--genotype", "DARTS_V2", "--layers", "20", "--channels", "36"))
    assert result.returncode == 0, result.stderr
    assert {"metrics.csv", "result.json", "run.json", "checkpoint.pt"} <= {p.name for p in out.iterdir()}
    res = json.loads((out / "result.json").read_text())
    assert res["params_m"] == pytest.approx(3.349342, rel=1e-6) and res["channels"] == 36 and res["layers"] == 20
    assert 0 <= res["test_error"] <= 100 and "best_epoch_test_error" in res and res["test_images"] == 200
    assert res["data_source"] == Path(os.environ["STRETCHNAS_CIFAR10"]).name  # the copy's name, not its path
    metrics = pd.read_csv(out / "metrics.csv")
    expected = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "drop_path_prob", "seconds"]
    assert set(expected) <= set(metrics.columns)
    again = run(train_cmd(out, prepared_cifar10, "--genotype", "DARTS_V2", "--layers", "20", "--channels", "36"))
    assert "already complete" in again.stderr and json.loads(again.stdout) == res  # stdout: the JSON alone


@pytest.mark.realdata
def test_imagenet_path_runs_a_smoke_epoch_on_upscaled_cifar(prepared_cifar10, tmp_path):
    images = np.load(prepared_cifar10 / "train_images.npy", mmap_mode="r")
    labels = np.load(prepared_cifar10 / "train_labels.npy")
    tree = tmp_path / "imagenet_like"
    for cls in range(7):  # more than 5 classes: the result has a top-5 error too
        members = np.flatnonzero(labels == cls)[:6]
        for n, index in enumerate(members):
            split = "train" if n < 4 else "test"
            path = tree / split / f"class{cls}" / f"{n}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.array(images[index])).resize((256, 256), Image.BILINEAR).save(path)
    data = tmp_path / "prepared"
    prepare_data(str(tree), data, "imagefolder", TWO_WAY, 0, None, None)
    out = tmp_path / "run"
    args = ("--genotype", "DARTS_V2", "--layers", "6", "--channels", "8", "--imagenet")
    result = run(train_cmd(out, data, *args))
    assert result.returncode == 0, result.stderr
    res = json.loads((out / "result.json").read_text())
    assert res["num_classes"] == 7 and res["test_images"] == 14
    assert 0 <= res["test_top5_error"] <= res["test_error"]
    assert json.loads((out / "run.json").read_text())["recipe"]["label_smoothing"] == 0.1


def test_a_non_finite_training_loss_stops_with_epoch_and_step_and_no_result(tiny32, tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["scales"]["smoke"]["train"].update(
        lr=1.0e30, grad_clip=1.0e30, epochs=2, max_steps_per_epoch=8, batch_size=2, checkpoint_every_steps=2
    )
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    out = tmp_path / "run"
    result = run(train_cmd(out, tiny32, "--genotype", "DARTS_V2", "--layers", "3", "--channels", "4", params=params))
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert re.search(r"non-finite loss at epoch 1, step \d+ \(loss (nan|inf)\)", message), message
    assert not (out / "result.json").exists()
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "failed" and "non-finite loss" in record["failure"]["reason"]


def test_evaluation_builds_no_autograd_graph():
    from stretchnas.evaluation.training import evaluate

    class GradFree(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 2)

        def forward(self, x):
            assert not torch.is_grad_enabled(), "evaluation runs with autograd on"
            return self.linear(x)

    loss, accuracy, _ = evaluate(GradFree(), [(torch.zeros(2), 0), (torch.ones(2), 1)], batch_size=2)
    assert loss > 0 and accuracy in (0.0, 0.5, 1.0)


def test_evaluation_counts_top1_and_top5_hits_as_a_brute_force_count_does():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(23, 8, generator=generator)
    labels = torch.randint(0, 8, (23,), generator=generator)

    class Lookup(torch.nn.Module):  # the logits of sample i, whatever the batching
        def forward(self, index):
            return logits[index[:, 0]]

    dataset = [(torch.tensor([i]), int(labels[i])) for i in range(23)]
    loss, top1, top5 = evaluate(Lookup(), dataset, batch_size=5)
    ranked = [sorted(range(8), key=lambda c, row=row: -float(row[c])) for row in logits]
    assert top1 == sum(r[0] == int(y) for r, y in zip(ranked, labels)) / 23
    assert top5 == sum(int(y) in r[:5] for r, y in zip(ranked, labels)) / 23
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits, labels)))


# files: an ImageNet-style folder read in place, whose evaluation iterates a DataLoader (which draws a seed)
@pytest.mark.parametrize("storage", ["arrays", "files"])
def test_evaluating_less_often_leaves_the_weights_and_the_result_unchanged(tmp_path, storage):
    tree = tmp_path / "tree"
    for split, count in (("train", 8), ("test", 2)):
        for cls in ("a", "b"):
            for i in range(count):
                write_image(tree / split / cls / f"{i}.png", size=(32, 32), seed=len(list(tree.rglob("*.png"))) + 1)
    data = tmp_path / "prepared"
    prepare_data(str(tree), data, "imagefolder", TWO_WAY, 0, None, None, storage=storage)
    imagenet = storage == "files"
    outs = {}
    for every in (1, 2):
        raw = yaml.safe_load((REPO / "params.yaml").read_text())
        # drop path draws its masks from the global random stream, which a DataLoader iterator draws a seed from
        recipe = {"epochs": 3, "max_steps_per_epoch": 2, "batch_size": 2, "eval_every": every, "drop_path": 0.2}
        recipe |= {"crop": 16, "workers": 1} if imagenet else {}
        raw["scales"]["smoke"]["train_imagenet" if imagenet else "train"].update(recipe)
        params = tmp_path / f"params{every}.yaml"
        params.write_text(yaml.safe_dump(raw))
        outs[every] = tmp_path / f"every{every}"
        args = ("--genotype", "PC_DARTS_cifar", "--layers", "3", "--channels", "4", "--seed", "1")
        result = run(train_cmd(outs[every], data, *args, *(["--imagenet"] if imagenet else []), params=params))
        assert result.returncode == 0, result.stderr
    rows = {every: pd.read_csv(out / "metrics.csv") for every, out in outs.items()}
    assert rows[1]["test_acc"].notna().all()
    assert rows[2]["test_acc"].isna().tolist() == [True, False, False]  # the 2nd epoch, and the last
    kept = ["epoch", "train_loss", "train_acc", "lr", "drop_path_prob"]
    pd.testing.assert_frame_equal(rows[1][kept], rows[2][kept], check_exact=True)
    evaluated = ["test_loss", "test_acc"]
    pd.testing.assert_frame_equal(rows[1][evaluated].iloc[1:], rows[2][evaluated].iloc[1:], check_exact=True)
    results = {every: json.loads((out / "result.json").read_text()) for every, out in outs.items()}
    assert results[1]["test_error"] == results[2]["test_error"]
    models = {every: read_checkpoint(out / "checkpoint.pt")["model"] for every, out in outs.items()}
    assert all(torch.equal(models[1][k], models[2][k]) for k in models[1])
