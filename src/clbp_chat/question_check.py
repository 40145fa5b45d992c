"""After ingest: does each question a document lists get answered from the section that lists it?

Staff list patient questions under a section so that the section answers them. A not-covered topic,
the learned router, a safety rule or a closer section can take a listed question elsewhere; ingest
says so, one line per question, so that a clinic learns it before a patient does.
"""

from __future__ import annotations

from clbp_chat.answer import Engine
from clbp_chat.config import Settings
from clbp_chat.corpus import Document
from clbp_chat.index import Index
from clbp_chat.not_covered import topics_for
from clbp_chat.records import Answer
from clbp_chat.understand import uncovered_topics


def misrouted_questions(settings: Settings, docs: list[Document]) -> list[str]:
    """One line per listed question not answered from its own section, saying where it goes."""
    # The corpus's own questions are not patients' questions: they never reach the question log.
    engine = Engine(settings.model_copy(update={"log_questions": False}))
    index = engine.live_index()
    out = []
    for doc in docs:
        for heading, questions in doc.questions.items():
            for question in questions:
                result = engine.answer(question)
                if any((c.doc_id, c.section) == (doc.id, heading) for c in result.citations):
                    continue
                where = _where_it_goes(result, question, index)
                out.append(f"{doc.path.name}: {question!r} (listed under '{heading}') {where}")
    return out


def _where_it_goes(result: Answer, question: str, index: Index) -> str:
    if result.outcome == "safety" and not result.citations:
        return f"gets the {result.safety_category} reply, not its section"
    if result.citations:
        first = result.citations[0]
        return f"is answered from {first.doc_id} '{first.section}' instead"
    caught = uncovered_topics(question, topics_for(index))
    if caught:
        topic = caught[0]
        return (
            f"is refused by the not-covered topic '{topic.name}' (from {topic.origin}); "
            f"change its mention or mark it covered in the corpus folder's not_covered.yaml"
        )
    return "gets no answer (the library reads it as not covered); word it more like the section"
