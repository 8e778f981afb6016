"""validate_<project>.py and label.schema.json against the record contract (spec.records.record_problems).

Parity (hypothesis): for generated records, the generated validator, the JSON Schema (jsonschema) and
record_problems agree on valid/invalid. The submitted form differs from the canonical one only in typing: every
field is a string, except list/attribution values, which are JSON arrays/objects (canonical: their JSON text; JSON
numbers follow JSON's data model, so 1.0 is the integer 1). JSON Schema cannot compare two numbers of one instance,
so for spans the schema alone may accept a record whose only problems are span order or overlap.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from emit_snapshot import all_kinds_tasks, intent_task, sample_spec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from labelspec.emit import compile_spec
from labelspec.emit.label_schema import label_schema
from labelspec.emit.validator import module_name, validator_source
from labelspec.errors import OutputError
from labelspec.spec.model import LIST_KINDS, Columns, Quality, Spec, Task
from labelspec.spec.records import FIELDS, record_problems

SPAN_ONLY = ("must have 0 <= start < end", "spans overlap")


def _specs() -> dict[str, Spec]:
    nesting = dataclasses.replace(all_kinds_tasks()[2], allow_nesting=True)
    return {
        "all-kinds": sample_spec(),
        "single-intent": sample_spec(
            tasks=(intent_task(),), quality=Quality(provenance=("lead_time",)),
            columns=Columns(item="id", unit="step_no", task="question", annotator="who", value="answer",
                            timestamp="at", lead_time="secs")),
        "single-spans-nesting": sample_spec(tasks=(nesting,), quality=Quality()),
        "steps-and-attribution": sample_spec(tasks=all_kinds_tasks()[-2:], quality=Quality()),
    }


SPECS = _specs()


def _load(source: str, name: str, directory: Path) -> ModuleType:
    path = directory / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


class Checkers:
    """The generated validator modules and the schema validators, per spec key. A plain class with a short repr:
    hypothesis prints test arguments (dataclasses field by field), and a schema validator's repr is ~300 kB."""

    def __init__(self, validators: dict[str, ModuleType], schemas: dict[str, jsonschema.Draft202012Validator]):
        self.validators = validators
        self.schemas = schemas

    def __repr__(self) -> str:
        return "Checkers(" + ", ".join(sorted(self.validators)) + ")"


@pytest.fixture(scope="module")
def checkers(tmp_path_factory: pytest.TempPathFactory) -> Checkers:
    directory = tmp_path_factory.mktemp("validators")
    validators = {key: _load(validator_source(spec), module_name(spec) + "_" + key.replace("-", "_"), directory)
                  for key, spec in SPECS.items()}
    schemas = {key: jsonschema.Draft202012Validator(label_schema(spec)) for key, spec in SPECS.items()}
    return Checkers(validators, schemas)


# --- the submitted -> canonical mapping that defines parity ------------------------------------------------------

def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    return value


def expected(spec: Spec, record: dict[str, Any]) -> tuple[bool, list[str]]:
    """(valid, record_problems) of a submitted record under the contract the artefacts implement."""
    cols = {f: getattr(spec.columns, f) for f in FIELDS}
    canonical: dict[str, str] = {}
    types_ok = True
    for field, col in cols.items():
        if col not in record:
            continue
        value = record[col]
        if isinstance(value, str):
            canonical[field] = value
        elif field == "value" and isinstance(value, (list, dict)):
            canonical[field] = json.dumps(_ints(value))
        else:
            types_ok = False
    task = spec.task(canonical.get("task", "") or (spec.tasks[0].name if len(spec.tasks) == 1 else ""))
    value = record.get(cols["value"], "")
    if task is not None and value != "" and isinstance(value, str) != (task.kind not in (*LIST_KINDS, "attribution")):
        types_ok = False
    problems = record_problems(spec, canonical)
    return types_ok and not problems, problems


# --- strategies ---------------------------------------------------------------------------------------------------

WEIRD = st.sampled_from([None, 3, 1.5, True, ["x"], {"a": 1}])
TEXT = st.text(st.characters(codec="utf-8"), max_size=6)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    y = draw(st.sampled_from([0, 1, 1900, 2000, 2023, 2024, 2100, 9999]))
    mo, d = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    h, mi, s = draw(st.integers(0, 24)), draw(st.integers(0, 60)), draw(st.integers(0, 60))
    frac = draw(st.sampled_from(["", ".5", ".123456", ".123456789", ".1234567890", "."]))
    zone = draw(st.sampled_from(["Z", "", "+00:00", "-05:30", "+23:59", "+24:00", "+22:99", "+00:60", "z"]))
    sep = draw(st.sampled_from(["T", " ", "t"]))
    return f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{zone}"


