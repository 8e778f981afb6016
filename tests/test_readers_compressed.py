"""Compressed label files (``labels.jsonl.gz``, ``.zst``, ``.bz2``, ``.xz``): read as the uncompressed file is, hashed as
they are on disk, and refused with a located error when damaged or when they expand like a decompression bomb."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelspec.check import readers
from labelspec.check.readers import ColumnMap, Judgments, TaskShape, read_label_files
from labelspec.errors import Diagnostic, InputError

ONE = [TaskShape("intent", "single_choice", False)]
CSV = b"item_id,annotator_id,label\ni1,a,x\ni2,b,y\n"
JSONL = b'{"item_id": "i1", "annotator_id": "a", "label": "x"}\n\n{"item_id": "i2", "annotator_id": "b", "label": "y"}\n'
LABEL_STUDIO = (b'[{"id": 1, "data": {"item_id": "i1"}, "annotations": [{"id": 10, "completed_by": 7, '
                b'"result": [{"from_name": "intent", "to_name": "t", "type": "choices", '
                b'"value": {"choices": ["x"]}}]}]}]')


def zstd(content: bytes) -> bytes:
    """A zstd frame, as the ``zstd`` command writes it (through Arrow's codec: the standard library has none)."""
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(content)
    return bytes(sink.getvalue())


COMPRESS = {".gz": gzip.compress, ".zst": zstd, ".bz2": bz2.compress, ".xz": lzma.compress}


def read(path: Path) -> Judgments:
    return read_label_files([path], columns=ColumnMap(), tasks=ONE, display_paths=[path.name])


def error(path: Path) -> Diagnostic:
    with pytest.raises(InputError) as info:
        read(path)
    return info.value.diagnostics[0]


def parquet_bytes(tmp_path: Path) -> bytes:
    pq.write_table(pa.table({"item_id": ["i1", "i2"], "annotator_id": ["a", "b"], "label": ["x", "y"]}),
                   tmp_path / "p.parquet")
    return (tmp_path / "p.parquet").read_bytes()


@pytest.mark.parametrize("ext", list(COMPRESS))
@pytest.mark.parametrize("name", ["labels.csv", "labels.jsonl", "labels.parquet", "export.json"])
def test_a_compressed_file_reads_as_the_file_it_holds(tmp_path: Path, name: str, ext: str) -> None:
    content = {"labels.csv": CSV, "labels.jsonl": JSONL, "export.json": LABEL_STUDIO}.get(name) or parquet_bytes(
        tmp_path)
    (tmp_path / name).write_bytes(content)
    packed = COMPRESS[ext](content)
    (tmp_path / f"{name}{ext}").write_bytes(packed)
    plain, compressed = read(tmp_path / name), read(tmp_path / f"{name}{ext}")
    columns = ["item", "unit", "task", "annotator", "value", "timestamp", "lead_time", "line"]
    assert compressed.frame[columns].astype(str).equals(plain.frame[columns].astype(str))
    assert compressed.rows_read == plain.rows_read
    info = compressed.files[0]
    assert (info.path, info.format) == (f"{name}{ext}", plain.files[0].format)
    assert (info.sha256, info.size) == (hashlib.sha256(packed).hexdigest(), len(packed))  # the file on disk


def test_errors_in_a_compressed_file_name_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl.gz"
    path.write_bytes(gzip.compress(JSONL + b'{"item_id": "i3", "annotator_id": "c", "label": true}\n'))
    assert error(path).check_tuple() == ("LS404", 4, 0)


@pytest.mark.parametrize(("ext", "content", "said"), [
    (".gz", b"item_id,annotator_id,label\n", "not a readable gzip file"),  # not gzip at all
    (".gz", gzip.compress(CSV)[:-9], "not a readable gzip file"),  # truncated
    (".zst", CSV, "not a readable zstd file"),
    (".zst", zstd(CSV)[:-5], "not a readable zstd file"),
    (".bz2", CSV, "not a readable bz2 file"),
    (".bz2", bz2.compress(CSV)[:-5], "not a readable bz2 file"),
    (".xz", CSV, "not a readable xz file"),
    (".xz", lzma.compress(CSV)[:-5], "not a readable xz file"),
])
def test_a_damaged_compressed_file_is_a_located_error(tmp_path: Path, ext: str, content: bytes, said: str) -> None:
    path = tmp_path / f"labels.csv{ext}"
    path.write_bytes(content)
    diag = error(path)
    assert diag.check_tuple() == ("LS401", 0, 0) and said in diag.message


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_a_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str) -> None:
    monkeypatch.setattr(readers, "_MIN_EXPANDED", 1 << 10)  # the budget of a 1 MiB file, scaled down
    path = tmp_path / f"labels.csv{ext}"
    path.write_bytes(COMPRESS[ext](CSV + b"i3,c," + b"z" * 200_000 + b"\n"))  # ~200 bytes that expand 1,000x
    diag = error(path)
    assert diag.check_tuple() == ("LS401", 0, 0) and "decompression bomb" in diag.message
    monkeypatch.setattr(readers, "MAX_EXPANSION", 10_000)
    assert read(path).rows_read == 3  # within a larger budget, the same file reads


def test_the_format_is_the_extension_before_gz(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(CSV))
    diag = error(path)
    assert diag.code == "LS405" and "'(none)' before .gz" in diag.message


def test_concatenated_xz_streams_read_whole(tmp_path: Path) -> None:
    """``xz`` appends a stream per run, as gzip does a member: every stream is read, none silently dropped."""
    path = tmp_path / "labels.csv.xz"
    path.write_bytes(lzma.compress(CSV) + lzma.compress(b"i3,c,z\n"))
    assert read(path).rows_read == 3
