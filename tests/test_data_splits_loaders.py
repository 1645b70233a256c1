import numpy as np
import pytest
import torch

from stretchnas.data.cache import PreparedData, PreparedDataError
from stretchnas.data.loaders import ArchBatches, make_loader
from stretchnas.data.prepare import prepare_data
from stretchnas.data.splits import SplitError, make_splits
from stretchnas.data.transforms import Cutout, eval_transform, train_transform

SCHEMES = {
    "two_way": {"train": 0.5, "val_alpha": 0.5, "val_beta": 0.0},
    "three_way": {"train": 1 / 3, "val_alpha": 1 / 3, "val_beta": 1 / 3},
}


def labels(per_class, classes=10):
    return np.repeat(np.arange(classes), per_class)


def test_splits_are_disjoint_class_balanced_and_seeded():
    train, test = labels(50), labels(10)
    a = make_splits(train, test, SCHEMES, seed=3, train_per_class=30, test_per_class=4)
    b = make_splits(train, test, SCHEMES, seed=3, train_per_class=30, test_per_class=4)
    c = make_splits(train, test, SCHEMES, seed=4, train_per_class=30, test_per_class=4)
    assert a == b and a != c
    three = a["schemes"]["three_way"]
    parts = [set(three[k]) for k in ("train", "val_alpha", "val_beta")]
    assert all(len(p) == 100 for p in parts)  # 10 per class each
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    for part in parts:
        assert np.all(np.bincount(train[sorted(part)], minlength=10) == 10)
    two = a["schemes"]["two_way"]
    assert two["val_beta"] == [] and len(two["train"]) == len(two["val_alpha"]) == 150
    # every scheme cuts the same class-balanced subset of images
    assert set(two["train"]) | set(two["val_alpha"]) == set().union(*parts)
    assert len(a["test"]) == 40 and np.all(np.bincount(test[a["test"]]) == 4)


def test_subset_larger_than_a_class_is_refused():
    with pytest.raises(
        SplitError, match=r"data\.train_per_class: 51 images per class requested but class 0 has only 50"
    ):
        make_splits(labels(50), labels(10), SCHEMES, 0, 51, None)


def test_cutout_zeroes_a_square_clipped_at_the_border():
    torch.manual_seed(0)
    areas = set()
    for _ in range(200):
        out = Cutout(16)(torch.ones(3, 32, 32))
        zero = (out == 0).all(dim=0)
        rows, cols = zero.any(dim=1).nonzero(), zero.any(dim=0).nonzero()
        assert zero.sum() == len(rows) * len(cols)  # one axis-aligned rectangle
        areas.add(int(zero.sum()))
    assert max(areas) == 256 and min(areas) < 256  # full square inside, clipped at edges


def test_transforms_shape_dtype_and_normalisation():
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    out = eval_transform(mean, std)(image)
    expected = (image.float() / 255 - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    assert torch.allclose(out, expected, atol=1e-6)
    augmented = train_transform(mean, std, cutout=16)(image)
    assert augmented.shape == (3, 32, 32) and augmented.dtype == torch.float32


@pytest.fixture
def prepared_tree(imagefolder, tmp_path):
    out = tmp_path / "prepared"
    prepare_data(str(imagefolder), out, "imagefolder", SCHEMES, 0, None, None)
    return PreparedData.open(out)


def test_prepared_data_is_memory_mapped_and_split(prepared_tree):
    assert isinstance(prepared_tree.arrays["train_images"], np.memmap)
    part = prepared_tree.subset("three_way", "val_beta")
    assert len(part) == 6  # 2 of 6 per class, 3 classes
    image, label = part[0]
    assert image.shape == (3, 8, 8) and image.dtype == torch.uint8 and 0 <= label < 3
    with pytest.raises(PreparedDataError, match="no split scheme 'four_way'"):
        prepared_tree.subset("four_way", "train")


def test_opening_an_unprepared_folder_says_what_to_run(tmp_path):
    with pytest.raises(PreparedDataError, match="manifest.json: missing; run `stretchnas prepare-data`"):
        PreparedData.open(tmp_path)


def test_persistent_arch_batches_use_every_image_once_per_pass(prepared_tree):
    part = prepared_tree.subset("two_way", "val_alpha")  # 9 images
    batches = ArchBatches(make_loader(part, batch_size=3, shuffle=True, seed=0), "persistent")
    seen = [int(x) for _ in range(3) for x in batches.next()[1]]
    labels_in_split = sorted(int(part.labels[i]) for i in part.indices)
    assert sorted(seen) == labels_in_split


def test_fresh_arch_batches_restart_the_loader_every_step(prepared_tree):
    part = prepared_tree.subset("two_way", "val_alpha")
    loader = make_loader(part, batch_size=3, shuffle=False, seed=0)
    fresh = ArchBatches(loader, "fresh")
    first = fresh.next()[0]
    assert all(torch.equal(fresh.next()[0], first) for _ in range(3))  # unshuffled: always the first batch
    with pytest.raises(ValueError, match="loader.arch_batches"):
        ArchBatches(loader, "sometimes")
