"""Process-wide settings: Arrow's memory pool, the CPUs work may use, BLAS's threads while the check runs.

Arrow's pool: its default (mimalloc in the PyPI wheels) allocated the readers' hash tables two to four times
slower than jemalloc on the benchmark machine, and kept more memory (10M judgments: 3.09 GiB peak against
2.90 GiB; ``benchmarks/README.md``). A library must not change a host process's allocator behind its back, so
only the CLI (and the benchmarks, which measure what the CLI does) call this; a release's text is then built
with mimalloc (:func:`text_building_pool`). A user's ``ARROW_DEFAULT_MEMORY_POOL`` always wins. BLAS's threads are another matter: the check limits them only while
it runs and gives them back (:func:`single_threaded_blas`), so the library does it too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

#: Whether :func:`configure_arrow` chose Arrow's pool: the process is the CLI's, so a release may switch it.
_POOL_CHOSEN = False


def configure_arrow() -> str:
    """Use jemalloc for Arrow unless the user chose a pool; returns the pool's backend name."""
    import pyarrow as pa

    global _POOL_CHOSEN
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
            _POOL_CHOSEN = True
        except (NotImplementedError, pa.ArrowNotImplementedError):  # a build without jemalloc: keep the default
            pass
    return str(pa.default_memory_pool().backend_name)


@contextmanager
def text_building_pool() -> Iterator[None]:
    """Arrow's mimalloc pool while a release builds its text, where :func:`configure_arrow` chose jemalloc;
    the pool before is restored after. Nothing changes in a host process (the library API) or when the user
    chose a pool.

    Why: Arrow's jemalloc hands every freed buffer of 8 MiB or more back to the system at once, so each of a
    release's text buffers (tens of MB, block after block) is fresh pages, which the kernel zeroes; mimalloc
    reuses them. A 10M-judgment release: 35.5–36.2 s and 52 CPU-s with jemalloc, 30.8–31.2 s and 42.4 CPU-s
    with mimalloc (``benchmarks/README.md``); the check keeps jemalloc, faster and leaner there. Call it only
    while no other thread allocates from Arrow (a buffer keeps the pool it came from, so switching back is safe).
    """
    import pyarrow as pa

    before = pa.default_memory_pool()
    switched = False
    if _POOL_CHOSEN and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        try:
            pa.set_memory_pool(pa.mimalloc_memory_pool())
            switched = True
        except (NotImplementedError, pa.ArrowNotImplementedError):  # a build without mimalloc: keep the pool
            pass
    try:
        yield
    finally:
        if switched:
            pa.set_memory_pool(before)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system tells it, as ``taskset`` and container
    CPU sets narrow it; else ``os.cpu_count()``): how many threads the check's parallel loops start."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def single_threaded_blas() -> AbstractContextManager[object]:
    """While the check runs, numpy's and scipy's BLAS (OpenBLAS in the wheels) use one thread, restored on exit.

    Why: the check keeps the CPUs busy with its own threads (consensus on a second core, Dawid–Skene's pieces,
    the hotspots), and its BLAS products are small (a bootstrap's 1,000 replicates × at most 2¹⁶ blocks).
    OpenBLAS's workers spin-wait between calls, taking cores from those threads: at 10M judgments on two cores
    one BLAS thread saved 0.3–0.7 s of CPU in every alternating round, and 0–0.35 s of wall time
    (``benchmarks/README.md``). threadpoolctl's limit is process-wide while it lasts, as scikit-learn uses it.
    """
    from threadpoolctl import threadpool_limits

    limits: AbstractContextManager[object] = threadpool_limits(limits=1, user_api="blas")  # the package is untyped
    return limits
