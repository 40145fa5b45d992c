"""Grounded answers on the real corpus: right documents, key figures, honest no-evidence replies."""

from __future__ import annotations

import re

import pytest

from clbp_chat.evaluate.dataset import load_sets
from clbp_chat.text import numbers, split_sentences
from clbp_chat.understand import asked_parts, read_message

from .conftest import ROOT

ITEMS = load_sets(ROOT / "evals" / "sets")
ANSWERABLE = [i for i in ITEMS if i.outcome == "answered" and not i.history]
UNANSWERABLE = [i for i in ITEMS if i.outcome == "no_evidence"]
# Known misses, measured and reported by the evals; strict, so fixing one makes this list shrink.
KNOWN_MISSES: set[str] = set()


def _param(items):
    return [
        pytest.param(
            i, id=i.id, marks=[pytest.mark.xfail(strict=True)] if i.id in KNOWN_MISSES else []
        )
        for i in items
    ]


def test_the_sets_cover_what_the_core_promises():
    assert len(ANSWERABLE) >= 25
    assert len(UNANSWERABLE) >= 10


@pytest.mark.parametrize("item", _param(ANSWERABLE))
def test_fact_question_cites_expected_document_and_key_figure(answer_of, item):
    result = answer_of(item.question)
    assert result.outcome == "answered", result.answer
    cited = {c.doc_id for c in result.citations}
    expected = set(item.docs)
    assert (cited & expected) if item.any_doc else (expected <= cited), (cited, result.answer)
    for fact in item.facts:
        assert re.search(fact, result.answer, re.I), f"{fact!r} not in: {result.answer}"


@pytest.mark.parametrize("item", _param(UNANSWERABLE))
def test_uncovered_question_is_no_evidence_without_citations(answer_of, item):
    result = answer_of(item.question)
    assert result.outcome == "no_evidence", result.answer
    assert result.citations == []
    assert "doesn't cover" in result.answer


def test_every_number_in_every_answer_occurs_in_a_cited_quote(answer_of):
    for item in ANSWERABLE:
        result = answer_of(item.question)
        quoted = set().union(*(numbers(c.quote) for c in result.citations))
        assert numbers(result.answer) <= quoted, (item.id, numbers(result.answer) - quoted)


def test_every_answer_sentence_carries_a_marker_that_resolves_to_a_quote_containing_it(answer_of):
    for item in ANSWERABLE:
        result = answer_of(item.question)
        quotes = {c.n: c.quote for c in result.citations}
        body = result.answer.replace("**How strong is this evidence?**", "")
        cited = re.findall(r"[^\[\]]+?\[\d+\]", body)
        assert cited, (item.id, "no cited sentence", result.answer)
        for sentence in cited:
            text, n = re.match(r"(.*)\[(\d+)\]", sentence.strip(), re.S).groups()
            text = text.strip().removeprefix("The clinic's summary says: ").strip("“”")
            assert int(n) in quotes, (item.id, sentence)
            core = text.rstrip(".")
            assert core in quotes[int(n)], (item.id, core)


def test_answers_state_how_strong_the_study_evidence_is(engine):
    result = engine.answer("How many people were in the Pettine study?")
    assert "How strong is this evidence?" in result.answer
    assert "no control group" in result.answer


def test_clinic_claims_are_attributed_to_the_clinic(engine):
    """The clinic's own claim is quoted as the clinic's, never stated as the assistant's."""
    answer = engine.answer("Is it true that stem cell therapy is safe and effective?").answer
    claim = "Four clinical studies enrolling 148 patients report stem cell therapy to be safe"
    assert f"The clinic's summary says: “{claim}" in answer, answer
    assert answer.count(claim) == 1


def test_named_study_is_answered_from_that_study(engine):
    result = engine.answer("What were the results of the Kumar study?")
    assert result.citations[0].doc_id == "kumar-2017"
    assert not {"pettine-2015", "atluri-2022", "amirdelfan-2021"} & {
        c.doc_id for c in result.citations
    }


def test_misspelled_study_name_is_corrected_against_the_corpus(engine):
    result = engine.answer("how many ppl were in the petine study")
    assert "26" in result.answer


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("cumar study how many people did they do it on", r"\b10\b"),
        ("how many were in the amir delfan study", r"\b100\b"),
        ("where did the cells come from in the at luri trial", r"bone marrow"),
    ],
)
def test_a_study_name_heard_rather_than_read_is_still_found(engine, question, says):
    """Voice typing and second-language spelling change a name's first letter or split it."""
    result = engine.answer(question)
    assert re.search(says, result.answer, re.I), result.answer


