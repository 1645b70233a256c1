import numpy as np
import pytest
import torch

from stretchnas.data.cache import PreparedData, PreparedDataError
from stretchnas.data.prepare import prepare_data
from stretchnas.data.splits import SplitError, make_splits
from stretchnas.data.streams import BatchStream
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


@pytest.mark.parametrize("size, padding", [(32, 4), (16, 2)])
def test_random_crop_pads_an_eighth_of_the_side(size, padding):
    crop = train_transform([0.5] * 3, [0.5] * 3, crop=size).transforms[0]
    assert crop.size == (size, size) and crop.padding == [padding] * 4
    # the largest shift it can make: a constant image crops to a frame of zeros exactly `padding` wide
    image = torch.full((3, size, size), 255, dtype=torch.uint8)
    widths = set()
    for seed in range(200):
        torch.manual_seed(seed)
        column = crop(image)[0, size // 2]
        widths.add(int((column == 0).sum()))
    assert max(widths) == padding


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


def test_persistent_stream_uses_every_image_once_per_pass_and_resumes(prepared_tree):
    part = prepared_tree.subset("two_way", "val_alpha")  # 9 images
    stream = BatchStream(part, batch_size=4, seed=0, name="val_alpha", mode="persistent")
    first_pass = [int(i) for _ in range(len(stream)) for i in stream.next_indices()]
    assert sorted(first_pass) == list(range(9))
    state = stream.state_dict()
    after = [stream.next_indices().tolist() for _ in range(5)]
    resumed = BatchStream(part, batch_size=4, seed=0, name="val_alpha", mode="persistent")
    resumed.load_state_dict(state)
    assert [resumed.next_indices().tolist() for _ in range(5)] == after
    assert after[0] != first_pass[:4]  # a new pass is reshuffled
    images, labels = stream.next()
    assert images.dtype == torch.uint8 and images.shape[1:] == (3, 8, 8) and labels.dtype == torch.long


def test_fresh_stream_draws_the_first_batch_of_a_new_shuffle_every_step(prepared_tree):
    """`fresh` samples with replacement across steps: consecutive batches are independent draws of 4 of 9
    images, so they share an image with probability 1 - C(5,4)/C(9,4) = 0.96; `persistent` walks one
    shuffled pass, where consecutive batches share one only across a pass boundary (1 step in 3)."""
    part = prepared_tree.subset("two_way", "val_alpha")  # 9 images

    def shared_fraction(mode):
        stream = BatchStream(part, batch_size=4, seed=0, name="val_alpha", mode=mode)
        draws = [set(stream.next_indices().tolist()) for _ in range(300)]
        assert all(len(d) in (4, 1) for d in draws)  # no image twice within one batch
        return sum(bool(a & b) for a, b in zip(draws, draws[1:])) / (len(draws) - 1)

    assert shared_fraction("fresh") > 0.9
    assert shared_fraction("persistent") < 0.4
    with pytest.raises(ValueError, match="stream mode 'sometimes'"):
        BatchStream(part, 4, 0, "x", mode="sometimes")
