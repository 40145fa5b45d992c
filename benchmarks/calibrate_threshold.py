"""Print the best-sentence relevance for answerable and unanswerable eval questions.

The evidence threshold (CLBP_MIN_EVIDENCE) belongs between the two distributions; rerun this after
changing the corpus or the model and move the default in config.py if the gap moved. Each question
goes through the engine's own stages (understand, then retrieve and select), so the scores are the
ones the engine compares with the bar.
"""

from __future__ import annotations

import statistics

from clbp_chat.answer import Engine, get_engine
from clbp_chat.evaluate.dataset import load_sets
from clbp_chat.retrieve import question_match


def best_score(engine: Engine, question: str) -> float:
    """The best sentence relevance, or -1 for a topic the library lists as not covered."""
    index = engine.live_index()
    query = engine.understand(question, [], index)
    if query.uncovered:
        return -1.0
    selection, _ = engine.select(index, query, question_match(index, query.question_vector))
    return selection.best


def main() -> None:
    engine = get_engine()
    bar = engine.settings.min_evidence
    items = [i for i in load_sets() if not i.history and i.outcome != "safety"]
    scored = sorted(((best_score(engine, i.question), i) for i in items), key=lambda p: p[0])
    answerable = [s for s, i in scored if i.outcome == "answered"]
    unanswerable = [s for s, i in scored if i.outcome == "no_evidence"]
    wrong = [i for s, i in scored if (s >= bar) != (i.outcome == "answered")]
    print(
        f"answerable   n={len(answerable)} min={min(answerable):.3f} median={statistics.median(answerable):.3f}"
    )
    print(
        f"unanswerable n={len(unanswerable)} max={max(unanswerable):.3f} median={statistics.median(unanswerable):.3f}"
    )
    print(f"current CLBP_MIN_EVIDENCE={bar} (-1: a listed uncovered topic)")
    print(f"misclassified at these settings: {len(wrong)} of {len(scored)}")
    for score, item in scored:
        mark = "  <-- wrong side" if item in wrong else ""
        print(f"{score:.3f} (bar {bar:.2f})  {item.outcome:<11}  {item.question}{mark}")


if __name__ == "__main__":
    main()
