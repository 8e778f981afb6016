"""Per-unit method details made of named float columns (a posterior per label, Borda scores per option).

One job: give a decider's details either as the dicts a caller may ask for, ``{"posterior": {"cat": 0.93, …}}``
per unit, or straight as their JSON text, column by column, without building a million small dicts first (the
release's ``detail`` column: most of its time at 1M judgments went into those dicts). The text is exactly what
``release_records.records_json`` writes for the same dicts (keys sorted at every level); when a value is not
finite that function defers to the encoder, and so does this one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from labelspec.check import release_json as js
from labelspec.check.release_records import records_json

#: The (n, len(names)) float rows of the units at the given positions.
Rows = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class FloatDetail:
    """``{group: {name: value}}`` per unit; each group's values are the columns of a float matrix."""

    groups: tuple[tuple[str, tuple[str, ...], Rows], ...]

    def __call__(self, idx: npt.NDArray[np.int64]) -> list[dict[str, Any]]:
        """The details as dicts, one per position in ``idx``."""
        tables = [(group, names, rows(idx).tolist()) for group, names, rows in self.groups]
        return [{group: dict(zip(names, table[i], strict=True)) for group, names, table in tables}
                for i in range(len(idx))]

    def json(self, idx: npt.NDArray[np.int64]) -> pa.Array:
        """The details' JSON text (large strings), one per position in ``idx``."""
        tables = {group: (names, rows(idx)) for group, names, rows in self.groups}
        if len(idx) == 0 or not any(names for names, _ in tables.values()) or any(
                not np.isfinite(m).all() for _, m in tables.values()):  # no column, or what json.dumps refuses
            return records_json(self(idx))
        parts: list[js.Fragment] = []
        for i, group in enumerate(sorted(tables)):  # loops over groups and names, not units
            names, matrix = tables[group]
            parts.append(("{" if i == 0 else ",") + js.dumps(group) + ":")
            parts += _object(names, matrix)
        return js.join([*parts, "}"])


def _object(names: Sequence[str], matrix: npt.NDArray[np.float64]) -> list[js.Fragment]:
    if not names:
        return ["{}"]
    parts: list[js.Fragment] = []
    for i, j in enumerate(sorted(range(len(names)), key=names.__getitem__)):
        parts += [("{" if i == 0 else ",") + js.dumps(names[j]) + ":", js.floats(np.ascontiguousarray(matrix[:, j]))]
    return [*parts, "}"]