LEAD_TIMES = st.sampled_from(["", "0", "3", "3.5", "12.25", "-1", "1e3", ".5", "3.", " 3", "3 ", "abc", "12\n", "١٢"])


def _values(spec: Spec, task_name: str) -> st.SearchStrategy[Any]:
    task = spec.task(task_name)
    if task is None:
        return st.one_of(TEXT, WEIRD)
    ids = list(task.label_ids) or ["none"]
    label = st.one_of(st.sampled_from(ids), st.sampled_from(["", "zz", ids[0].upper()]))
    if task.kind == "multi_choice":
        return st.one_of(st.lists(label, max_size=4), st.sampled_from(ids), WEIRD)
    if task.kind == "ranking":
        return st.one_of(st.permutations(ids), st.lists(label, max_size=len(ids) + 1), WEIRD)
    if task.kind == "spans":
        offset = st.one_of(st.integers(-2, 12), st.sampled_from([1.0, 2.5, True, "3"]))
        span = st.one_of(st.tuples(offset, offset, label).map(list), st.lists(offset, max_size=4))
        return st.one_of(st.lists(span, max_size=4), WEIRD)
    if task.kind == "attribution":
        step = st.one_of(st.none(), st.integers(-2, 5), st.sampled_from([1.0, 1.5, True, "2"]))
        obj = st.fixed_dictionaries({"agent": st.one_of(label, st.none(), st.integers()), "step": step},
                                    optional={"extra": st.just(1)})
        return st.one_of(obj, st.just({"agent": ids[0]}), WEIRD, st.sampled_from(ids))
    if task.kind == "text":
        limit = task.max_length or 100_000
        return st.one_of(TEXT, st.integers(limit - 1, limit + 1).map(lambda n: "x" * n), WEIRD)
    return st.one_of(label, WEIRD, st.just(json.dumps(ids[:1])))


@st.composite
def valid_timestamps(draw: st.DrawFn) -> str:
    when = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
    frac = draw(st.sampled_from(["", ".5", ".25", ".123456", ".123456789"]))
    zone = draw(st.one_of(st.just("Z"), st.tuples(st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59))
                          .map(lambda z: f"{z[0]}{z[1]:02d}:{z[2]:02d}")))
    sep = draw(st.sampled_from("T "))
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d}{sep}{when:%H:%M:%S}{frac}{zone}"


