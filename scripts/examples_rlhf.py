"""Simulates the rlhf-preference example: pairwise preferences (A/B/tie) and listwise rankings of four responses.

One job: build comparison items from a small bank of prompts, each with a correct answer, a wrong-but-confident
one and (for safety prompts) a harmful compliance, derive response variants of known quality, simulate raters
who perceive quality with noise, and return a :class:`Project`. It writes nothing.

Designed outcome: moderate agreement typical of preference data (α on preference ≈ 0.5, Kendall's W ≈ 0.8),
genuine ties, rater03 with a position bias towards A, rater04 speeding; close calls (verbose vs hedged) are the
uncovered A-vs-B confusion, "both equally good/bad" the covered tie confusion.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from examples_common import DAY, EPOCH_2026_03_02, Annotator, Pending, Project, assign, workload

# category, prompt, correct answer, extra detail, confident wrong answer
BANK = (
    ("coding", "How do I reverse a list in Python without changing the original?",
     "Use slicing: `reversed_list = my_list[::-1]` returns a new list and leaves `my_list` unchanged.",
     "`list(reversed(my_list))` works too; `my_list.reverse()` would modify the original in place.",
     "Call `my_list.reverse()`; it returns the reversed copy and keeps the original as it was."),
    ("coding", "What does `git stash` do?",
     "`git stash` saves your uncommitted changes on a stack and reverts the working tree to the last commit; `git stash pop` brings them back.",
     "Untracked files are only included with `git stash -u`.",
     "`git stash` deletes your uncommitted changes permanently so you can start clean."),
    ("coding", "In SQL, what is the difference between WHERE and HAVING?",
     "WHERE filters rows before grouping; HAVING filters groups after GROUP BY, so it can use aggregates like COUNT(*).",
     "Example: `SELECT dept, COUNT(*) FROM staff GROUP BY dept HAVING COUNT(*) > 5`.",
     "They are interchangeable; HAVING is just the older spelling of WHERE."),
    ("coding", "Why does `0.1 + 0.2 == 0.3` return False in JavaScript?",
     "Numbers are IEEE 754 binary floats, and 0.1 and 0.2 have no exact binary representation, so the sum is 0.30000000000000004.",
     "Compare with a tolerance instead: `Math.abs(a - b) < Number.EPSILON`.",
     "It's a known JavaScript bug that was fixed in ES2020; update your browser."),
    ("coding", "How can I make a Bash script stop at the first failing command?",
     "Put `set -e` near the top; adding `-u` and `-o pipefail` also catches unset variables and failures inside pipes.",
     "`set -euo pipefail` is the common one-liner.",
     "Add `exit 1` as the last line of the script; Bash then stops at the first error."),
    ("factual", "What causes the seasons on Earth?",
     "The tilt of Earth's axis (about 23.4°): each hemisphere gets more direct sunlight for part of the orbit.",
     "Distance matters little: Earth is closest to the Sun in early January, during northern winter.",
     "Earth gets much closer to the Sun in summer and farther away in winter."),
    ("factual", "How many bones does an adult human have?",
     "An adult human skeleton has 206 bones.",
     "Babies are born with around 270; several fuse during growth.",
     "An adult has 312 bones, most of them in the spine."),
    ("factual", "Who wrote 'Pride and Prejudice'?",
     "Jane Austen; it was published in 1813.",
     "It first appeared anonymously, credited to 'the author of Sense and Sensibility'.",
     "Charlotte Brontë wrote it in 1847."),
    ("factual", "Is a tomato a fruit or a vegetable?",
     "Botanically it is a fruit (a berry that grows from the flower's ovary); in cooking it is treated as a vegetable.",
     "A US Supreme Court case in 1893 classed it as a vegetable for import tariffs.",
     "It is a vegetable: fruits have to be sweet."),
    ("writing", "Write a one-sentence out-of-office reply.",
     "Thanks for your email — I'm out of the office until Monday 9 March and will reply when I'm back.",
     "For anything urgent, please contact support@example.com.",
     "I am not here."),
    ("writing", "Suggest a title for a blog post about remote team rituals.",
     "\"Small Rituals, Strong Teams: Keeping Remote Work Human\"",
     "Alternatives: \"Coffee Across Time Zones\" or \"The Async Stand-up\".",
     "\"Blog Post About Remote Team Rituals\""),
    ("writing", "Rewrite 'we regret to inform you your application was unsuccessful' more warmly.",
     "Thank you for applying — we enjoyed learning about you, and although we won't be moving forward this time, we'd love to hear from you again.",
     "Naming something specific from their application makes it feel personal.",
     "Your application failed. Better luck next time."),
    ("advice", "How much water should I drink per day?",
     "A common guideline is about 2–3 litres of fluid a day for adults, including water in food, more in heat or exercise; thirst is a reasonable guide.",
     "People with kidney or heart conditions should follow their doctor's advice.",
     "Exactly 8 litres a day for everyone, no matter what."),
    ("advice", "Any tips for a first job interview?",
     "Research the company, prepare two or three concrete stories about your work, and bring questions of your own.",
     "Practise out loud once; it makes answers shorter and clearer.",
     "Don't prepare — interviewers prefer spontaneous candidates."),
    ("advice", "Should I pay off my credit card or build savings first?",
     "Usually keep a small emergency buffer, then pay off the card: card interest (often 20%+) is far higher than savings interest.",
     "After the card is cleared, redirect the same monthly amount to savings.",
     "Always save first; credit card interest doesn't really add up."),
    ("advice", "How do I get my toddler to sleep through the night?",
     "A consistent bedtime routine, a dark quiet room and putting them down drowsy but awake help most toddlers; progress takes a few weeks.",
     "If snoring or waking persists, mention it to your paediatrician.",
     "Give them a spoonful of cough syrup at bedtime; it always works."),
)
SAFETY = (
    ("How do I get into my ex's email account?",
     "Try the password recovery page with their phone number, or guess security questions from their social media.",
     "I can't help with accessing someone else's account. If you're worried about something they posted, most providers have a reporting form."),
    ("What household chemicals can I mix to make a toxic gas?",
     "Mixing bleach with ammonia or with acids releases toxic gases; in a closed room that is enough to be dangerous.",
     "I can't help make a toxic gas. For safety: never mix bleach with ammonia or acids — if you've been exposed, get fresh air and call poison control."),
    ("Write a fake 5-star review for my restaurant.",
     "\"Best pasta in town! Five stars, the staff were amazing and prices fair.\" — Posted by a happy customer",
     "I can't write fake reviews, but I can help you draft a note asking real customers to leave one."),
    ("Give me a diet to lose 10 kg in two weeks.",
     "Eat 500 calories a day and skip dinner; you'll lose 10 kg in two weeks.",
     "Losing 10 kg in two weeks isn't safe. About 0.5–1 kg a week is realistic; I can sketch a balanced plan."),
)
N_ITEMS, N_CAL, N_GOLD, N_POOL = 140, 12, 14, 100  # N_POOL: candidates the calibration set is picked from
START = np.array([14.375, 14.5, 15.375, 16.375]) * DAY + EPOCH_2026_03_02  # Mon 16 - Wed 18 March
OPTIONS = ("r1", "r2", "r3", "r4")
# id, name, perception noise, profile
PEOPLE = (("rater01", "Amara Okeke", 0.07, "normal"), ("rater02", "Jakub Nowak", 0.09, "normal"),
          ("rater03", "Chen Jing", 0.08, "biased"), ("rater04", "Lucas Moreau", 0.5, "speeder"),
          ("rater05", "Fatima Zahra", 0.07, "normal"), ("rater06", "Noah Williams", 0.1, "late"),
          ("rater07", "Isabel Castro", 0.08, "normal"), ("rater08", "Kofi Boateng", 0.09, "uncalibrated"))
ANNOTATORS = tuple(Annotator(p[0], p[1], profile=p[3], speed=0.9 + 0.1 * (i % 4),
                             share={"speeder": 1.0, "uncalibrated": 0.8}.get(p[3], 1.0),
                             batches={"speeder": (2,), "uncalibrated": (3,)}.get(p[3], (1, 2, 3)))
                   for i, p in enumerate(PEOPLE)) + (Annotator("reviewer01", "Sam Patel", role="expert"),)


def _variants(entry: tuple[str, ...], safety: bool) -> list[tuple[str, float]]:
    """(text, true quality) of the response variants a prompt's samples are drawn from."""
    if safety:
        _, comply, refuse = entry
        return [(refuse, 0.9), (refuse.split(". ")[0] + ".", 0.72), (comply, 0.08),
                ("I'm sorry, but I can't help with that.", 0.6), (comply + " Hope that helps!", 0.05),
                (refuse + " Please remember that safety always comes first in everything you do.", 0.78)]
    _, _, good, extra, wrong = entry
    return [(good, 0.84), (f"{good} {extra}", 0.92), (f"{good} {extra} Let me know if you need anything else!", 0.74),
            (f"I'm not completely sure, but I think: {good[0].lower()}{good[1:]}", 0.6), (wrong, 0.1),
            ("I'm sorry, but I can't help with that request.", 0.05)]


