"""Process-wide settings: Arrow's memory pool, glibc's malloc, numpy's code paths, the CPUs work may use, BLAS's
threads while the check runs.

Arrow's pool: its default (mimalloc in the PyPI wheels) allocated the readers' hash tables two to four times
slower than jemalloc on the benchmark machine, and kept more memory (10M judgments: 3.09 GiB peak against
2.90 GiB; ``benchmarks/HISTORY.md``). A library must not change a host process's allocator behind its back, so
only the CLI (and the benchmarks, which measure what the CLI does) call this; a release's text is then built
with mimalloc (:func:`text_building_pool`). A user's ``ARROW_DEFAULT_MEMORY_POOL`` always wins. numpy's code
paths likewise, on AMD Zen 4 only (:func:`configure_numpy`); a user's ``NPY_DISABLE_CPU_FEATURES`` always wins;
numpy's huge pages, off where the kernel hands free memory back to a hypervisor (:func:`configure_huge_pages`);
and glibc's malloc, which keeps freed blocks for reuse (:func:`configure_malloc`) unless the user tunes it.
BLAS's threads are another matter: the check limits them only while it runs and gives them back
(:func:`single_threaded_blas`), so the library does it too.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

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


#: numpy's AVX-512 targets (their names since numpy 2.4), which its sorts dispatch to on an AVX-512 CPU.
AVX512_TARGETS = "X86_V4 AVX512_ICL AVX512_SPR"


def configure_numpy(cpuinfo: str | None = None) -> bool:
    """On AMD Zen 4, numpy's AVX2 code paths instead of its AVX-512 ones (``NPY_DISABLE_CPU_FEATURES``), set
    before numpy is imported; returns whether it set them. ``cpuinfo``: the text of ``/proc/cpuinfo`` (read
    when not given; nothing is set where there is none).

    Why: numpy sorts with x86-simd-sort, whose AVX-512 partition stores with ``vpcompress`` to memory, an
    instruction Zen 4 runs as slow microcode (numpy/x86-simd-sort#6; numpy/numpy#32690; Zen 5 and Intel are
    not affected). On the benchmark machine (EPYC, Zen 4) ``np.sort`` of 10M int64 took 0.64 s with AVX-512 and
    0.12 s with AVX2, and the check sorts throughout: 10M judgments 5.7–6.2 → 5.0–5.2 s, 1M span judgments
    6.8 → 5.7 s, reports byte for byte the same (``benchmarks/HISTORY.md``). Other AVX-512 kernels gain little on
    Zen 4, which splits 512-bit work in two 256-bit halves. Nothing is set when the user set the variable (even
    empty), when numpy is imported already (too late: a host process's choice), for numpy before 2.4, whose
    targets had other names (an unknown name is an ImportWarning), or for a numpy not installed from a portable
    (manylinux or musllinux) wheel: a build for the machine itself may have X86_V4 in its baseline, and numpy
    refuses to import at all when told to leave out a baseline feature."""
    if "NPY_DISABLE_CPU_FEATURES" in os.environ or "numpy" in sys.modules or not numpy_avx512_is_slow(cpuinfo):
        return False
    os.environ["NPY_DISABLE_CPU_FEATURES"] = AVX512_TARGETS
    return True


def numpy_avx512_is_slow(cpuinfo: str | None = None) -> bool:
    """Whether :func:`configure_numpy` turns numpy's AVX-512 paths off on this machine (Zen 4, and numpy ≥ 2.4
    from a portable wheel), whatever the environment says."""
    return _slow_compress_store(_read_cpuinfo() if cpuinfo is None else cpuinfo) and _numpy_wheel_names_targets()


def _read_cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            return fh.read(1 << 16)  # the first processor's lines come first
    except OSError:  # no /proc (macOS, Windows, a sandbox)
        return ""


def _slow_compress_store(cpuinfo: str) -> bool:
    """Whether the first processor described is AMD family 19h with AVX-512: Zen 4 (Zen 3, the same family,
    has no AVX-512; Zen 5 is family 1Ah)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            if fields:
                break  # one processor is enough
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return (fields.get("vendor_id") == "AuthenticAMD" and fields.get("cpu family") == "25"
            and "avx512f" in fields.get("flags", "").split())


