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
