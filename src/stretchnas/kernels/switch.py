"""The one switch of the custom kernels: inside `plain_kernels()`, every forward runs torch's plain modules.

The fused batch norm (`normalized_mix`) and the depthwise input gradient (`depthwise`) are
once-differentiable; a graph that is differentiated twice (the exact Hessian-vector product of DARTS's
second order, docs/method.md §5) is built inside this context.
"""

from __future__ import annotations

import contextlib
import contextvars

_PLAIN: contextvars.ContextVar[bool] = contextvars.ContextVar("plain_kernels", default=False)


@contextlib.contextmanager
def plain_kernels():
    """Forwards inside run the plain modules."""
    token = _PLAIN.set(True)
    try:
        yield
    finally:
        _PLAIN.reset(token)


def plain_kernels_requested() -> bool:
    """Whether the forward runs inside `plain_kernels`."""
    return _PLAIN.get()