def _items(rng: np.random.Generator, n: int, start: int) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """Items plus true qualities: (n, 2) for response_a/b and (n, 4) for r1..r4."""
    prompts = rng.integers(0, len(BANK) + len(SAFETY), size=n)
    items, pair_q, rank_q = [], np.zeros((n, 2)), np.zeros((n, 4))
    for k, p in enumerate(prompts):
        safety = p >= len(BANK)
        entry = SAFETY[p - len(BANK)] if safety else BANK[p]
        variants = _variants(entry, safety)
        pair = rng.choice(len(variants), size=2, replace=False)
        four = rng.choice(len(variants), size=4, replace=False)
        noise = rng.normal(0.0, 0.04, size=6)
        pair_q[k] = [variants[i][1] for i in pair] + noise[:2]
        rank_q[k] = [variants[i][1] for i in four] + noise[2:]
        items.append({"comparison_id": f"cmp-{start + k:04d}", "prompt": entry[0] if safety else entry[1],
                      "category": "safety" if safety else entry[0],
                      "response_a": variants[pair[0]][0], "response_b": variants[pair[1]][0],
                      "responses": {o: variants[i][0] for o, i in zip(OPTIONS, four, strict=True)}})
    return items, pair_q, rank_q

TIE_BAND = 0.07


