"""Test support for the emitters: syrupy single-file snapshot extensions and hand-built sample specs.

Each artefact is snapshotted as a real file with its own extension (``.md``, ``.html``, ``.json``, ``.py``, ``.xml``),
so a change to generated output shows up in review as an ordinary diff. The sample specs exercise every task kind
without depending on the YAML loader.
"""

from __future__ import annotations

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from labelspec.emit import Artifact, compile_spec
from labelspec.errors import SourceLocation
from labelspec.spec.model import (
    AgreementPolicy,
    CalibrationPolicy,
    ChangelogEntry,
    Counterexample,
    DistributionPolicy,
    EdgeCase,
    GoldPolicy,
    ItemField,
    ItemsSource,
    Label,
    LeadTimePolicy,
    Project,
    Quality,
    Rule,
    Scale,
    Spec,
    Task,
)


class _Text(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT


class MarkdownSnapshot(_Text):
    file_extension = "md"


class HtmlSnapshot(_Text):
    file_extension = "html"


class JsonSnapshot(_Text):
    file_extension = "json"


class PythonSnapshot(_Text):
    file_extension = "py"


class XmlSnapshot(_Text):
    file_extension = "xml"


EXTENSIONS: dict[str, type[SingleFileSnapshotExtension]] = {
    "md": MarkdownSnapshot, "html": HtmlSnapshot, "json": JsonSnapshot, "py": PythonSnapshot, "xml": XmlSnapshot,
}

DIGEST = "sha256:" + "ab" * 32
SPEC_PATH = "specs/sample/labelspec.yaml"


def _at(line: int, column: int = 3) -> SourceLocation:
    return SourceLocation(SPEC_PATH, line, column)


def intent_task() -> Task:
    """A single-choice task with counterexamples, edge cases, a rule and a review-always label."""
    labels = (
        Label(id="refund", title="Refund request", definition="The customer asks to get money back.",
              examples=("I was charged twice, please refund one.",),
              counterexamples=(Counterexample(text="Where is my refund?", use="status",
                                              why="Asking about an existing refund is a status inquiry."),),
              hotkey="r"),
        Label(id="status", title="Status inquiry", definition="The customer asks where something is."),
        Label(id="dispute", title="Dispute", definition="The customer contests a charge.", review="always"),
        Label(id="other", title="Other", definition="Anything else."),
    )
    return Task(name="intent", kind="single_choice", question="What is the customer's primary intent?",
                labels=labels, expected_distribution=(("refund", 0.3), ("status", 0.4), ("dispute", 0.1),
                                                      ("other", 0.2)),
                edge_cases=(EdgeCase(id="refund-plus-complaint", when="The ticket complains AND asks for money.",
                                     label="refund", instead_of=("other",), why="The request decides.",
                                     examples=("Useless app, I want my $20 back.",), loc=_at(30)),),
                rules=(Rule(id="chargeback-is-dispute", field="body", op="matches", operand="(?i)charge ?back",
                            expect="label_in", labels=("dispute",), loc=_at(40)),),
                agreement=AgreementPolicy(metric="krippendorff_alpha", min=0.8, min_per_label=0.67, on="ci_low",
                                          loc=_at(60), per_label_loc=_at(61)),
                loc=_at(12))


def all_kinds_tasks() -> tuple[Task, ...]:
    """One task of every other kind (and a nested taxonomy and a step task)."""
    return (
        Task(name="topics", kind="multi_choice", question="Which topics does the ticket mention?",
             labels=(Label(id="billing", title="Billing", definition="Money."),
                     Label(id="billing.refund", title="Refunds", definition="Money back.", parent="billing"),
                     Label(id="account", title="Account", definition="Login and profile.")),
             min_choices=1, max_choices=2),
        Task(name="tone", kind="rating", question="How does the customer feel?", level="ordinal",
             scale=Scale(min=1, max=5, anchors=((1, "Very angry"), (3, "Neutral"), (5, "Very happy")))),
        Task(name="entities", kind="spans", question="Mark the products.", field="body",
             labels=(Label(id="product", title="Product", definition="A thing we sell."),
                     Label(id="plan", title="Plan", definition="A subscription plan.")),
             agreement=AgreementPolicy(metric="span_f1_overlap", min=0.7)),
        Task(name="preference", kind="pairwise", question="Which reply is better?", allow_ties=True),
        Task(name="order", kind="ranking", question="Rank the replies.", options=("r1", "r2", "r3")),
        Task(name="note", kind="text", question="Anything else?", max_length=200),
        Task(name="step_ok", kind="single_choice", unit="step", question="Is this step correct?",
             labels=(Label(id="ok", title="Correct", definition="The step is right."),
                     Label(id="wrong", title="Wrong", definition="The step is wrong.")),
             error_labels=("wrong",)),
        Task(name="blame", kind="attribution", question="Which agent caused the failure?",
             labels=(Label(id="planner", title="Planner", definition="The planning agent."),
                     Label(id="coder", title="Coder", definition="The coding agent."))),
    )


def sample_spec(tasks: tuple[Task, ...] | None = None, **changes: object) -> Spec:
    """A complete spec (every quality section set) with the given tasks (default: intent + every other kind)."""
    quality = Quality(
        annotations_per_item=3, max_excluded_share=0.02,
        gold=GoldPolicy(file="gold.csv", min_accuracy=0.9, min_judgments=20, loc=_at(70)),
        calibration=CalibrationPolicy(file="calibration.csv", min_accuracy=0.9, recalibrate_below=0.85,
                                      window=50, teaching_examples=True, loc=_at(75)),
        distribution=DistributionPolicy(max_deviation=0.1, annotator_divergence_p=0.001, loc=_at(80)),
        lead_time=LeadTimePolicy(min_seconds=3, max_fast_share=0.1, loc=_at(85)),
        provenance=("annotator", "timestamp"), loc=_at(65))
    fields = dict(
        path=SPEC_PATH, root="specs/sample",
        project=Project(id="sample-project", title="Sample project", version="1.3.0", domain="fintech",
                        summary="Label the intent of each ticket.\n\nBe careful.",
                        owners=("data-team",),
                        changelog=(ChangelogEntry(version="1.3.0", date="2024-05-01",
                                                  changes=("Split billing into refund and dispute.",)),)),
        tasks=tasks if tasks is not None else (intent_task(), *all_kinds_tasks()),
        items=ItemsSource(file="items.jsonl", id="ticket_id",
                          fields=(ItemField(name="body", type="text", description="The ticket text."),
                                  ItemField(name="channel", type="category", values=("email", "chat")))),
        quality=quality, digest=DIGEST,
    )
    fields.update(changes)
    return Spec(**fields)  # type: ignore[arg-type]


def two_projects(version: str = "1.3.0") -> dict[str, tuple[Artifact, ...]]:
    """Two compiled projects, alpha and beta, as ``write_artifacts`` takes them."""
    a = sample_spec(project=Project(id="alpha", title="Alpha", version=version))
    b = sample_spec(project=Project(id="beta", title="Beta", version=version), tasks=(intent_task(),))
    return {"alpha": compile_spec(a), "beta": compile_spec(b)}
