"""Synthetic judgments for the benchmarks: who judged which item, and what they said, as Arrow columns.

One job: deterministic numpy synthesis (a seed fixes every byte) of a sparse labelling project — each item judged
by 1–5 of hundreds to a thousand annotators, string ids ``i0001234`` / ``a0042``, ~2% gold items — for a
single-choice task, span lists or rankings. It writes no files (``generate.py`` does) and never loops over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Share of items judged by 1, 2, 3, 4 and 5 annotators (mean 3: 10M judgments ≈ 3.3M items).
PER_ITEM = np.array([0.10, 0.20, 0.40, 0.20, 0.10])
GOLD_SHARE = 0.02
CHOICE_LABELS = ("positive", "negative", "neutral", "mixed")
CHOICE_PRIORS = np.array([0.40, 0.30, 0.20, 0.10])
SPAN_LABELS = ("person", "org")
RANK_OPTIONS = ("answer_a", "answer_b", "answer_c", "answer_d")
#: Span items: fixed-length text with one slot per possible span, so true spans never overlap.
TEXT_LENGTH, SLOTS = 200, 4


@dataclass(frozen=True)
class Design:
    """Which annotator judged which item (one entry per judgment, items contiguous) and each item's truth."""

    item: np.ndarray  # (N,) item index, sorted
    annotator: np.ndarray  # (N,) annotator index, distinct within an item
    accuracy: np.ndarray  # (A,) probability that an annotator gives the true answer
    n_items: int
    n_annotators: int
    gold: np.ndarray  # (G,) item indices of gold items


@dataclass(frozen=True)
class Synthetic:
    """A generated project: the judgment table (rows shuffled), gold answers and, for spans, item texts."""

    labels: pa.Table  # item_id, annotator_id, label (string columns)
    gold: pa.Table  # item, unit, task, label, why
    items: pa.Table | None  # item_id, text (spans only)
    n_items: int
    n_annotators: int


def default_annotators(n_judgments: int) -> int:
    """Hundreds to a thousand: 200 at 100k, ~450 at 1M, 1,000 at 10M (at least 20 for tiny smoke runs)."""
    return int(np.clip(round(200 * (n_judgments / 1e5) ** 0.35), 20, 1000))


