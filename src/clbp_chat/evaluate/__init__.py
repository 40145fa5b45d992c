"""The answer-quality evaluation harness: question sets, metrics, baseline, report."""