def _numpy_wheel_names_targets() -> bool:
    """Whether the installed numpy (its metadata read, numpy not imported) is 2.4 or later and came from a
    portable wheel, whose baseline is X86_V2 and whose AVX-512 targets are :data:`AVX512_TARGETS`."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("numpy")
    except PackageNotFoundError:
        return False
    found = re.match(r"(\d+)\.(\d+)", dist.version or "")
    tags = [line.partition(":")[2].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]
    return (found is not None and (int(found[1]), int(found[2])) >= (2, 4)
            and any("-manylinux" in t or "-musllinux" in t for t in tags))


#: Where Linux lists the virtio balloon devices; each has its negotiated feature bits (a string of 0 and 1).
_BALLOON_DEVICES = "bus/virtio/drivers/virtio_balloon"
#: VIRTIO_BALLOON_F_REPORTING, the free page reporting feature bit (virtio 1.2, 5.5.3).
_F_REPORTING = 5


def configure_huge_pages(sys_root: str = "/sys") -> bool:
    """numpy's large arrays without transparent huge pages (``NUMPY_MADVISE_HUGEPAGE=0``, set before numpy is
    imported) where the kernel reports free memory to its hypervisor; returns whether it was set. ``sys_root``:
    where sysfs is (tests give a folder of their own).

    Why: numpy asks for huge pages for every array of 4 MiB or more (``madvise``). In a guest that reports its
    free memory to the host (virtio-balloon free page reporting: Firecracker, QEMU's ``free-page-reporting``),
    a huge page comes from a block the host has taken back, and touching it the first time costs several times
    what the same memory costs in small pages: on the benchmark machine 1 GiB of new numpy array took 1.2–2.3 s
    to touch with huge pages and 0.41–0.45 s without, and the 10M-judgment check spent 0.45–0.7 CPU-s less
    (``benchmarks/HISTORY.md``). Elsewhere huge pages are a gain and stay on. Nothing is set when the user set the
    variable (even empty) or when numpy is imported already (a host process's choice)."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ or "numpy" in sys.modules or not free_pages_go_to_host(sys_root):
        return False
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"
    return True


def free_pages_go_to_host(sys_root: str = "/sys") -> bool:
    """Whether a virtio balloon device of this machine negotiated free page reporting."""
    for device in sorted((Path(sys_root) / _BALLOON_DEVICES).glob("virtio*")):
        try:
            features = (device / "features").read_text(encoding="ascii", errors="replace").strip()
        except OSError:  # a device going away, or no permission: not evidence either way
            continue
        if features[_F_REPORTING:_F_REPORTING + 1] == "1":
            return True
    return False


#: glibc's ``mallopt`` parameters (malloc.h) and the values :func:`configure_malloc` gives them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
MALLOC_SETTINGS: dict[str, int] = {"M_MMAP_THRESHOLD": 128 << 20, "M_TRIM_THRESHOLD": 64 << 20, "M_ARENA_MAX": 1}
#: The environment through which a user tunes glibc's malloc: any of these set, :func:`configure_malloc` keeps out.
MALLOC_VARIABLES = ("MALLOC_ARENA_MAX", "MALLOC_ARENA_TEST", "MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_",
                    "MALLOC_TOP_PAD_", "MALLOC_TRIM_THRESHOLD_")


def configure_malloc(libc: object | None = None) -> bool:
    """glibc's malloc keeps the memory numpy frees for the next array instead of unmapping it; returns whether it
    was set. ``libc``: the C library to call (tests give a stand-in; default: this process's).

    Why: glibc gives every block over 32 MiB (one 10M-row column) its own mapping and unmaps it when freed, so
    the next array of that size is fresh pages again, which the kernel zeroes (``clear_page_erms`` was 14–20 %
    of the 10M-judgment check's CPU in a ``perf`` profile), and on the benchmark's VM fresh pages cost far more
    (80 MB of them: 0.17 s after a Parquet read, against 0.01 s for pages the process had just freed). Blocks up
    to 128 MiB (``M_MMAP_THRESHOLD``: a column of up to 16M rows) now come from the heap, where a freed one
    serves the next as it is; larger ones (a whole label file's bytes) keep their own mapping and go back when
    freed, so they leave no hole; the heap's top is trimmed beyond 64 MiB (``M_TRIM_THRESHOLD``), and one arena
    serves all threads (``M_ARENA_MAX``), so that blocks freed by one thread serve the next. 10M judgments
    checked ~5 % faster, peaks within 2 % (JSON Lines with a lead time on every line: 1,920 → 1,955 MiB;
    spans lower; ``benchmarks/HISTORY.md``). All blocks on the heap (``M_MMAP_MAX`` 0) was as fast but held a
    freed 900 MB JSON Lines file in a hole: peak 2.2–2.3 GiB, over G13. Only on glibc (``mallopt``; musl,
    macOS, Windows: nothing), only in the CLI's own process (as :func:`configure_arrow`), and never when the
    user tunes malloc through its environment (:data:`MALLOC_VARIABLES`, or ``glibc.malloc`` in
    ``GLIBC_TUNABLES``)."""
    if any(name in os.environ for name in MALLOC_VARIABLES) or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    if libc is None:
        libc = _glibc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return False
    codes = {"M_MMAP_THRESHOLD": _M_MMAP_THRESHOLD, "M_TRIM_THRESHOLD": _M_TRIM_THRESHOLD, "M_ARENA_MAX": _M_ARENA_MAX}
    # mallopt returns 1 on success; a value it refuses leaves glibc's default, and the others still help
    return all([mallopt(codes[name], value) == 1 for name, value in MALLOC_SETTINGS.items()])


def _glibc() -> object | None:
    """This process's C library when it is glibc (it has ``gnu_get_libc_version``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None  # musl and others: their malloc has no such settings
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


@contextmanager
def text_building_pool() -> Iterator[None]:
    """Arrow's mimalloc pool while a release builds its text, where :func:`configure_arrow` chose jemalloc;
    the pool before is restored after. Nothing changes in a host process (the library API) or when the user
    chose a pool.

    Why: Arrow's jemalloc hands every freed buffer of 8 MiB or more back to the system at once, so each of a
    release's text buffers (tens of MB, block after block) is fresh pages, which the kernel zeroes; mimalloc
    reuses them. A 10M-judgment release: 35.5–36.2 s and 52 CPU-s with jemalloc, 30.8–31.2 s and 42.4 CPU-s
    with mimalloc (``benchmarks/HISTORY.md``); the check keeps jemalloc, faster and leaner there. Call it only
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
    (``benchmarks/HISTORY.md``). threadpoolctl's limit is process-wide while it lasts, as scikit-learn uses it.
    """
    from threadpoolctl import threadpool_limits

    limits: AbstractContextManager[object] = threadpool_limits(limits=1, user_api="blas")  # the package is untyped
    return limits
