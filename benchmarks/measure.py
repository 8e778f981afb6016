"""One measurement in a fresh process: the read-and-encode floor, the whole check, Dawid–Skene, release, or the
writing of a release's bytes alone.

One job: time one operation and report it, with this process's peak RSS, as one JSON line on stdout. ``run.py``
starts one process per measurement so that peak memory belongs to that measurement alone. Wall time covers the
operation only; the interpreter start and imports are reported apart (``import_s``).

    python benchmarks/measure.py floor DATA/labels.parquet
    python benchmarks/measure.py check DATA/labels.parquet [--profile OUT.txt] [--stages]
    python benchmarks/measure.py dawid_skene DATA/labels.parquet
    python benchmarks/measure.py release DATA/labels.parquet
    python benchmarks/measure.py adjudicate DATA/labels.parquet
    python benchmarks/measure.py write DATA/labels.parquet --bytes N
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

T_START = time.perf_counter()
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labelspec.runtime import configure_huge_pages, configure_malloc, configure_numpy  # noqa: E402

configure_numpy()  # as the `labelspec` command does, before numpy is imported (AMD Zen 4 only)
configure_huge_pages()  # likewise (a VM that reports free memory to its host only)
MALLOC = configure_malloc()  # likewise: glibc keeps freed blocks for reuse (every operation, the floor's too)

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
import pyarrow.dataset  # noqa: E402, F401 — pq.read_table imports it on first use; keep that out of the timing
import pyarrow.json as pj  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

#: The columns the check needs from the generated files (the spec maps item_id, annotator_id and label).
COLUMNS = ("item_id", "annotator_id", "label")


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_columns(path: Path) -> pa.Table:
    """The bare pyarrow read of the needed columns, all as strings (what any reader must at least do)."""
    if path.suffix == ".parquet":
        return pq.read_table(path, columns=list(COLUMNS))
    if path.suffix == ".jsonl":
        schema = pa.schema([(c, pa.string()) for c in COLUMNS])
        return pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=schema,
                                                                unexpected_field_behavior="ignore"))
    convert = pacsv.ConvertOptions(include_columns=list(COLUMNS), column_types={c: pa.string() for c in COLUMNS},
                                   strings_can_be_null=False, null_values=[])
    return pacsv.read_csv(path, convert_options=convert)


def encode(table: pa.Table) -> dict[str, tuple[np.ndarray, pa.Array]]:
    """Integer codes per column, each column encoded once over all its rows (``dictionary_encode``)."""
    out = {}
    for name in table.column_names:
        enc = pc.dictionary_encode(table.column(name).combine_chunks())
        out[name] = (enc.indices.to_numpy(zero_copy_only=False), enc.dictionary)
    return out


def floor(path: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    table = read_columns(path)
    t1 = time.perf_counter()
    codes = encode(table)
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "read_s": t1 - t0, "encode_s": t2 - t1, "rows": table.num_rows,
            "distinct": {k: len(v[1]) for k, v in codes.items()}}


def _stage_timers() -> dict[str, list[float]]:
    """Wrap the pipeline's stages (where they exist) to time them inclusively; stages may nest."""
    import importlib

    targets = [
        ("labelspec.api", "load_spec"), ("labelspec.api", "load_context"),
        ("labelspec.check.runner", "read_label_files"), ("labelspec.check.runner", "account"),
        ("labelspec.check.runner", "analyze_choice"), ("labelspec.check.runner", "analyze_structured"),
        ("labelspec.check.analyze", "encode"), ("labelspec.check.analyze", "unit_counts"),
        ("labelspec.check.analyze", "pair_tables"), ("labelspec.check.analyze", "cohen_pairs"),
        ("labelspec.check.stats", "estimate_with_ci"),
        ("labelspec.check.stats", "mean_cohen_kappa"), ("labelspec.check.stats", "bootstrap_mean_cohen_kappa"),
        ("labelspec.check.stats", "per_label_alpha"), ("labelspec.check.runner", "score_gold"),
        ("labelspec.check.runner", "evaluate_rules"), ("labelspec.check.findings", "annotator_findings"),
        ("labelspec.check.runner", "plan_gates"), ("labelspec.check.report.Report", "to_dict"),
        ("labelspec.check.render", "render_json"), ("labelspec.check.decide", "decide_all"),
        ("labelspec.check.hotspots", "find_hotspots"),
        ("labelspec.check.decide_kinds", "dawid_skene"), ("labelspec.check.release", "build_release"),
        ("labelspec.api", "write_files_atomic"),
    ]
    timings: dict[str, list[float]] = {}
    for mod_name, attr in targets:
        owner: Any
        try:
            if mod_name.endswith(".Report"):
                owner = importlib.import_module(mod_name.rsplit(".", 1)[0]).Report
            else:
                owner = importlib.import_module(mod_name)
        except ImportError:
            continue
        fn = getattr(owner, attr, None)
        if fn is None:
            continue
        label = f"{mod_name.rsplit('.', 1)[-1]}.{attr}"
        timings[label] = [0.0, 0, 0.0, 0.0, 0.0, 0]
        setattr(owner, attr, _timed(fn, timings[label]))
    return timings


