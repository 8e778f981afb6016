"""Simulates the support-intent example: fintech support tickets labelled with an intent and a tone rating.

One job: invent tickets (from templates grouped into families that fix the true intent and whether an edge case
or a guideline gap applies), simulate annotators on them, and return a :class:`Project`. It writes nothing.

Designed outcome (the demo relies on it): high agreement (α ≈ 0.85 on intent), every blocking gate passes; the
findings show annotator 13 over-using ``other``, annotator 14 speeding, a covered refund/dispute confusion
(edge case ``merchant-refused-refund``) and an uncovered status/account_access confusion (a guideline gap).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from examples_common import (
    DAY,
    EPOCH_2026_03_02,
    Annotator,
    Judgments,
    Pending,
    Project,
    assign,
    confusion,
    draw_labels,
    ordinal_confusion,
    pick,
    sample_rows,
    workload,
)

INTENTS = ("refund", "status", "dispute", "fraud", "account_access", "other")
# Which wrong intent an annotator reaches for when they err (rows: truth, columns: chosen).
AFFINITY = np.array([
    [0, 2.0, 3.0, 0.5, 0.3, 1.5],
    [1.5, 0, 0.5, 0.3, 2.0, 1.5],
    [3.0, 0.5, 0, 2.0, 0.2, 1.0],
    [0.5, 0.3, 2.5, 0, 1.5, 0.5],
    [0.2, 1.5, 0.2, 1.5, 0, 1.5],
    [1.0, 1.5, 0.5, 0.3, 1.0, 0],
])
TONE = {  # P(true tone = 1..5) per tone profile
    "angry": (0.5, 0.42, 0.08, 0, 0), "neutral": (0, 0.12, 0.68, 0.2, 0),
    "polite": (0, 0.02, 0.3, 0.58, 0.1), "warm": (0, 0, 0.05, 0.35, 0.6), "worried": (0.05, 0.5, 0.4, 0.05, 0),
}

# family: (true intent, soft truth {intent: p}, edge case id, tone profile, share of tickets, why, templates)
FAMILIES: dict[str, tuple[str, dict[str, float], str, str, float, str, tuple[str, ...]]] = {
    "refund": ("refund", {"refund": 1.0}, "", "polite", 0.17,
               "Asks for money back for a specific charge the bank or card made.", (
                   "I was charged twice for my {merchant} order #{order} ({amount}). Could you refund the duplicate payment?",
                   "I cancelled my {merchant} subscription on {date} but was still billed {amount} today. Please refund it.",
                   "The ATM on {street} didn't dispense any cash but {amount} was taken from my account. I need that money back.",
                   "You charged me a {amount} foreign transaction fee although my plan includes free FX. Please reverse the fee.",
                   "I upgraded to Premium by mistake and cancelled within a minute. Can I get the {amount} refunded?",
                   "My card was declined at {merchant} but {amount} still left my balance. Please put it back.")),
    "refund_complaint": ("refund", {"refund": 0.94, "other": 0.06}, "refund-plus-complaint", "angry", 0.05,
                         "A complaint wrapped around a concrete request for money back: the request decides.", (
                             "This is ridiculous, third time I'm writing. You took a {amount} late fee because YOUR app was down. Give me my money back.",
                             "Worst banking app I have ever used. Charged {amount} for a card replacement I never asked for. Refund it now.",
                             "Absolutely fed up with you people. Refund the {amount} overdraft fee, it only happened because your transfer was two days late.")),
    "status": ("status", {"status": 1.0}, "", "neutral", 0.18,
               "Asks where something already in progress stands.", (
                   "I sent {amount} to {person} on {date} and it still hasn't arrived. Where is it?",
                   "When will my new card arrive? I ordered it {days} days ago and there is no tracking.",
                   "Is my savings withdrawal of {amount} still pending? It's been {days} days.",
                   "What's the status of international transfer {ref}? The recipient hasn't received it yet.",
                   "Has my address change gone through? I need the replacement card sent to the right place.")),
    "status_refund": ("status", {"status": 0.92, "refund": 0.08}, "refund-status", "worried", 0.05,
                      "Chases a refund that was already agreed: a status inquiry, not a new refund request.", (
                          "Any news on the refund for ticket #{ticket}? You said 3-5 business days and it's been {days}.",
                          "Where is my refund of {amount} from {merchant}? They say they sent it on {date}.")),
    "gap_status": ("status", {"status": 0.55, "account_access": 0.45}, "", "worried", 0.03,
                   "The transfer is the subject; the app trouble is how the customer noticed.", (
                       "I can't see the {amount} transfer from {date} in the app anymore. Is it still on its way?",
                       "My transfer to {person} shows 'on hold' and the app won't let me open the details page. What is happening?")),
    "dispute": ("dispute", {"dispute": 0.97, "refund": 0.03}, "", "worried", 0.06,
                "The customer wants the bank to contest a merchant's charge.", (
                    "{merchant} never delivered order #{order} ({amount}) and ignores my emails. I want to dispute this charge.",
                    "The item from {merchant} arrived broken and they won't take it back. I'd like to dispute the {amount} payment.",
                    "{merchant} charged me {amount} for a booking I cancelled inside the free cancellation window and refuses to refund. Please raise a dispute.")),
    "chargeback": ("dispute", {"dispute": 1.0}, "chargeback-wording", "neutral", 0.03,
                   "Chargeback is the card-scheme dispute process; the word settles the intent.", (
                       "Please open a chargeback for the {amount} charge from {merchant}, the product was not as described.",
                       "How do I file a charge back? {merchant} billed me {amount} after I cancelled.")),
    "merchant_refused": ("dispute", {"dispute": 0.86, "refund": 0.14}, "merchant-refused-refund", "angry", 0.03,
                         "The merchant owes the money and refuses: only a dispute can recover it.", (
                             "I returned my order to {merchant} on {date}, they confirmed receipt, but the {amount} refund never came and they stopped replying. Can you get it back from them?",
                             "{merchant} promised me a refund of {amount} weeks ago and now says it's not their problem. Can you help me get my money back?")),
    "fraud": ("fraud", {"fraud": 1.0}, "", "worried", 0.06,
              "A payment or login the customer did not make or allow.", (
                  "There's a payment of {amount} to {merchant} that I did not make. My card is right here in my wallet.",
                  "I got a text asking for my card PIN and now there are three transactions I don't recognise.",
                  "Someone logged into my account from {city} and sent {amount} to an account I've never seen.",
                  "I never authorised the {amount} payment to {merchant} on {date}. Please block my card ending {last4}.")),
    "fraud_unrecognised": ("fraud", {"fraud": 0.93, "dispute": 0.04, "refund": 0.03}, "unrecognised-charge", "worried", 0.03,
                           "The customer denies making the payment; asking for the money back does not change that.", (
                               "I don't recognise a {amount} charge from {code}. I have never shopped there. Can I get it back?",
                               "Two charges from {code} for {amount} each. I didn't make these, please reverse them.")),
    "account_access": ("account_access", {"account_access": 1.0}, "", "worried", 0.12,
                       "The customer cannot get into the account or app.", (
                           "I can't log in. The app says my password is wrong even right after I reset it.",
                           "My account got locked after too many PIN attempts. Please unlock it.",
                           "I got a new phone and now I don't receive the 2FA code, so I'm stuck at the login screen.",
                           "The selfie verification keeps failing so I can't get into my account.",
                           "I'm locked out of online banking since your security update. How do I get back in?")),
    "gap_access": ("account_access", {"account_access": 0.55, "status": 0.45}, "", "worried", 0.03,
                   "The blocked verification is the problem to solve; the waiting is a symptom.", (
                       "The app has said 'verification pending' since {date} and I can't send money. When will this be finished?",
                       "My new card says 'activation in progress' and I can't log in to online banking to check on it.")),
    "other": ("other", {"other": 1.0}, "", "polite", 0.12,
              "A question or comment with no money movement or access problem behind it.", (
                  "Do you offer joint accounts for couples?",
                  "How do I change the email address on my profile?",
                  "Can I get my February statement as a PDF for a mortgage application?",
                  "Is there a way to turn off the round-up savings feature?",
                  "Do you support Apple Pay on the {tier} card?")),
    "praise": ("other", {"other": 1.0}, "", "warm", 0.04,
               "Feedback with nothing to act on.", (
                   "Just wanted to say your support team sorted my issue in minutes last week. Thank you!",
                   "Love the new budgeting charts, great job to whoever built them.")),
}
SLOTS = {
    "merchant": ("Brightmart", "Nordlys Air", "StreamBox", "Pixel Pantry", "QuickCab", "Hearth & Co", "Voltshop",
                 "Café Lumen", "TicketHaus", "GreenLeaf Grocers"),
    "amount": ("€12.99", "€42.90", "€7.50", "€129.00", "€64.20", "€18.75", "€250.00", "€9.99", "€33.10", "€480.00"),
    "date": ("24 February", "26 February", "27 February", "1 March", "28 February", "25 February"),
    "street": ("Kastanienallee", "Rua Augusta", "Calle Mayor", "Oxford Road", "Via Roma"),
    "person": ("my landlord", "my sister", "Jan Kowalski", "the garage", "my flatmate"),
    "city": ("Lagos", "Bucharest", "Manila", "Lima", "Minsk"),
    "code": ("PAYPRO*8841", "SQ *MRKT 22", "DLC-SERVICES LTD", "AMZ MKTP 7731", "G-STORE 0042"),
    "tier": ("Standard", "Plus", "Metal"), "days": ("4", "6", "9", "12", "15"),
}
TONE_WHY = {
    1: "Hostile wording (blame, capitals, 'ridiculous'); anchor 1.", 2: "Frustrated but not abusive; anchor 2.",
    3: "Matter-of-fact; the situation may be bad, the wording is neutral.", 4: "Courteous wording; anchor 4.",
    5: "Warm and appreciative; anchor 5.",
}
GREETING = ("", "Hi, ", "Hello, ", "Hi team, ", "Good morning, ")
SIGNOFF = ("", " Thanks.", " Thanks in advance.", " Regards, {first}.", " Cheers")
FIRST = ("Lena", "Marco", "Aisha", "Tom", "Yuki", "Carlos", "Ines", "Omar")
CHANNELS = ("email", "chat", "app")
PRODUCTS = {"refund": "card", "status": "transfers", "dispute": "card", "fraud": "card",
            "account_access": "account", "other": "account"}
N_ITEMS, N_GOLD = 360, 36
START = np.array([0.354, 0.52, 2.354, 3.375]) * DAY + EPOCH_2026_03_02  # calibration, batches 1-3 (Mon-Thu)

ANNOTATORS = (
    Annotator("11", "Maria Lopez", accuracy=0.97, speed=1.0),
    Annotator("12", "Kwame Mensah", accuracy=0.96, speed=0.9),
    Annotator("13", "Ana Petrova", accuracy=0.97, profile="biased", speed=1.1, share=1.4),
    Annotator("14", "Tomás Ruiz", accuracy=0.25, profile="speeder", share=0.15, batches=(2,)),
    Annotator("15", "Li Wei", accuracy=0.98, speed=1.25),
    Annotator("16", "Priya Nair", accuracy=0.96, profile="late", share=0.9),
    Annotator("17", "Jonas Berg", accuracy=0.97, speed=0.95),
    Annotator("sofia.rossi@ledgerly.example", "Sofia Rossi", accuracy=0.95, profile="uncalibrated", share=0.5, batches=(3,)),
    Annotator("20", "Helena Okafor", role="expert"),
)


def _fill(rng: np.random.Generator, template: str, channel: str) -> str:
    slots = {name: values[int(rng.integers(len(values)))] for name, values in sorted(SLOTS.items())}
    slots |= {"order": str(rng.integers(10_000, 99_999)), "ticket": str(rng.integers(400_000, 499_999)),
              "ref": f"TR-{rng.integers(1_000_000, 9_999_999)}", "last4": f"{rng.integers(0, 10_000):04d}"}
    body = template.format(**slots)
    # lower-case the first word only when it is an ordinary word: never "I", a merchant or an amount
    lowered = body if template.startswith(("{", "I ", "I'")) else body[0].lower() + body[1:]
    if channel == "chat":
        return lowered if rng.random() < 0.5 else body
    greeting = GREETING[int(rng.integers(len(GREETING)))]
    signoff = SIGNOFF[int(rng.integers(len(SIGNOFF)))].format(first=FIRST[int(rng.integers(len(FIRST)))])
    return greeting + (lowered if greeting else body) + signoff


def _tickets(rng: np.random.Generator, n: int, families: list[str], start_id: int) -> list[dict[str, Any]]:
    channels = pick(rng, CHANNELS, n)
    out = []
    for k, (fam, channel) in enumerate(zip(families, channels, strict=True)):
        templates = FAMILIES[fam][6]
        body = _fill(rng, templates[int(rng.integers(len(templates)))], channel)
        out.append({"ticket_id": f"T-{start_id + k}", "body": body, "channel": channel,
                    "product": PRODUCTS[FAMILIES[fam][0]], "family": fam})
    return out


def _soft_truth(families: list[str]) -> np.ndarray:
    s = np.zeros((len(families), len(INTENTS)))
    for f, (_, soft, *_rest) in FAMILIES.items():
        row = np.array([soft.get(i, 0.0) for i in INTENTS])
        s[[k for k, g in enumerate(families) if g == f]] = row
    return s


def _matrices(calibration: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-annotator confusion matrices for intent and tone (careful in the calibration round)."""
    intent, tone = [], []
    for a in ANNOTATORS:
        acc = max(a.accuracy, 0.96) if calibration else a.accuracy
        bias = INTENTS.index("other") if a.profile == "biased" else None
        intent.append(confusion(acc, AFFINITY + 0.05, bias=bias, bias_rate=0.0 if calibration else 0.18))
        sd = 3.0 if a.profile == "speeder" and not calibration else (0.28 if calibration else 0.42)
        tone.append(ordinal_confusion(5, sd, shift=-0.15 if a.profile == "biased" else 0.0))
    return np.stack(intent), np.stack(tone)


