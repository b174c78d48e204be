"""One run per output directory: two runs writing one folder would leave checkpoints of one and the final model
of the other. The lock is a file in the folder naming its owner (host and pid); a run killed with -9 leaves it
behind, and the next run on the same host sees that the owner is gone and takes it over."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from contextlib import contextmanager

logger = logging.getLogger(__name__)

LOCK_FILE = ".electra_hf.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _owner(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None  # half-written by a run killed at that moment, or removed meanwhile


def _take(path: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump({"host": socket.gethostname(), "pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                   "command": " ".join(sys.argv)}, f)
    return True


@contextmanager
def _directory_held(directory: str):
    """An exclusive flock on the directory itself, for the moment of a take-over (released if the process dies)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def output_dir_lock(output_dir: str, owner: bool = True):
    """Hold `output_dir` for this run (`owner`: the process that writes it; the others of a multi-process run
    pass False). A live run holding it is an error naming that run; a dead one's lock is taken over."""
    if not owner:
        yield
        return
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, LOCK_FILE)
    taken = _take(path)
    while not taken:
        holder = _owner(path)
        here = socket.gethostname()
        if holder is not None and (holder.get("host") != here or _alive(int(holder.get("pid", -1)))):
            where = "" if holder.get("host") == here else f" on {holder.get('host')}"
            raise ValueError(
                f"{output_dir} is in use by another run (pid {holder.get('pid')}{where}, started "
                f"{holder.get('started')}: {holder.get('command')}). Wait for it, use another --output_dir, or, if "
                f"that run is gone, delete {path}.")
        try:
            fresh = time.time() - os.path.getmtime(path) < 5
        except FileNotFoundError:
            continue  # released meanwhile
        if holder is None and fresh:
            time.sleep(0.2)  # its owner may be writing it right now
            continue
        with _directory_held(output_dir):  # two runs taking over at once: the second sees the first's lock
            if _owner(path) == holder:
                logger.warning("Taking over %s: the run that held it (pid %s) is gone.", path,
                               holder.get("pid") if holder else "unknown")
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass
                taken = _take(path)  # still holding the directory: a racer that re-reads sees it whole
    try:
        yield
    finally:
        if (_owner(path) or {}).get("pid") == os.getpid():
            os.remove(path)
