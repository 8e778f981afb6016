"""Fixed plain-language explanations for annotators: how to record each kind of answer and what each metric means.

The sentences here are labelspec's own words. They may include numbers and task or field names (which the spec
language restricts to ``[a-z0-9_]``), never free spec text: definitions, examples and other prose reach the
guidelines only as separate template variables, escaped where they are written. Pure: no I/O.
"""

from __future__ import annotations

from labelspec.spec.model import Task
from labelspec.templating import number

#: What each agreement metric measures, in words an annotator can act on.
METRIC_WORDS: dict[str, str] = {
    "krippendorff_alpha": "Krippendorff's alpha: agreement between annotators beyond what chance alone would give "
                          "(1 = perfect agreement, 0 = chance level).",
    "fleiss_kappa": "Fleiss' kappa: agreement among all annotators of an item beyond chance (1 = perfect, 0 = chance).",
    "cohen_kappa": "Cohen's kappa: agreement beyond chance for each pair of annotators, averaged over pairs.",
    "scott_pi": "Scott's pi: agreement beyond chance, with one label distribution shared by all annotators.",
    "gwet_ac1": "Gwet's AC1: agreement beyond chance that stays stable when one label is much more common.",
    "percent_agreement": "Percent agreement: the share of annotator pairs that gave the same answer.",
    "masi_alpha": "Krippendorff's alpha with the MASI distance: two label sets that overlap count as partial "
                  "agreement, identical sets as full agreement.",
    "span_f1_exact": "Span F1 (exact match): your span counts as matched only when another annotator marked the same "
                     "start, the same end and the same label.",
    "span_f1_overlap": "Span F1 (overlap): your span counts as matched when another annotator marked a span with the "
                       "same label that shares at least one character with it.",
    "span_alpha": "Character-level alpha: every character's label (or no label) is compared between annotators.",
    "kendall_w": "Kendall's W: how consistently annotators order the options (1 = identical rankings, "
                 "0 = no common ordering).",
    "kendall_tau": "Kendall's tau: for each pair of annotators, how many pairs of options they put in the same order, "
                   "averaged over annotator pairs.",
    "preference_alpha": "Alpha over preferences: each ranking is read as 'X above Y' decisions, and those decisions "
                        "are compared between annotators.",
    "attribution_agent_alpha": "Alpha on the agent you hold responsible: annotators agree when they name the "
                               "same agent.",
    "first_error_exact": "First-error agreement: annotators agree when the first step they mark as an error is the "
                         "same step.",
    "first_error_within_one": "First-error agreement within one step: the first error steps of two annotators are at "
                              "most one step apart.",
    "min_per_label_alpha": "Per-label agreement: for each label, whether annotators agree that it applies or not; "
                           "the weakest label decides.",
    "min_per_label_span_f1": "Per-label span agreement: for each label, how well two annotators' spans of that label "
                             "match (overlap F1); the weakest label decides.",
}

#: How a measurement level changes what counts as a disagreement (ratings and ordered labels).
LEVEL_WORDS: dict[str, str] = {
    "nominal": "Every different answer counts as a full disagreement.",
    "ordinal": "Answers are compared by their order on the scale: a near miss counts less than a far one.",
    "interval": "Answers are compared by their distance on the scale: 2 vs 3 is a smaller disagreement than 1 vs 5.",
    "ratio": "Answers are compared by their ratio: 1 vs 2 is a larger disagreement than 9 vs 10.",
}

#: The heading under which each kind's comparison is explained ("how your work is checked").
COMPARED_TITLE: dict[str, str] = {
    "single_choice": "How your labels are compared",
    "multi_choice": "How your label sets are compared",
    "rating": "How your ratings are compared",
    "spans": "How your spans are compared",
    "pairwise": "How your preferences are compared",
    "ranking": "How your rankings are compared",
    "attribution": "How your attributions are compared",
    "text": "How your answers are used",
}


def _choice_counts(task: Task) -> list[str]:
    lo, hi = task.min_choices, task.max_choices
    if lo and hi:
        return [f"Choose at least {lo} and at most {hi} labels."]
    if lo:
        return [f"Choose at least {lo} label{'s' if lo > 1 else ''}."]
    if hi:
        return [f"Choose at most {hi} label{'s' if hi > 1 else ''}; choose none if no label applies."]
    return ["Choose none if no label applies."]


def _kind_steps(task: Task) -> list[str]:
    kind = task.kind
    if kind == "single_choice":
        steps = ["Choose exactly one label."]
        if task.is_taxonomy:
            steps.append("The labels form a tree: choose the most specific label that applies, and a broader "
                         "label only when none of its sub-labels fits.")
        return steps
    if kind == "multi_choice":
        return ["Choose every label that applies; each label at most once.", *_choice_counts(task)]
    if kind == "rating" and task.scale is not None:
        return [f"Give one whole number from {task.scale.min} to {task.scale.max}, using the anchors below.",
                LEVEL_WORDS[task.level]]
    if kind == "spans":
        where = f"the item's {task.field} text" if task.field else "the item's text"
        overlap = ("Spans may overlap or nest." if task.allow_nesting
                   else "Spans must not overlap: where two labels seem to apply, choose one.")
        return [f"Mark every passage of {where} that a label applies to, and give each passage one label.",
                "A span starts at its first character and ends after its last one; offsets count characters "
                "from 0. Do not include leading or trailing spaces or punctuation that is not part of the passage.",
                overlap]
    if kind == "pairwise":
        ties = ("Answer tie only when neither response is better; a tie is not a way to skip a hard pair."
                if task.allow_ties else "There is no tie: when the responses seem equal, choose the one you would "
                "rather receive.")
        return ["Compare response A with response B and answer A if A is better, B if B is better.", ties]
    if kind == "ranking":
        return ["Order every option from best to worst. Each option appears exactly once; ties are not allowed."]
    if kind == "attribution":
        return ["Name the agent responsible for the failure, and the step where the failure originated.",
                "Leave the step empty when no single step is at fault."]
    limit = task.max_length
    return ["Write your answer as free text" + (f" of at most {limit} characters." if limit else ".")]


def record_steps(task: Task) -> list[str]:
    """How to record an answer to ``task``: one sentence per instruction, in reading order."""
    steps = _kind_steps(task)
    if task.unit == "step":
        steps.insert(0, "Answer once for every step of the trajectory, in order.")
    if task.unit == "step" and task.error_labels:
        steps.append("The first step you give an error label is your first error step; it is compared with other "
                     "annotators' first error steps.")
    return steps


def applies_to(task: Task) -> str:
    """When the task is answered: once per item, or once per step within an item."""
    return "once for each step of an item" if task.unit == "step" else "once for each item"


def threshold_words(comparator: str, threshold: float, on: str, level: float) -> str:
    """``must be at least 0.8 on the lower end of its 95% confidence interval`` and similar."""
    bound = "at least" if comparator == ">=" else "at most"
    ci = f"{number(level * 100)}% confidence interval"
    where = {"estimate": "", "ci_low": " on the lower end of its " + ci, "ci_high": " on the upper end of its " + ci}[on]
    return f"must be {bound} {number(threshold)}{where}"
