"""The Markdown report and one PNG chart per metric family."""

from __future__ import annotations

from pathlib import Path

FAMILIES = {
    "retrieval": ["hit_at_1", "hit_at_3", "mrr"],
    "citations": ["citation_precision", "citation_recall"],
    "answers": ["fact_recall", "grounded_number_rate", "faithfulness", "forbidden_rate"],
    "references": ["answer_relevance", "completeness"],
    "outcomes": ["outcome_accuracy", "safety_recall", "safety_false_positive_rate"],
}


def _fmt(value) -> str:
    return "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def _table(rows: dict[str, dict], columns: list[str]) -> str:
    head = "| group | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns)
    body = "\n".join(
        f"| {name} | " + " | ".join(_fmt(values.get(c)) for c in columns) + " |"
        for name, values in rows.items()
    )
    return f"{head}\n{body}"


def reasons(row: dict) -> list[str]:
    """Why one item fails, in words: every metric that missed, none left off (a fact recall of
    0.0 is a miss, not 'no value')."""
    scores = row["scores"]
    out = []
    if scores["outcome_ok"] < 1:
        got = row["outcome"] + (f" / {row['safety_category']}" if row["safety_category"] else "")
        out.append(f"expected {row['expected_outcome']}, got {got}")
    if scores["fact_recall"] is not None and scores["fact_recall"] < 1:
        out.append(f"fact recall {_fmt(scores['fact_recall'])}")
    if scores.get("forbidden"):
        out.append("says forbidden text")
    if scores.get("citation_recall") is not None and scores["citation_recall"] < 1:
        out.append("does not cite the expected document")
    if scores.get("grounded_numbers") is not None and scores["grounded_numbers"] < 1:
        out.append("a number not in its cited passages")
    out += [f"safety reply {p}" for p in scores.get("safety_reply_problems") or []]
    out += [f"no-evidence reply {p}" for p in scores.get("no_evidence_reply_problems") or []]
    return out


def tier_lines(tiers: dict[str, dict], show_missed: bool = True) -> list[str]:
    """One row per safety category: caught of expected, and false alarms on calm items."""
    if not tiers:
        return ["No safety items in this set."]
    rows = [
        "| tier | caught | recall [95%] | false alarms [95%] | missed |",
        "|---|---|---|---|---|",
    ]
    for tier, t in tiers.items():
        low, high = t["recall_95"]
        fa_low, fa_high = t["false_alarm_95"]
        rows.append(
            f"| {tier} | {t['caught']}/{t['n']} | {t['recall']:.0%} [{low:.0%}, {high:.0%}] "
            f"| {t['false_alarms']} [{fa_low:.1%}, {fa_high:.1%}] "
            f"| {(', '.join(t['missed']) if show_missed else len(t['missed'])) or '-'} |"
        )
    return rows


def _first_line(answer: str) -> str:
    return answer.strip().splitlines()[0][:100] if answer.strip() else ""


def failing_lines(results: dict) -> list[str]:
    """For the terminal: each fixed reply that missed deployment.yaml, and every failing item of
    the question sets with its reasons, the question and the answer's first line."""
    out = []
    for r in results["rows"]:
        if r["scores"].get("safety_reply_problems"):
            problems = "; ".join(r["scores"]["safety_reply_problems"])
            out.append(f"SAFETY REPLY {r['id']} ({r['safety_category']}): {problems}")
        why = reasons(r)
        if why:
            out.append(
                f"FAIL {r['id']}: {'; '.join(why)} | Q: {r['question'][:70]} "
                f"| A: {_first_line(r['answer'])}"
            )
    return out