def test_two_english_words_are_not_joined_into_one(engine):
    """ "moderate" is a corpus word, but an English one: "the mode rate" is two words, not a name."""
    assert engine.index.speller.correct("the mode rate of pet care") == "the mode rate of pet care"


@pytest.mark.parametrize(
    "word", ["sceptical", "colour", "organise", "paediatric", "haemorrhage", "anaemia"]
)
def test_real_words_the_model_does_not_know_are_not_turned_into_warning_signs(gate, word):
    """British spellings are not typos: "sceptical" once became "septic", an urgent sign."""
    message = f"my gp is {word} about it. what is the strongest study and what did it show"
    assert gate.check(message).category is None


def test_every_answer_reports_a_positive_latency(engine):
    assert engine.answer("What is a placebo?").latency_ms > 0


def test_every_citation_leads_to_a_paper_or_the_clinics_summary(answer_of):
    for item in ANSWERABLE:
        for c in answer_of(item.question).citations:
            primary = c.source or c.sources or c.doc_id in ("evidence-summary", "glossary")
            assert primary, (item.id, c.doc_id, c.section)


@pytest.mark.parametrize(
    ("question", "figure"),
    [
        ("how many were in the kumar study", r"\b10 patients"),
        ("how many sites did the Amirdelfan study use", r"\b13 sites"),
        ("How many patients took part in the Pettine trial?", r"\b26 patients"),
    ],
)
def test_how_many_answers_first_with_the_count_asked_for(engine, question, figure):
    first = split_sentences(engine.answer(question).answer)[0]
    assert re.search(figure, first), first


def test_how_many_in_a_study_that_gives_no_count_says_first_that_it_is_not_reported(engine):
    # An independent probe writer's message, as written.
    question = (
        "Ramiro ask me to ask you becuase he dont like computers lol. in the atluri trial with the "
        "bone marow how many patients was there in total, he want to know if it was a big study or "
        "small one"
    )
    first = split_sentences(engine.answer(question).answer)[0]
    assert "does not report how many patients" in first, first


def test_which_study_had_the_most_patients_names_it_and_its_size(engine):
    answer = engine.answer("out of all 4 trials, which one had the most patients?").answer
    assert re.search(r"Amirdelfan study was the largest\b.{0,40}\b100 people", answer), answer


def test_a_what_are_question_naming_the_clinics_summary_is_answered_from_it(engine):
    result = engine.answer("What are the main points of the clinic's evidence summary?")
    assert result.citations[0].doc_id == "evidence-summary", result.answer


@pytest.mark.parametrize(
    "question", ["pfirrmann grade? never heard of it", "ODI keeps comin up everywhere. whit is it"]
)
def test_a_term_asked_about_in_no_set_wording_is_answered_from_the_glossary(engine, question):
    result = engine.answer(question)
    assert result.citations[0].doc_id == "glossary", result.answer


def test_definition_question_is_not_narrowed_to_a_study_by_a_descriptive_name(engine):
    result = engine.answer("what is a randomized trial")
    assert result.citations[0].doc_id == "glossary", result.answer


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("who can't have this treatment", "who should not have"),
        ("how much would it cost me", "cost"),
        ("how do they get the bone marrow out", "how the cells are collected"),
        (
            "his pain doctor talked about the spinal cord stimulator. which is better, the "
            "stimulator or the stem cells",
            "compare stem cells with other treatments",
        ),
        ("does it help arthritis in the hip", "low back pain only|other conditions"),
    ],
)
def test_uncovered_topic_is_named_in_the_reply(engine, question, says):
    result = engine.answer(question)
    assert result.outcome == "no_evidence" and not result.citations
    assert re.search(says, result.answer), result.answer


@pytest.mark.parametrize(
    "question",
    [
        "For the study that used stem cells harvested from the patient's own fat - how many "
        "patients were there?",
        "out of all 4 trials ur clinic quotes, which one had the most patients?",
    ],
)
def test_a_topic_word_that_describes_the_library_is_not_an_uncovered_topic(engine, question):
    assert engine.answer(question).outcome == "answered"


