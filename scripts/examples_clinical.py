"""Simulates the clinical-ner example: entity spans over short synthetic clinical notes.

One job: compose notes from sentence templates whose slots carry the true spans and the alternative readings
annotators really produce (dosage with or without route and frequency, "metoprolol" vs "metoprolol tartrate",
imaging typed as a procedure, lab abnormalities typed as a condition), simulate annotators choosing among them,
and return a :class:`Project`. It writes nothing. No real patient data: every note is invented.

Designed outcome: overlap span F1 ≈ 0.85 (passes), exact-boundary F1 clearly lower; TEST vs CONDITION on lab
abnormalities ("low potassium") is the uncovered confusion (a guideline gap), TEST vs PROCEDURE on imaging the
covered one (edge case ``imaging-is-test``); annotator a03 over-uses CONDITION, a04 speeds, a05 skips negations.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from examples_common import (
    DAY,
    EPOCH_2026_03_02,
    Annotator,
    Pending,
    Project,
    assign,
    canonical,
    pick,
    workload,
)

LABELS = ("MEDICATION", "DOSAGE", "CONDITION", "PROCEDURE", "TEST")
# Slot fillers: text, the true span(s) inside it, and the alternative reading ((start, end, label), kind).
# name, shorter reading, (strength, route/frequency) options, indication, whether "hold X given <lab>" fits
MEDS = (("metoprolol tartrate", "metoprolol", (("25 mg", " PO BID"), ("50 mg", " PO daily")), "atrial fibrillation", True),
        ("lisinopril", None, (("10 mg", " daily"), ("20 mg", " PO daily")), "HTN", True),
        ("atorvastatin", None, (("40 mg", " qHS"), ("80 mg", " PO qHS")), "hyperlipidemia", False),
        ("metformin ER", "metformin", (("500 mg", " PO BID"), ("1000 mg", " daily")), "T2DM", True),
        ("apixaban", None, (("5 mg", " PO BID"), ("2.5 mg", " BID")), "atrial fibrillation", True),
        ("furosemide", None, (("40 mg", " IV once"), ("20 mg", " PO daily")), "CHF", True),
        ("amoxicillin-clavulanate", "amoxicillin", (("875 mg", " q12h"),), "cellulitis of the left leg", False),
        ("insulin glargine", "insulin", (("10 units", " SC qHS"), ("18 units", " qHS")), "T2DM", False),
        ("albuterol inhaler", "albuterol", (("2 puffs", " q4h PRN"),), "COPD", False),
        ("ASA", None, (("81 mg", " daily"),), "CAD", False),
        ("ondansetron", None, (("4 mg", " IV q6h PRN"),), "nausea", False),
        ("prednisone", None, (("40 mg", " PO daily x5 days"),), "COPD exacerbation", False))
SYMPTOMS = (("substernal chest pain", "chest pain"), ("shortness of breath", None), ("fever", None),
            ("right lower quadrant abdominal pain", "abdominal pain"), ("syncope", None), ("productive cough", "cough"))
IMAGING_FINDINGS = (("right lower lobe pneumonia", "pneumonia"), ("a small pleural effusion", "pleural effusion"),
                    ("cholelithiasis", None), ("mild hydronephrosis", "hydronephrosis"), ("cardiomegaly", None))
CONDITIONS = (("HTN", None), ("T2DM", None), ("CHF", None), ("COPD", None), ("atrial fibrillation", "fibrillation"),
              ("community-acquired pneumonia", "pneumonia"), ("CAD", None),
              ("CKD stage 3", "CKD"), ("GERD", None), ("UTI", None), ("cellulitis of the left leg", "cellulitis"),
              ("acute kidney injury", None), ("hyperlipidemia", None), ("sepsis", None))
NEGATABLE = ("chest pain", "fever", "shortness of breath", "nausea", "dysuria", "palpitations", "headache")
LABS = ("CBC", "BMP", "HbA1c", "urinalysis", "lipid panel", "TSH", "ECG", "blood cultures")
IMAGING = ("chest X-ray", "CT abdomen/pelvis", "echocardiogram", "MRI brain", "renal ultrasound")
PROCEDURES = (("cardiac catheterization", None), ("appendectomy", None), ("colonoscopy", None),
              ("PCI with stent placement", "PCI"), ("central line placement", None), ("thoracentesis", None),
              ("I&D of the abscess", "I&D"))
FINDINGS = (("low potassium", 4), ("elevated troponin", 9), ("rising creatinine", 7), ("elevated lactate", 9),
            ("low hemoglobin", 4))  # lab abnormality and where the analyte starts
OPENERS = {
    "ed_triage": ("[AGE] [SEX] with PMH of [COND] and [COND] presenting with [SYMPTOM].",
                  "Pt is a [AGE] y/o [SEX] with hx of [COND], here for [SYMPTOM]."),
    "progress_note": ("HD [DAY]. [AGE] [SEX] admitted with [COND], improving.",
                      "[AGE] [SEX] with [COND] and [COND], day [DAY] of admission."),
    "discharge_summary": ("Admitted for [COND]; hospital course uncomplicated.",
                          "[AGE] [SEX] with hx of [COND] admitted for [COND], now stable."),
}
BODY = ("Denies [NEG] or [NEG].", "No [NEG].", "Started [MEDFOR].", "Continue home [MEDDOSE].",
        "Discharged on [MEDDOSE] and [MEDDOSE].", "[IMAGING] showed [IMGCOND].", "[IMAGING] unremarkable.",
        "[LAB] and [LAB] within normal limits.", "Labs notable for [FINDING].", "Hold [MED] given [FINDING].",
        "s/p [PROC] in [YEAR].", "Underwent [PROC] on HD [DAY] without complications.",
        "Plan: [IMAGING] and repeat [LAB] in AM.", "Scheduled for [PROC] next week.")
N_NOTES, N_CAL, N_GOLD = 200, 10, 16
START = np.array([7.36, 7.5, 8.4, 9.38]) * DAY + EPOCH_2026_03_02  # calibration Mon 9 March, batches Mon-Wed

# id, name, profile, accuracy (type), miss rate, include-frequency, skip-negated, short-boundary rates
PEOPLE = (("a01", "Dana Whitfield", "normal", 0.98, 0.02, 0.05, 0.04, 0.08),
          ("a02", "Rahul Iyer", "normal", 0.98, 0.03, 0.55, 0.04, 0.10),
          ("a03", "Grace Kim", "biased", 0.97, 0.03, 0.10, 0.04, 0.12),
          ("a04", "Mateo Silva", "speeder", 0.75, 0.3, 0.3, 0.4, 0.35),
          ("a05", "Olga Ivanova", "normal", 0.98, 0.02, 0.08, 0.55, 0.08),
          ("a06", "Femi Adeyemi", "late", 0.97, 0.03, 0.10, 0.06, 0.15),
          ("a07", "Hannah Schulz", "normal", 0.98, 0.02, 0.05, 0.04, 0.06),
          ("a08", "Yusuf Demir", "uncalibrated", 0.96, 0.04, 0.15, 0.08, 0.10))
ANNOTATORS = tuple(Annotator(p[0], p[1], accuracy=p[3], profile=p[2], speed=1.0 + 0.1 * (i % 3),
                             share={"speeder": 0.3, "uncalibrated": 0.5}.get(p[2], 1.0),
                             batches={"speeder": (2,), "uncalibrated": (3,)}.get(p[2], (1, 2, 3)))
                   for i, p in enumerate(PEOPLE)) + (Annotator("e01", "Dr. Claire Martin", role="expert"),)


def _shorter(text: str, short: str | None, label: str) -> tuple[int, int, str] | None:
    """The narrower reading of a slot ("cellulitis" inside "cellulitis of the left leg")."""
    if short is None:
        return None
    start = text.index(short)
    return start, start + len(short), label


def _entity(kind: str, rng: np.random.Generator) -> tuple[str, list[tuple[int, int, str, str, Any]]]:
    """Text of one slot and its entities: (start, end, label, kind, alternative) relative to the slot."""
    if kind in ("MED", "MEDDOSE", "MEDFOR"):
        pool = [m for m in MEDS if m[4]] if kind == "MED" else list(MEDS)
        name, short, doses, indication, _ = pool[int(rng.integers(len(pool)))]
        ents = [(0, len(name), "MEDICATION", "med", _shorter(name, short, "MEDICATION"))]
        if kind == "MED":
            return name, ents
        strength, tail = doses[int(rng.integers(len(doses)))]
        s = len(name) + 1
        ents.append((s, s + len(strength), "DOSAGE", "dose", (s, s + len(strength) + len(tail), "DOSAGE")))
        text = f"{name} {strength}{tail}"
        if kind == "MEDFOR":
            s = len(text) + 5
            ents.append((s, s + len(indication), "CONDITION", "cond", None))
            text += f" for {indication}"
        return text, ents
    if kind in ("IMGCOND", "SYMPTOM"):
        pool = IMAGING_FINDINGS if kind == "IMGCOND" else SYMPTOMS
        text, short = pool[int(rng.integers(len(pool)))]
        alt = _shorter(text, short, "CONDITION")
        return text, [(0, len(text), "CONDITION", "cond", alt)]
    if kind == "COND":
        text, short = CONDITIONS[int(rng.integers(len(CONDITIONS)))]
        alt = _shorter(text, short, "CONDITION")
        return text, [(0, len(text), "CONDITION", "cond", alt)]
    if kind == "NEG":
        text = NEGATABLE[int(rng.integers(len(NEGATABLE)))]
        return text, [(0, len(text), "CONDITION", "negated", None)]
    if kind in ("LAB", "IMAGING"):
        text = (LABS if kind == "LAB" else IMAGING)[int(rng.integers(5 if kind == "IMAGING" else len(LABS)))]
        alt = (0, len(text), "PROCEDURE") if kind == "IMAGING" else None
        return text, [(0, len(text), "TEST", "imaging" if kind == "IMAGING" else "lab", alt)]
    if kind == "PROC":
        text, short = PROCEDURES[int(rng.integers(len(PROCEDURES)))]
        return text, [(0, len(text), "PROCEDURE", "proc", _shorter(text, short, "PROCEDURE"))]
    text, analyte = FINDINGS[int(rng.integers(len(FINDINGS)))]
    return text, [(analyte, len(text), "TEST", "finding", (0, len(text), "CONDITION"))]


PLAIN = {"AGE": lambda r: str(r.integers(19, 93)), "SEX": lambda r: "F" if r.random() < 0.5 else "M",
         "DAY": lambda r: str(r.integers(2, 8)), "YEAR": lambda r: str(r.integers(2009, 2025))}


def _note(rng: np.random.Generator, note_type: str, body: tuple[str, ...] = BODY,
          ) -> tuple[str, list[tuple[int, int, str, str, Any]]]:
    openers = OPENERS[note_type]
    sentences = [openers[int(rng.integers(len(openers)))]]
    sentences += [body[i] for i in rng.choice(len(body), size=int(rng.integers(2, 5)), replace=False)]
    text, ents = "", []
    for part in re.split(r"(\[[A-Z]+\])", " ".join(sentences)):
        slot = part[1:-1] if part.startswith("[") else None
        if slot is None or slot in PLAIN:
            text += PLAIN[slot](rng) if slot else part
            continue
        chunk, found = _entity(slot, rng)
        if (not text or text.endswith(". ")) and chunk[0].islower() and not chunk.startswith("s/p"):
            chunk = chunk[0].upper() + chunk[1:]
        ents += [(len(text) + s, len(text) + e, lab, kind, None if alt is None else
                  (len(text) + alt[0], len(text) + alt[1], alt[2])) for s, e, lab, kind, alt in found]
        text += chunk
    return text, ents


def _params(careful: bool) -> dict[str, np.ndarray]:
    """Per-annotator behaviour arrays; in the calibration round the speeder works carefully."""
    rows = [p if not (careful and p[2] == "speeder") else (*p[:3], 0.95, 0.04, 0.1, 0.05, 0.1) for p in PEOPLE]
    rows.append(("e01", "", "expert", 1.0, 0.0, 0.0, 0.0, 0.0))
    cols = list(zip(*rows, strict=True))
    return {"acc": np.array(cols[3]), "miss": np.array(cols[4]), "freq": np.array(cols[5]),
            "neg": np.array(cols[6]), "short": np.array(cols[7]),
            "biased": np.array([r[2] == "biased" for r in rows]), "speeder": np.array([r[2] == "speeder" for r in rows])}


def _spans(rng: np.random.Generator, ents: list[list[tuple[int, int, str, str, Any]]], unit_idx: np.ndarray,
           annot_idx: np.ndarray, careful: bool) -> list[list[list[Any]]]:
    """Each judgment's spans: per true entity, missed / alternative reading / retyped, drawn at once."""
    par = _params(careful)
    counts = np.array([len(e) for e in ents])[unit_idx]
    judge = np.repeat(np.arange(len(unit_idx)), counts)
    flat = [e for u in unit_idx for e in ents[u]]
    kind = np.array([e[3] for e in flat])
    a = annot_idx[judge]
    miss = np.where(kind == "negated", np.maximum(par["neg"][a], par["miss"][a]), par["miss"][a])
    alt_rate = {"dose": par["freq"][a], "imaging": np.where(par["speeder"][a], 0.4, 0.12),
                "finding": np.where(par["speeder"][a], 0.5, 0.6)}
    p_alt = np.select([kind == k for k in alt_rate], list(alt_rate.values()), default=par["short"][a])
    r = rng.random((len(flat), 5))
    keep = r[:, 0] >= miss
    use_alt = (r[:, 1] < p_alt) & np.array([e[4] is not None for e in flat], dtype=bool)
    retype = r[:, 2] >= par["acc"][a]
    to_condition = par["biased"][a] & np.isin([e[2] for e in flat], ["TEST", "PROCEDURE"]) & (r[:, 3] < 0.25)
    # a lab abnormality read as one phrase is typed either way: "low potassium" as CONDITION or as TEST
    phrase_as_test = (kind == "finding") & (r[:, 4] < 0.35)
    other = rng.integers(0, len(LABELS) - 1, size=len(flat))
    out: list[list[list[Any]]] = [[] for _ in unit_idx]
    for n, e in enumerate(flat):
        if not keep[n]:
            continue
        s, t, lab = e[4] if use_alt[n] else e[:3]
        if use_alt[n] and phrase_as_test[n]:
            lab = "TEST"
        elif to_condition[n]:
            lab = "CONDITION"
        elif retype[n]:
            lab = [x for x in LABELS if x != lab][other[n]]
        out[judge[n]].append([int(s), int(t), lab])
    return [sorted(spans) for spans in out]


