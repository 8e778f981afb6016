"""Process-wide settings the command line makes for reading label files fast, and the CPUs work may use.

One job: pick Arrow's memory pool. Arrow's default (mimalloc in the PyPI wheels) allocated the readers' hash
tables two to four times slower than jemalloc on the benchmark machine, and kept more memory (10M judgments:
3.09 GiB peak against 2.90 GiB; ``benchmarks/README.md``). A library must not change a host process's
allocator behind its back, so only the CLI (and the benchmarks, which measure what the CLI does) call this.
A user's ``ARROW_DEFAULT_MEMORY_POOL`` always wins.
"""

from __future__ import annotations

import os


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
