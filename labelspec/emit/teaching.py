"""Calibration items the guidelines may show as worked examples: the emitter's only input besides the Spec.

The Spec holds only the calibration file's path; reading the file is I/O, which ``emit`` must not do. The API reads
it and passes the rows marked ``teaching=true`` as :class:`TeachingExample` values to ``compile_spec``. Gold items are
never passed here: they are mixed into production work unmarked, and showing them would void the gold check.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class TeachingExample:
    """One calibration item shown with its expected answer.

    ``label`` is the answer as a judgment record carries it (a label id, a rating, canonical JSON for lists);
    ``fields`` is what the annotator sees of the item (field name → text), when the items file has it; ``why``
    explains the answer and ``edge_case`` names the edge case that settles it, if any.
    """

    task: str
    item: str
    label: str
    unit: str = ""
    why: str = ""
    edge_case: str = ""
    fields: tuple[tuple[str, str], ...] = ()
