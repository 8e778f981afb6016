"""Starter projects for ``labelspec init``: a commented, valid spec of one task kind and the files it references.

:func:`scaffold` returns file name → text and writes nothing (the caller writes, atomically). Every scaffold loads
cleanly through the full validator (tests prove it for each kind), so a new project starts from a green state.
"""

from __future__ import annotations

import json
import re

from labelspec.errors import Diagnostic, UsageError

_PROJECT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")  # \Z, not $: "id\n" is no project id

_HEADER = """\
# Editor completion: `labelspec schema > labelspec.schema.json`, then add this first line:
#   # yaml-language-server: $schema=labelspec.schema.json
# One labeling project: what annotators answer, how they decide, and the quality a release needs.
# `labelspec validate` checks this file; `labelspec compile` writes guidelines and validators to generated/{id}/.
labelspec: 1

project:
  id: "{id}"  # names generated/{id}/ and is stamped on every released label
  title: {title}
  version: 0.1.0  # semver of this spec: bump it whenever the guidelines change
  summary: |
    {summary}

items:  # what annotators see, one record per item
  file: items.jsonl
  id: item_id
  fields:
{fields}
annotators:
  file: annotators.csv  # id, role (annotator | expert)

tasks:
"""

_QUALITY = """
quality:  # every threshold below becomes a named release gate, checked by `labelspec check`
  annotations_per_item: 3
  agreement:
    min: 0.67  # chance-corrected agreement; the metric is the task kind's default
  gold:
    file: gold.csv  # item, unit, task, label (+ why): known answers mixed into the work
    min_accuracy: 0.8
    min_judgments: 1  # gold judgments an annotator needs to be scored: raise it as gold.csv grows (20+ is steadier)

adjudication:
  method: majority
  min_support: 0.6  # share of votes the winning answer needs (2 of 3 is 0.667: passes); below it, an expert decides
  expert_review: [tie, low_support, always_review_labels, gold_conflict]
"""

_TEXT_QUALITY = """
quality:
  annotations_per_item: 1  # free text is not scored for agreement
"""

