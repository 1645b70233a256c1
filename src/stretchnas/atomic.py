"""Writes that either complete or leave nothing behind (unique temp file or folder + rename).

Every file this package writes goes through here: a temp file with a unique name
in the target's folder (so two writers never share one), flushed, given the
user's normal mode (mkstemp creates files 0600), then renamed over the target.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def _user_mode(kind: str) -> int:
    """0666 (files) or 0777 (folders) less the process umask, what open()/mkdir() would give."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if kind == "dir" else 0o666) & ~umask


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temp file beside `path`, then rename it over `path`.

    `write` receives a path (torch.save, savefig and numpy want one); the temp file
    keeps the target's suffix so writers that pick a format by suffix still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _user_mode("file"))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a scratch directory that replaces `path` only if the block succeeds.

    The scratch directory is a sibling of `path` so the final rename stays on
    one filesystem; an existing `path` is swapped out, never merged into.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(scratch, _user_mode("dir"))  # mkdtemp makes it private; the result should not be
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(scratch, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
