"""The CLI's Arrow memory pool choice (labelspec/runtime.py): jemalloc unless the user chose a pool; the CPUs
the parallel loops may use; the pool a release builds its text with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = "from labelspec.runtime import configure_arrow; print(configure_arrow())"


def _pool(env_pool: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_pool
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_user_choice_of_pool_wins() -> None:
    assert _pool("system") == "system"


def test_jemalloc_is_chosen_when_arrow_has_it() -> None:
    import pyarrow as pa

    try:
        pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        pytest.skip("this pyarrow build has no jemalloc")
    assert _pool(None) == "jemalloc"


TEXT_PROBE = """
import pyarrow as pa
from labelspec import runtime
if CONFIGURE:
    runtime.configure_arrow()
before = pa.default_memory_pool().backend_name
with runtime.text_building_pool():
    inside = pa.default_memory_pool().backend_name
    buffer = pa.array(["x" * 1000] * 20000)  # allocated from the pool inside; freed after the switch back
print(before, inside, pa.default_memory_pool().backend_name)
del buffer
"""


def _text_pools(env_pool: str | None, configure: bool) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_pool
    code = TEXT_PROBE.replace("CONFIGURE", str(configure))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.split()


def test_a_release_builds_its_text_with_mimalloc_where_the_cli_chose_jemalloc() -> None:
    """jemalloc returns freed buffers of 8 MiB or more to the system at once, so a release's text buffers were
    fresh pages block after block; mimalloc reuses them. Only where the CLI chose the pool: never in a host
    process, never over the user's choice; the pool before is restored."""
    import pyarrow as pa

    try:
        pa.jemalloc_memory_pool()
        pa.mimalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        pytest.skip("this pyarrow build lacks jemalloc or mimalloc")
    assert _text_pools(None, configure=True) == ["jemalloc", "mimalloc", "jemalloc"]
    assert _text_pools("system", configure=True) == ["system", "system", "system"]
    library = _text_pools(None, configure=False)  # the library API in a host process: untouched
    assert library[0] == library[1] == library[2]


def test_the_release_writes_inside_the_text_pool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spy: Any) -> None:
    """The dataset is written with mimalloc, and the pool before (here the system's, so that the switch shows:
    mimalloc is pyarrow's default) is back afterwards."""
    import pyarrow as pa

    from labelspec import api, runtime
    from labelspec.check import release

    try:
        pa.mimalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        pytest.skip("this pyarrow build lacks mimalloc")
    seen = spy(release, "write_dataset", lambda: pa.default_memory_pool().backend_name)
    monkeypatch.setattr(runtime, "_POOL_CHOSEN", True)
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        example = Path(__file__).resolve().parent.parent / "specs" / "support-intent"
        api.release(example, [example / "labels"], out=tmp_path / "out")
        assert seen == ["mimalloc"] and pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(previous)



