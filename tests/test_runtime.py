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
runtime._read_cpuinfo = lambda: CPUINFO
from labelspec.cli import main
try:
    main(["validate", SPEC])
except SystemExit:
    pass
print(os.environ.get("NPY_DISABLE_CPU_FEATURES", "<unset>"))
"""


def test_the_cli_sets_numpys_paths_on_zen4() -> None:
    from labelspec import runtime

    spec = Path(__file__).parents[1] / "specs" / "support-intent"
    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
    code = CLI_PROBE.replace("CPUINFO", repr(ZEN4)).replace("SPEC", repr(str(spec)))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    expected = runtime.AVX512_TARGETS if runtime._numpy_wheel_names_targets() else "<unset>"
    assert done.stdout.splitlines()[-1] == expected


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
