"""Reading level of the answers to a set of patient messages (default: the shared dev set).

Prints the median Flesch-Kincaid grade and SMOG of answered replies, and the longest sentence; the
clinic's own quoted words are counted too (they are what the patient reads).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from clbp_chat.answer import get_engine
from clbp_chat.evaluate.dataset import load_set
from clbp_chat.evaluate.metrics import longest_sentence_words, readability_grade, smog_grade

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    path = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else ROOT.parent / "shared/dev/patient-questions.yaml"
    )
    engine = get_engine()
    answers = [engine.answer(i.question, list(i.history)) for i in load_set(path)]
    answered = [a.answer for a in answers if a.outcome == "answered"]
    fk = [readability_grade(a) for a in answered]
    smog = [smog_grade(a) for a in answered]
    longest = [longest_sentence_words(a) for a in answered]
    print(f"{len(answered)} answered of {len(answers)}")
    print(f"Flesch-Kincaid grade: median {statistics.median(fk):.1f}")
    print(f"SMOG grade: median {statistics.median(smog):.1f}")
    print(f"longest sentence: median {statistics.median(longest)} words, max {max(longest)} words")
    over = sum(n > 25 for n in longest)
    print(f"answers with a sentence over 25 words: {over}")


if __name__ == "__main__":
    main()
