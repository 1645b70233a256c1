"""DARTS's CIFAR transforms on uint8 CHW tensors (torchvision.transforms.v2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.transforms import v2


class Cutout(torch.nn.Module):
    """DeVries & Taylor's cutout as DARTS applies it, after normalisation.

    torchvision's RandomErasing draws a box that always fits inside the image;
    cutout draws the centre uniformly and clips the square at the border, so
    the erased area shrinks near edges. The numbers depend on that, hence this class.
    """

    def __init__(self, length: int):
        super().__init__()
        self.length = length

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        y = int(torch.randint(height, ()).item())
        x = int(torch.randint(width, ()).item())
        half = self.length // 2
        y0, y1 = max(0, y - half), min(height, y + half)
        x0, x1 = max(0, x - half), min(width, x + half)
        image = image.clone()
        image[..., y0:y1, x0:x1] = 0.0
        return image


def train_transform(
    mean: Sequence[float], std: Sequence[float], crop: int = 32, padding: int | None = None, cutout: int = 0
):
    """Random crop (padding: an eighth of the side unless given, DARTS's 4 at 32), flip, normalise, cutout."""
    padding = crop // 8 if padding is None else padding
    steps = [
        v2.RandomCrop(crop, padding=padding),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(mean), list(std)),
    ]
    if cutout > 0:
        steps.append(Cutout(cutout))
    return v2.Compose(steps)


def eval_transform(mean: Sequence[float], std: Sequence[float]):
    return v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))])


def imagenet_transforms(mean: Sequence[float], std: Sequence[float], crop: int):
    """DARTS train_imagenet.py's (train, test) transforms: RandomResizedCrop, flip and colour jitter; resize
    to crop * 256/224 and centre crop."""
    train = v2.Compose(
        [
            v2.RandomResizedCrop(crop, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.2),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )
    test = v2.Compose(
        [
            v2.Resize(round(crop * 256 / 224), antialias=True),
            v2.CenterCrop(crop),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )
    return train, test
