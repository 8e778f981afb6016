"""validate_<project>.py and label.schema.json against what ``labelspec check`` makes of one JSONL line.

The oracle is check itself: ``check.read_jsonl.parse_jsonl`` on a one-line file, then ``spec.records.record_problems``
on the row it reads (the per-record contract; dataset-level checks are out of scope). The generated validator must
agree with it exactly. The schema must accept everything check accepts; it may accept more only where JSON Schema
cannot see (stated in the schema's description): numbers as written (2.0, 1e3, -0), unpaired surrogate escapes and
span order/overlap. Plain jsonschema treats ``contentSchema`` as an annotation, so the content of a value written as
a JSON string is asserted only by :data:`ContentValidator` (the opt-in content assertion 2020-12 allows).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from emit_snapshot import all_kinds_tasks, intent_task, sample_spec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from labelspec.check.read_common import MAX_LINE_BYTES
from labelspec.check.read_jsonl import parse_jsonl
from labelspec.check.runner import task_shapes
from labelspec.emit import compile_spec
from labelspec.emit.label_schema import label_schema
from labelspec.emit.validator import MAX_LINE_BYTES as VALIDATOR_MAX_LINE_BYTES
from labelspec.emit.validator import module_name, validator_source
from labelspec.errors import InputError, OutputError
from labelspec.spec.load import load_spec
from labelspec.spec.model import Columns, Quality, Spec, Task
from labelspec.spec.records import record_problems

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.parent.name for p in (ROOT / "specs").glob("*/labelspec.yaml"))
#: Span problems JSON Schema cannot see: an end not after its start (offsets >= 0) and overlap.
SPAN_ORDER = re.compile(r"span \[[0-9]+, -?[0-9]+\] must have 0 <= start < end|spans overlap .*")


def _content(validator: Any, content_schema: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    """contentSchema as an assertion for JSON text, decoded as check decodes a value (``json.loads``)."""
    if schema.get("contentMediaType") != "application/json" or not validator.is_type(instance, "string"):
        return
    try:
        decoded = json.loads(instance)
    except ValueError:
        yield jsonschema.ValidationError("not JSON text")
        return
    yield from validator.descend(decoded, content_schema)


ContentValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"contentSchema": _content})


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
    """Per spec key: the spec, its generated validator module and its schema validators (plain, content-asserting).
    A short repr: hypothesis prints test arguments, and a schema validator's repr is ~300 kB."""

    def __init__(self, specs: dict[str, Spec], validators: dict[str, ModuleType], schemas: dict[str, Any]):
        self.specs, self.validators = specs, validators
        self.plain = {k: jsonschema.Draft202012Validator(s) for k, s in schemas.items()}
        self.content = {k: ContentValidator(s) for k, s in schemas.items()}

    def __repr__(self) -> str:
        return "Checkers(" + ", ".join(sorted(self.validators)) + ")"


@pytest.fixture(scope="module")
def checkers(tmp_path_factory: pytest.TempPathFactory) -> Checkers:
    directory = tmp_path_factory.mktemp("validators")
    validators = {key: _load(validator_source(spec), module_name(spec) + "_" + key.replace("-", "_"), directory)
                  for key, spec in SPECS.items()}
    return Checkers(SPECS, validators, {key: label_schema(spec) for key, spec in SPECS.items()})


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Checkers:
    """The example projects with their committed generated/ files (test_repo_fresh keeps those in sync), imported
    from a copy so that nothing is written next to them."""
    directory = tmp_path_factory.mktemp("examples")
    specs = {p: load_spec(ROOT / "specs" / p / "labelspec.yaml", display_path=f"specs/{p}/labelspec.yaml")
             for p in EXAMPLES}
    validators = {p: _load((ROOT / "generated" / p / f"{module_name(s)}.py").read_text("utf-8"), module_name(s),
                           directory) for p, s in specs.items()}
    schemas = {p: json.loads((ROOT / "generated" / p / "label.schema.json").read_text("utf-8")) for p in EXAMPLES}
    return Checkers(specs, validators, schemas)


def check_reads(spec: Spec, line: bytes) -> tuple[bool, list[str]] | None:
    """What check makes of a one-line JSONL file: None for a blank line, else (used, problems)."""
    try:
        parsed = parse_jsonl(line, "labels.jsonl", spec.columns, task_shapes(spec))
    except InputError as err:
        return False, [str(err)]
    except ValueError as err:  # the reader lets json.dumps fail on 1e400 inside a list (reported, not ours)
        return False, [repr(err)]
    if parsed.rows == 0:
        return None
    record = {f: str(col.to_pylist()[0]) for f, col in parsed.columns.items()}
    problems = record_problems(spec, record)
    return not problems, problems


