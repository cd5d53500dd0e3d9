"""Give the C heap's free memory back to the system after a burst of work (issue 12).

A big poll cycle reads and parses thousands of article texts; once they are stored the
service frees them, but glibc's allocator keeps the freed pages inside its heap, so the
idle service stayed tens of MB above what it holds.  ``malloc_trim(0)`` returns every
whole free page to the system (glibc 2.8 and later also releases pages in the middle of
the heap).  Elsewhere (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - no C library found
        return None
    try:
        fn = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    trim: Callable[[int], int] = fn
    return trim


def trim() -> bool:
    """Return the C heap's free pages to the system; False where it cannot be done."""
    fn = _malloc_trim()
    if fn is None:  # pragma: no cover - not glibc
        return False
    fn(0)
    return True