# kind -> (summary, item fields, task block, items.jsonl, gold.csv rows or "" for no gold file)
_KINDS: dict[str, tuple[str, str, str, str, str]] = {
    "single_choice": (
        "Label the sentiment of each customer review.",
        "    text: {type: text}\n",
        """\
  sentiment:
    kind: single_choice
    question: What is the overall sentiment of the review?
    labels:
      positive:
        title: Positive
        definition: The reviewer is satisfied overall.
        examples: ["Arrived early and works perfectly."]
      negative:
        title: Negative
        definition: The reviewer is dissatisfied overall.
        counterexamples:
          - text: "Not bad at all."
            use: positive
            why: A negated complaint is praise.
      neutral:
        title: Neutral
        definition: Neither satisfied nor dissatisfied, or purely factual.
    edge_cases:  # stable ids: guidelines and reports link to them
      - id: mixed-review
        when: The review praises one thing and criticises another.
        label: negative
        instead_of: [positive]
        why: Complaints are what the team acts on.
    rules:  # machine-checked by `labelspec check`
      - id: refund-is-not-positive
        when: {field: text, matches: "(?i)\\\\brefund\\\\b"}
        expect: {label_not_in: [positive]}
        severity: warn
""",
        '{"item_id": "r1", "text": "Arrived early and works perfectly."}\n'
        '{"item_id": "r2", "text": "Broke after two days, I want a refund."}\n'
        '{"item_id": "r3", "text": "The box contains one charger."}\n',
        "r1,,sentiment,positive,Clear praise.\nr2,,sentiment,negative,\n",
    ),
    "multi_choice": (
        "Tag every topic a support ticket mentions.",
        "    text: {type: text}\n",
        """\
  topics:
    kind: multi_choice
    question: Which topics does the ticket mention? Choose all that apply.
    labels:
      billing: {title: Billing, definition: "Charges, invoices and refunds."}
      shipping: {title: Shipping, definition: "Delivery times, tracking, lost parcels."}
      product: {title: Product, definition: How the product works or fails.}
    min_choices: 1
    max_choices: 3
""",
        '{"item_id": "t1", "text": "My parcel is late and I was charged twice."}\n'
        '{"item_id": "t2", "text": "The app crashes on start."}\n',
        't1,,topics,"[""billing"", ""shipping""]",\nt2,,topics,"[""product""]",\n',
    ),
    "rating": (
        "Rate how helpful each assistant answer is.",
        "    answer: {type: text}\n",
        """\
  helpfulness:
    kind: rating
    question: How helpful is the answer?
    scale:
      min: 1
      max: 5
      anchors: {"1": Useless, "3": Partly helpful, "5": Fully solves the problem}
    level: ordinal  # picks the agreement distance: points are ordered, gaps are not equal
""",
        '{"item_id": "a1", "answer": "Restart the router, then re-run the setup."}\n'
        '{"item_id": "a2", "answer": "I cannot help with that."}\n',
        "a1,,helpfulness,4,\na2,,helpfulness,1,\n",
    ),
    "spans": (
        "Mark every person and organisation named in each sentence.",
        "    text: {type: text}\n",
        """\
  entities:
    kind: spans
    question: Select every person and organisation name.
    field: text  # offsets are character positions in this item field
    labels:
      person: {title: Person, definition: A named individual.}
      org: {title: Organisation, definition: "A company, agency or institution."}
    allow_nesting: false
""",
        '{"item_id": "s1", "text": "Ada Lovelace wrote to Babbage."}\n'
        '{"item_id": "s2", "text": "Acme hired Grace."}\n',
        's1,,entities,"[[0, 12, ""person""], [22, 29, ""person""]]",\n'
        's2,,entities,"[[0, 4, ""org""], [11, 16, ""person""]]",\n',
    ),
    "pairwise": (
        "Choose the better of two assistant responses to the same prompt.",
        "    prompt: {type: text}\n    response_a: {type: text}\n    response_b: {type: text}\n",
        """\
  preference:
    kind: pairwise
    question: Which response answers the prompt better?
    instructions: Judge correctness first, then clarity. Length is not a merit.
    allow_ties: true
""",
        '{"item_id": "p1", "prompt": "2+2?", "response_a": "4", "response_b": "5"}\n'
        '{"item_id": "p2", "prompt": "Capital of France?", "response_a": "Paris", "response_b": "Paris."}\n',
        "p1,,preference,A,B is wrong.\np2,,preference,tie,\n",
    ),
    "ranking": (
        "Order three candidate answers from best to worst.",
        "    prompt: {type: text}\n",
        """\
  order:
    kind: ranking
    question: Order the answers from best to worst.
    options: [answer_a, answer_b, answer_c]
""",
        '{"item_id": "k1", "prompt": "Explain recursion."}\n',
        'k1,,order,"[""answer_b"", ""answer_a"", ""answer_c""]",\n',
    ),
    "text": (
        "Write a one-sentence summary of each ticket.",
        "    text: {type: text}\n",
        """\
  summary:
    kind: text
    question: Summarise the customer's problem in one sentence.
    max_length: 300
""",
        '{"item_id": "t1", "text": "My parcel is late and I was charged twice."}\n',
        "",
    ),
    "attribution": (
        "Name the agent (and step) responsible for each failed multi-agent run.",
        "    trajectory: {type: json, name_key: agent}  # steps numbered from 1, shown as agent: text\n",
        """\
  culprit:
    kind: attribution
    question: Which agent caused the failure, and at which step?
    labels:
      planner: {title: Planner, definition: The plan was wrong or incomplete.}
      coder: {title: Coder, definition: The code did not do what the plan said.}
      verifier: {title: Verifier, definition: A wrong result was accepted.}
""",
        '{"item_id": "run1", "trajectory": [{"agent": "planner", "text": "Plan: fix the failing test."}, '
        '{"agent": "coder", "text": "Deleted the failing test."}]}\n',
        'run1,,culprit,"{""agent"": ""coder"", ""step"": 2}",\n',
    ),
}
KINDS: tuple[str, ...] = tuple(_KINDS)


def scaffold(kind: str, project_id: str) -> dict[str, str]:
    """File name → text of a valid starter project with one task of ``kind``; raises UsageError on bad input."""
    if kind not in _KINDS:
        raise UsageError(Diagnostic("LS501", f"unknown task kind {kind!r}", hint="kinds: " + ", ".join(KINDS)))
    if not _PROJECT_ID.match(project_id):
        raise UsageError(Diagnostic("LS501", f"project id {project_id!r} is not lowercase letters, digits and '-'",
                                    hint="e.g. 'support-intent'"))
    summary, fields, task, items, gold = _KINDS[kind]
    title = json.dumps(project_id.replace("-", " ").capitalize())  # quoted: "2024" or "true" stay text
    head = (_HEADER.replace("{id}", project_id).replace("{title}", title)
            .replace("{summary}", summary).replace("{fields}", fields))
    files = {
        "labelspec.yaml": head + task + (_QUALITY if gold else _TEXT_QUALITY),
        "items.jsonl": items,
        "annotators.csv": "id,role\nann1,annotator\nann2,annotator\nann3,annotator\nlead,expert\n",
    }
    if gold:
        files["gold.csv"] = "item,unit,task,label,why\n" + gold
    return files
