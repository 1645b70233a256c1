"""A data source's identity by content, never by the path it was read from: the same bytes are the same data.

Light (no torch): the workflow's plan fingerprints the preparation job with it, so a copy reached through a
symlink, moved elsewhere, or no longer named after it was prepared replans nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

DOWNLOAD = "download"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=8)
def _file_identity(real: str, size: int, mtime_ns: int) -> str:  # size and time: a file replaced in place
    return f"sha256:{sha256_file(real)}"


@lru_cache(maxsize=8)
def _folder_identity(real: str, mtime_ns: int) -> str:
    """The folder's listing (relative paths and sizes), hashed: an ImageFolder tree is not read whole."""
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(real)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(f"{os.path.relpath(path, real)}\0{os.path.getsize(path)}\n".encode())
    return f"listing-sha256:{digest.hexdigest()}"


def source_identity(source: str, prepared: str | os.PathLike) -> str:
    """What a data source is, for deciding whether prepared data is still its preparation: a file's SHA-256,
    a folder's hashed listing; `download` (the source when no local copy is named) is, where `prepared`
    holds a preparation, the copy that preparation recorded (the download cannot be checked without
    downloading); a path that does not exist is itself (preparing from it fails, naming it)."""
    if source == DOWNLOAD:
        recorded = _recorded_source(Path(prepared) / "manifest.json")
        return recorded or DOWNLOAD
    path = Path(source)
    try:
        real = path.resolve()
        stat = real.stat()
    except OSError:
        return source
    if real.is_dir():
        return _folder_identity(str(real), stat.st_mtime_ns)
    return _file_identity(str(real), stat.st_size, stat.st_mtime_ns)


def _recorded_source(manifest: Path) -> str | None:
    try:
        source = json.loads(manifest.read_text())["source"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(source, dict) and source.get("sha256"):
        return f"sha256:{source['sha256']}"
    return None
