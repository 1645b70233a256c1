"""Reading the JSON and YAML files a user hands over or a run left behind, with one clear error each."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_document(path: str | os.PathLike, parse: Callable[[str], Any], error: type[Exception], what: str) -> Any:
    """`parse(text of path)`, or `error` naming the file and the cause (missing, unreadable, not parseable)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{path}: a folder, not a {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read this {what} ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        return parse(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError: whatever the parser reports
        reason = str(exc).replace("\n", " ")
        raise error(f"{path}: not a valid {what} ({reason})") from None