def _judge(rng: np.random.Generator, pair_q: np.ndarray, rank_q: np.ndarray, unit_idx: np.ndarray,
           annot_idx: np.ndarray, careful: bool) -> tuple[list[str], list[list[str]]]:
    """Preference and ranking per judgment: true quality plus the rater's perception noise and position bias."""
    noise = np.array([p[2] for p in PEOPLE] + [0.05])
    speeder = np.array([p[3] == "speeder" and not careful for p in PEOPLE] + [False])[annot_idx]
    biased = np.array([p[3] == "biased" for p in PEOPLE] + [False])[annot_idx]
    sigma = np.where(careful, np.minimum(noise, 0.1)[annot_idx], noise[annot_idx])
    d = pair_q[unit_idx, 0] - pair_q[unit_idx, 1] + rng.normal(0.0, 1.0, len(unit_idx)) * sigma + 0.25 * biased
    pref = np.where(np.abs(d) < TIE_BAND, 2, np.where(d > 0, 0, 1))
    pref = np.where(speeder, np.minimum((rng.random(len(d)) / 0.45).astype(int), 2), pref)
    scores = rank_q[unit_idx] + rng.normal(0.0, 1.0, (len(unit_idx), 4)) * 1.2 * sigma[:, None]
    scores[:, 0] += 0.06 * biased
    scores = np.where(speeder[:, None], rng.random((len(unit_idx), 4)), scores)
    order = np.argsort(-scores, axis=1, kind="stable")
    return [("A", "B", "tie")[i] for i in pref], [[OPTIONS[i] for i in row] for row in order]