def _judge(rng: np.random.Generator, items: list[dict[str, Any]], tone: np.ndarray, unit_idx: np.ndarray,
           annot_idx: np.ndarray, batch: np.ndarray, calibration: bool, pending: Pending) -> None:
    fams = [it["family"] for it in items]
    m_intent, m_tone = _matrices(calibration)
    intent = draw_labels(rng, _soft_truth(fams), m_intent, unit_idx, annot_idx)
    chargeback = np.array([fams[u] == "chargeback" for u in unit_idx])
    intent = np.where(chargeback, INTENTS.index("dispute"), intent)  # the submit-time validator enforces the rule
    rating = draw_labels(rng, np.eye(5)[tone], m_tone, unit_idx, annot_idx) + 1
    key = rng.random(len(unit_idx))
    ids = [items[u]["ticket_id"] for u in unit_idx]
    pending.add(ids, [""] * len(ids), "intent", [INTENTS[i] for i in intent], annot_idx, batch, key, np.array(24.0))
    pending.add(ids, [""] * len(ids), "tone", [int(r) for r in rating], annot_idx, batch, key + 1e-9, np.array(7.0))


def build(rng: np.random.Generator) -> Project:
    names = list(FAMILIES)
    shares = np.array([FAMILIES[f][4] for f in names])
    fams = [names[i] for i in sample_rows(rng, np.tile(shares, (N_ITEMS, 1)))]
    cal_fams = ["refund_complaint", "status_refund", "merchant_refused", "chargeback", "fraud_unrecognised"] * 2 + [
        "refund", "status", "dispute", "fraud", "account_access", "other"]
    items = _tickets(rng, N_ITEMS, fams, 10_401) + _tickets(rng, len(cal_fams), cal_fams, 10_901)
    tone = sample_rows(rng, np.array([TONE[FAMILIES[it["family"]][3]] for it in items]))
    batch = np.repeat([1, 2, 3], [140, 120, 100])
    k = np.where(rng.random(N_ITEMS) < 0.1, 4, 3)
    unit_idx, annot_idx = assign(rng, workload(ANNOTATORS, batch), k)
    production = Pending()
    _judge(rng, items, tone, unit_idx, annot_idx, batch[unit_idx], False, production)
    cal_units = np.arange(N_ITEMS, len(items))
    cal_annot = np.array([i for i, a in enumerate(ANNOTATORS) if a.role == "annotator" and a.profile != "uncalibrated"])
    cu, ca = (g.reshape(-1) for g in np.meshgrid(cal_units, cal_annot))
    round1 = Pending()
    _judge(rng, items, tone, cu, ca, np.zeros(len(cu), dtype=np.int64), True, round1)
    gold_idx = np.sort(rng.choice(N_ITEMS, size=N_GOLD, replace=False))
    production_judgments = production.finish(rng, ANNOTATORS, START)
    return Project(
        name="support-intent", id_field="ticket_id", items=[_public(it) for it in items],
        kinds={"intent": "single_choice", "tone": "rating"}, annotators=ANNOTATORS,
        production=production_judgments, calibration_round=round1.finish(rng, ANNOTATORS, START),
        gold=[row for u in gold_idx for row in _reference(items[u], int(tone[u]), fams[u], tone_too=False)],
        calibration=[row | {"edge_case": FAMILIES[items[u]["family"]][2] if row["task"] == "intent" else "",
                            "teaching": "true" if i < 5 else "false"}
                     for i, u in enumerate(cal_units)
                     for row in _reference(items[u], int(tone[u]), items[u]["family"], tone_too=i % 2 == 0)],
        item_column="ticket_id",
        expert_round=_expert_round(items[:N_ITEMS], production_judgments, {items[u]["ticket_id"] for u in gold_idx}))


