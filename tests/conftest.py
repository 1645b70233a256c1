import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# The optional data sources decide which experiments the plan holds (ImageNet's, NAS-Bench-201's): tests that
# want them set them explicitly, so every other test, and every process it starts, plans without them.
NB201_TABLES = os.environ.pop("STRETCHNAS_NB201", None)
os.environ.pop("STRETCHNAS_IMAGENET", None)


@pytest.fixture(autouse=True)
def depthwise_path_at_every_size(monkeypatch):
    """Tests run at sizes below stretchnas.kernels.depthwise's threshold: lower it, so every in-process test (supernet
    equivalence with the straightforward and the reference code, gradients, resume) runs the custom path."""
    from stretchnas.kernels import depthwise

    monkeypatch.setattr(depthwise, "MIN_ELEMENTS", 0)


def data_named(var: str, path: str | None, what: str, exists=Path.exists) -> str:
    """The data `var` names: CI must provide it; elsewhere its tests skip without it."""
    if not path:
        if os.environ.get("CI"):
            pytest.fail(f"CI must set {var} so the {what} tests run")
        pytest.skip(f"{var} is not set: {what} test skipped")
    if not exists(Path(path)):
        pytest.fail(f"{var}={path} does not exist")
    return path


@pytest.fixture(scope="session")
def nb201_tables() -> str:
    """The folder of NAS-Bench-201's tables named by STRETCHNAS_NB201; CI must provide it."""
    return data_named("STRETCHNAS_NB201", NB201_TABLES, "NAS-Bench-201", exists=Path.is_dir)


@pytest.fixture(scope="session")
def cifar10_source() -> str:
    """The real CIFAR-10 copy named by STRETCHNAS_CIFAR10; CI must provide it."""
    return data_named("STRETCHNAS_CIFAR10", os.environ.get("STRETCHNAS_CIFAR10"), "real-data")


@pytest.fixture(scope="session")
def prepared_cifar10(cifar10_source, tmp_path_factory):
    """The full CIFAR-10 copy prepared once per session, with the smoke scale's splits."""
    from stretchnas.data.prepare import prepare_data
    from stretchnas.settings.params import load_settings

    data = load_settings(REPO / "params.yaml", "smoke", environ={}).data
    out = tmp_path_factory.mktemp("cifar10") / "prepared"
    prepare_data(
        cifar10_source,
        out,
        "cifar10",
        {name: scheme.fractions() for name, scheme in data.split_schemes.items()},
        data.seed,
        data.train_per_class,
        data.test_per_class,
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


@pytest.fixture(scope="session")
def tiny_search_data(tmp_path_factory):
    """3 classes of 32x32 random images, prepared with two- and three-way splits."""
    from stretchnas.data.cache import PreparedData
    from stretchnas.data.prepare import prepare_data

    root = tmp_path_factory.mktemp("tiny_search")
    seed = 0
    for split, count in (("train", 12), ("test", 3)):
        for cls in ("a", "b", "c"):
            for i in range(count):
                seed += 1
                write_image(root / "tree" / split / cls / f"{i}.png", size=(32, 32), seed=seed)
    schemes = {
        "two_way": {"train": 0.5, "val_alpha": 0.5, "val_beta": 0.0},
        "three_way": {"train": 1 / 3, "val_alpha": 1 / 3, "val_beta": 1 / 3},
    }
    prepare_data(str(root / "tree"), root / "prepared", "imagefolder", schemes, 0, None, None)
    return PreparedData.open(root / "prepared")


def kill_at_first_checkpoint(command: list[str], out: Path, timeout: float = 120) -> None:
    """Start `command`, SIGKILL it as soon as it has written out/checkpoint.pt, and wait for it."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while not (out / "checkpoint.pt").exists():
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


sys.path.insert(0, str(Path(__file__).parent))
