"""Shape validation: the packaged JSON Schema over the parsed YAML, every error a located diagnostic (LS2xx).

Errors come from ``Draft202012Validator.iter_errors`` (all at once) and are mapped by their structured fields
(``validator``, ``validator_value``, ``instance``, ``schema``, ``absolute_path``) to a stable code at the exact
``FILE:LINE:COL``. It never parses jsonschema's messages and never checks meaning (references, ids, paths): that is
``resolve``'s job, which runs only when this stage is clean.
"""

from __future__ import annotations

import copy
import datetime
import functools
import importlib.resources
import json
import math
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from labelspec.errors import Diagnostic, sorted_unique
from labelspec.spec.locate import Locator, Part, did_you_mean, pointer
from labelspec.spec.source import RawSpec

SCHEMA_FILE = "spec-v1.schema.json"
LANGUAGE_VERSION = 1
#: The top-level keys a policy file (``extends:``) may hold.
POLICY_KEYS: tuple[str, ...] = ("labelspec", "extends", "quality", "adjudication", "gates", "input")
_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number", "object": "a mapping",
               "array": "a list", "boolean": "true or false", "null": "null"}
_EXACTLY_ONE = {"when": "a rule condition takes `field` and exactly one of `matches`, `equals`, `in`",
                "expect": "`expect` takes exactly one of `label_in`, `label_not_in`"}
_PLAIN_SCALAR = re.compile(r"[^,\]\}#\r\n]*")
_RANGE = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "greater than",
          "exclusiveMaximum": "less than"}


@functools.cache
def spec_schema() -> dict[str, Any]:
    """The spec-language JSON Schema shipped with the package (parsed once)."""
    text = importlib.resources.files("labelspec").joinpath("schemas", SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def policy_schema() -> dict[str, Any]:
    """The spec schema restricted to :data:`POLICY_KEYS`, none required: the shape of an ``extends:`` file."""
    schema = copy.deepcopy(spec_schema())
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k in POLICY_KEYS}
    schema["required"] = []
    schema["title"] = "labelspec policy file (extends), language version 1"
    return schema


#: JSON Schema counts 3.0 as an integer; a spec's ``3.0`` is a float the author wrote, and silently reading it as
#: 3 would retype it (G3e): only ints (never bools) are integers here.
_STRICT_TYPES = Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
_TRAILING_DOLLAR = re.compile(r"(?<!\\)(?:\\\\)*\$\Z")  # a final `$` after an even number of backslashes


@functools.cache
def anchored(pattern: str) -> re.Pattern[str]:
    """``pattern`` with a final unescaped ``$`` read as ``\\Z``.

    The schema stays ECMA-262 (editors use it), where ``$`` ends the text; Python's ``$`` also matches before a
    final newline, so ``"base\\n"`` would pass ``^[a-z0-9-]+$`` and break every output named after it.
    """
    if _TRAILING_DOLLAR.search(pattern):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not anchored(patrn).search(instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
                        ) -> Iterator[ValidationError]:
    if validator.is_type(instance, "object"):
        for patrn, subschema in patterns.items():
            for key, value in instance.items():
                if anchored(patrn).search(key):
                    yield from validator.descend(value, subschema, path=key, schema_path=patrn)


