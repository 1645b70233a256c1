"""What every resumable run shares: RNG capture, atomic checkpoints, identity checks, provenance."""

from __future__ import annotations

import random
import resource
import subprocess
from pathlib import Path

import numpy as np
import torch

from stretchnas import __version__


class RunError(RuntimeError):
    """A run cannot start or continue; the message says why and what to do."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def capture_rng() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _flatten(tree, prefix="") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_differences(old: dict, new: dict) -> list[str]:
    a, b = _flatten(old), _flatten(new)
    return [
        f"{k}: {a.get(k, '<unset>')!r} (checkpoint) vs {b.get(k, '<unset>')!r} (now)"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


def load_checkpoint(path: Path, identity: dict) -> dict | None:
    """The checkpoint's state, or None; refuses one written under another identity."""
    if not path.exists():
        return None
    state = torch.load(path, weights_only=False)
    if state["identity"] != identity:
        raise RunError(
            f"{path}: written by a different configuration; refusing to resume. Differing fields: "
            + "; ".join(config_differences(state["identity"], identity))
            + ". Use another --out or delete the folder."
        )
    return state


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def versions() -> dict:
    return {"stretchnas": __version__, "torch": torch.__version__, "git_commit": git_commit()}


def provenance(data) -> dict:
    """What run.json records about where a run ran and on which data."""
    return {
        "versions": versions(),
        "data": {
            "root": str(data.root),
            "manifest_sha256": data.manifest_sha256,
            "source": data.manifest["source"].get("location"),
        },
        "device": "cpu",
        "threads": torch.get_num_threads(),
    }


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def configure_torch(threads: int | None, deterministic: bool) -> None:
    if threads:
        torch.set_num_threads(threads)
    if deterministic:
        torch.use_deterministic_algorithms(True)


def is_complete(out: Path, final_file: str) -> bool:
    import json

    run_json = out / "run.json"
    if not ((out / final_file).exists() and run_json.exists()):
        return False
    return json.loads(run_json.read_text()).get("status") == "complete"
