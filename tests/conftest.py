import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cifar10_source() -> str:
    """The real CIFAR-10 copy named by STRETCHNAS_CIFAR10; CI must provide it."""
    path = os.environ.get("STRETCHNAS_CIFAR10")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("CI must set STRETCHNAS_CIFAR10 so the real-data tests run")
        pytest.skip("STRETCHNAS_CIFAR10 is not set: real-data test skipped")
    if not Path(path).exists():
        pytest.fail(f"STRETCHNAS_CIFAR10={path} does not exist")
    return path


@pytest.fixture(scope="session")
def prepared_cifar10(cifar10_source, tmp_path_factory):
    """The full CIFAR-10 copy prepared once per session, with the smoke scale's splits."""
    from stretchnas.config import load_settings
    from stretchnas.data.prepare import prepare_data

    data = load_settings(REPO / "params.yaml", "smoke", environ={})["data"]
    out = tmp_path_factory.mktemp("cifar10") / "prepared"
    prepare_data(
        cifar10_source,
        out,
        "cifar10",
        data["splits"],
        data["seed"],
        data["train_per_class"],
        data["test_per_class"],
        verify_checksums=True,
    )
    return out


def write_image(path: Path, size=(8, 8), seed=0, fmt="PNG"):
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)


@pytest.fixture
def imagefolder(tmp_path) -> Path:
    """A tiny ImageFolder tree: 3 classes, 6 train and 2 test PNGs each, 8x8."""
    root = tmp_path / "tree"
    seed = 0
    for split, count in (("train", 6), ("test", 2)):
        for cls in ("ant", "bee", "cat"):
            for i in range(count):
                seed += 1
                write_image(root / split / cls / f"{i:03d}.png", seed=seed)
    return root


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


sys.path.insert(0, str(Path(__file__).parent))