def design(n_judgments: int, n_annotators: int, rng: np.random.Generator) -> Design:
    """Sparse design: items get 1–5 distinct annotators, drawn by activity (some annotators do far more)."""
    if n_judgments < 10 or n_annotators < len(PER_ITEM):
        raise ValueError("need at least 10 judgments and 5 annotators")
    k = rng.choice(np.arange(1, len(PER_ITEM) + 1), size=n_judgments // 2 + 10, p=PER_ITEM)
    cum = np.cumsum(k)
    n_items = int(np.searchsorted(cum, n_judgments)) + 1
    k = k[:n_items]
    k[-1] -= int(cum[n_items - 1]) - n_judgments  # the last item takes what is left (≥ 1)
    item = np.repeat(np.arange(n_items, dtype=np.int64), k)
    activity = rng.lognormal(0.0, 0.5, n_annotators)
    activity /= activity.sum()
    annotator = rng.choice(n_annotators, size=n_judgments, p=activity)
    while True:  # redraw annotators who would judge the same item twice (few, and fewer each round)
        key = item * n_annotators + annotator
        order = np.argsort(key, kind="stable")
        dup = order[1:][key[order][1:] == key[order][:-1]]
        if dup.size == 0:
            break
        annotator[dup] = rng.choice(n_annotators, size=dup.size, p=activity)
    accuracy = 0.55 + 0.4 * rng.beta(5, 2, n_annotators)
    spammers = rng.choice(n_annotators, size=max(1, n_annotators // 50), replace=False)
    accuracy[spammers] = 0.30
    gold = np.sort(rng.choice(n_items, size=max(1, round(GOLD_SHARE * n_items)), replace=False))
    return Design(item, annotator.astype(np.int64), accuracy, n_items, n_annotators, gold)


def ids(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers 0..n-1, built by Arrow kernels (3.3M ids in well under a second)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _choice(d: Design, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Codes of given and true labels: right with the annotator's accuracy, else a uniform wrong label."""
    k = len(CHOICE_LABELS)
    truth = rng.choice(k, size=d.n_items, p=CHOICE_PRIORS)
    right = rng.random(len(d.item)) < d.accuracy[d.annotator]
    wrong = (truth[d.item] + rng.integers(1, k, len(d.item))) % k
    return np.where(right, truth[d.item], wrong), truth, CHOICE_LABELS


def _permutation_texts(m: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """All m! orders of ``RANK_OPTIONS[:m]`` (lexicographic) and their canonical JSON texts."""
    perms = np.array(np.meshgrid(*[np.arange(m)] * m, indexing="ij")).reshape(m, -1).T
    perms = perms[np.array([len(set(p)) == m for p in perms.tolist()])]  # m^m candidates, m ≤ 4
    texts = tuple("[" + ",".join(f'"{RANK_OPTIONS[i]}"' for i in p) + "]" for p in perms.tolist())
    return perms, texts


def _ranking(d: Design, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Each judgment ranks the options by a noisy view of the item's true scores (worse annotators: more noise)."""
    m = len(RANK_OPTIONS)
    perms, texts = _permutation_texts(m)
    score = rng.normal(0.0, 1.0, (d.n_items, m))
    noise = (1.2 - d.accuracy[d.annotator])[:, None] * rng.normal(0.0, 1.5, (len(d.item), m))
    given = np.argsort(-(score[d.item] + noise), axis=1)
    truth = np.argsort(-score, axis=1)
    radix = m ** np.arange(m - 1, -1, -1)
    lookup = np.full(m**m, -1, dtype=np.int64)
    lookup[perms @ radix] = np.arange(len(perms))
    return lookup[given @ radix], lookup[truth @ radix], texts


def _span_text(row: np.ndarray, start: np.ndarray, end: np.ndarray, label: np.ndarray, n_rows: int) -> pa.Array:
    """Canonical JSON span lists per row from flat span arrays sorted by (row, start)."""
    names = pc.take(pa.array(SPAN_LABELS), pa.array(label))
    one = pc.binary_join_element_wise("[", pc.cast(pa.array(start), pa.string()), ",",
                                      pc.cast(pa.array(end), pa.string()), ',"', names, '"]', "")
    offsets = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(row, minlength=n_rows), out=offsets[1:])
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), one), ",")
    return pc.binary_join_element_wise("[", joined, "]", "")


def _spans(d: Design, rng: np.random.Generator) -> tuple[pa.Array, pa.Array]:
    """Span lists per judgment and per item (truth): true spans, each kept with the annotator's accuracy,
    its boundaries jittered by up to 2 characters and its label flipped now and then."""
    width = TEXT_LENGTH // SLOTS
    present = rng.random((d.n_items, SLOTS)) < 0.6
    t_start = np.arange(SLOTS) * width + rng.integers(2, 20, (d.n_items, SLOTS))
    t_end = t_start + rng.integers(3, 25, (d.n_items, SLOTS))
    t_label = rng.integers(0, len(SPAN_LABELS), (d.n_items, SLOTS))
    n = len(d.item)
    acc = d.accuracy[d.annotator][:, None]
    keep = present[d.item] & (rng.random((n, SLOTS)) < acc)
    jitter = np.where(rng.random((n, SLOTS)) < 1 - acc, rng.integers(-2, 3, (n, SLOTS)), 0)
    flip = rng.random((n, SLOTS)) < (1 - acc) / 2
    start = t_start[d.item] + jitter
    end = np.maximum(t_end[d.item] + np.where(flip, 0, jitter), start + 1)
    label = np.where(flip, 1 - t_label[d.item], t_label[d.item])
    r, s = np.nonzero(keep)  # row-major: sorted by row, then slot (= start order)
    given = _span_text(r, start[r, s], end[r, s], label[r, s], n)
    ti, ts = np.nonzero(present)
    truth = _span_text(ti, t_start[ti, ts], t_end[ti, ts], t_label[ti, ts], d.n_items)
    return given, truth


def synthesize(n_judgments: int, *, kind: str = "single_choice", task: str = "sentiment",
               n_annotators: int | None = None, seed: int = 20260301) -> Synthetic:
    """The whole project for ``kind`` (single_choice | spans | ranking), rows in a shuffled (export-like) order."""
    rng = np.random.default_rng(seed)
    d = design(n_judgments, n_annotators or default_annotators(n_judgments), rng)
    item_ids = ids("i", d.n_items, max(7, len(str(d.n_items - 1))))
    ann_ids = ids("a", d.n_annotators, max(4, len(str(d.n_annotators - 1))))
    if kind == "spans":
        given, truth = _spans(d, rng)
    else:
        codes, true_codes, texts = _ranking(d, rng) if kind == "ranking" else _choice(d, rng)
        given = pc.take(pa.array(texts), pa.array(codes))
        truth = pc.take(pa.array(texts), pa.array(true_codes))
    order = pa.array(rng.permutation(len(d.item)))
    labels = pa.table({
        "item_id": pc.take(item_ids, pc.take(pa.array(d.item), order)),
        "annotator_id": pc.take(ann_ids, pc.take(pa.array(d.annotator), order)),
        "label": pc.take(given, order),
    })
    g = pa.array(d.gold)
    gold = pa.table({"item": pc.take(item_ids, g), "unit": pa.nulls(len(g), pa.string()).fill_null(""),
                     "task": pa.array([task] * len(g), pa.string()), "label": pc.take(truth, g),
                     "why": pa.nulls(len(g), pa.string()).fill_null("")})
    items = None
    if kind == "spans":
        text = ("Ada Okafor met the Northwind board in Lisbon. " * 5)[:TEXT_LENGTH]
        items = pa.table({"item_id": item_ids, "text": pa.array([text] * d.n_items, pa.string())})
    return Synthetic(labels, gold, items, d.n_items, d.n_annotators)