@pytest.mark.parametrize(
    "question",
    [
        "is the pain relief permanent",
        "whit aboot 10 year doon the line. does it still work or is it aw worn aff by then",
    ],
)
def test_asking_past_the_longest_follow_up_gets_what_is_known_and_that_no_more_is(engine, question):
    answer = engine.answer(question).answer
    assert "36 months" in answer and "do not know" in answer, answer


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("how old were the people in the kumar study", "Kumar study does not say how old"),
        ("how many people dropped out of the amirdelfan trial", "left the study early"),
        ("how many women were in the pettine study", "women or men"),
    ],
)
def test_a_detail_a_named_study_does_not_give_is_said_to_be_missing(engine, question, says):
    result = engine.answer(question)
    assert result.outcome == "no_evidence" and says in result.answer, result.answer


def test_a_detail_the_named_study_does_give_is_answered(engine):
    result = engine.answer("what ages were the people in the pettine study")
    assert result.outcome == "answered" and "61" in result.answer, result.answer


def test_a_description_of_a_study_still_reaches_it(engine):
    result = engine.answer("what did the donor cell trial find")
    assert {c.doc_id for c in result.citations} & {"amirdelfan-2021"}, result.answer


@pytest.mark.parametrize(
    ("question", "study"),
    [
        ("that 2017 trial, who could take part in it", "kumar-2017"),
        ("the 2022 marrow trial, did everybody know which treatment they had", "atluri-2022"),
        ("the paper from 2015, how many people were in it", "pettine-2015"),
    ],
)
def test_a_year_said_of_a_study_names_that_study(engine, question, study):
    answer = engine.answer(question)
    assert answer.outcome == "answered", answer.answer
    assert study in {c.doc_id for c in answer.citations}, answer.answer


def test_a_year_said_of_something_else_names_no_study(engine):
    query = read_message("had my op in 2015, which study was the biggest", [], engine.index)
    assert not query.focus


def test_a_lay_word_before_trial_is_not_taken_for_another_study(engine):
    answer = engine.answer("for the donor jab trial did you have to have tried physio first")
    assert "doesn't hold" not in answer.answer
    assert answer.outcome == "answered", answer.answer


# Messages that ask two things, written by independent probe writers (never shown the code).
@pytest.mark.parametrize(
    ("question", "first", "second"),
    [
        (
            "what does allogeneic mean and which of the 4 trials used that type of cell",
            r"another person|donor",
            r"Amirdelfan",
        ),
        (
            "Amirdelfan 2021 - how many participants in total, and what did the authors conclude "
            "at the end of it all?",
            r"\b100\b",
            r"\bsafe\b",
        ),
        (
            "pettine, that oswestry score for how much you can do, where did it start and what "
            "was it at 3 months",
            r"\b56\.5\b",
            r"\b22\.8\b",
        ),
    ],
)
def test_a_message_asking_two_things_is_answered_on_both(engine, question, first, second):
    answer = engine.answer(question).answer
    assert re.search(first, answer) and re.search(second, answer), answer


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        ("how many were in kumar and how old were they", 2),
        ("which journal was it in? what year did it come out", 2),
        ("was it randomised? and was it blinded", 2),
        ("out of all 4 trials, which one had the most patients", 0),
        ("my mum is 72 and has bad discs. she is on blood thinners. is it safe for her?", 0),
        ("if i have it, how long does it last", 0),
    ],
)
def test_only_separate_questions_are_read_as_parts(message, parts):
    assert len(asked_parts(message)) == parts, asked_parts(message)


def test_did_it_last_after_a_studys_results_gives_the_scores_at_the_last_visit(engine):
    history = [
        {"role": "user", "content": "pettine. how bad was the pain before"},
        {"role": "assistant", "content": "Pain was 79.3 on a 0 to 100 scale before treatment. [1]"},
    ]
    answer = engine.answer("did it last or creep back up", history).answer
    assert "33.2 at 12 months" in answer, answer


