"""stretchnas: reproducible differentiable NAS with stretchable cells.

The package reads like docs/method.md's table of contents:

- ``method``: the search spaces and the mathematics (ops, cells, topology variables, regulariser,
  supernets, simplification, derivation, genotypes, evaluation networks);
- ``kernels``: faster computations of the same mathematics, behind one switch;
- ``search``: architecture gradients, optimisers, the search run, snapshots, random baselines;
- ``evaluation``: training from scratch, parameter and FLOP counts, NAS-Bench-201 lookup;
- ``data``: sources, the prepared cache, splits, batch streams, transforms;
- ``settings``: params.yaml, validated and typed;
- ``pipeline``: the workflow's jobs, dvc.yaml, experiments, summaries, costs;
- ``report``: runs to tidy data, tables, figures, claims;
- ``measurement``: step benchmarks, profiles and the straightforward reference implementations;
- ``runs``: resumable runs (lock, checkpoint, provenance, epoch loop), atomic writes, devices.
"""

__version__ = "0.1.0"


class StretchnasError(Exception):
    """A problem the user can act on; the message names the file, field or run and the cause.

    The CLI prints such an error as one line and exits with status 2; anything else is a bug, printed
    as one line too, with the traceback behind ``--debug``.
    """
