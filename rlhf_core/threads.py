"""How many CPU threads torch uses while a piece of work runs.

A tiny model's matrices are too small for a second thread to pay: on 2 cores, one thread trains
`tiny` about as fast as two, and when anything else runs beside it (the app redrawing a chart, a
browser, another job) two spinning OpenMP threads slow each other several times over. The lesson
therefore trains with one thread. The setting is process-wide, so overlapping users count in: the
first one in sets it, the last one out restores what was there before.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_users = 0
_before: int | None = None


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the body with torch.set_num_threads(count); count <= 0 leaves torch's setting alone."""
    global _users, _before
    if count <= 0:
        yield
        return
    import torch

    with _lock:
        if _users == 0:
            _before = torch.get_num_threads()
        _users += 1
        torch.set_num_threads(count)
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _before is not None:
                torch.set_num_threads(_before)


def with_torch_threads(count: int, steps: Iterator[dict]) -> Iterator[dict]:
    """A generator trainer run under torch_threads(count), step by step."""
    with torch_threads(count):
        yield from steps