def extra_keys(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The keys neither ``properties`` nor (anchored) ``patternProperties`` of ``schema`` cover."""
    named, patterns = schema.get("properties", {}), [anchored(p) for p in schema.get("patternProperties", {})]
    return [k for k in instance if k not in named and not any(p.search(str(k)) for p in patterns)]


def _additional_properties(validator: Any, allowed: Any, instance: Any, schema: dict[str, Any]
                           ) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    extras = extra_keys(instance, schema)
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        yield ValidationError(f"unexpected keys: {', '.join(map(repr, extras))}")


_Validator = validators.extend(Draft202012Validator, type_checker=_STRICT_TYPES, validators={
    "pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties})


@functools.cache
def _validator(policy: bool) -> Draft202012Validator:
    validator: Draft202012Validator = _Validator(policy_schema() if policy else spec_schema())
    return validator


def validate_shape(raw: RawSpec) -> list[Diagnostic]:
    """Every shape problem of a spec file, located and sorted; empty when the file has the shape of language v1."""
    return _validate(raw, policy=False)


def validate_policy_shape(raw: RawSpec) -> list[Diagnostic]:
    """Every shape problem of a policy file named by ``extends:`` (only :data:`POLICY_KEYS`, nothing required)."""
    return _validate(raw, policy=True)


def _validate(raw: RawSpec, *, policy: bool) -> list[Diagnostic]:
    loc = Locator([raw])
    data = raw.data
    if isinstance(data, dict) and "labelspec" in data and _is_number(data["labelspec"]) \
            and data["labelspec"] != LANGUAGE_VERSION:
        # another language version: the rest of the file would only produce noise against the v1 schema
        return [loc.diag("LS200", ["labelspec"], f"spec-language version {data['labelspec']!r} is not supported",
                         hint=f"this labelspec reads version {LANGUAGE_VERSION}")]
    diags = [*non_finite(data, loc), *_version_spelling(data, loc), *_calendar_dates(data, loc)]
    for error in _validator(policy).iter_errors(data):
        diags.extend(map_error(error, loc))
    return list(sorted_unique(diags))


def _version_spelling(data: Any, loc: Locator) -> list[Diagnostic]:
    """LS203 for ``labelspec: 1.0`` or ``0x1``: JSON Schema's ``const`` finds them equal to 1, yet the version is
    the integer 1 as written, as every other integer refuses ``3.0``."""
    value = data.get("labelspec") if isinstance(data, dict) else None
    if value != LANGUAGE_VERSION or isinstance(value, bool):
        return []  # another version is LS200, a bool or a string LS203 (from the schema)
    written = (_source_text(loc, ["labelspec"]) or "").split()
    text = written[-1] if written else ""  # after an anchor or a tag
    if isinstance(value, int) and text in ("", str(LANGUAGE_VERSION)) or text.startswith("*"):
        return []
    return [loc.diag("LS203", ["labelspec"], f"expected the integer {LANGUAGE_VERSION}, got {text or repr(value)}",
                     hint=f"write `labelspec: {LANGUAGE_VERSION}`")]


def _calendar_dates(data: Any, loc: Locator) -> list[Diagnostic]:
    """LS204 for a changelog ``date`` of the form YYYY-MM-DD that is no day of the calendar (``2024-02-30``)."""
    project = data.get("project") if isinstance(data, dict) else None
    entries = project.get("changelog") if isinstance(project, dict) else None
    out = []
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        date = entry.get("date") if isinstance(entry, dict) else None
        if not isinstance(date, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", date):
            continue  # the schema reports the shape
        try:
            datetime.date.fromisoformat(date)
        except ValueError:
            out.append(loc.diag("LS204", ["project", "changelog", i, "date"], f"{date!r} is not a calendar date",
                                hint="write a real day as YYYY-MM-DD"))
    return out


def non_finite(data: Any, loc: Locator, parts: tuple[Part, ...] = ()) -> list[Diagnostic]:
    """LS206 for every NaN or infinity, checked explicitly because JSON Schema ranges let NaN through."""
    if isinstance(data, float) and not math.isfinite(data):
        return [loc.diag("LS206", parts, f"{data!r} is not a finite number", hint="write a finite number")]
    items: list[tuple[Part, Any]] = []
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = list(enumerate(data))
    return [d for part, value in items for d in non_finite(value, loc, (*parts, part))]


def map_error(error: ValidationError, loc: Locator) -> list[Diagnostic]:
    """One jsonschema error → diagnostics with a stable code (some errors name several keys)."""
    parts: list[Part] = list(error.absolute_path)
    if isinstance(error.instance, float) and not math.isfinite(error.instance):
        return []  # reported once as LS206
    if "propertyNames" in error.absolute_schema_path:
        return [_bad_key_name(error, parts, loc)]
    handler = _HANDLERS.get(str(error.validator), _value_not_allowed)
    return handler(error, parts, loc)


def _unknown_keys(error: ValidationError, parts: list[Part], loc: Locator) -> list[Diagnostic]:
    if not isinstance(error.instance, dict) or not isinstance(error.schema, dict):
        return []
    allowed = sorted(error.schema.get("properties", {}))
    patterns = list(error.schema.get("patternProperties", {}))
    extras = extra_keys(error.instance, error.schema)
    where = f" in {pointer(parts)}" if parts else ""
    out = []
    for key in extras:
        hint = did_you_mean(str(key), allowed)
        if hint is None and allowed:
            hint = "allowed here: " + ", ".join(allowed)
        elif hint is None and patterns:
            hint = "keys here must be integers on the scale, quoted, e.g. '1'"
        out.append(loc.diag("LS201", [*parts, key], f"unknown key {key!r}{where}", hint=hint, key=True))
    return out


def _bad_key_name(error: ValidationError, parts: list[Part], loc: Locator) -> Diagnostic:
    key = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    rule = str(schema.get("description") or _describe_constraint(error)).rstrip(".")
    suggestion = re.sub(r"[^a-z0-9_]+", "_", str(key).strip().lower()).strip("_")
    hint = rule
    if suggestion and suggestion != key and schema.get("pattern") and anchored(schema["pattern"]).search(suggestion):
        hint = f"{rule}; e.g. {suggestion!r}"
    return loc.diag("LS201", [*parts, key], f"key {key!r} is not a valid name here", hint=hint, key=True)


def _missing(error: ValidationError, parts: list[Part], loc: Locator) -> list[Diagnostic]:
    if not isinstance(error.instance, dict):
        return []
    where = f"in {pointer(parts)}" if parts else "at the top level"
    to = f"to {pointer(parts)}" if parts else "at the top level"
    return [loc.diag("LS202", parts, f"missing required key {key!r} {where}", hint=f"add `{key}:` {to}")
            for key in error.validator_value if key not in error.instance]


def _wrong_type(error: ValidationError, parts: list[Part], loc: Locator) -> list[Diagnostic]:
    expected = error.validator_value
    names = [expected] if isinstance(expected, str) else list(expected)
    want = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    got = error.instance
    return [loc.diag("LS203", parts, f"expected {want}, got {describe(got)}", hint=_type_hint(names, got, loc, parts))]


def _type_hint(names: list[str], got: Any, loc: Locator, parts: list[Part]) -> str | None:
    text = _source_text(loc, parts)
    if text is not None and text.startswith("!"):  # an explicit YAML tag (!!int 5) chose the type on purpose
        made = ("a boolean" if isinstance(got, bool) else "null" if got is None else "a number"
                if isinstance(got, (int, float)) else "text" if isinstance(got, str) else "a collection")
        return f"the tag {text.split(maxsplit=1)[0]} makes it {made}; remove the tag"
    if "string" in names:
        if isinstance(got, bool):
            return f"'{text or str(got).lower()}' was read as boolean {str(got).lower()}; quote it"
        if got is None:
            return f"'{text}' was read as null; quote it" if text else "an empty value was read as null; write a value"
        if isinstance(got, (int, float)):
            shown = text or repr(got)
            return f"{shown} was read as a number; quote it: '{shown}'"
    if ("integer" in names or "number" in names) and isinstance(got, str):
        if text is not None and text == got:  # written plain, yet text: a form YAML 1.1 and 1.2 read differently
            return _plain_number_hint(got)
        return "write the number without quotes"
    if "integer" in names and isinstance(got, float):
        return "use a whole number"
    if "boolean" in names and isinstance(got, str):
        return "only true and false are booleans"
    if "object" in names:
        return "write a mapping: `key: value` lines indented below, or {key: value}"
    if "array" in names:
        return "write a list: `- item` lines indented below, or [a, b]"
    return None


def _plain_number_hint(text: str) -> str:
    """For ``1e-1``, ``0.5e0``, ``1_0``, ``0o1``: numbers to one YAML version and text to the other, so specs
    keep them as text (LS107); the hint names the spelling both read as the number."""
    try:
        value = float(text.replace("_", "")) if not text.lower().startswith(("0o", "+0o", "-0o")) else None
    except ValueError:
        value = None
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return "write the number in plain decimal digits (e.g. 0.1 or 10)"
    # positional digits, never an exponent again (repr(1e-06) is '1e-06', which the same rule rejects)
    plain = str(int(value)) if value.is_integer() and "." not in text and "e" not in text.lower() else format(
        Decimal(repr(value)), "f")
    return f"write it in plain decimal digits: {plain} (YAML versions disagree on {text})"


def _source_text(loc: Locator, parts: list[Part]) -> str | None:
    """The plain scalar as written (``1.10`` rather than ``1.1``), read back from its line; only for hints."""
    layer = loc.layer_of(parts)
    where = layer.source.locate(tuple(parts))
    line = layer.source.line_text(where.line)
    if line is None or where.column < 1:
        return None
    match = _PLAIN_SCALAR.match(line, where.column - 1)
    text = match.group(0).strip() if match else ""
    return text or None


def _const(error: ValidationError, parts: list[Part], loc: Locator) -> list[Diagnostic]:
    if parts == ["labelspec"]:
        if _is_number(error.instance):
            return [loc.diag("LS200", parts, f"spec-language version {error.instance!r} is not supported",
                             hint=f"this labelspec reads version {LANGUAGE_VERSION}")]
        quoted = (_source_text(loc, parts) or "").startswith(("'", '"'))
        return [loc.diag("LS203", parts, f"expected the integer {LANGUAGE_VERSION}, got {describe(error.instance)}",
                         hint=f"write `labelspec: {LANGUAGE_VERSION}`" + (" without quotes" if quoted else ""))]
    return [loc.diag("LS204", parts, f"{describe(error.instance)} is not allowed here; expected "
                     f"{error.validator_value!r}")]


def _enum(error: ValidationError, parts: list[Part], loc: Locator) -> list[Diagnostic]:
    allowed = [v for v in error.validator_value if isinstance(v, str)]
    got = error.instance
    hint = did_you_mean(got, allowed) if isinstance(got, str) else None
    if hint is None:
        hint = "allowed: " + ", ".join(allowed)
    return [loc.diag("LS204", parts, f"{describe(got)} is not one of the allowed values", hint=hint)]


def _value_not_allowed(error: ValidationError, parts: list[Part], loc: Locator) -> list[Diagnostic]:
    """pattern, ranges, lengths, counts, uniqueness: LS204 with what was expected."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator in ("minProperties", "maxProperties") and parts and parts[-1] in _EXACTLY_ONE:
        return [loc.diag("LS204", parts, _EXACTLY_ONE[str(parts[-1])])]
    message = f"{describe(error.instance)} is not allowed here: {_describe_constraint(error)}"
    hint = None
    if error.validator == "pattern" and error.validator_value == r"\S":  # text: spaces are no definition
        hint = "write the text annotators should read"
    elif error.validator == "pattern" and isinstance(error.instance, str):
        hint = _pattern_hint(error.instance, str(error.validator_value), schema.get("description"))
    elif error.validator in ("maximum", "exclusiveMaximum") and error.validator_value == 1 \
            and _is_number(error.instance) and 1 < error.instance <= 100:
        hint = f"write a fraction of 1: {error.instance}% is {error.instance / 100:g}"
    elif error.validator == "uniqueItems":
        hint = "list each value once"
    elif error.validator == "minLength":
        hint = "write a value (an empty text is none)"
    elif error.validator == "minItems":
        hint = f"give at least {error.validator_value}"
    return [loc.diag("LS204", parts, message, hint=hint or schema.get("description"))]


def _pattern_hint(value: str, pattern: str, description: str | None) -> str | None:
    """A corrected value when an obvious one matches (case, separators, a missing ``.0``), else the description."""
    lower = value.strip().lower()
    candidates = (lower, re.sub(r"[^a-z0-9]+", "-", lower).strip("-"), re.sub(r"[^a-z0-9]+", "_", lower).strip("_"),
                  value + ".0", value + ".0.0")
    fixed = next((c for c in candidates if c != value and anchored(pattern).search(c)), None)
    return f"did you mean {fixed!r}?" if fixed else description


def _describe_constraint(error: ValidationError) -> str:
    v, value = str(error.validator), error.validator_value
    if v in _RANGE:
        return f"must be {_RANGE[v]} {value}"
    messages = {
        "pattern": "must not be blank" if value == r"\S" else f"must match {value}",
        "minLength": "must not be empty" if value == 1 else f"must be at least {value} characters long",
        "maxLength": f"must be at most {value} characters long",
        "minItems": f"needs at least {value} entries",
        "maxItems": f"takes at most {value} entries",
        "uniqueItems": "entries must not repeat",
        "minProperties": f"needs at least {value} keys",
        "maxProperties": f"takes at most {value} keys",
        "multipleOf": f"must be a multiple of {value}",
    }
    return messages.get(v, f"fails the {v} constraint")


def _shapes(error: ValidationError, parts: list[Part], loc: Locator) -> list[Diagnostic]:
    best = best_match(error.context) if error.context else None
    inner = map_error(best, loc) if best is not None else []
    if not inner:
        return [loc.diag("LS205", parts, f"{describe(error.instance)} matches none of the allowed shapes")]
    first = inner[0]
    return [loc.diag("LS205", list(best.absolute_path) if best is not None else parts,
                     f"matches none of the allowed shapes; closest: {first.message}", hint=first.hint)]


def describe(value: Any) -> str:
    """A value as a user reads it in YAML terms (not Python's)."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_Handler = Callable[[ValidationError, list[Part], Locator], list[Diagnostic]]
_HANDLERS: dict[str, _Handler] = {
    "additionalProperties": _unknown_keys,
    "required": _missing,
    "type": _wrong_type,
    "const": _const,
    "enum": _enum,
    "anyOf": _shapes,
    "oneOf": _shapes,
}
