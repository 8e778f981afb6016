"""Process-wide settings: Arrow's memory pool, the CPUs work may use, BLAS's threads while the check runs.

Arrow's pool: its default (mimalloc in the PyPI wheels) allocated the readers' hash tables two to four times
slower than jemalloc on the benchmark machine, and kept more memory (10M judgments: 3.09 GiB peak against
2.90 GiB; ``benchmarks/README.md``). A library must not change a host process's allocator behind its back, so
only the CLI (and the benchmarks, which measure what the CLI does) call this. A user's
``ARROW_DEFAULT_MEMORY_POOL`` always wins. BLAS's threads are another matter: the check limits them only while
it runs and gives them back (:func:`single_threaded_blas`), so the library does it too.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager


def configure_arrow() -> str:
    """Use jemalloc for Arrow unless the user chose a pool; returns the pool's backend name."""
    import pyarrow as pa

    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except (NotImplementedError, pa.ArrowNotImplementedError):  # a build without jemalloc: keep the default
            pass
    return str(pa.default_memory_pool().backend_name)


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