# --- submitted records with numbers written exactly ---------------------------------------------------------------

class Raw(str):
    """A JSON number written exactly as this text."""


@dataclasses.dataclass(frozen=True)
class AsText:
    """A value submitted as a string holding its JSON text."""

    value: Any


def dump(value: Any) -> str:
    """JSON text of a submitted record (strings escaped with ensure_ascii, so lone surrogates become escapes)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, AsText):
        return json.dumps(dump(value.value))
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")


def schema_blind(value: Any) -> bool:
    """Holds what JSON Schema cannot see: a number not in its plain form (2.0, 1e3, -0) or a lone surrogate."""
    if isinstance(value, Raw):
        return value == "-0" or not PLAIN_NUMBER.fullmatch(value)
    if isinstance(value, AsText):
        return schema_blind(value.value)
    if isinstance(value, list):
        return any(schema_blind(v) for v in value)
    if isinstance(value, dict):
        return any(schema_blind(v) for v in value.values())
    return isinstance(value, str) and re.search("[\ud800-\udfff]", value) is not None


def agree(checkers: Checkers, key: str, record: Any) -> bool:
    """Assert the validator, the schemas and check agree on one record; returns check's verdict."""
    spec = checkers.specs[key]
    line = dump(record).encode("utf-8")
    oracle = check_reads(spec, line)
    assert oracle is not None
    used, problems = oracle
    messages = checkers.validators[key].line_problems(line, True)
    assert (messages == []) == used, (dump(record), problems, messages)
    instance = json.loads(line)
    content_valid = checkers.content[key].is_valid(instance)
    if used:
        assert content_valid, (dump(record), list(checkers.content[key].iter_errors(instance)))
    elif content_valid:  # accepted by the schema, refused by check: only where the schema says it is blind
        assert schema_blind(record) or all(SPAN_ORDER.fullmatch(p) for p in problems), (dump(record), problems)
    plain_valid = checkers.plain[key].is_valid(instance)
    if plain_valid != content_valid:
        value = record.get(spec.columns.value) if isinstance(record, dict) else None
        assert plain_valid and isinstance(value, AsText), dump(record)
    return used


# --- (1) every line of every example project's JSONL label files is valid -----------------------------------------

@pytest.mark.parametrize("project", EXAMPLES)
def test_example_label_files_are_valid(project: str, examples: Checkers) -> None:
    spec = examples.specs[project]
    files = sorted((ROOT / "specs" / project / "labels").glob("*.jsonl"))
    script = ROOT / "generated" / project / f"{module_name(spec)}.py"
    run = subprocess.run([sys.executable, "-I", str(script), *map(str, files)], capture_output=True, text=True,
                         timeout=120, check=False)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    lines = [line for f in files for line in f.read_bytes().splitlines() if line.strip()]
    assert len(lines) >= 100
    for line in lines:
        assert check_reads(spec, line) == (True, []), line  # the premise: check uses every line
        instance = json.loads(line)
        assert examples.plain[project].is_valid(instance), list(examples.plain[project].iter_errors(instance))
        assert examples.content[project].is_valid(instance), line


# --- (2) records check refuses are invalid for the validator and the schema ---------------------------------------