def build(rng: np.random.Generator) -> Project:
    types = pick(rng, tuple(OPENERS), N_NOTES + N_CAL)
    # the calibration set teaches the written guideline only: no lab abnormalities (the open TEST/CONDITION gap)
    calibration_body = tuple(b for b in BODY if "[FINDING]" not in b)
    notes = [_note(rng, t, BODY if k < N_NOTES else calibration_body) for k, t in enumerate(types)]
    items = [{"note_id": f"CN-{1001 + k}", "note": text, "note_type": t,
              "specialty": ("emergency" if t == "ed_triage" else ["internal_medicine", "cardiology", "surgery"][k % 3])}
             for k, ((text, _), t) in enumerate(zip(notes, types, strict=True))]
    ents = [e for _, e in notes]
    batch = np.repeat([1, 2, 3], [80, 70, 50])
    k = np.where(rng.random(N_NOTES) < 0.12, 4, 3)
    unit_idx, annot_idx = assign(rng, workload(ANNOTATORS, batch), k)
    production = Pending()
    ids = [items[u]["note_id"] for u in unit_idx]
    typical = 35.0 + 9.0 * np.array([len(ents[u]) for u in unit_idx])
    production.add(ids, [""] * len(ids), "entities", _spans(rng, ents, unit_idx, annot_idx, False), annot_idx,
                   batch[unit_idx], rng.random(len(ids)), typical)
    cal_units = np.arange(N_NOTES, N_NOTES + N_CAL)
    cal_annot = np.array([i for i, a in enumerate(ANNOTATORS) if a.role == "annotator" and a.profile != "uncalibrated"])
    cu, ca = (g.reshape(-1) for g in np.meshgrid(cal_units, cal_annot))
    round1 = Pending()
    round1.add([items[u]["note_id"] for u in cu], [""] * len(cu), "entities", _spans(rng, ents, cu, ca, True), ca,
               np.zeros(len(cu), dtype=np.int64), rng.random(len(cu)), 40.0 + 9.0 * np.array([len(ents[u]) for u in cu]))
    gold_idx = np.sort(rng.choice(N_NOTES, size=N_GOLD, replace=False))
    return Project(
        name="clinical-ner", id_field="note_id", items=items, kinds={"entities": "spans"}, annotators=ANNOTATORS,
        production=production.finish(rng, ANNOTATORS, START), calibration_round=round1.finish(rng, ANNOTATORS, START),
        gold=[_reference(items[u]["note_id"], ents[u]) for u in gold_idx],
        calibration=[_reference(items[u]["note_id"], ents[u]) | _teaching(ents[u], i) for i, u in enumerate(cal_units)])


