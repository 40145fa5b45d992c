"""Print the best-sentence relevance for answerable and unanswerable eval questions.

The evidence threshold (CLBP_MIN_EVIDENCE) belongs between the two distributions; rerun this after
changing the corpus or the model and move the default in config.py if the gap moved.
"""

from __future__ import annotations

import statistics

from clbp_chat.answer import get_engine
from clbp_chat.evaluate.dataset import load_sets
from clbp_chat.evidence import SentenceScorer, select_sentences
from clbp_chat.retrieve import hybrid_search
from clbp_chat.understand import understand


def best_score(engine, question: str) -> tuple[float, float]:
    """The best sentence relevance, or -1 for a topic the library lists as not covered."""
    index = engine.index
    query = understand(question, [], index, engine.embeddings.encode)
    if query.uncovered:
        return -1.0, engine.settings.min_evidence
    hits = hybrid_search(
        index, query.search_text, query.vector, query.focus, engine.settings.retrieve_k
    )
    selection = select_sentences(
        index, SentenceScorer(index), query, hits, min_evidence=0.0, max_sentences=1
    )
    return selection.best, engine.settings.min_evidence


def main() -> None:
    engine = get_engine()
    items = [i for i in load_sets() if not i.history and i.outcome != "safety"]
    scored = sorted(((*best_score(engine, i.question), i) for i in items), key=lambda p: p[0])
    answerable = [s for s, _, i in scored if i.outcome == "answered"]
    unanswerable = [s for s, _, i in scored if i.outcome == "no_evidence"]
    wrong = [i for s, bar, i in scored if (s >= bar) != (i.outcome == "answered")]
    print(
        f"answerable   n={len(answerable)} min={min(answerable):.3f} median={statistics.median(answerable):.3f}"
    )
    print(
        f"unanswerable n={len(unanswerable)} max={max(unanswerable):.3f} median={statistics.median(unanswerable):.3f}"
    )
    print(
        f"current CLBP_MIN_EVIDENCE={engine.settings.min_evidence} (-1: a listed uncovered topic)"
    )
    print(f"misclassified at these settings: {len(wrong)} of {len(scored)}")
    for score, bar, item in scored:
        mark = "  <-- wrong side" if item in wrong else ""
        print(f"{score:.3f} (bar {bar:.2f})  {item.outcome:<11}  {item.question}{mark}")


if __name__ == "__main__":
    main()