def suite_lines(suite: dict | None, terminal: bool = False) -> list[str]:
    """The held-out safety suite: its tier table, then every message it missed or wrongly
    alarmed on, with what came back."""
    if not suite:
        return ["Held-out safety suite: not run (it runs with the default sets, not with --set)."]
    total = suite["any_alarm"]
    low, high = total["recall_95"]
    lines = [
        f"Held-out safety suite ({suite['n']} messages, evals/safety_suite.yaml): caught "
        f"{total['caught']}/{total['n']} [{low:.0%}, {high:.0%}], false alarms "
        f"{total['false_alarms']}/{total['calm']}, replies that missed deployment.yaml: "
        f"{total['reply_problems']}",
        *tier_lines(suite["tiers"], show_missed=False),
        "",
    ]
    mark = "HELD-OUT MISSED " if terminal else "- "
    lines += [
        f"{mark}{f['id']}: expected {'/'.join(f['expected'])}, got {f['got']} | {f['question'][:220]!r}"
        + ("" if f["reasons"][0].startswith("expected") else f" ({'; '.join(f['reasons'])})")
        for f in suite["failing"]
    ] or ["No message missed."]
    return lines


def latency_lines(latency: dict | None) -> list[str]:
    if not latency:
        return ["Latency: not measured."]
    return [
        f"Latency (gated apart from quality): median {latency['p50_ms']} ms, p95 "
        f"{latency['p95_ms']} ms; the tutorial peer on the same questions {latency['peer_p50_ms']}"
        f" ms; ratio {latency['ratio_to_peer_p50']}"
    ]


def write_report(results: dict, path: Path, deltas: list[str]) -> None:
    """report.md: overall, against the baseline, per category, the corpus problems, and every
    failing item with its reasons (the list an evaluator signs off)."""
    overall = results["overall"]
    columns = [k for k in overall if k != "n"]
    base = results["baseline"]
    lines = [
        f"# clbp-chat eval — {results['run_at']}, {results['items']} questions",
        "",
        "## Overall",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in overall.items()],
        "",
        f"## Retrieval against the tutorial baseline ({base['design']})",
        "",
        "| metric | clbp-chat | baseline | ratio |",
        "|---|---|---|---|",
        *[
            f"| {k} | {_fmt(base['ours'][k])} | {_fmt(base['baseline'][k])} | {_fmt(base['ratio'][k])} |"
            for k in base["ours"]
        ],
        "",
        "## By category",
        "",
        _table(results["by_category"], ["n", *columns]),
        "",
        "## Safety per tier (95% Wilson intervals)",
        "",
        *tier_lines(results.get("safety_tiers", {})),
        "",
        "## Held-out safety suite",
        "",
        *suite_lines(results.get("safety_suite")),
        "",
        "## Latency",
        "",
        *latency_lines(results.get("latency")),
        "",
        "## Corpus integrity (evals/corpus.yaml)",
        "",
        *([f"- {p}" for p in results.get("corpus_problems", [])] or ["No problems."]),
        "",
        "## Failing items and why",
        "",
    ]
    failing = [(r, reasons(r)) for r in results["rows"]]
    passed = sum(1 for _, why in failing if not why)
    lines += [f"{passed} of {len(failing)} items pass.", ""]
    lines += [
        f"- `{r['id']}` ({r['category']}): {'; '.join(why)}. Q: {r['question'][:80]!r}"
        for r, why in failing
        if why
    ] or ["None."]
    if deltas:
        lines += ["", "## Compared with the previous run", "", *[f"- {d}" for d in deltas]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_charts(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = list(results["by_category"])
    for family, names in FAMILIES.items():
        fig, ax = plt.subplots(figsize=(9, 4))
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            values = [results["by_category"][c].get(name) or 0 for c in categories]
            ax.bar([x + i * width for x in range(len(categories))], values, width, label=name)
        ax.set_xticks(
            [x + 0.4 - width / 2 for x in range(len(categories))],
            categories,
            rotation=30,
            ha="right",
        )
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{family} by category")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"chart-{family}.png", dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(
        categories, [results["by_category"][c]["latency_p50_ms"] for c in categories], label="p50"
    )
    ax.bar(
        categories,
        [results["by_category"][c]["latency_p95_ms"] for c in categories],
        alpha=0.4,
        label="p95",
    )
    ax.set_ylabel("ms")
    ax.set_title("latency by category")
    ax.tick_params(axis="x", rotation=30)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "chart-latency.png", dpi=110)
    plt.close(fig)
