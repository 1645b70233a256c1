"""Which device a run computes on, how it is made deterministic there, and what run.json says about it."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from stretchnas import StretchnasError

if TYPE_CHECKING:
    import torch

DEVICE_PATTERN = r"^(auto|cpu|cuda(:[0-9]+)?)$"


def check_device_spec(spec: str) -> str:
    """`spec` if it names a device the way the settings and options do; ValueError saying what is allowed."""
    if not isinstance(spec, str) or not re.match(DEVICE_PATTERN, spec):
        raise ValueError(f"{spec!r} is not auto, cpu, cuda or cuda:N")
    return spec


class DeviceError(StretchnasError, RuntimeError):
    """The requested device does not exist on this machine."""


def resolve_device(spec: str) -> torch.device:
    """`auto` (CUDA when available, else CPU), `cpu`, `cuda` or `cuda:N`, checked against this machine."""
    import torch

    try:
        check_device_spec(spec)
    except ValueError:
        raise DeviceError(f"device {spec!r}: use auto, cpu, cuda or cuda:N") from None
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            built = torch.version.cuda or "no CUDA"
            raise DeviceError(
                f"device {spec!r}: CUDA is not available here (torch {torch.__version__}, built with "
                f"{built}; no GPU visible); use --device cpu or auto"
            )
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f"device {spec!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def make_deterministic(device: torch.device) -> None:
    """torch.use_deterministic_algorithms, plus what CUDA needs for it: a fixed cuBLAS workspace
    (set before the first cuBLAS call) and cuDNN without autotuning."""
    import torch

    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True)


def describe_device(device: torch.device) -> dict:
    """What run.json records: the device actually used, its name, the CUDA and cuDNN versions."""
    import torch

    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return {
            "device": f"cuda:{index}",
            "device_name": torch.cuda.get_device_name(index),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
        }
    return {"device": "cpu", "device_name": "cpu", "cuda": None, "cudnn": None}


def to_device(batch: tuple[torch.Tensor, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
    """Copy a CPU batch to `device`; on CUDA through pinned memory, without blocking the host."""

    if device.type != "cuda":
        return batch
    return tuple(t.pin_memory().to(device, non_blocking=True) for t in batch)


def capture_cuda_rng() -> list | None:
    import torch

    return torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None


def restore_cuda_rng(states: list | None) -> None:
    import torch

    if states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states[: torch.cuda.device_count()]])


def configure_torch(threads: int | None, deterministic: bool, device: torch.device) -> None:
    """The thread count and determinism a run's settings ask for."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    if deterministic:
        make_deterministic(device)
