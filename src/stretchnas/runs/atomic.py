"""Writes that either complete or leave nothing behind (unique temp file or folder + rename).

Every file this package writes goes through here: a temp file with a unique name
in the target's folder (so two writers never share one), flushed, given the
user's normal mode (mkstemp creates files 0600), then renamed over the target.
A fault of the machine (no space, read-only, no permission) becomes one
`OutputError` naming the file and the cause, with the temp file removed.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from stretchnas import StretchnasError
from stretchnas.runs.processes import owner_gone, owner_mark

FAULTS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large for this file system or limit",
    errno.EIO: "input/output error from the device",
}


class OutputError(StretchnasError, OSError):
    """An output could not be written; the message names the file and the cause."""

    def __str__(self) -> str:
        return str(self.strerror)


def output_error(path: Path, exc: OSError) -> OutputError:
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):  # a folder wanted where a file is
        blocking = next((p for p in (Path(path), *Path(path).parents) if p.is_file()), None)
        if blocking is not None:
            return OutputError(
                exc.errno, f"{path}: {blocking} is a file, so no folder can be made there; choose another --out"
            )
    cause = FAULTS.get(exc.errno, exc.strerror or str(exc))
    return OutputError(exc.errno, f"{path}: cannot write ({cause}); nothing was changed there")


@contextlib.contextmanager
def machine_faults(path: Path) -> Iterator[None]:
    """Turn an OSError of writing `path` into an OutputError naming it."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise output_error(path, exc) from None


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
    with machine_faults(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        with machine_faults(path):
            write(tmp)
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, _user_mode("file"))
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _write_all(tmp: Path, data: bytes) -> None:
    with open(tmp, "wb") as handle:
        handle.write(data)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda tmp: _write_all(tmp, data))


def atomic_save(path: str | os.PathLike, save: Callable[[io.BytesIO], None]) -> None:
    """Serialise into memory with `save(buffer)` (torch.save, savefig), then write the bytes atomically,
    so a full disk is reported as an OSError of our own write, not as a serialiser's internal error."""
    buffer = io.BytesIO()
    save(buffer)
    atomic_write_bytes(path, buffer.getvalue())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


SCRATCH_MARK = ".stretchnas-scratch"  # inside every scratch folder: who made it


def remove_stale_scratch(path: Path) -> list[Path]:
    """Remove scratch folders a killed writer of `path` left beside it (only ours: marked, holder dead)."""
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*"):
        mark = candidate / SCRATCH_MARK
        if not (candidate.is_dir() and mark.is_file()):
            continue
        try:
            owner = json.loads(mark.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(owner, dict) and owner_gone(owner):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def check_replaceable(path: Path, replaceable: Callable[[Path], str | None]) -> None:
    """OutputError unless `path` is absent, or a folder `replaceable` accepts (returns None for)."""
    if path.exists() or path.is_symlink():
        reason = "it is a file, not a folder" if not path.is_dir() else replaceable(path)
        if reason is not None:
            raise OutputError(errno.EEXIST, f"{path}: refusing to replace it: {reason}; choose another --out")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, replaceable: Callable[[Path], str | None]) -> Iterator[Path]:
    """Yield a scratch directory that replaces `path` only if the block succeeds.

    The scratch directory is a sibling of `path` so the final rename stays on one
    filesystem. An existing `path` is replaced only if `replaceable(path)` returns
    None (recognisably this tool's output of the same kind, holding nothing else);
    otherwise the returned reason is raised before any work, and nothing is touched.
    """
    path = Path(os.path.abspath(path))
    check_replaceable(path, replaceable)
    with machine_faults(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_scratch(path)
        scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    owner = json.dumps(owner_mark())
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    try:
        with machine_faults(scratch):
            (scratch / SCRATCH_MARK).write_text(owner)
            os.chmod(scratch, _user_mode("dir"))  # mkdtemp makes it private; the result should not be
        with machine_faults(path):  # a full disk while the caller writes names the output, not a temp file
            yield scratch
        with machine_faults(path):
            (scratch / SCRATCH_MARK).unlink()
            if path.exists():
                (path / SCRATCH_MARK).write_text(owner)  # so a kill before the removal below leaves it stale
                os.replace(path, old)
                try:
                    os.replace(scratch, path)
                except BaseException:
                    os.replace(old, path)  # put the previous output back
                    (path / SCRATCH_MARK).unlink()
                    raise
            else:
                os.replace(scratch, path)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def unexpected_entries(folder: Path, expected: Iterable[str]) -> list[str]:
    """Names in `folder` other than `expected` (what replacing the folder would delete besides our files)."""
    return sorted(set(os.listdir(folder)) - set(expected))
