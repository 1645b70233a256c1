"""An exclusive claim on a run's output folder, taken over when its holder is surely gone."""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path

from stretchnas.runs import RunError
from stretchnas.runs.atomic import OutputError, machine_faults
from stretchnas.runs.processes import owner_gone, owner_mark

LOCK_FILE = ".stretchnas.lock"


class FolderLock:
    """An exclusive claim on an output folder for the life of a run.

    A lock file created with O_EXCL holds the holder's PID, host and process start time;
    it is removed on exit. A lock whose holder no longer runs on this host (killed, or its
    PID reused) is stale and taken over; one held by another host is reported, not
    guessed about, since its process cannot be checked from here.
    """

    def __init__(self, folder: Path, path: Path | None = None):
        self.folder = Path(folder)
        self.path = path or self.folder / LOCK_FILE
        self.owner = owner_mark()

    @classmethod
    def beside(cls, folder: Path) -> FolderLock:
        """A claim on a folder that is replaced whole (prepared data): its lock file lies beside it."""
        folder = Path(folder)
        with machine_faults(folder):
            folder.parent.mkdir(parents=True, exist_ok=True)
        return cls(folder, folder.parent / f".{folder.name}{LOCK_FILE}")

    def __enter__(self) -> FolderLock:
        for _ in range(3):
            try:
                with machine_faults(self.path):
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except OutputError as exc:
                if exc.errno != errno.EEXIST:
                    raise
            else:
                with os.fdopen(fd, "w") as handle:
                    json.dump(self.owner, handle)
                return self
            try:
                holder = json.loads(self.path.read_text() or "{}")
            except (OSError, ValueError):
                holder = {}  # being written right now, or garbage: treat as held
            holder = holder if isinstance(holder, dict) else {}
            if owner_gone(holder):
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            raise RunError(
                f"{self.folder}: another run is using this folder (process {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}); wait for it or use another --out. If that run is gone, delete {self.path}"
            )
        raise RunError(f"{self.path}: could not take the lock; try again")

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