def _expert_round(items: list[dict[str, Any]], production: Judgments, gold: set[str]) -> Judgments:
    """Helena Okafor (role expert) settles the intent of the tickets her review queue holds, the day after batch 3:
    every non-gold ticket whose annotators did not all give one intent, or that any of them called a dispute or
    fraud (``review: always``). She gives the intent of the ticket's family (the truth of this simulation), one
    ticket a minute in ticket order. No randomness: the other files' bytes do not depend on this round."""
    given: dict[str, set[str]] = {}
    for item, task, value in zip(production.item, production.task, production.value, strict=True):
        if task == "intent":
            given.setdefault(item, set()).add(str(value))
    truth = {it["ticket_id"]: FAMILIES[it["family"]][0] for it in items}
    queue = sorted(t for t, seen in given.items() if t not in gold and (len(seen) > 1 or {"dispute", "fraud"} & seen))
    begin = int(START[-1] + DAY)  # Friday morning
    return Judgments(item=queue, unit=[""] * len(queue), task=["intent"] * len(queue), annotator=["20"] * len(queue),
                     value=[truth[t] for t in queue], time=[begin + 60 * i for i in range(len(queue))],
                     lead=[round(35.0 + (i * 7) % 50, 1) for i in range(len(queue))], batch=[0] * len(queue))


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "family"}


def _reference(item: dict[str, Any], tone: int, family: str, *, tone_too: bool) -> list[dict[str, str]]:
    rows = [{"item": item["ticket_id"], "unit": "", "task": "intent", "label": FAMILIES[family][0],
             "why": FAMILIES[family][5]}]
    if tone_too:
        rows.append({"item": item["ticket_id"], "unit": "", "task": "tone", "label": str(tone + 1),
                     "why": TONE_WHY[tone + 1]})
    return rows
