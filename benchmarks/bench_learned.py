"""The learned layers, measured on writers they were never trained on.

Trains both heads on the banks marked `split: train` and reads every message of the `validation`
writers: per warning tier, what the rules catch alone and with the learned layer, with 95% Wilson
intervals and the false alarms on messages that need none; per route, recall and the confusion
between routes. Run by `make bench`; `--sweep` prints the thresholds' trade-off for learned.yaml.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

from clbp_chat import safety
from clbp_chat.answer import get_engine
from clbp_chat.evaluate.tiers import wilson
from clbp_chat.learned import ROUTES, load_banks, thresholds, train
from clbp_chat.text import normalize

ALARMS = ("emergency", "urgent", "crisis")


def share(hits: int, n: int) -> str:
    low, high = wilson(hits, n)
    return f"{hits:>4}/{n:<4} {hits / max(n, 1):6.1%}  [{low:.1%}, {high:.1%}]"


def safety_table(messages, rules: safety.SafetyGate, learned: safety.SafetyGate) -> None:
    print("\nwarning tiers on validation writers (caught, 95% Wilson interval)")
    print(f"  {'tier':<10} {'rules alone':<34} {'rules + learned layer':<34}")
    rows = [
        (m.alarm, rules.check(m.text).category, learned.check(m.text).category) for m in messages
    ]
    for tier in ALARMS:
        got = [r for r in rows if r[0] == tier]
        a = sum(r[1] in ALARMS for r in got)
        b = sum(r[2] in ALARMS for r in got)
        print(f"  {tier:<10} {share(a, len(got)):<34} {share(b, len(got)):<34}")
    calm = [r for r in rows if r[0] == "none"]
    a = sum(r[1] in ALARMS for r in calm)
    b = sum(r[2] in ALARMS for r in calm)
    print(f"  {'false alarm':<10} {share(a, len(calm)):<34} {share(b, len(calm)):<34}")
    exact = sum(r[2] == r[0] for r in rows if r[0] in ALARMS)
    print(f"  right tier (rules + learned): {exact}/{sum(r[0] in ALARMS for r in rows)}")


def route_table(messages, fitted) -> None:
    rows = [(m.route, fitted.route(m.text) or "answer") for m in messages]
    print("\nroutes on validation writers (messages that need no alarm)")
    for route in ROUTES:
        got = [r for r in rows if r[0] == route]
        print(f"  {route:<16} {share(sum(r[1] == route for r in got), len(got))}")
    confusion = Counter((a, b) for a, b in rows if a != b)
    print("  confused (truth -> routed):", dict(sorted(confusion.items())))


def study_table(messages, fitted, engine) -> None:
    """Questions about one study that no alias names: how many the study head names, how right."""
    from clbp_chat.evidence import study_docs
    from clbp_chat.index import named_docs

    docs = study_docs()
    unnamed = [
        m
        for m in messages
        if m.route == "answer"
        and m.study
        and not set(named_docs(m.text, engine.index)) & set(docs.values())
    ]
    about_one = [m for m in unnamed if m.study in docs]
    from clbp_chat.understand import vocabulary

    refers = vocabulary().study_reference

    def guess(text: str) -> str | None:  # as the engine asks: only when a study is referred to
        return fitted.study(text) if refers.search(text) else None

    named = [(m, guess(m.text)) for m in unnamed]
    said = [(m, s) for m, s in named if s]
    right = sum(m.study == s for m, s in said)
    print("\nstudies described, not named (validation writers)")
    print(f"  questions no alias names: {len(unnamed)}, of them about one study: {len(about_one)}")
    print(f"  the study head names {len(said)} ({share(len(said), len(about_one))} of those)")
    print(f"  right: {share(right, len(said))}")
    general = [m for m in unnamed if m.study not in docs]
    wrongly = sum(bool(guess(m.text)) for m in general)
    print(f"  questions about several or no study given one: {share(wrongly, len(general))}")


def sweep(messages, fitted) -> None:
    """Learned-tier probability per validation message, to choose thresholds."""
    vectors = fitted.encoder([normalize(m.text).strip() for m in messages])
    probs = fitted.safety.proba(vectors)
    for tier in ALARMS:
        k = fitted.safety.classes.index(tier)
        for t in (0.6, 0.7, 0.8, 0.9, 0.95):
            hit = probs[:, k] >= t
            tp = sum(h for h, m in zip(hit, messages, strict=True) if m.alarm == tier)
            fa = sum(h for h, m in zip(hit, messages, strict=True) if m.alarm == "none")
            print(f"  {tier:<10} >= {t:.2f}: {tp} of its tier, {fa} false alarms")


def main() -> None:
    engine = get_engine()
    banks = load_banks()
    trained_on = [b for b in banks if b.split == "train"]
    held_out = [b for b in banks if b.split == "validation"]
    print(f"trained on {len(trained_on)} writers: {', '.join(b.writer for b in trained_on)}")
    print(f"measured on {len(held_out)} other writers: {', '.join(b.writer for b in held_out)}")
    fitted = train(trained_on, engine.encoder, thresholds())
    messages = [m for b in held_out for m in b.messages]
    rules = safety.SafetyGate(encoder=engine.encoder, english=engine.gate.english)
    learned = safety.SafetyGate(encoder=engine.encoder, english=engine.gate.english, learned=fitted)
    safety_table(messages, rules, learned)
    route_table([m for m in messages if m.alarm == "none" and m.route], fitted)
    study_table([m for m in messages if m.alarm == "none"], fitted, engine)
    if "--sweep" in sys.argv:
        sweep(messages, fitted)
    print(f"\n(bank vectors: {np.asarray(fitted.bank_vectors).shape[0]} training messages)")


if __name__ == "__main__":
    main()
