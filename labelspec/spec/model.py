"""The typed, frozen model of a validated spec.

Every node keeps the :class:`SourceLocation` it was declared at, so reports can point back at the spec line. The model
does no I/O and imports only the standard library (and labelspec.errors for the location type); it is built by
``spec.resolve`` from schema-valid data, never by hand-written parsing elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Literal

from labelspec.errors import SourceLocation

Kind = Literal["single_choice", "multi_choice", "rating", "spans", "pairwise", "ranking", "text", "attribution"]
Unit = Literal["item", "step"]
Level = Literal["nominal", "ordinal", "interval", "ratio"]
Severity = Literal["error", "warn", "off"]

#: Task kinds whose judgment value is a list (canonical JSON text in label files).
LIST_KINDS: frozenset[str] = frozenset({"multi_choice", "spans", "ranking"})
#: Task kinds whose value is one label id (pairwise answers are the fixed labels A, B, tie).
CHOICE_KINDS: frozenset[str] = frozenset({"single_choice", "pairwise"})
#: The fixed answers of a pairwise task.
PAIRWISE_LABELS: tuple[str, ...] = ("A", "B", "tie")
NOWHERE = SourceLocation("<default>", 0, 0)


def _loc() -> SourceLocation:
    return dc_field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Counterexample:
    text: str
    use: str
    why: str
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class Label:
    id: str
    title: str
    definition: str
    parent: str | None = None
    examples: tuple[str, ...] = ()
    counterexamples: tuple[Counterexample, ...] = ()
    review: Literal["always", "auto"] = "auto"
    hotkey: str | None = None
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeCase:
    id: str
    when: str
    label: str
    why: str
    instead_of: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A machine-checked edge-case rule: when an item field matches, the label must (not) be one of a set."""

    id: str
    field: str
    op: Literal["matches", "equals", "in"]
    operand: str | tuple[str, ...]
    expect: Literal["label_in", "label_not_in"]
    labels: tuple[str, ...]
    severity: Literal["error", "warn"] = "error"
    description: str | None = None
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class Scale:
    min: int
    max: int
    anchors: tuple[tuple[int, str], ...] = ()

    @property
    def points(self) -> tuple[int, ...]:
        return tuple(range(self.min, self.max + 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class RubricItem:
    id: str
    criterion: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementPolicy:
    metric: str = "krippendorff_alpha"
    min: float | None = None
    min_per_label: float | None = None
    on: Literal["estimate", "ci_low"] = "estimate"
    severity: Literal["error", "warn"] = "error"
    loc: SourceLocation = _loc()
    per_label_loc: SourceLocation = _loc()  # where min_per_label was written


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    name: str
    kind: Kind
    question: str
    unit: Unit = "item"
    instructions: str | None = None
    required: bool = True
    labels: tuple[Label, ...] = ()
    min_choices: int | None = None
    max_choices: int | None = None
    scale: Scale | None = None
    level: Level = "nominal"
    field: str | None = None
    allow_nesting: bool = False
    options: tuple[str, ...] = ()
    allow_ties: bool = True
    rubric: tuple[RubricItem, ...] = ()
    error_labels: tuple[str, ...] = ()
    max_length: int | None = None
    expected_distribution: tuple[tuple[str, float], ...] = ()
    edge_cases: tuple[EdgeCase, ...] = ()
    rules: tuple[Rule, ...] = ()
    agreement: AgreementPolicy = dc_field(default_factory=AgreementPolicy)
    loc: SourceLocation = _loc()

    @property
    def label_ids(self) -> tuple[str, ...]:
        """The answers a judgment may take, in spec order (pairwise: A, B and, when allowed, tie)."""
        if self.kind == "pairwise":
            return PAIRWISE_LABELS if self.allow_ties else PAIRWISE_LABELS[:2]
        if self.kind == "rating" and self.scale is not None:
            return tuple(str(p) for p in self.scale.points)
        if self.kind == "ranking":
            return self.options
        return tuple(label.id for label in self.labels)

    def label(self, label_id: str) -> Label | None:
        return next((lab for lab in self.labels if lab.id == label_id), None)

    def label_anchor(self, label_id: str) -> str:
        """The label's anchor in the compiled guidelines (reports link to it); '' for answers without a section.

        Built from the label's position, not its text, so any label id gives a valid, collision-free HTML id.
        """
        ids = [lab.id for lab in self.labels]
        return f"_label-{self.name}-{ids.index(label_id)}" if label_id in ids else ""

    @property
    def is_list(self) -> bool:
        return self.kind in LIST_KINDS

    @property
    def is_taxonomy(self) -> bool:
        return any(lab.parent is not None for lab in self.labels)

    def with_descendants(self, ids: Iterable[str]) -> frozenset[str]:
        """``ids`` and every label below them in the taxonomy: what names a label names its subtypes too
        (``review: always``, ``error_labels``)."""
        marked = set(ids)
        grew = True
        while grew:  # one pass per tree level
            more = {lab.id for lab in self.labels if lab.parent in marked} - marked
            marked |= more
            grew = bool(more)
        return frozenset(marked)

    @property
    def parent_codes(self) -> tuple[int, ...]:
        """Each label's parent as a position in ``label_ids``, −1 for a root: the tree the taxonomy code reads."""
        ids = [lab.id for lab in self.labels]
        return tuple(ids.index(lab.parent) if lab.parent in ids else -1 for lab in self.labels)


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemField:
    name: str
    type: Literal["text", "category", "number", "list", "json"]
    values: tuple[str, ...] = ()
    description: str | None = None
    name_key: str | None = None  # list/json steps: the key Label Studio shows as each step's speaker
    text_key: str | None = None  # … and as its text


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemsSource:
    file: str  # relative to the spec folder, as written
    id: str = "item_id"
    fields: tuple[ItemField, ...] = ()
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class DataFile:
    """A file the spec references (gold, calibration, roster), relative to the spec folder, as written."""

    file: str
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class GoldPolicy:
    file: str
    min_accuracy: float | None = None
    min_judgments: int = 20
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationPolicy:
    file: str
    min_accuracy: float | None = None
    recalibrate_below: float | None = None
    window: int = 50
    teaching_examples: bool = False
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionPolicy:
    max_deviation: float | None = None
    min_gof_p: float | None = None
    annotator_divergence_p: float | None = None
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadTimePolicy:
    min_seconds: float | None = None
    max_fast_share: float | None = None
    loc: SourceLocation = _loc()


@dataclass(frozen=True, slots=True, kw_only=True)
class BootstrapPolicy:
    replicates: int = 1000
    seed: int = 20240101
    level: float = 0.95


@dataclass(frozen=True, slots=True, kw_only=True)
class Quality:
    annotations_per_item: int | None = None
    max_excluded_share: float = 0.0
    agreement: AgreementPolicy = dc_field(default_factory=AgreementPolicy)
    gold: GoldPolicy | None = None
    calibration: CalibrationPolicy | None = None
    distribution: DistributionPolicy = dc_field(default_factory=DistributionPolicy)
    lead_time: LeadTimePolicy = dc_field(default_factory=LeadTimePolicy)
    provenance: tuple[str, ...] = ()
    bootstrap: BootstrapPolicy = dc_field(default_factory=BootstrapPolicy)
    loc: SourceLocation = _loc()
    #: where each gate-declaring key was written (dotted under ``quality``: ``max_excluded_share``,
    #: ``distribution.max_deviation``, …), in whichever file declared it (the spec or an ``extends`` policy)
    key_locs: tuple[tuple[str, SourceLocation], ...] = ()

    def key_loc(self, key: str, fallback: SourceLocation | None = None) -> SourceLocation:
        """Where ``key`` was written; ``fallback`` (else the section) when it was not (a default applies)."""
        return dict(self.key_locs).get(key, fallback if fallback is not None else self.loc)


#: The reasons that route a unit to expert review when ``adjudication.expert_review`` lists none.
DEFAULT_EXPERT_REVIEW: tuple[str, ...] = ("tie", "low_support", "always_review_labels")


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjudication:
    method: Literal["majority", "dawid_skene"] = "majority"
    min_support: float = 0.5
    expert_review: tuple[str, ...] = ()
    max_iterations: int = 50
    tolerance: float = 1e-6
    loc: SourceLocation = _loc()

    @property
    def routing(self) -> tuple[str, ...]:
        """The reasons in force: the listed ones, else :data:`DEFAULT_EXPERT_REVIEW`."""
        return tuple(self.expert_review) or DEFAULT_EXPERT_REVIEW


@dataclass(frozen=True, slots=True, kw_only=True)
class Columns:
    item: str = "item_id"
    unit: str = "step"
    task: str = "task"
    annotator: str = "annotator_id"
    value: str = "label"
    timestamp: str = "created_at"
    lead_time: str = "lead_time_s"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangelogEntry:
    version: str
    changes: tuple[str, ...]
    date: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    id: str
    title: str
    version: str
    domain: str | None = None
    summary: str | None = None
    owners: tuple[str, ...] = ()
    changelog: tuple[ChangelogEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """A validated spec. ``path`` is the spec file as the user named it; ``root`` its folder (same convention)."""

    path: str
    root: str
    project: Project
    tasks: tuple[Task, ...]
    items: ItemsSource | None = None
    annotators: DataFile | None = None
    columns: Columns = dc_field(default_factory=Columns)
    quality: Quality = dc_field(default_factory=Quality)
    adjudication: Adjudication = dc_field(default_factory=Adjudication)
    gate_overrides: tuple[tuple[str, Severity, SourceLocation], ...] = ()
    extends: tuple[str, ...] = ()  # the chain of policy files, nearest first, relative to the repository
    digest: str = ""  # sha256 over the canonical spec and the bytes of every referenced file
    #: The referenced data files' bytes as the loader read and checked them (G5: stat, open, fstat), by their path
    #: as written: what the digest covers is what ``check`` reads and what a release manifest hashes, with no
    #: second read that a changed, swapped or symlinked file could answer. Empty for a model built in code.
    sources: Mapping[str, bytes] = dc_field(default_factory=dict, compare=False, repr=False)
    #: The spec file's own bytes as the loader parsed them (a release manifest hashes these, not a second read
    #: that an edit made while the check ran would answer). Empty for a model built in code.
    file_bytes: bytes = dc_field(default=b"", compare=False, repr=False)
    #: The policy files of ``extends`` as the loader parsed them, by their path in ``extends`` (the same use).
    policy_bytes: Mapping[str, bytes] = dc_field(default_factory=dict, compare=False, repr=False)

    def task(self, name: str) -> Task | None:
        return next((t for t in self.tasks if t.name == name), None)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    @property
    def steps_field(self) -> ItemField:
        """The item field holding a trajectory's steps: the first list or json field, else a json field ``steps``.

        In Label Studio, step *i* (0-based) is paragraph *i*, and its unit is ``str(i + 1)``: steps are numbered
        from 1 in list order, in the compiled config, in the review queue's import and in the export reader.
        """
        fields = [f for f in self.items.fields if f.type in ("list", "json")] if self.items is not None else []
        return fields[0] if fields else ItemField(name="steps", type="json")
