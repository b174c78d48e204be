"""Users' files: found from the paths and globs given (light to import: the scripts check them before loading
anything heavy), and read with errors that name the file and the line (Python's UnicodeDecodeError and datasets'
DatasetGenerationError name neither)."""

from __future__ import annotations

import glob
import os
from contextlib import contextmanager


def not_utf8(path: str) -> ValueError | None:
    """The error for a file that is not UTF-8 (where the first bad byte is, and the fix); None if it is UTF-8."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        return ValueError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}, line {line}): convert it, "
                          f"e.g. `iconv -f latin1 -t utf-8`.")
    return None


@contextmanager
def reading(path: str):
    """Around the code that reads `path` as text: a decoding error becomes one that names the file and line."""
    try:
        yield
    except UnicodeDecodeError:
        raise (not_utf8(path) or ValueError(f"{path} is not UTF-8 text.")) from None


def dataset_error(path: str, err: Exception) -> ValueError:
    """datasets' failure to read `path`, said with its cause (datasets wraps it in DatasetGenerationError)."""
    causes = []
    while err is not None:
        causes.append(err)
        err = err.__cause__ or err.__context__
    if any(isinstance(c, UnicodeDecodeError) or "UTF8" in str(c) for c in causes):
        return not_utf8(path) or ValueError(f"{path} is not UTF-8 text.")
    deepest = " ".join(str(causes[-1]).split())
    return ValueError(f"could not read {path}: {deepest}.")


def resolve_files(patterns: list[str]) -> list[str]:
    """Expand directories and globs into a sorted file list; a pattern matching nothing is an error."""
    files = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            found = sorted(p for p in glob.glob(os.path.join(pattern, "**", "*"), recursive=True) if os.path.isfile(p))
        else:
            found = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True) if os.path.isfile(p))
        if not found:
            raise FileNotFoundError(f"no corpus file at {pattern!r}: give a file, a directory or a glob that "
                                    "matches files.")
        files += found
    return files
