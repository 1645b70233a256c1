"""Checkpoints of a run: its identity, the state of its components and every random generator, written
atomically and refused on load when another identity wrote them or they do not read back."""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from stretchnas.runs import RunError
from stretchnas.runs.atomic import atomic_save
from stretchnas.runs.device import capture_cuda_rng, restore_cuda_rng


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def capture_rng() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": capture_cuda_rng(),
    }


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    restore_cuda_rng(state.get("cuda"))


def dotted_keys(tree, prefix="") -> dict:
    """A nested dict as one level: {"a.b": leaf}."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(dotted_keys(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def identity_differences(recorded: dict, requested: dict, recorded_as: str) -> list[str]:
    """'field: old (recorded_as) vs new (now)' for every field in which two identities differ."""
    a, b = dotted_keys(recorded), dotted_keys(requested)
    return [
        f"{k}: {a.get(k, '<unset>')!r} ({recorded_as}) vs {b.get(k, '<unset>')!r} (now)"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


def as_json(obj: Any) -> Any:
    """`obj` as it reads back from JSON (tuples become lists), so identities compare equal."""
    return json.loads(json.dumps(obj))


def _floating_tensors(tree) -> list[torch.Tensor]:
    items = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list | tuple) else ()
    found = []
    for value in items:
        if isinstance(value, torch.Tensor):
            if value.is_floating_point():
                found.append(value)
        else:
            found += _floating_tensors(value)
    return found


def all_finite(tree) -> bool:
    """Whether every floating-point tensor in a (nested) state dict is finite: one fused reduction per dtype
    over all of them per device (a supernet's state holds ten thousand small tensors; one check each costs a
    fifth of a second a checkpoint)."""
    groups: dict[tuple, list[torch.Tensor]] = {}
    for tensor in _floating_tensors(tree):
        if tensor.layout != torch.strided:  # sparse: checked alone
            if not bool(torch.isfinite(tensor.to_dense()).all()):
                return False
            continue
        groups.setdefault((tensor.device, tensor.dtype), []).append(tensor.detach().reshape(-1))
    return all(bool(torch.isfinite(torch.cat(tensors)).all()) for tensors in groups.values())


def non_finite_tensors(tree, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in a (nested) state dict that hold NaN or infinity."""
    if not prefix and all_finite(tree):
        return []
    bad = []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list | tuple) else ()
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                bad.append(name)
        else:
            bad.extend(non_finite_tensors(value, f"{name}."))
    return bad


class PackedTensor(NamedTuple):
    """Where a packed tensor's values lie: its group's flat tensor, from `offset`, `shape` row-major."""

    group: str
    offset: int
    shape: tuple[int, ...]


PACKED_FORMAT = "stretchnas packed tensors 1"


def _map_leaves(tree, leaf):
    """`tree` rebuilt with `leaf` applied to everything that is not a dict or a list (tuples are leaves:
    random generators' states are tuples)."""
    if isinstance(tree, dict):
        return {key: _map_leaves(value, leaf) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_map_leaves(value, leaf) for value in tree]
    return leaf(tree)


def pack(state: dict) -> dict:
    """`state` with its plain dense tensors moved into one flat tensor per dtype and device: torch.save writes
    one record per tensor, and a supernet's weights, optimiser state and statistics are some 20,000 small
    tensors (1.3 s a checkpoint at 20 cells, 0.2 s packed). The values are copied exactly; parameters,
    tensors that require grad and sparse tensors are kept as they are."""
    groups: dict[str, list[torch.Tensor]] = {}
    sizes: dict[str, int] = {}

    def packed(value):
        if type(value) is torch.Tensor and value.layout == torch.strided and not value.requires_grad:
            key = f"{value.dtype}@{value.device}"
            groups.setdefault(key, []).append(value.reshape(-1))
            offset = sizes.get(key, 0)
            sizes[key] = offset + value.numel()
            return PackedTensor(key, offset, tuple(value.shape))
        return value

    tree = _map_leaves(state, packed)
    return {"format": PACKED_FORMAT, "tree": tree, "flat": {key: torch.cat(parts) for key, parts in groups.items()}}


def unpack(saved: Any) -> Any:
    """What `pack` was given, each tensor its own contiguous copy (on the device torch.load mapped it to)."""
    if not (isinstance(saved, dict) and saved.get("format") == PACKED_FORMAT):
        return saved  # written before checkpoints were packed
    flat = saved["flat"]

    def unpacked(value):
        if isinstance(value, PackedTensor):
            numel = math.prod(value.shape)
            return flat[value.group][value.offset : value.offset + numel].view(value.shape).clone()
        return value

    return _map_leaves(saved["tree"], unpacked)


# A checkpoint is this header line, the SHA-256 of what follows, then torch.save's bytes: bytes overwritten in
# place (same size, still valid tensors) fail the checksum instead of resuming a different run.
HEADER = b"stretchnas-checkpoint sha256 "


def save_checkpoint(path: Path, state: dict) -> None:
    def write(buffer: io.BytesIO) -> None:
        payload = io.BytesIO()
        torch.save(pack(state), payload)
        data = payload.getvalue()
        buffer.write(HEADER + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)

    atomic_save(path, write)


def checkpoint_payload(path: Path) -> bytes:
    """The checkpoint's torch.save bytes, checked against its recorded SHA-256 (ValueError where they differ);
    a file written before checksums were recorded is returned whole."""
    data = path.read_bytes()
    if not data.startswith(HEADER):
        return data
    line, _, payload = data.partition(b"\n")
    recorded = line[len(HEADER) :].decode("ascii", "replace")
    actual = hashlib.sha256(payload).hexdigest()
    if actual != recorded:
        raise ValueError(f"checksum mismatch: recorded {recorded[:12]}..., the bytes give {actual[:12]}...")
    return payload


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint at `path` cannot be trusted (missing, or its bytes fail the checksum); None if it can."""
    try:
        checkpoint_payload(path)
    except FileNotFoundError:
        return "no checkpoint was written yet"
    except (OSError, ValueError) as exc:
        return str(exc)
    return None


def read_checkpoint(path: Path) -> Any:
    """What a checkpoint holds, on the CPU, after its checksum is verified (ValueError where it fails)."""
    return unpack(torch.load(io.BytesIO(checkpoint_payload(path)), weights_only=False, map_location="cpu"))


def load_checkpoint(path: Path, identity: dict) -> dict | None:
    """The checkpoint's state, or None; refuses one written under another identity, or unreadable, or whose
    bytes fail its checksum."""
    if not path.exists():
        return None
    try:
        # on the CPU; load_state_dict then copies each tensor to the device that resumes the run
        state = read_checkpoint(path)
        if not isinstance(state, dict) or "identity" not in state:
            raise ValueError("not a checkpoint of this tool")
    except Exception as exc:  # truncated or empty files raise EOFError, RuntimeError, UnpicklingError, ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunError(
            f"{path}: corrupt checkpoint ({reason}); delete it to start this run over from the beginning, "
            "or use another --out"
        ) from None
    if as_json(state["identity"]) != as_json(identity):
        raise RunError(
            f"{path}: written by a different configuration; refusing to resume. Differing fields: "
            + "; ".join(identity_differences(as_json(state["identity"]), as_json(identity), "checkpoint"))
            + ". Use another --out or delete the folder."
        )
    return state
