"""Parameters, FLOPs, depth and width of an evaluation network (docs/method.md §8).

* params_m: parameters in millions without the auxiliary head, as DARTS's
  count_parameters_in_MB reports them.
* conv_linear_macs_m: multiply-adds (millions) of convolutions and linear layers,
  from torch.utils.flop_counter (which counts 2 FLOPs per multiply-add), one image.
* thop_style_flops_m: the same plus the rules of thop 0.1.1 (the counter
  DARTS-family papers used): batch norm 2 per input element, doubled when affine;
  average pooling 1 per output element; adaptive average pooling (window + 1) per
  output element; max pooling and ReLU zero. This is the column the paper's
  Table 1 "FLOPs" matches (within 0.6% for the published cells).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from stretchnas.method.evalnet import EvalNetwork
from stretchnas.method.genotype import Genotype
from stretchnas.method.published_genotypes import get_genotype
from stretchnas.runs.device import resolve_device


def count_params_m(model: nn.Module) -> float:
    return sum(p.numel() for name, p in model.named_parameters() if "auxiliary" not in name) / 1e6


def _input(imagenet: bool) -> torch.Tensor:
    return torch.randn(1, 3, 224, 224) if imagenet else torch.randn(1, 3, 32, 32)


def count_conv_linear_macs_m(model: nn.Module, x: torch.Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return counter.get_total_flops() / 2 / 1e6


def _extra_thop_ops(module: nn.Module, inputs, output) -> float:
    if isinstance(module, nn.BatchNorm2d):
        return 2 * inputs[0].numel() * (2 if module.affine else 1)
    if isinstance(module, nn.AvgPool2d):
        return output.numel()
    if isinstance(module, nn.AdaptiveAvgPool2d):
        window = math.prod(inputs[0].shape[2:]) // math.prod(output.shape[2:])
        return (window + 1) * output.numel()
    return 0.0


def count_thop_style_flops_m(model: nn.Module, x: torch.Tensor) -> float:
    extra = [0.0]

    def hook(module, inputs, output):
        extra[0] += _extra_thop_ops(module, inputs, output)

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        macs = count_conv_linear_macs_m(model, x)
    finally:
        for handle in handles:
            handle.remove()
    return macs + extra[0] / 1e6


def measure(
    genotype: Genotype, layers: int, C: int, imagenet: bool = False, num_classes: int | None = None, device: str = "cpu"
) -> dict:
    num_classes = num_classes or (1000 if imagenet else 10)
    target = resolve_device(device)
    model = EvalNetwork(genotype, C, num_classes, layers, auxiliary=True, imagenet=imagenet).eval().to(target)
    x = _input(imagenet).to(target)
    return {
        "params_m": round(count_params_m(model), 6),
        "conv_linear_macs_m": round(count_conv_linear_macs_m(model, x), 3),
        "thop_style_flops_m": round(count_thop_style_flops_m(model, x), 3),
        "depth": {"normal": genotype.normal.depth(), "reduce": genotype.reduce.depth()},
        "width": {"normal": genotype.normal.width(), "reduce": genotype.reduce.width()},
        "layers": layers,
        "channels": C,
        "input": list(x.shape[1:]),
        "device": str(target),
    }


def measure_named(genotype_ref: str, layers: int, C: int, imagenet: bool = False, device: str = "cpu") -> dict:
    """`stretchnas measure`: a published genotype by name, or a genotype file, measured."""
    return {"genotype": genotype_ref, **measure(get_genotype(genotype_ref), layers, C, imagenet, device=device)}