def _edit(project: str, task: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The first line of the project's JSONL file for ``task``, with keys changed (``...`` removes one)."""
    path = ROOT / "specs" / project / "labels" / "batch-02.jsonl"
    base = next(r for r in map(json.loads, path.read_text("utf-8").splitlines()) if r.get("task") == task)
    record = {k: Raw(repr(v)) if isinstance(v, float) else v for k, v in {**base, **(changes or {})}.items()}
    return {k: v for k, v in record.items() if v is not ...}


REFUSED = [  # (project, task, changes, plain jsonschema sees it)
    ("support-intent", "intent", {"label": "refnd"}, True),
    ("support-intent", "tone", {"label": Raw("6")}, True),
    ("support-intent", "tone", {"label": "0"}, True),
    ("support-intent", "tone", {"label": Raw("2.5")}, True),
    ("support-intent", "intent", {"annotator_id": None}, True),
    ("support-intent", "intent", {"annotator_id": ...}, True),
    ("support-intent", "intent", {"annotator_id": ""}, True),
    ("support-intent", "intent", {"label": True}, True),
    ("support-intent", "intent", {"task": "nope"}, True),
    ("support-intent", "intent", {"step": Raw("2")}, True),
    ("support-intent", "intent", {"created_at": "2026-03-04T08:37:24"}, True),
    ("support-intent", "intent", {"lead_time_s": Raw("-1")}, True),
    ("clinical-ner", "entities", {"label": [[Raw("10"), Raw("36")]]}, True),
    ("clinical-ner", "entities", {"label": [[Raw("10"), Raw("36"), "CONDITON"]]}, True),
    ("clinical-ner", "entities", {"label": [[Raw("-1"), Raw("36"), "CONDITION"]]}, True),
    ("clinical-ner", "entities", {"label": "CONDITION"}, True),
    ("clinical-ner", "entities", {"label": AsText([[Raw("10"), Raw("36")]])}, False),
    ("agent-trajectories", "attribution", {"label": {"agent": "nobody", "step": Raw("1")}}, True),
    ("agent-trajectories", "attribution", {"label": AsText({"agent": "nobody", "step": Raw("1")})}, False),
    ("agent-trajectories", "attribution", {"label": {"agent": "planner", "step": Raw("-1")}}, True),
    ("agent-trajectories", "attribution", {"label": "planner"}, True),
    ("agent-trajectories", "tool_call", {"step": None}, True),
    ("rlhf-preference", "ranking", {"label": ["r4", "r2", "r1"]}, True),
    ("rlhf-preference", "ranking", {"label": AsText(["r4", "r2", "r1", "r1"])}, False),
    ("rlhf-preference", "preference", {"label": "C"}, True),
]


@pytest.mark.parametrize(("project", "task", "changes", "plain_sees"), REFUSED)
def test_records_check_refuses_are_invalid(project: str, task: str, changes: dict[str, Any], plain_sees: bool,
                                           examples: Checkers) -> None:
    record = _edit(project, task, changes)
    assert agree(examples, project, record) is False
    assert examples.validators[project].validate_record(examples.validators[project].parse_record(dump(record)))
    assert examples.content[project].is_valid(json.loads(dump(record))) is False
    assert examples.plain[project].is_valid(json.loads(dump(record))) is not plain_sees


def test_unedited_records_are_valid(examples: Checkers) -> None:  # the edits above are what makes them invalid
    for project, task, _, _ in REFUSED:
        assert agree(examples, project, _edit(project, task)) is True


# --- (3) tricky records: the validator, the schema and check agree ------------------------------------------------

BLIND = [  # valid for JSON Schema, refused by check and the validator: the limits the schema's description states
    ("support-intent", "tone", {"label": Raw("2.0")}),
    ("support-intent", "tone", {"label": Raw("2e0")}),
    ("support-intent", "intent", {"annotator_id": Raw("17.0")}),
    ("support-intent", "intent", {"lead_time_s": Raw("1e3")}),
    ("support-intent", "intent", {"lead_time_s": Raw("-0")}),
    ("support-intent", "intent", {"annotator_id": "a\ud800"}),
    ("clinical-ner", "entities", {"label": [[Raw("10"), Raw("36.0"), "CONDITION"]]}),
    ("clinical-ner", "entities", {"label": [[Raw("36"), Raw("10"), "CONDITION"]]}),
    ("clinical-ner", "entities", {"label": [[Raw("0"), Raw("9"), "TEST"], [Raw("5"), Raw("12"), "TEST"]]}),
    ("agent-trajectories", "attribution", {"label": {"agent": "planner", "step": Raw("1.0")}}),
]


@pytest.mark.parametrize(("project", "task", "changes"), BLIND)
def test_what_the_schema_cannot_see(project: str, task: str, changes: dict[str, Any], examples: Checkers) -> None:
    record = _edit(project, task, changes)
    assert agree(examples, project, record) is False
    assert examples.content[project].is_valid(json.loads(dump(record)))


ACCEPTED = [  # forms check reads besides the plain ones
    ("support-intent", "tone", {"label": "2", "lead_time_s": "25.50", "step": ""}),
    ("rlhf-preference", "preference", {"lead_time_s": None, "item_id": Raw("3")}),
    ("support-intent", "intent", {"ticket_id": Raw("12"), "annotator_id": Raw("-0"), "step": None}),
    ("support-intent", "intent", {"created_at": "2026-03-04 08:37:24.123456789+05:30", "extra": [True, None]}),
    ("clinical-ner", "entities", {"label": AsText([[Raw("10"), Raw("36"), "CONDITION"]]), "step": None}),
    ("clinical-ner", "entities", {"label": [], "task": None}),
    ("agent-trajectories", "attribution", {"label": AsText({"step": None, "agent": "planner"})}),
    ("agent-trajectories", "attribution", {"label": {"agent": "planner", "step": Raw("0")}}),
    ("agent-trajectories", "tool_call", {"step": "3"}),
    ("rlhf-preference", "ranking", {"label": AsText(["r1", "r2", "r3", "r4"])}),
]


@pytest.mark.parametrize(("project", "task", "changes"), ACCEPTED)
def test_other_accepted_forms(project: str, task: str, changes: dict[str, Any], examples: Checkers) -> None:
    assert agree(examples, project, _edit(project, task, changes)) is True


def _number(n: int) -> st.SearchStrategy[Raw]:
    """n as JSON text, mostly plain, sometimes in a form only check and the validator tell apart."""
    forms = [str(n)] * 5 + [f"{n}.0", f"{n}e0", "-0" if n == 0 else f"{n}E+0"]
    return st.sampled_from(forms).map(Raw)


WEIRD = st.sampled_from([None, True, Raw("3"), Raw("1.5"), Raw("2.0"), ["x"], {"a": Raw("1")}, ""])
TEXT = st.text(st.one_of(st.characters(codec="utf-8"), st.sampled_from(["\ud800", "\udfff"])), max_size=6)
ID = st.one_of(st.sampled_from(["i1", "x y", "", "a\ud800", "\udfffb"]), st.integers(-3, 30).flatmap(_number), WEIRD)
LEAD = st.one_of(st.sampled_from(["3", "3.5", "-1", "1e3", ".5", "3.", " 3", "12\n", "١٢", ""]),
                 st.sampled_from(["0", "3", "3.5", "12.25", "3.50", "1e3", "-0", "-1", "1e400"]).map(Raw), WEIRD)
TIMES = st.sampled_from(["2024-02-29T23:59:59.5+05:30", "2023-02-29T00:00:00Z", "2024-01-01T00:00:00", "",
                         "2024-01-01 00:00:00Z", "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:00Z\n"])


def _structured(task: Task) -> st.SearchStrategy[Any]:
    ids = list(task.label_ids) or ["none"]
    label = st.one_of(st.sampled_from(ids), st.sampled_from(["", "zz", ids[0].upper()]), TEXT)
    offset = st.one_of(st.integers(-1, 12).flatmap(_number), st.sampled_from([True, "3", Raw("1e400")]))
    if task.kind in ("multi_choice", "ranking"):
        value = st.one_of(st.permutations(ids), st.lists(label, max_size=len(ids) + 1))
    elif task.kind == "spans":
        span = st.one_of(st.tuples(offset, offset, label).map(list), st.lists(offset, max_size=4))
        value = st.lists(span, max_size=3)
    else:
        step = st.one_of(st.none(), st.integers(-1, 5).flatmap(_number), st.sampled_from([Raw("1.5"), True, "2"]))
        value = st.fixed_dictionaries({"agent": st.one_of(label, st.none()), "step": step},
                                      optional={"extra": st.just(Raw("1"))})
    return st.one_of(value, value.map(AsText), st.just(AsText("not json")))


def _values(task: Task) -> st.SearchStrategy[Any]:
    ids = list(task.label_ids) or ["none"]
    if task.is_list or task.kind == "attribution":
        return st.one_of(_structured(task), st.sampled_from(ids), WEIRD)
    if task.kind == "rating":
        return st.one_of(st.sampled_from(ids), st.integers(0, 6).flatmap(_number), st.just(Raw("2.5")), WEIRD)
    if task.kind == "text":
        limit = task.max_length or 100_000
        return st.one_of(TEXT, st.integers(limit - 1, limit + 1).map(lambda n: "x" * n), WEIRD)
    return st.one_of(st.sampled_from(ids), st.sampled_from(["zz", ids[0] + " "]), TEXT, WEIRD)


@st.composite
def valid_values(draw: st.DrawFn, task: Task) -> Any:
    ids = list(task.label_ids)
    if task.kind == "multi_choice":
        lo, hi = task.min_choices or 0, task.max_choices or len(ids)
        value: Any = draw(st.lists(st.sampled_from(ids), min_size=lo, max_size=hi, unique=True))
    elif task.kind == "ranking":
        value = draw(st.permutations(ids))
    elif task.kind == "spans":
        cuts = sorted(draw(st.lists(st.integers(0, 40), max_size=6, unique=True)))
        spans = [[Raw(str(a)), Raw(str(b)), draw(st.sampled_from(ids))] for a, b in zip(cuts[::2], cuts[1::2],
                                                                                       strict=False)]
        value = draw(st.permutations(spans))
    elif task.kind == "attribution":
        value = {"agent": draw(st.sampled_from(ids)), "step": draw(st.sampled_from([None, Raw("0"), Raw("3")]))}
    elif task.kind == "text":
        return draw(st.text(min_size=1, max_size=8).filter(lambda t: not schema_blind(t)))
    elif task.kind == "rating":
        return draw(st.sampled_from(ids).map(lambda i: st.sampled_from([i, Raw(i)])).flatmap(lambda x: x))
    else:
        return draw(st.sampled_from(ids))
    return AsText(value) if draw(st.booleans()) else value


def _odd(text: str) -> st.SearchStrategy[Any]:
    """An integer's text in another form: one check refuses (2.0, 2e0), a string, a boolean or another number."""
    n = int(text)
    return st.sampled_from([Raw(f"{n}.0"), Raw(f"{n}e0"), Raw("-0") if n == 0 else Raw(f"-{n}"), text, True,
                            Raw(str(n + 1)), None])


@st.composite
def near_misses(draw: st.DrawFn, value: Any) -> Any:
    """A valid value changed in one small way that check may or may not accept."""
    if isinstance(value, AsText):
        return draw(st.sampled_from([value.value, AsText(draw(near_misses(value.value)))]))
    if isinstance(value, Raw):
        return draw(_odd(value))
    if isinstance(value, dict):
        key = draw(st.sampled_from(sorted(value)))
        edits = [{k: v for k, v in value.items() if k != key}, {**value, "extra": None}, {**value, key: "zz"},
                 {**value, key: draw(near_misses(value[key]))} if value[key] is not None else {**value, key: Raw("2")}]
        return draw(st.sampled_from(edits))
    if isinstance(value, list) and value:
        i = draw(st.integers(0, len(value) - 1))
        edits = [value + value[i:i + 1], value[:i] + value[i + 1:], [*value, "zz"], value[::-1],
                 value[:i] + [draw(near_misses(value[i]))] + value[i + 1:]]
        return draw(st.sampled_from(edits))
    if isinstance(value, str) and value:
        # a JSON number only where the text is one: "¹" and "٣" are digits to str.isdigit, not to JSON
        number = value.isascii() and value.isdigit()
        return draw(st.sampled_from([value + " ", value.upper(), [value], Raw(value) if number else ""]))
    return draw(st.sampled_from([[], ["zz"], "", None]))


@st.composite
def records(draw: st.DrawFn, key: str, task_name: str) -> dict[str, Any]:
    """A valid record of the task, then zero to three fields replaced by valid or near-miss forms, or removed."""
    spec = SPECS[key]
    cols, task = spec.columns, spec.task(task_name)
    assert task is not None
    record: dict[str, Any] = {cols.item: "i1", cols.annotator: Raw("7"), cols.value: draw(valid_values(task)),
                              cols.task: task_name, cols.timestamp: "2024-02-29T23:59:59.5+05:30",
                              cols.lead_time: Raw("3.5"), "comment": "x"}
    if task.unit == "step":
        record[cols.unit] = draw(st.sampled_from(["2", Raw("0")]))
    unit = st.one_of(st.sampled_from(["2", ""]), st.integers(0, 3).flatmap(_number), WEIRD)
    changes = {cols.item: ID, cols.annotator: ID, cols.unit: unit, cols.timestamp: TIMES, cols.lead_time: LEAD,
               cols.task: st.sampled_from([task_name, "", "nope", None]), "comment": WEIRD,
               cols.value: st.one_of(_values(task), *(_values(t) for t in spec.tasks[:3]))}
    for col in draw(st.lists(st.sampled_from(sorted(changes)), max_size=3, unique=True)):
        if col == cols.value and draw(st.booleans()):
            record[col] = draw(near_misses(record[col]))
        elif draw(st.integers(0, 4)) == 0:
            record.pop(col, None)
        else:
            record[col] = draw(changes[col])
    return record


@pytest.mark.parametrize(("key", "task"), [(key, t) for key in sorted(SPECS) for t in SPECS[key].task_names])
@settings(max_examples=250, deadline=None, database=None, phases=[Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_validator_schema_and_check_agree(key: str, task: str, data: st.DataObject, checkers: Checkers) -> None:
    agree(checkers, key, data.draw(records(key, task)))


def test_generated_records_are_often_valid(checkers: Checkers) -> None:
    """The strategy is not vacuous: for every task, some records are valid and some are not."""
    verdicts: dict[tuple[str, str], set[bool]] = {}
    pairs = [(key, t) for key in sorted(SPECS) for t in SPECS[key].task_names]

    # derandomized: whether 600 random draws happen to hit both verdicts of every task is luck (it failed once
    # in a few hundred runs); a fixed sequence makes the check of the strategy itself reproducible
    @settings(max_examples=600, deadline=None, database=None, phases=[Phase.generate], derandomize=True)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        key, task = data.draw(st.sampled_from(pairs))
        verdicts.setdefault((key, task), set()).add(agree(checkers, key, data.draw(records(key, task))))

    run()
    assert {pair: verdicts.get(pair) for pair in pairs} == {pair: {False, True} for pair in pairs}


def _sample(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"item_id": "T-1", "annotator_id": "a1", "task": "intent", "label": "refund",
                              "created_at": "2024-02-29T23:59:59.5+05:30"}
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


SPANS = [[Raw("0"), Raw("4"), "product"], [Raw("4"), Raw("9"), "plan"]]
TRICKY = [  # (record of the all-kinds sample spec, check's verdict)
    (_sample(), True), (_sample(label="Refund"), False), (_sample(extra=[None, True]), True),
    (_sample(created_at="2023-02-29T00:00:00Z"), False), (_sample(created_at=...), False),
    (_sample(created_at=None), False), (_sample(created_at="2024-01-01T00:00:00"), False),
    (_sample(lead_time_s="4.5"), True), (_sample(lead_time_s=Raw("4.50")), True), (_sample(lead_time_s=None), True),
    (_sample(lead_time_s=Raw("-0")), False), (_sample(lead_time_s=Raw("1e3")), False),
    (_sample(lead_time_s=Raw("-1")), False), (_sample(lead_time_s=True), False),
    (_sample(item_id=Raw("12")), True), (_sample(item_id=Raw("12.0")), False), (_sample(item_id=True), False),
    (_sample(item_id=None), False), (_sample(item_id=["T-1"]), False), (_sample(annotator_id="a\ud800"), False),
    (_sample(task=...), False), (_sample(task=None), False), (_sample(task="nope"), False), (_sample(task=1), False),
    (_sample(task="topics", label=["billing", "account"]), True),
    (_sample(task="topics", label=AsText(["billing", "account"])), True),
    (_sample(task="topics", label=' [ "billing" ] '), True),
    (_sample(task="topics", label=["billing", "billing"]), False),
    (_sample(task="topics", label=AsText(["billing", "billing"])), False),
    (_sample(task="topics", label=[]), False), (_sample(task="topics", label="billing"), False),
    (_sample(task="topics", label=["billing", Raw("1")]), False),
    (_sample(task="topics", label={"billing": True}), False),
    (_sample(task="entities", label=SPANS), True), (_sample(task="entities", label=AsText(SPANS)), True),
    (_sample(task="entities", label=[]), True),
    (_sample(task="entities", label=[[Raw("0.0"), Raw("4"), "product"]]), False),
    (_sample(task="entities", label=[[Raw("0"), Raw("5"), "product"], [Raw("4"), Raw("9"), "plan"]]), False),
    (_sample(task="entities", label=[[Raw("4"), Raw("4"), "product"]]), False),
    (_sample(task="entities", label=[[False, Raw("4"), "product"]]), False),
    (_sample(task="entities", label=[[Raw("-1"), Raw("4"), "product"]]), False),
    (_sample(task="entities", label=[[Raw("0"), Raw("4"), "Product"]]), False),
    (_sample(task="entities", label=[[Raw("0"), Raw("4")]]), False),
    (_sample(task="entities", label=[[Raw("0"), Raw("1e400"), "product"]]), False),
    (_sample(task="order", label=["r3", "r1", "r2"]), True), (_sample(task="order", label=["r3", "r1"]), False),
    (_sample(task="order", label=AsText(["r3", "r1", "r2"])), True),
    (_sample(task="order", label=["r3", "r1", "r1"]), False),
    (_sample(task="blame", label={"agent": "coder", "step": None}), True),
    (_sample(task="blame", label={"agent": "coder", "step": Raw("2")}), True),
    (_sample(task="blame", label=AsText({"agent": "coder", "step": Raw("2")})), True),
    (_sample(task="blame", label={"agent": "coder", "step": Raw("-1")}), False),
    (_sample(task="blame", label={"agent": "coder", "step": Raw("1.0")}), False),
    (_sample(task="blame", label={"agent": "coder", "step": "2"}), False),
    (_sample(task="blame", label={"agent": "coder"}), False), (_sample(task="blame", label="coder"), False),
    (_sample(task="blame", label={"agent": "coder", "step": None, "x": None}), False),
    (_sample(task="blame", label=["coder", None]), False),
    (_sample(task="step_ok", label="ok", step="2"), True), (_sample(task="step_ok", label="ok", step=Raw("0")), True),
    (_sample(task="step_ok", label="ok", step=Raw("2.0")), False), (_sample(task="step_ok", label="ok"), False),
    (_sample(task="step_ok", label="ok", step=""), False), (_sample(task="step_ok", label="ok", step=True), False),
    (_sample(step="2"), False), (_sample(step=Raw("0")), False), (_sample(step=None), True), (_sample(step=""), True),
    (_sample(task="tone", label="5"), True), (_sample(task="tone", label=Raw("5")), True),
    (_sample(task="tone", label="05"), False), (_sample(task="tone", label=Raw("5.0")), False),
    (_sample(task="tone", label=Raw("6")), False), (_sample(task="tone", label=Raw("0")), False),
    (_sample(task="tone", label=None), False),
    (_sample(task="preference", label="tie"), True), (_sample(task="preference", label=Raw("1")), False),
    (_sample(task="note", label="free"), True), (_sample(task="note", label=Raw("3")), False),
    (_sample(task="note", label=""), False), (_sample(task="note", label="x" * 201), False),
    (_sample(task="note", label="a\ud800"), False),
]


@pytest.mark.parametrize(("record", "used"), TRICKY)
def test_tricky_records(record: dict[str, Any], used: bool, checkers: Checkers) -> None:
    assert agree(checkers, "all-kinds", record) is used


def test_messages_name_the_spec_columns(checkers: Checkers) -> None:
    v = checkers.validators["single-intent"]
    assert v.validate_record({"id": "1", "who": "a", "answer": "refund", "secs": "2"}) == []
    assert v.validate_record({"id": 1, "who": 2, "answer": "refund", "secs": 2.5, "step_no": None}) == []
    assert v.validate_record({"id": "1", "answer": "nope", "secs": "-2"}) == [
        "missing who", "unknown label 'nope'", "secs '-2' is not a non-negative number of seconds"]
    assert v.validate_record({"id": 1.5, "who": True, "answer": ["refund"], "secs": 1}) == [
        "id must be a string or an integer or null; found a number",
        "who must be a string or an integer or null; found a boolean",
        "answer must be a string or null; found an array"]
    assert v.validate_record(v.parse_record('{"id": "1", "who": "a", "answer": "refund", "secs": 1e1}')) == [
        "secs '1e1' is not a non-negative number of seconds"]
    assert v.validate_record([1]) == ["a record must be a JSON object"]


def test_schemas_are_valid_2020_12_and_use_exact_enums() -> None:
    for spec in SPECS.values():
        schema = label_schema(spec)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    text = json.dumps(label_schema(SPECS["all-kinds"]))
    assert '"enum": ["refund", "status", "dispute", "other"]' in text
    assert '"enum": [1, 2, 3, 4, 5]' in text
    patterns = re.findall(r'"pattern": ("(?:[^"\\]|\\.)*")', text)
    assert len(patterns) >= 5 and not any("refund" in p or "product" in p for p in patterns)


def test_the_validator_reads_lines_as_long_as_check() -> None:
    assert VALIDATOR_MAX_LINE_BYTES == MAX_LINE_BYTES


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


def _padded(size: int) -> bytes:
    """A valid record as one line of exactly ``size`` bytes, line end included."""
    short = len(dump(_sample(comment="")).encode()) + 1
    return dump(_sample(comment="x" * (size - short))).encode() + b"\n"


LINES = [  # (line, check uses it: True, refuses it: False, skips it: None)
    (b"\xef\xbb\xbf" + dump(_sample()).encode(), True), (b"  \t\r\n", None), (b"\n", None), (b"", None),
    (b"\x0c\n", False), (b'{"a": 1, "a": 2}\n', False), (b'{"x": NaN}\n', False), (b"[1]\n", False), (b"1", False),
    (b'{"bad": "\xff"}\n', False), (b"\x00\n", False), (b"[" * 5000 + b"]" * 5000, False),
    (_padded(MAX_LINE_BYTES), True), (_padded(MAX_LINE_BYTES + 1), False), (_padded(300)[:-1] + b"\r\n", True),
]


@pytest.mark.parametrize(("line", "used"), LINES, ids=range(len(LINES)))
def test_lines_are_read_as_check_reads_them(line: bytes, used: bool | None, checkers: Checkers) -> None:
    oracle = check_reads(SPECS["all-kinds"], line)
    assert (None if oracle is None else oracle[0]) == used
    assert (checkers.validators["all-kinds"].line_problems(line, True) == []) == (used is not False)


def test_cli_reports_file_line_and_exit_codes(tmp_path: Path) -> None:
    artifacts = {a.path.partition("/")[2]: a.content for a in compile_spec(sample_spec())}
    script = tmp_path / "validate_sample_project.py"
    script.write_bytes(artifacts["validate_sample_project.py"])
    good = dump(_sample(item_id=Raw("7"), lead_time_s=Raw("2.5"), step=None))
    (tmp_path / "ok.jsonl").write_text(good + "\n\n  \n" + good + "\n", encoding="utf-8")
    result = _run(script, str(tmp_path / "ok.jsonl"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    lines = [good, dump(_sample(label="nope")), '{"a": 1, "a": 2}', "[1]", "", '{"x": NaN}', good]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(("\n".join(lines) + "\n").encode() + b'{"bad": "\xff"}\n')
    result = _run(script, str(bad))
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert out[0] == f"{bad}:2: unknown label 'nope'"
    assert out[1].startswith(f"{bad}:3: not valid JSON: duplicate key 'a'")
    assert out[2] == f"{bad}:4: a record must be a JSON object"
    assert out[3].startswith(f"{bad}:6: not valid JSON: NaN")
    assert out[4].startswith(f"{bad}:8: not valid UTF-8")
    assert len(out) == 5
    assert _run(script).returncode == 2
    assert _run(script, str(tmp_path / "missing.jsonl")).returncode == 2
    for flag in ("-h", "--help"):  # was read as a file name: "cannot read", exit 2 (audit)
        helped = _run(script, flag)
        assert helped.returncode == 0 and helped.stdout.startswith("usage: python ")
        assert "Exit code 0 means every record is valid" in helped.stdout
    optimised = subprocess.run([sys.executable, "-I", "-OO", str(script), "--help"], capture_output=True, text=True,
                               timeout=60, check=False)  # no docstrings under -OO: the usage alone
    assert (optimised.returncode, optimised.stderr) == (0, "") and optimised.stdout.startswith("usage: python ")


@pytest.mark.parametrize(("name", "content"), [
    ("labels.csv", "item_id,annotator_id,label\nt1,a1,refund\n"),  # no line is JSON
    ("export.json", '[{"id": 1},\n{"id": 2}]\n'),  # a JSON array (a Label Studio export), even with JSON lines
    ("bom.json", "\ufeff[\n]\n"),
])
def test_a_file_that_is_not_json_lines_is_refused_once(tmp_path: Path, name: str, content: str) -> None:
    """Not one problem per line (an audit saw 538 lines for a Label Studio export) but one refusal, exit 2."""
    artifacts = {a.path.partition("/")[2]: a.content for a in compile_spec(sample_spec())}
    script = tmp_path / "validate_sample_project.py"
    script.write_bytes(artifacts["validate_sample_project.py"])
    (tmp_path / name).write_text(content, encoding="utf-8")
    result = _run(script, str(tmp_path / name))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"{tmp_path / name}: not a JSON Lines file of one JSON object per line (this validator "
                             "reads .jsonl label files; check CSV, Parquet and Label Studio exports with "
                             "`labelspec check`)\n")


@pytest.mark.parametrize("lead_time", ["12\n", "١٢", "1٫5"])
def test_records_lead_time_is_ascii_to_the_end(lead_time: str) -> None:
    spec = SPECS["single-intent"]
    assert record_problems(spec, {"item": "1", "annotator": "a", "value": "refund", "lead_time": lead_time})


def test_records_attribution_with_a_list_agent_is_a_problem_not_a_crash() -> None:
    spec = SPECS["steps-and-attribution"]
    record = {"item": "1", "annotator": "a", "task": "blame", "value": '{"agent": [], "step": 0}'}
    assert record_problems(spec, record)


def test_several_labels_for_a_single_choice_task_are_named_as_such(checkers: Checkers) -> None:
    """A CSV cell '["refund","fraud"]' is not an unknown label: it is a list where one label belongs (the same
    message from check and from the validator)."""
    from labelspec.spec.records import value_problems

    v, spec = checkers.validators["single-intent"], checkers.specs["single-intent"]
    task = next(t for t in spec.tasks if t.kind == "single_choice")
    said = ['a single_choice task takes one label; found a list ["refund","fraud"]']
    assert value_problems(task, '["refund","fraud"]') == said
    assert v.validate_record({"id": "1", "who": "a", "answer": '["refund","fraud"]', "secs": "2"}) == said
    assert value_problems(task, "[refund") == ["unknown label '[refund'"]
