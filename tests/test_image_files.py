"""Images stored as files (prepare-data --storage files): decoded in DataLoader workers, resumed exactly."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, kill_at_first_checkpoint, write_image

from stretchnas.data.cache import PreparedData
from stretchnas.data.files import FileSubset
from stretchnas.data.prepare import prepare_data
from stretchnas.data.sources import DataSourceError
from stretchnas.data.streams import BatchStream, WorkerStream, make_stream
from stretchnas.data.transforms import imagenet_transforms
from stretchnas.runs.checkpoint import read_checkpoint

STRETCHNAS = Path(sys.executable).parent / "stretchnas"
TWO_WAY = {"two_way": {"train": 0.5, "val_alpha": 0.5, "val_beta": 0.0}}
SIZES = [(70, 80), (96, 72), (80, 80), (88, 100)]  # ImageNet's images differ in size too


@pytest.fixture(scope="module")
def mixed_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed") / "tree"
    seed = 0
    for split, count in (("train", 8), ("test", 2)):
        for cls in ("a", "b", "c"):
            for i in range(count):
                seed += 1
                write_image(root / split / cls / f"{i}.jpg", size=SIZES[seed % len(SIZES)], seed=seed, fmt="JPEG")
    return root


@pytest.fixture(scope="module")
def prepared_files(mixed_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "files"
    prepare_data(str(mixed_tree), out, "imagefolder", TWO_WAY, 0, None, None, storage="files")
    return out


def test_files_storage_indexes_images_of_any_size_in_place(mixed_tree, prepared_files, tmp_path):
    with pytest.raises(DataSourceError, match="differs from"):  # arrays need one size
        prepare_data(str(mixed_tree), tmp_path / "arrays", "imagefolder", TWO_WAY, 0, None, None)
    data = PreparedData.open(prepared_files)
    assert data.manifest["storage"] == "files" and data.manifest["counts"] == {
        **data.manifest["counts"],
        "train": 24,
        "test": 6,
    }
    assert sorted(p.name for p in prepared_files.iterdir()) == ["files.json", "manifest.json", "splits.json"]
    subset = data.subset("two_way", "train")
    assert isinstance(subset, FileSubset) and len(subset) == 12
    sizes = {tuple(subset[i][0].shape[1:]) for i in range(len(subset))}
    assert len(sizes) > 1  # decoded at their own sizes, from the source files
    first_file = json.loads((prepared_files / "files.json").read_text())["train"][0][0]
    assert (mixed_tree / first_file).exists()


def crop_stream(data, workers, mode="persistent"):
    train_t, _ = imagenet_transforms(data.manifest["mean"], data.manifest["std"], 32)
    return make_stream(data.subset("two_way", "train", train_t), 5, 3, "train", mode, workers=workers)


def batches(stream, count):
    return [stream.next() for _ in range(count)]


def same(a, b) -> bool:
    return all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(a, b, strict=True))


def test_worker_streams_read_the_same_batches_for_any_worker_count_and_after_a_resume(prepared_files):
    data = PreparedData.open(prepared_files)
    torch.manual_seed(0)
    rng = torch.get_rng_state()
    in_process = batches(crop_stream(data, 0), 7)  # 12 images in batches of 5: crosses two passes
    assert torch.equal(torch.get_rng_state(), rng)  # the training's own random stream is untouched
    assert isinstance(crop_stream(data, 0), WorkerStream)
    assert same(batches(crop_stream(data, 2), 7), in_process)
    killed = crop_stream(data, 2)
    batches(killed, 3)
    resumed = crop_stream(data, 2)
    resumed.load_state_dict(killed.state_dict())
    assert same(batches(resumed, 4), in_process[3:])
    plain = data.subset("two_way", "train")
    order = BatchStream(plain, 5, 3, "train")  # the same order as a stream over arrays
    for batch in in_process:
        assert batch[1].tolist() == [plain.decode(int(i))[1] for i in order.next_indices()]


def test_a_killed_imagenet_training_with_workers_resumes_bitwise(prepared_files, tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["scales"]["smoke"]["train_imagenet"] = {
        "epochs": 2,
        "max_steps_per_epoch": 3,
        "batch_size": 2,
        "checkpoint_every_steps": 1,
        "crop": 64,
        "workers": 2,
        "auxiliary_weight": 0.0,
    }  # a 64-pixel crop is too small for its head
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))

    def command(out):
        return [
            str(c)
            for c in (
                STRETCHNAS,
                "train",
                "--params",
                params,
                "--scale",
                "smoke",
                "--genotype",
                "DARTS_V2",
                "--layers",
                3,
                "--channels",
                8,
                "--imagenet",
                "--data",
                prepared_files,
                "--out",
                out,
                "--quiet",
            )
        ]

    reference = tmp_path / "reference"
    done = subprocess.run(command(reference), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "killed"
    kill_at_first_checkpoint(command(out), out)
    assert read_checkpoint(out / "checkpoint.pt")["progress"]["epoch"] == 0  # mid-epoch
    resumed = subprocess.run(command(out), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at epoch 1" in resumed.stderr
    timing = ["seconds", "peak_rss_mib", "images_per_s"]
    a, b = (pd.read_csv(d / "metrics.csv").drop(columns=timing) for d in (out, reference))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ma, mb = (read_checkpoint(d / "checkpoint.pt")["model"] for d in (out, reference))
    assert all(torch.equal(ma[k], mb[k]) for k in mb)