def _timed(fn: Any, slot: list[float]) -> Any:
    """Time ``fn`` into ``slot`` [seconds, calls, peak RSS MiB before its first call, after its last one, system
    CPU seconds, minor page faults]: a stage whose 'after' exceeds its 'before' set a new high-water mark of the
    process. System time and page faults show what fresh memory costs (the kernel zeroes every page it hands out)."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0, usage0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        if not slot[1]:
            slot[2] = peak_rss_mib()
        try:
            return fn(*args, **kwargs)
        finally:
            usage1 = resource.getrusage(resource.RUSAGE_SELF)
            slot[0] += time.perf_counter() - t0
            slot[1] += 1
            slot[3] = peak_rss_mib()
            slot[4] += usage1.ru_stime - usage0.ru_stime
            slot[5] += usage1.ru_minflt - usage0.ru_minflt

    return wrapper


def check(path: Path, spec: Path, bootstrap: int | None) -> dict[str, Any]:
    """What ``labelspec check SPEC FILE --json OUT`` does: load, check, build and write the JSON report."""
    from labelspec import api
    from labelspec.atomic_write import write_text_atomic
    from labelspec.check import render

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = api.check_labels(spec, [path], bootstrap=bootstrap)
        text = render.render_json(report.to_dict())
        write_text_atomic(Path(tmp) / "report.json", text)
        seconds = time.perf_counter() - t0
    d = json.loads(text)
    cohen = d["tasks"][next(iter(d["tasks"]))]["agreement"].get("cohen_kappa", {}) if d["tasks"] else {}
    return {"seconds": seconds, "exit_code": report.exit_code, "summary": d["summary"],
            "rows_used": d["accounting"]["rows_used"], "report_bytes": len(text),
            "cohen_kappa_ci": [cohen.get("ci_low"), cohen.get("ci_high"), cohen.get("ci_reason")]}


def dawid_skene(path: Path, spec: Path) -> dict[str, Any]:
    """Read and encode (untimed), then Dawid–Skene to convergence or 50 iterations, gold units clamped."""
    from labelspec.check.dawid_skene import dawid_skene as fit

    codes = encode(read_columns(path))
    units, items = codes["item_id"]
    anns, names = codes["annotator_id"]
    labels, cats = codes["label"]
    gold = pacsv.read_csv(spec.parent / "gold.csv", convert_options=pacsv.ConvertOptions(
        column_types={"item": pa.string(), "label": pa.string()}, strings_can_be_null=False))
    g_unit = pc.index_in(gold.column("item"), value_set=items).to_numpy(zero_copy_only=False)
    g_label = pc.index_in(gold.column("label"), value_set=cats).to_numpy(zero_copy_only=False)
    keep = ~(np.isnan(g_unit.astype(float)) | np.isnan(g_label.astype(float)))
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = fit(units, anns, labels, n_units=len(items), n_annotators=len(names), n_classes=len(cats),
                 gold_units=g_unit[keep].astype(np.int64), gold_labels=g_label[keep].astype(np.int64), max_iter=50)
    return {"seconds": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0, "n_iter": int(result.n_iter),
            "converged": bool(result.converged)}


def release(path: Path, spec: Path) -> dict[str, Any]:
    """``labelspec release`` of the whole dataset (check, consensus, dataset files, manifest), when it exists.

    Every error gate is accepted with a reason, so the release path is measured even when a gate of the
    synthetic data fails by chance (small sizes); accepting a passing gate changes nothing.
    """
    from labelspec import api
    from labelspec.spec.plan import plan_gates

    if not hasattr(api, "release"):
        return {"skipped": "labelspec.api has no release function yet"}
    loaded = api.load_spec(spec)
    accept = [(g.id, "benchmark run") for g in plan_gates(loaded) if g.severity == "error"]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = api.release(spec, [path], out=Path(tmp) / "release", accept=accept)
        seconds = time.perf_counter() - t0
        sizes = {p.name: p.stat().st_size for p in (Path(tmp) / "release").glob("*")}
    return {"seconds": seconds, "exit_code": result.exit_code, "refused": list(result.refused),
            "released": result.released, "written_bytes": sizes,
            "accepted": [o["gate"] for o in result.overrides if o.get("applied")]}


def adjudicate(path: Path, spec: Path) -> dict[str, Any]:
    """``labelspec adjudicate`` of the whole dataset: consensus, the review queue in its three formats, written."""
    from labelspec import api

    if not hasattr(api, "adjudicate"):
        return {"skipped": "labelspec.api has no adjudicate function yet"}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = api.adjudicate(spec, [path], out=Path(tmp) / "review")
        seconds = time.perf_counter() - t0
        sizes = {p.name: p.stat().st_size for p in (Path(tmp) / "review").glob("*")}
    return {"seconds": seconds, "queued": result.queued, "units": result.units, "written_bytes": sizes}


def write(n_bytes: int) -> dict[str, Any]:
    """``n_bytes`` hashed and written as a release writes its files (``release_output.Output``: sha256 and file
    writes on a background thread, in pieces the size of a block's JSON lines), then fsynced as
    ``write_streams_atomic`` does: what a release of that many bytes costs before any text is built. The bytes
    are a random 16 MiB piece over and over (neither hashing nor writing depends on what they are)."""
    import os

    from labelspec.check.release_output import Output, Writers

    piece = memoryview(os.urandom(16 << 20))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with open(Path(tmp) / "dataset.jsonl", "wb") as fh:
            with Writers() as writers:
                out = Output(fh, writers)
                for start in range(0, n_bytes, len(piece)):
                    out.write(piece[:min(len(piece), n_bytes - start)])
                out.entry("dataset.jsonl")
            fh.flush()
            os.fsync(fh.fileno())
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "bytes": n_bytes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("floor", "check", "dawid_skene", "release", "adjudicate", "write"))
    parser.add_argument("labels", type=Path, help="labels.parquet, labels.csv or labels.jsonl of a generated project")
    parser.add_argument("--bytes", type=int, default=0, help="write: how many bytes (a release's output size)")
    parser.add_argument("--bootstrap", type=int, default=None, help="override the spec's replicates")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the operation; write stats here")
    parser.add_argument("--stages", action="store_true", help="also report inclusive time per pipeline stage")
    args = parser.parse_args(argv)
    spec = args.labels.parent / "labelspec.yaml"
    if args.what in ("check", "release", "adjudicate"):
        import labelspec.api  # noqa: F401 — imports are timed apart from the operation
        import labelspec.check.runner  # noqa: F401 — the API imports the check stack (scipy…) on first use
        from labelspec.runtime import configure_arrow

        configure_arrow()  # as the `labelspec` command does
    stages = _stage_timers() if args.stages else None
    import_s = time.perf_counter() - T_START
    cpu0 = cpu_seconds()
    ops = {"floor": lambda: floor(args.labels), "check": lambda: check(args.labels, spec, args.bootstrap),
           "dawid_skene": lambda: dawid_skene(args.labels, spec), "release": lambda: release(args.labels, spec),
           "adjudicate": lambda: adjudicate(args.labels, spec), "write": lambda: write(args.bytes)}
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(ops[args.what])
        prof.dump_stats(args.profile.with_suffix(".pstats"))  # for pstats' print_callers
        with args.profile.open("w", encoding="utf-8") as fh:
            pstats.Stats(prof, stream=fh).sort_stats("cumulative").print_stats(60)
            pstats.Stats(prof, stream=fh).sort_stats("tottime").print_stats(40)
    else:
        result = ops[args.what]()
    result.setdefault("cpu_s", cpu_seconds() - cpu0)
    result.update(what=args.what, import_s=import_s, peak_rss_mib=peak_rss_mib(), malloc_configured=MALLOC)
    if stages is not None:
        result["stages"] = {k: {"seconds": round(v[0], 3), "calls": int(v[1]), "peak_mib_before": round(v[2]),
                                "peak_mib_after": round(v[3]), "system_s": round(v[4], 3),
                                "minor_faults": int(v[5])} for k, v in stages.items() if v[1]}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
