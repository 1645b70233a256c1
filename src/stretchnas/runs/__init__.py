"""Run plumbing: resumable runs (folder lock, checkpoint, provenance, epoch loop), atomic writes,
documents, processes and devices."""

from stretchnas import StretchnasError


class RunError(StretchnasError, RuntimeError):
    """A run cannot start or continue; the message says why and what to do."""
