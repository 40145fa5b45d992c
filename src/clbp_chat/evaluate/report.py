"""The Markdown report and one PNG chart per metric family."""

from __future__ import annotations

from pathlib import Path

FAMILIES = {
    "retrieval": ["hit_at_1", "hit_at_3", "mrr"],
    "citations": ["citation_precision", "citation_recall"],
    "answers": ["fact_recall", "grounded_number_rate", "faithfulness", "forbidden_rate"],
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


def write_report(results: dict, path: Path, deltas: list[str]) -> None:
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
        "## Items with a wrong outcome or missing facts",
        "",
    ]
    misses = [
        r
        for r in results["rows"]
        if r["scores"]["outcome_ok"] < 1 or (r["scores"]["fact_recall"] or 1) < 1
    ]
    lines += [
        f"- `{r['id']}` ({r['category']}): expected {r['expected_outcome']}, got {r['outcome']}"
        f"{' / ' + r['safety_category'] if r['safety_category'] else ''}; "
        f"fact recall {_fmt(r['scores']['fact_recall'])}"
        for r in misses
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
