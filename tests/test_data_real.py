"""The real CIFAR-10 copy (STRETCHNAS_CIFAR10): counts, statistics, manifest."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.realdata


def test_full_cifar10_copy_prepares_to_the_official_counts_and_statistics(prepared_cifar10):
    manifest = json.loads((prepared_cifar10 / "manifest.json").read_text())
    assert manifest["counts"]["train"] == 50_000 and manifest["counts"]["test"] == 10_000
    assert set(manifest["counts"]["train_per_class"].values()) == {5000}
    assert set(manifest["counts"]["test_per_class"].values()) == {1000}
    assert np.allclose(manifest["mean"], (0.4914, 0.4822, 0.4465), atol=0.002)
    # the official archive has published MD5s; an ImageFolder copy (such as a JPEG export) has none
    if manifest["source"]["kind"].startswith("imagefolder"):
        assert manifest["checksums_verified"] is False
        assert "not verifiable" in manifest["source"]["checksum_note"]
    else:
        assert manifest["checksums_verified"] is True
        assert "official MD5s verified" in manifest["source"]["checksum_note"]
    assert manifest["classes"][0] == "airplane" and manifest["classes"][-1] == "truck"
    assert manifest["image_size"] == [32, 32]
    # smoke splits: 60 images per class cut in thirds, 20 per class in each part
    three = manifest["splits"]["schemes"]["three_way"]
    for part in ("train", "val_alpha", "val_beta"):
        assert set(three[part]["per_class"].values()) == {20}
    assert manifest["splits"]["test"]["count"] == 200