def test_usable_cpus_follow_the_affinity_or_the_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    from labelspec.runtime import usable_cpus

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert usable_cpus() == 3  # a CPU set narrower than the machine (taskset, a container's cpuset)

    def unknown(pid: int) -> set[int]:
        raise OSError("no affinity here")

    monkeypatch.setattr(os, "sched_getaffinity", unknown, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cpus() == 1  # nothing known: one
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert usable_cpus() == 6


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_the_check_runs_blas_on_one_thread_and_gives_the_threads_back(spy: Any) -> None:
    import numpy  # noqa: F401 — loads numpy's BLAS, so threadpoolctl can see it
    from threadpoolctl import threadpool_limits

    from labelspec import api
    from labelspec.check import runner

    with threadpool_limits(limits=2, user_api="blas"):  # as on a machine with two cores, whatever this one has
        before = _blas_threads()
        if not before or set(before) != {2}:  # OpenBLAS caps its threads at the CPUs it found when loaded
            pytest.skip("no BLAS that threadpoolctl can set to two threads here")
        seen = spy(runner, "evaluate_rules", _blas_threads)  # runs while the consensus thread may still work
        example = Path(__file__).resolve().parent.parent / "specs" / "support-intent"
        api.check_labels(example, [example / "labels"])
        assert seen == [[1] * len(before)]
        assert _blas_threads() == before


def _cpuinfo(vendor: str, family: int, flags: str) -> str:
    one = f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: 17\nflags\t\t: {flags}\n\n"
    return one + one.replace("processor\t: 0", "processor\t: 1").replace(vendor, "SomethingElse")


ZEN4 = _cpuinfo("AuthenticAMD", 25, "fpu sse2 avx2 avx512f avx512vl avx512_vbmi2")


@pytest.mark.parametrize(("cpuinfo", "slow"), [
    (ZEN4, True),
    (_cpuinfo("AuthenticAMD", 25, "fpu sse2 avx2"), False),  # Zen 3: family 19h without AVX-512
    (_cpuinfo("AuthenticAMD", 26, "fpu avx2 avx512f"), False),  # Zen 5: family 1Ah, vpcompress fixed
    (_cpuinfo("GenuineIntel", 6, "fpu avx2 avx512f"), False),  # Intel: x86-simd-sort's home ground
    ("", False),  # no /proc/cpuinfo
    ("vendor_id: AuthenticAMD\ncpu family: 25\nflags: avx512f_lookalike\n", False),  # flags are whole words
])
def test_only_zen4_counts_as_slow_for_numpy_avx512(cpuinfo: str, slow: bool) -> None:
    from labelspec import runtime

    assert runtime._slow_compress_store(cpuinfo) is slow


NUMPY_PROBE = """
import os, sys
from labelspec import runtime
print(runtime.configure_numpy(cpuinfo=CPUINFO), os.environ.get("NPY_DISABLE_CPU_FEATURES", "<unset>"))
import numpy
print(sorted(numpy.__config__.CONFIG["SIMD Extensions"]["found"]))
"""


def _numpy_probe(cpuinfo: str, env_value: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
    if env_value is not None:
        env["NPY_DISABLE_CPU_FEATURES"] = env_value
    code = NUMPY_PROBE.replace("CPUINFO", repr(cpuinfo))
    done = subprocess.run([sys.executable, "-W", "error::ImportWarning", "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout.splitlines()


def test_zen4_gets_numpys_avx2_paths_before_numpy_is_imported() -> None:
    from labelspec import runtime

    set_it, found = _numpy_probe(ZEN4, None)
    if not runtime._numpy_wheel_names_targets():
        assert set_it == "False <unset>"  # numpy before 2.4 names its targets otherwise: left alone
        return
    assert set_it == f"True {runtime.AVX512_TARGETS}"  # an unknown target name would be an ImportWarning: error
    assert "X86_V4" not in found and "AVX512_ICL" not in found


def test_numpy_paths_left_alone_elsewhere_or_when_chosen() -> None:
    assert _numpy_probe(_cpuinfo("GenuineIntel", 6, "avx512f"), None)[0] == "False <unset>"
    assert _numpy_probe(ZEN4, "")[0] == "False "  # the user's choice, even empty, wins
    assert _numpy_probe(ZEN4, "AVX512_SPR")[0] == "False AVX512_SPR"


def test_numpy_paths_left_alone_in_a_process_that_imported_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy  # noqa: F401 — a host process: its numpy is loaded with its own choice

    from labelspec import runtime

    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    assert runtime.configure_numpy(cpuinfo=ZEN4) is False
    assert "NPY_DISABLE_CPU_FEATURES" not in os.environ


CLI_PROBE = """
import os, sys
from labelspec import runtime
PATCH
from labelspec.cli import main
try:
    main(["validate", SPEC])
except SystemExit:
    pass
print(os.environ.get(VARIABLE, "<unset>"))
"""


def _cli_sets(variable: str, patch: str) -> str:
    """The value of ``variable`` after the CLI validated a spec in a fresh process (the variable unset before),
    with ``patch`` (Python code) describing the machine to ``labelspec.runtime`` first."""
    spec = Path(__file__).parents[1] / "specs" / "support-intent"
    env = {k: v for k, v in os.environ.items() if k != variable}
    code = CLI_PROBE.replace("PATCH", patch).replace("VARIABLE", repr(variable)).replace("SPEC", repr(str(spec)))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()[-1]


def test_the_cli_sets_numpys_paths_on_zen4() -> None:
    from labelspec import runtime

    expected = runtime.AVX512_TARGETS if runtime._numpy_wheel_names_targets() else "<unset>"
    assert _cli_sets("NPY_DISABLE_CPU_FEATURES", f"runtime._read_cpuinfo = lambda: {ZEN4!r}") == expected


class _FakeNumpy:
    def __init__(self, version: str, wheel: str | None) -> None:
        self.version, self._wheel = version, wheel

    def read_text(self, name: str) -> str | None:
        return self._wheel if name == "WHEEL" else None


@pytest.mark.parametrize(("version", "wheel", "names"), [
    ("2.4.6", "Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_27_x86_64\n", True),  # PyPI's wheel
    ("2.5.0", "Tag: cp313-cp313-musllinux_1_2_x86_64\n", True),
    ("2.3.5", "Tag: cp311-cp311-manylinux_2_27_x86_64\n", False),  # its targets had other names
    ("2.4.6", "Tag: cp311-cp311-linux_x86_64\n", False),  # built for this machine: X86_V4 may be its baseline
    ("2.4.6", None, False),  # installed without a wheel (conda, a distribution's package)
])
def test_numpy_paths_only_for_portable_wheels_that_name_the_targets(
        monkeypatch: pytest.MonkeyPatch, version: str, wheel: str | None, names: bool) -> None:
    import importlib.metadata

    from labelspec import runtime

    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: _FakeNumpy(version, wheel))
    assert runtime._numpy_wheel_names_targets() is names
    assert runtime.numpy_avx512_is_slow(ZEN4) is names


class _FakeLibc:
    """A C library with ``mallopt``: records each call; answers 1 (accepted) unless told to refuse."""

    def __init__(self, answer: int = 1) -> None:
        self.calls: list[tuple[int, int]] = []
        self.answer = answer

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return self.answer


def _without_malloc_tuning(monkeypatch: pytest.MonkeyPatch) -> None:
    from labelspec import runtime

    for name in (*runtime.MALLOC_VARIABLES, "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)


def test_malloc_keeps_freed_blocks_through_mallopt(monkeypatch: pytest.MonkeyPatch) -> None:
    from labelspec import runtime

    _without_malloc_tuning(monkeypatch)
    libc = _FakeLibc()
    assert runtime.configure_malloc(libc) is True
    # malloc.h: M_MMAP_THRESHOLD -3, M_TRIM_THRESHOLD -1, M_ARENA_MAX -8
    assert sorted(libc.calls) == [(-8, 1), (-3, 128 << 20), (-1, 64 << 20)]
    refusing = _FakeLibc(answer=0)
    assert runtime.configure_malloc(refusing) is False  # reported, and every setting was still tried
    assert len(refusing.calls) == 3


@pytest.mark.parametrize(("name", "value"), [
    ("MALLOC_ARENA_MAX", "4"), ("MALLOC_MMAP_THRESHOLD_", "1048576"), ("MALLOC_TRIM_THRESHOLD_", ""),
    ("MALLOC_MMAP_MAX_", "65536"), ("MALLOC_TOP_PAD_", "0"), ("MALLOC_ARENA_TEST", "8"),
    ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1048576"),
    ("GLIBC_TUNABLES", "glibc.cpu.x86_rep_movsb_threshold=4096:glibc.malloc.arena_max=2"),
])
def test_malloc_left_alone_when_the_user_tunes_it(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    from labelspec import runtime

    _without_malloc_tuning(monkeypatch)
    monkeypatch.setenv(name, value)
    libc = _FakeLibc()
    assert runtime.configure_malloc(libc) is False
    assert libc.calls == []


def test_malloc_configured_beside_unrelated_tunables(monkeypatch: pytest.MonkeyPatch) -> None:
    from labelspec import runtime

    _without_malloc_tuning(monkeypatch)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.cpu.x86_rep_movsb_threshold=4096")
    assert runtime.configure_malloc(_FakeLibc()) is True


def test_malloc_left_alone_without_mallopt(monkeypatch: pytest.MonkeyPatch) -> None:
    from labelspec import runtime

    _without_malloc_tuning(monkeypatch)
    assert runtime.configure_malloc(object()) is False  # musl, macOS: no mallopt
    monkeypatch.setattr(runtime, "_glibc", lambda: None)
    assert runtime.configure_malloc() is False


REUSE_PROBE = """
import resource, sys
from labelspec import runtime
configured = runtime.configure_malloc() if sys.argv[1] == "yes" else False
size = 48 << 20  # over glibc's largest automatic mmap threshold (its own mapping by default); under the trim one
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = bytearray(size)
    block[::4096] = b"\\x01" * len(range(0, size, 4096))  # every page written
    del block
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(configured, faults[-1])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_glibc_reuses_a_freed_block_instead_of_faulting_fresh_pages() -> None:
    from labelspec import runtime

    if runtime._glibc() is None:
        pytest.skip("not glibc")
    env = {k: v for k, v in os.environ.items() if k not in runtime.MALLOC_VARIABLES and k != "GLIBC_TUNABLES"}

    def probe(configure: str) -> tuple[str, int]:
        done = subprocess.run([sys.executable, "-c", REUSE_PROBE, configure], env=env, capture_output=True,
                              text=True, check=True)
        told, faults = done.stdout.split()
        return told, int(faults)

    told, faults = probe("yes")
    assert told == "True"
    assert faults < 256  # the third 48 MiB block is the first one's memory, still mapped
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp.exists() and "[always]" not in thp.read_text():  # 4 KiB pages: one fault per page, each time
        assert probe("no") == ("False", pytest.approx(12288, rel=0.1))


CLI_MALLOC_PROBE = """
from labelspec import runtime
calls = []
class Libc:
    def mallopt(self, param, value):
        calls.append((param, value))
        return 1
runtime._glibc = lambda: Libc()
from labelspec.cli import main
try:
    main(["validate", SPEC])
except SystemExit:
    pass
print(sorted(calls))
"""


def test_the_cli_configures_malloc() -> None:
    from labelspec import runtime

    spec = Path(__file__).parents[1] / "specs" / "support-intent"
    env = {k: v for k, v in os.environ.items() if k not in runtime.MALLOC_VARIABLES and k != "GLIBC_TUNABLES"}
    code = CLI_MALLOC_PROBE.replace("SPEC", repr(str(spec)))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[(-8, 1), (-3, 134217728), (-1, 67108864)]"


def _sysfs(tmp_path: Path, *features: str) -> str:
    """A sysfs tree with one virtio balloon device per ``features`` (its negotiated bits, as Linux lists them)."""
    drivers = tmp_path / "bus" / "virtio" / "drivers" / "virtio_balloon"
    drivers.mkdir(parents=True)
    for i, bits in enumerate(features):
        device = tmp_path / "devices" / f"virtio{i}"
        device.mkdir(parents=True)
        (device / "features").write_text(bits + "\n", encoding="ascii")
        (drivers / f"virtio{i}").symlink_to(device)
    (drivers / "bind").write_text("")  # the driver's own files are not devices
    return str(tmp_path)


REPORTING = "0110010100000000000000000000000010000000000000000000000000000000"  # the benchmark VM's balloon
NOT_REPORTING = "0110000100000000000000000000000010000000000000000000000000000000"  # bit 5 off


@pytest.mark.parametrize(("features", "reports"), [
    ((REPORTING,), True),
    ((NOT_REPORTING,), False),
    ((NOT_REPORTING, REPORTING), True),  # any balloon that reports
    ((), False),  # a balloon driver without a device
    (("01100",), False),  # fewer bits than the feature's position
])
def test_free_page_reporting_read_from_the_balloons_features(tmp_path: Path, features: tuple[str, ...],
                                                             reports: bool) -> None:
    from labelspec import runtime

    assert runtime.free_pages_go_to_host(_sysfs(tmp_path, *features)) is reports


def test_no_balloon_driver_means_no_reporting(tmp_path: Path) -> None:
    from labelspec import runtime

    assert runtime.free_pages_go_to_host(str(tmp_path)) is False  # bare metal, or a VM without a balloon


HUGE_PAGE_PROBE = """
import os, sys
from labelspec import runtime
print(runtime.configure_huge_pages(SYSFS), os.environ.get("NUMPY_MADVISE_HUGEPAGE", "<unset>"))
import numpy
print(numpy._core.multiarray._set_madvise_hugepage(False))  # returns the setting numpy started with
"""


def _huge_page_probe(sysfs: str, env_value: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if env_value is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = env_value
    code = HUGE_PAGE_PROBE.replace("SYSFS", repr(sysfs))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_numpy_leaves_huge_pages_where_free_memory_goes_to_the_host(tmp_path: Path) -> None:
    set_it, numpy_started_with = _huge_page_probe(_sysfs(tmp_path, REPORTING), None)
    assert set_it == "True 0"
    assert numpy_started_with == "False"  # numpy read the variable when it was imported


def test_numpy_huge_pages_left_alone_elsewhere_or_when_chosen(tmp_path: Path) -> None:
    assert _huge_page_probe(_sysfs(tmp_path / "a", NOT_REPORTING), None)[0] == "False <unset>"
    reporting = _sysfs(tmp_path / "b", REPORTING)
    assert _huge_page_probe(reporting, "1") == ["False 1", "True"]  # the user's choice wins
    assert _huge_page_probe(reporting, "0") == ["False 0", "False"]


def test_numpy_huge_pages_left_alone_in_a_process_that_imported_numpy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy  # noqa: F401 — a host process: its numpy started with its own choice

    from labelspec import runtime

    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    assert runtime.configure_huge_pages(_sysfs(tmp_path, REPORTING)) is False
    assert "NUMPY_MADVISE_HUGEPAGE" not in os.environ


def test_the_cli_keeps_numpy_off_huge_pages_where_free_memory_goes_to_the_host() -> None:
    assert _cli_sets("NUMPY_MADVISE_HUGEPAGE", 'runtime.free_pages_go_to_host = lambda sys_root="/sys": True') == "0"