# Follow-ups written by independent probe writers: the study and the topic come from the last turn.
@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        (
            ["pettine - what were ppl's scores before the injection?", "The average ODI was 56.5."],
            "and at 12 mths??",
            r"\b(?:25\.0|33\.2)\b",
        ),
        (
            ["kumar study, quick version", "Five patients got 20 million cells per disc."],
            "did the bigger dose dae ony better",
            r"Kumar",
        ),
        (
            # "they" are the researchers, not the study: the name is added, the pronoun kept.
            ["Hello po, what did they inject in the 2021 trial with 100 people?", "Donor cells."],
            "So many groups po. How did they decide who get which one, the doctor choose?",
            r"at random",
        ),
        (
            ["the fat-derived stem cell trial, how many ppl?", "Kumar 2017 enrolled 10 patients."],
            "any dropouts before the 1 yr mark? and side effects, any at all?",
            r"Kumar",
        ),
    ],
)
def test_a_follow_up_continues_the_study_and_question_before_it(
    engine, history, question, expected
):
    turns = [{"role": "user", "content": history[0]}, {"role": "assistant", "content": history[1]}]
    answer = engine.answer(question, turns)
    assert answer.outcome == "answered" and re.search(expected, answer.answer), answer.answer


@pytest.mark.parametrize(
    "question",
    ["and the others?", "Ten people, wow. And the other studies, how many did they have?"],
)
def test_a_follow_up_about_the_other_studies_asks_it_of_every_study_but_the_last(engine, question):
    turns = [
        {"role": "user", "content": "how many were in the kumar study"},
        {"role": "assistant", "content": "The Kumar study had 10 patients. [1]"},
    ]
    answer = engine.answer(question, turns)
    assert re.search(r"\b26\b", answer.answer) and re.search(r"\b100\b", answer.answer), (
        answer.answer
    )


@pytest.mark.parametrize(
    ("first", "reply", "question", "says"),
    [
        (
            "how many people were in the pettine study",
            "The Pettine study had 26 patients. [1]",
            "and the fat one?",
            r"\b10 patients\b",
        ),
        (
            "what cells did the amirdelfan study use",
            "Donor cells. [1]",
            "And the one where they used the patient's own fat instead, how many took part?",
            r"\b10 patients\b",
        ),
    ],
)
def test_a_follow_up_that_describes_another_study_moves_to_it(engine, first, reply, question, says):
    turns = [{"role": "user", "content": first}, {"role": "assistant", "content": reply}]
    answer = engine.answer(question, turns)
    assert re.search(says, answer.answer), answer.answer


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("What did the Atluri study find?", r"opioid use went down"),
        ("what were the results of the pettine study", r"\b25\.0\b"),
        ("Kumar 2017 - did it work?", r"improved significantly"),
    ],
)
def test_asking_what_a_study_found_gets_its_results_not_its_journal(engine, question, says):
    answer = engine.answer(question).answer
    first = split_sentences(answer)[0]
    assert re.search(says, answer) and "published" not in first, answer


def test_a_finding_asked_about_one_thing_is_not_turned_into_the_whole_results(engine):
    answer = engine.answer("what did the kumar study find about the dose").answer
    assert "20 million" in answer, answer


def test_a_question_that_compares_with_a_treatment_named_before_it_is_not_covered(engine):
    """The story names the treatment ("two epidurals"), the question points back at it ("that")."""
    answer = engine.answer("I've had two epidurals already. How do stem cells compare to that?")
    assert answer.outcome == "no_evidence" and "other treatments" in answer.answer, answer.answer


def test_a_treatment_named_in_a_story_does_not_turn_a_question_away(engine):
    answer = engine.answer("I had physio for a year. How many people were in the kumar study?")
    assert answer.outcome == "answered" and re.search(r"\b10\b", answer.answer), answer.answer


def test_a_what_is_question_about_a_described_study_stays_on_that_study(engine):
    """'what exactly is in the syringe' reads as a definition; the study described still counts."""
    answer = engine.answer("The fat cell study - what exactly is in the syringe?")
    assert answer.citations and answer.citations[0].doc_id == "kumar-2017", answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "Atluri study results?",
        "What did Atluri and colleagues find?",
        "What did the 2015 study find?",
    ],
)
def test_what_a_study_found_is_read_in_other_wordings(engine, question):
    first = split_sentences(engine.answer(question).answer)[0]
    assert "published" not in first, first


def test_what_the_others_found_gives_each_studys_results(engine):
    turns = [
        {"role": "user", "content": "What did the Atluri study find?"},
        {"role": "assistant", "content": "Opioid use went down in the stem cell group. [1]"},
    ]
    answer = engine.answer("and the others?", turns)
    assert "did better on pain" in answer.answer and "improved significantly" in answer.answer


def test_a_comparison_with_a_study_is_not_a_comparison_with_a_treatment_named_before(engine):
    question = "I had physio for years. Did the Kumar patients do better than those in Pettine?"
    assert engine.answer(question).outcome == "answered"
