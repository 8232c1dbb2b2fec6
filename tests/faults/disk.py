"""A validator's data directory on a small filesystem that the test can fill and free.

`small_filesystem(path, size_mb)` mounts a tmpfs of that size at `path` (the
tests and CI run as root; without the privilege the caller skips) and unmounts
it in a finally, lazily if a process still holds a file there. `fill(path,
leave)` writes a filler file until only `leave` bytes stay free; deleting the
filler is "space returns".
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

FILLER = "filler.bin"
CHUNK = 1 << 20


class MountUnavailable(Exception):
    """This process may not mount a filesystem (not root, or no mount in the sandbox)."""


@contextlib.contextmanager
def small_filesystem(path: Path, size_mb: int) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        raise MountUnavailable("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise MountUnavailable(done.stderr.strip() or "mount failed")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill(path: Path, leave: int) -> Path:
    """Write `path`/filler.bin until at most `leave` bytes are free; returns the filler."""
    filler = path / FILLER
    with open(filler, "ab") as handle:
        while (free := free_bytes(path)) > leave:
            handle.write(b"\0" * min(CHUNK, max(4096, free - leave)))
            handle.flush()
            os.fsync(handle.fileno())
    return filler
