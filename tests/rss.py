"""Peak resident memory of this test process and its children (Linux), for
memory-bound tests."""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path


def reset_peak_rss() -> None:
    """Reset VmHWM (Linux >= 4.0), so the peak measured is the caller's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def descendants_peak_rss() -> dict[int, int]:
    """Peak resident memory (VmHWM, bytes) of every live process descended from this
    one: parse workers are children of the forkserver, a child of this process."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])  # after "pid (comm) state"
    me, found = os.getpid(), set[int]()
    changed = True
    while changed:
        more = {pid for pid, ppid in parents.items() if (ppid == me or ppid in found)}
        changed, found = not more <= found, found | more
    peaks = {}
    for pid in found:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) * 1024
    return peaks
