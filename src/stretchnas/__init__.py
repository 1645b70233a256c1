"""stretchnas: reproducible differentiable NAS with stretchable cells."""

__version__ = "0.1.0"
