import gzip
import hashlib
import pickle
import shutil
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from conftest import write_image
from torchvision.datasets import CIFAR10

from stretchnas.data.prepare import prepare_data
from stretchnas.data.sources import DataSourceError

TWO_WAY = {"two_way": {"train": 0.5, "val_alpha": 0.5, "val_beta": 0.0}}


def prepare(source, out, **kw):
    args = dict(dataset="imagefolder", split_schemes=TWO_WAY, seed=0, train_per_class=None, test_per_class=None)
    args.update(kw)
    return prepare_data(str(source), out, **args)


def assert_nothing_left(out: Path):
    assert not out.exists(), f"{out} was left behind"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert not leftovers, f"temporary output left behind: {leftovers}"


def make_tar(tree: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="copy")
    return archive


def test_imagefolder_tree_and_its_tar_give_identical_arrays(imagefolder, tmp_path):
    a = prepare(imagefolder, tmp_path / "a")
    b = prepare(make_tar(imagefolder, tmp_path / "tree.tar.gz"), tmp_path / "b")
    assert a["classes"] == ["ant", "bee", "cat"]
    assert a["counts"]["train"] == 18 and a["counts"]["test"] == 6
    assert a["arrays_sha256"] == b["arrays_sha256"]
    assert a["checksums_verified"] is False and "not verifiable" in a["source"]["checksum_note"]
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert np.array_equal(np.load(tmp_path / "a" / f"{name}.npy"), np.load(tmp_path / "b" / f"{name}.npy"))
    images = np.load(tmp_path / "a" / "train_images.npy")
    assert images.shape == (18, 8, 8, 3) and images.dtype == np.uint8
    expected_mean = (images.astype(np.float64) / 255).mean(axis=(0, 1, 2))
    assert np.allclose(a["mean"], expected_mean, atol=1e-6)


def test_rerun_replaces_the_output_whole(imagefolder, tmp_path):
    out = tmp_path / "prepared"
    prepare(imagefolder, out)
    (out / "train_labels.npy").write_bytes(b"damaged")
    prepare(imagefolder, out)
    assert np.load(out / "train_labels.npy").shape == (18,)


def break_missing_class(tree):
    shutil.rmtree(tree / "test" / "bee")


def break_extra_class(tree):
    write_image(tree / "test" / "dog" / "000.png")


def break_non_image(tree):
    (tree / "train" / "ant" / "notes.txt").write_text("hello")


def break_unreadable_image(tree):
    (tree / "train" / "ant" / "002.png").write_bytes(b"not a png at all")


def break_image_size(tree):
    write_image(tree / "train" / "cat" / "001.png", size=(9, 8))


def break_empty_class(tree):
    for file in (tree / "train" / "bee").iterdir():
        file.unlink()


@pytest.mark.parametrize(
    "breaker, pattern",
    [
        (break_missing_class, r"class folders differ.*missing in test/: \['bee'\]"),
        (break_extra_class, r"class folders differ.*extra in test/: \['dog'\]"),
        (break_non_image, r"train/ant/notes\.txt: not an image file"),
        (break_unreadable_image, r"train/ant/002\.png: not a readable image"),
        (break_image_size, r"train/cat/001\.png: image size 9x8 differs from 8x8"),
        (break_empty_class, r"train/bee/ is empty"),
    ],
)
@pytest.mark.parametrize("as_tar", [False, True])
def test_bad_imagefolder_names_the_file_and_leaves_nothing(imagefolder, tmp_path, breaker, pattern, as_tar):
    breaker(imagefolder)
    source = make_tar(imagefolder, tmp_path / "bad.tar.gz") if as_tar else imagefolder
    out = tmp_path / "out" / "prepared"
    out.parent.mkdir()
    with pytest.raises(DataSourceError, match=pattern):
        prepare(source, out)
    assert_nothing_left(out)