@st.composite
def valid_values(draw: st.DrawFn, task: Task) -> Any:
    ids = list(task.label_ids)
    if task.kind == "multi_choice":
        lo, hi = task.min_choices or 0, task.max_choices or len(ids)
        return draw(st.lists(st.sampled_from(ids), min_size=lo, max_size=hi, unique=True))
    if task.kind == "ranking":
        return draw(st.permutations(ids))
    if task.kind == "spans":
        cuts = sorted(draw(st.lists(st.integers(0, 40), max_size=6, unique=True)))
        spans = [[a, b, draw(st.sampled_from(ids))] for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
        return draw(st.permutations(spans))
    if task.kind == "attribution":
        return {"agent": draw(st.sampled_from(ids)), "step": draw(st.sampled_from([None, 0, 3, 2.0]))}
    if task.kind == "text":
        return draw(st.text(min_size=1, max_size=8))
    return draw(st.sampled_from(ids))


def _base(draw: st.DrawFn, spec: Spec, task: Task) -> dict[str, Any]:
    cols = spec.columns
    record: dict[str, Any] = {cols.item: "i1", cols.annotator: "a1", cols.value: draw(valid_values(task))}
    if len(spec.tasks) > 1 or draw(st.booleans()):
        record[cols.task] = task.name
    if task.unit == "step":
        record[cols.unit] = draw(st.sampled_from(["0", "7"]))
    if "timestamp" in spec.quality.provenance or draw(st.booleans()):
        record[cols.timestamp] = draw(valid_timestamps())
    if "lead_time" in spec.quality.provenance or draw(st.booleans()):
        record[cols.lead_time] = draw(st.sampled_from(["0", "3", "3.5", "12.25"]))
    return record


@st.composite
def near_misses(draw: st.DrawFn, task: Task, value: Any) -> Any:
    """The valid value changed in one way that the contract may or may not accept."""
    ids = list(task.label_ids)
    if isinstance(value, list) and draw(st.booleans()):
        edits = [value + value[:1], value[:-1] + value[:1], value[1:], [*value, "zz"], json.dumps(value), value[::-1]]
        if task.kind == "spans" and value and isinstance(value[0], list) and len(value[0]) == 3 \
                and all(type(x) is int for x in value[0][:2]):
            a, b, lab = value[0]
            edits += [[[a, a, lab]], [[b, a, lab]], [[a, b + 1, lab], [b, b + 2, lab]], [[float(a), b, lab]],
                      [[a, b, lab.upper()]], [[a, b]], [[True, b, lab]], [[-1, b, lab]]]
        return draw(st.sampled_from(edits))
    if isinstance(value, dict):
        agent = value.get("agent")
        return draw(st.sampled_from([{**value, "step": -1}, {**value, "step": 1.5}, {**value, "step": True},
                                     {**value, "agent": "zz"}, {**value, "agent": None}, {"agent": agent},
                                     {**value, "extra": 1}, json.dumps(value), agent]))
    near = [value + " ", value.upper()] if isinstance(value, str) else []
    return draw(st.one_of(_values_for(task, ids), st.sampled_from([*near, [value]])))


def _values_for(task: Task, ids: list[str]) -> st.SearchStrategy[Any]:
    label = st.one_of(st.sampled_from(ids or ["none"]), st.sampled_from(["", "zz"]))
    return st.one_of(label, WEIRD, st.lists(label, max_size=3))


@st.composite
def records(draw: st.DrawFn, key: str, task_name: str) -> dict[str, Any]:
    """A valid record of the task, then zero to two changes: a near-miss value (half of the changes), another field
    replaced by a near miss or an odd type, or a field removed."""
    spec = SPECS[key]
    cols = spec.columns
    task = spec.task(task_name)
    assert task is not None
    record = _base(draw, spec, task)
    mutations = {
        cols.item: st.one_of(st.sampled_from(["", "x y"]), WEIRD),
        cols.annotator: st.one_of(st.just(""), WEIRD),
        cols.task: st.one_of(st.sampled_from([*spec.task_names, "", "nope"]), WEIRD),
        cols.unit: st.one_of(st.sampled_from(["", "0", "3"]), WEIRD),
        cols.value: st.one_of(*(_values(spec, t) for t in spec.task_names)),
        cols.timestamp: st.one_of(timestamps(), st.sampled_from(["", "2024-01-01"]), WEIRD),
        cols.lead_time: st.one_of(LEAD_TIMES, WEIRD),
        "comment": st.one_of(TEXT, WEIRD),
    }
    for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
        if draw(st.booleans()):
            record[cols.value] = draw(near_misses(task, record.get(cols.value, "")))
            continue
        col = draw(st.sampled_from(sorted(mutations)))
        if draw(st.integers(0, 4)) == 0:
            record.pop(col, None)
        else:
            record[col] = draw(mutations[col])
    return record


def _agree(key: str, record: dict[str, Any], checkers: Checkers) -> None:
    spec = SPECS[key]
    validators, schemas = checkers.validators, checkers.schemas
    valid, problems = expected(spec, record)
    messages = validators[key].validate_record(record)
    assert (messages == []) == valid, (record, problems, messages)
    schema_valid = schemas[key].is_valid(record)
    if schema_valid and not valid:  # the one thing JSON Schema cannot state
        task = spec.task(record.get(spec.columns.task) or spec.tasks[0].name)
        assert task is not None and task.kind == "spans", (record, problems)
        assert problems and all(any(s in p for s in SPAN_ONLY) for p in problems), (record, problems)
    else:
        assert schema_valid == valid, (record, problems, list(schemas[key].iter_errors(record)))


@pytest.mark.parametrize(("key", "task"), [(key, t) for key in sorted(SPECS) for t in SPECS[key].task_names])
@settings(max_examples=300, deadline=None, database=None, phases=[Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_validator_schema_and_records_agree(key: str, task: str, data: st.DataObject, checkers: Checkers) -> None:
    _agree(key, data.draw(records(key, task)), checkers)


def _valid_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"item_id": "T-1", "annotator_id": "a1", "task": "intent", "label": "refund",
                              "created_at": "2024-02-29T23:59:59.5+05:30"}
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


@pytest.mark.parametrize(("record", "valid"), [
    (_valid_record(), True),
    (_valid_record(label="Refund"), False),
    (_valid_record(created_at="2023-02-29T00:00:00Z"), False),
    (_valid_record(created_at="2024-01-01T00:00:00"), False),
    (_valid_record(created_at=...), False),  # provenance requires a timestamp
    (_valid_record(lead_time_s="4.5"), True),
    (_valid_record(lead_time_s=4.5), False),
    (_valid_record(task="topics", label=["billing", "account"]), True),
    (_valid_record(task="topics", label='["billing"]'), False),  # JSON text is the CSV form, not the JSONL form
    (_valid_record(task="topics", label=["billing", "billing"]), False),
    (_valid_record(task="entities", label=[[0, 4, "product"], [4, 9, "plan"]]), True),
    (_valid_record(task="entities", label=[[0.0, 4.0, "product"]]), True),
    (_valid_record(task="entities", label=[[0, 5, "product"], [4, 9, "plan"]]), False),
    (_valid_record(task="entities", label=[[4, 4, "product"]]), False),
    (_valid_record(task="entities", label=[[False, 4, "product"]]), False),
    (_valid_record(task="order", label=["r3", "r1", "r2"]), True),
    (_valid_record(task="order", label=["r3", "r1"]), False),
    (_valid_record(task="blame", label={"agent": "coder", "step": None}), True),
    (_valid_record(task="blame", label={"agent": "coder", "step": -1}), False),
    (_valid_record(task="step_ok", label="ok", step="2"), True),
    (_valid_record(task="step_ok", label="ok"), False),
    (_valid_record(task="intent", step="2"), False),
    (_valid_record(task="tone", label="5"), True),
    (_valid_record(task="tone", label="05"), False),
    (_valid_record(task="preference", label="tie"), True),
    (_valid_record(task=...), False),
    (_valid_record(task="nope"), False),
])
def test_known_records(record: dict[str, Any], valid: bool, checkers: Checkers) -> None:
    assert expected(SPECS["all-kinds"], record)[0] is valid
    _agree("all-kinds", record, checkers)


def test_messages_name_the_spec_columns(checkers: Checkers) -> None:
    v = checkers.validators["single-intent"]
    assert v.validate_record({"id": "1", "who": "a", "answer": "refund", "secs": "2"}) == []
    assert v.validate_record({"id": "1", "answer": "nope", "secs": "-2"}) == [
        "missing who", "unknown label 'nope'", "secs '-2' is not a non-negative number of seconds"]
    assert v.validate_record([1]) == ["a record must be a JSON object"]


def test_schemas_are_valid_2020_12_and_use_exact_enums() -> None:
    for spec in SPECS.values():
        schema = label_schema(spec)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    text = json.dumps(label_schema(SPECS["all-kinds"]))
    assert '"enum": ["refund", "status", "dispute", "other"]' in text
    assert "refund" not in "".join(str(p.get("pattern", "")) for p in label_schema(SPECS["all-kinds"])
                                   ["properties"].values() if isinstance(p, dict))


def test_generated_module_is_stdlib_only_and_spec_text_is_only_in_literals() -> None:
    spec = sample_spec(tasks=(dataclasses.replace(intent_task(), question='"""; import os #'),))
    source = validator_source(spec)
    tree = ast.parse(source)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported == {"json", "re", "sys"}
    assert 'import os' not in source  # the question never reaches the validator at all


def test_compile_errors_in_generated_code_are_output_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import labelspec.emit.validator as validator

    monkeypatch.setattr(validator, "render", lambda *a: "def broken(:\n")
    with pytest.raises(OutputError):
        validator.validator_source(sample_spec())


def _run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", str(script), *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_cli_reports_file_line_and_exit_codes(tmp_path: Path) -> None:
    artifacts = {a.path.partition("/")[2]: a.content for a in compile_spec(sample_spec())}
    script = tmp_path / "validate_sample_project.py"
    script.write_bytes(artifacts["validate_sample_project.py"])
    good = json.dumps(_valid_record())
    (tmp_path / "ok.jsonl").write_text(good + "\n" + good + "\n", encoding="utf-8")
    result = _run(script, str(tmp_path / "ok.jsonl"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    lines = [good, json.dumps(_valid_record(label="nope")), '{"a": 1, "a": 2}', "[1]", "", '{"x": NaN}', good]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(("\n".join(lines) + "\n").encode() + b'{"bad": "\xff"}\n')
    result = _run(script, str(bad))
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert out[0] == f"{bad}:2: unknown label 'nope'"
    assert out[1].startswith(f"{bad}:3: not valid JSON: duplicate key 'a'")
    assert out[2] == f"{bad}:4: a record must be a JSON object"
    assert out[3] == f"{bad}:5: empty line"
    assert out[4].startswith(f"{bad}:6: not valid JSON: NaN")
    assert out[5].startswith(f"{bad}:8: not valid UTF-8")
    assert _run(script).returncode == 2
    assert _run(script, str(tmp_path / "missing.jsonl")).returncode == 2


@pytest.mark.parametrize("lead_time", ["12\n", "١٢", "1٫5"])
def test_records_lead_time_is_ascii_to_the_end(lead_time: str) -> None:
    spec = SPECS["single-intent"]
    assert record_problems(spec, {"item": "1", "annotator": "a", "value": "refund", "lead_time": lead_time})


def test_records_attribution_with_a_list_agent_is_a_problem_not_a_crash() -> None:
    spec = SPECS["steps-and-attribution"]
    record = {"item": "1", "annotator": "a", "task": "blame", "value": '{"agent": [], "step": 0}'}
    assert record_problems(spec, record)