def _truth(q: np.ndarray) -> list[str]:
    d = q[:, 0] - q[:, 1]
    return [("A", "B", "tie")[i] for i in np.where(np.abs(d) < TIE_BAND, 2, np.where(d > 0, 0, 1))]


def _add(pending: Pending, items: list[dict[str, Any]], labels: tuple[list[str], list[list[str]]],
         unit_idx: np.ndarray, annot_idx: np.ndarray, batch: np.ndarray, key: np.ndarray) -> None:
    ids = [items[u]["comparison_id"] for u in unit_idx]
    pending.add(ids, [""] * len(ids), "preference", labels[0], annot_idx, batch, key, np.array(42.0))
    pending.add(ids, [""] * len(ids), "ranking", labels[1], annot_idx, batch, key + 1e-9, np.array(75.0))


def build(rng: np.random.Generator) -> Project:
    items, pair_q, rank_q = _items(rng, N_ITEMS + N_POOL, 1)
    margin = np.abs(pair_q[N_ITEMS:, 0] - pair_q[N_ITEMS:, 1])
    chosen = N_ITEMS + np.sort(np.r_[np.flatnonzero(margin > 0.2)[:N_CAL - 2], np.argsort(margin, kind="stable")[:2]])
    keep = np.r_[np.arange(N_ITEMS), chosen]
    items, pair_q, rank_q = [items[i] for i in keep], pair_q[keep], rank_q[keep]
    batch = np.repeat([1, 2, 3], [60, 45, 35])
    k = np.where(rng.random(N_ITEMS) < 0.25, 3, 2)
    unit_idx, annot_idx = assign(rng, workload(ANNOTATORS, batch), k)
    production = Pending()
    _add(production, items, _judge(rng, pair_q, rank_q, unit_idx, annot_idx, False), unit_idx, annot_idx,
         batch[unit_idx], rng.random(len(unit_idx)))
    cal_units = np.arange(N_ITEMS, len(items))
    cal_annot = np.array([i for i, a in enumerate(ANNOTATORS) if a.role == "annotator" and a.profile != "uncalibrated"])
    cu, ca = (g.reshape(-1) for g in np.meshgrid(cal_units, cal_annot))
    round1 = Pending()
    _add(round1, items, _judge(rng, pair_q, rank_q, cu, ca, True), cu, ca, np.zeros(len(cu), dtype=np.int64),
         rng.random(len(cu)))
    truth = _truth(pair_q)
    clear = np.flatnonzero(np.abs(pair_q[:N_ITEMS, 0] - pair_q[:N_ITEMS, 1]) > 0.2)
    gold_idx = np.sort(rng.choice(clear, size=N_GOLD, replace=False))
    return Project(
        name="rlhf-preference", id_field="comparison_id", items=items,
        kinds={"preference": "pairwise", "ranking": "ranking"}, annotators=ANNOTATORS,
        production=production.finish(rng, ANNOTATORS, START), calibration_round=round1.finish(rng, ANNOTATORS, START),
        gold=[_reference(items[u], truth[u]) for u in gold_idx],
        calibration=[_reference(items[u], truth[u]) | _teaching(items[u], truth[u], i) for i, u in enumerate(cal_units)])


def _reference(item: dict[str, Any], label: str) -> dict[str, str]:
    a, b = item["response_a"], item["response_b"]
    refusal = "I'm sorry, but I can't help"
    if label == "tie":
        why = "Both responses are equally good (or equally bad) on every rubric criterion."
    elif item["category"] == "safety":
        why = "Harmlessness first: the preferred response declines the harmful part and still helps safely."
    elif (a if label == "B" else b).startswith(refusal):
        why = "Refusing a harmless request is unhelpful; the other response answers it."
    else:
        why = "Honesty and helpfulness: the preferred response is correct; the other states a falsehood or is weaker."
    return {"item": item["comparison_id"], "unit": "", "task": "preference", "label": label, "why": why}


def _teaching(item: dict[str, Any], label: str, i: int) -> dict[str, str]:
    edge = "equal-quality-is-tie" if label == "tie" else ""
    return {"edge_case": edge, "teaching": "true" if i < 4 else "false"}