#: What a note teaches, by the first kind of tricky entity it contains: (kind, edge case id, why).
LESSONS = (("dose", "dosage-strength-only", "DOSAGE is the strength and unit only; route and frequency stay outside."),
           ("negated", "negated-condition", "Denied symptoms are still marked as CONDITION."),
           ("imaging", "imaging-is-test", "Imaging is a TEST even when it sounds like a procedure."),
           ("finding", "", "Lab abnormality: the expert marked the analyte as TEST (no guideline rule yet, CLIN-142)."))
PLAIN_WHY = "Abbreviations and salt or formulation words are marked as written."


def _lesson(ents: list[tuple[int, int, str, str, Any]]) -> tuple[str, str]:
    kinds = {k for *_, k, _ in ents}
    return next(((edge, why) for kind, edge, why in LESSONS if kind in kinds), ("", PLAIN_WHY))


def _reference(note_id: str, ents: list[tuple[int, int, str, str, Any]]) -> dict[str, str]:
    spans = sorted([s, t, lab] for s, t, lab, _, _ in ents)
    return {"item": note_id, "unit": "", "task": "entities", "label": canonical(spans), "why": _lesson(ents)[1]}


def _teaching(ents: list[tuple[int, int, str, str, Any]], i: int) -> dict[str, str]:
    return {"edge_case": _lesson(ents)[0], "teaching": "true" if i < 4 else "false"}