def test_corrupt_archive_is_named(imagefolder, tmp_path):
    archive = make_tar(imagefolder, tmp_path / "tree.tar.gz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    out = tmp_path / "prepared"
    with pytest.raises(DataSourceError, match=r"tree\.tar\.gz: corrupt archive"):
        prepare(archive, out)
    assert_nothing_left(out)


def test_wrong_number_of_classes_for_cifar10(imagefolder, tmp_path):
    with pytest.raises(DataSourceError, match=r"found 3 classes.*cifar10 has 10"):
        prepare(imagefolder, tmp_path / "p", dataset="cifar10")


# --------------------------------------------------------------------------- official python format


def fake_cifar_batches(folder: Path, per_batch=4):
    """A folder shaped like cifar-10-batches-py with tiny random batches."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, _ in [*CIFAR10.train_list, *CIFAR10.test_list]:
        batch = {"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8), "labels": list(range(per_batch))}
        (folder / name).write_bytes(pickle.dumps(batch))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / CIFAR10.meta["filename"]).write_bytes(pickle.dumps({"label_names": names}))
    return folder


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_official_folder_with_wrong_md5_is_refused_unless_verification_is_off(tmp_path):
    folder = fake_cifar_batches(tmp_path / "cifar-10-batches-py")
    out = tmp_path / "prepared"
    with pytest.raises(DataSourceError, match=r"data_batch_1: MD5 does not match the official"):
        prepare(folder, out, dataset="cifar10")
    assert_nothing_left(out)
    manifest = prepare(folder, out, dataset="cifar10", verify_checksums=False)
    assert manifest["checksums_verified"] is False
    assert "switched off" in manifest["source"]["checksum_note"]
    assert manifest["counts"]["train"] == 20 and manifest["counts"]["test"] == 4
    images = np.load(out / "train_images.npy")
    raw = pickle.loads((folder / "data_batch_1").read_bytes())["data"][0]
    assert np.array_equal(images[0], raw.reshape(3, 32, 32).transpose(1, 2, 0))


def test_official_folder_with_matching_md5_is_verified(tmp_path, monkeypatch):
    folder = fake_cifar_batches(tmp_path / "cifar-10-batches-py")
    monkeypatch.setattr(CIFAR10, "train_list", [[n, md5(folder / n)] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[n, md5(folder / n)] for n, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5(folder / CIFAR10.meta["filename"])})
    manifest = prepare(tmp_path, tmp_path / "prepared", dataset="cifar10")  # the parent folder is found too
    assert manifest["checksums_verified"] is True


def test_official_archive_md5_is_checked(tmp_path):
    folder = fake_cifar_batches(tmp_path / "src" / "cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    out = tmp_path / "prepared"
    with pytest.raises(DataSourceError, match=r"cifar-10-python\.tar\.gz: MD5 does not match the official"):
        prepare(archive, out, dataset="cifar10")
    assert_nothing_left(out)
    manifest = prepare(archive, out, dataset="cifar10", verify_checksums=False)
    assert manifest["source"]["kind"] == "official archive"
    assert manifest["counts"]["train"] == 20


def test_corrupt_official_archive(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(gzip.compress(b"garbage" * 100))
    with pytest.raises(DataSourceError, match="corrupt archive"):
        prepare(archive, tmp_path / "prepared", dataset="cifar10", verify_checksums=False)


def test_download_failure_says_how_to_use_a_local_copy(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    offline_class = type("C", (), {"__init__": offline})
    monkeypatch.setattr("stretchnas.data.sources.torchvision_class", lambda name: offline_class)
    out = tmp_path / "prepared"
    with pytest.raises(DataSourceError) as info:
        prepare("download", out, dataset="cifar10")
    message = str(info.value)
    assert "\n" not in message
    assert "STRETCHNAS_CIFAR10" in message and "data.source" in message
    assert_nothing_left(out)
    assert not (tmp_path / "downloads").exists()


def test_missing_source_path(tmp_path):
    with pytest.raises(DataSourceError, match=r"nowhere: no such file or folder"):
        prepare(tmp_path / "nowhere", tmp_path / "prepared")


def test_image_size_resizes_like_pil_and_records_the_original_size(imagefolder, tmp_path):
    from PIL import Image

    small = prepare(imagefolder, tmp_path / "small", image_size=4)
    full = prepare(imagefolder, tmp_path / "full")
    assert small["image_size"] == [4, 4] and small["resized_from"] == [8, 8]
    resized = np.load(tmp_path / "small" / "train_images.npy")
    assert resized.shape == (18, 4, 4, 3) and resized.dtype == np.uint8
    # torch's antialiased bilinear is PIL's bilinear reduction, to rounding
    for image, small_image in zip(np.load(tmp_path / "full" / "train_images.npy"), resized, strict=True):
        expected = np.asarray(Image.fromarray(image).resize((4, 4), Image.BILINEAR), dtype=np.int16)
        assert np.abs(expected - small_image.astype(np.int16)).max() <= 1
    expected_mean = (resized.astype(np.float64) / 255).mean(axis=(0, 1, 2))  # statistics of what is stored
    assert np.allclose(small["mean"], expected_mean, atol=1e-6) and small["mean"] != full["mean"]


def test_no_image_size_keeps_the_source_size(imagefolder, tmp_path):
    manifest = prepare(imagefolder, tmp_path / "same", image_size=8)
    assert manifest["image_size"] == [8, 8]
    plain = prepare(imagefolder, tmp_path / "plain")
    assert plain["arrays_sha256"] == manifest["arrays_sha256"] and plain["resized_from"] is None
