"""What a run leaves behind: results.json (with the run's configuration), ragas.jsonl, report.md,
charts, and the summary and failures on the terminal."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from clbp_chat.config import Settings
from clbp_chat.corpus import corpus_hash
from clbp_chat.evaluate.dataset import EvalItem
from clbp_chat.evaluate.report import (
    failing_lines,
    latency_lines,
    suite_lines,
    tier_lines,
    write_charts,
    write_report,
)


def _code_version() -> str:
    """The package version and, in a git checkout, the commit (with '+dirty' for local edits)."""
    version = metadata.version("clbp-chat")
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty=+dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version} ({commit})"


def configuration(settings: Settings, items: list[EvalItem], bounds: Any) -> dict[str, Any]:
    """What this run measured: every setting, the corpus, the model, the code and the questions,
    so two results.json files say whether they can be compared."""
    questions = json.dumps([(i.id, i.question, i.history) for i in items], sort_keys=True)
    return {
        "settings": json.loads(settings.model_dump_json()),
        "corpus_hash": corpus_hash(settings.corpus_dir),
        "model": f"{settings.embedding_model} ({settings.embedding_backend})",
        "code_version": _code_version(),
        "question_set_hash": hashlib.sha256(questions.encode()).hexdigest(),
        "bounds": bounds.name if bounds else None,
    }


def write_ragas(rows: list[dict], path: Path) -> None:
    """RAGAS's current column names; ``reference`` is the item's reference answer (empty where
    the set has none: RAGAS's reference-free metrics still apply)."""
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            record = {
                "user_input": r["question"],
                "response": r["answer"],
                "retrieved_contexts": r["contexts"],
                "reference": r["reference"] or "",
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_outputs(results: dict, out: Path, deltas: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    write_ragas(results["rows"], out / "ragas.jsonl")
    write_report(results, out / "report.md", deltas)
    write_charts(results, out)


def echo_summary(
    results: dict, out: Path, deltas: list[str], previous: Path | None, as_json: bool
) -> None:
    """The overall table (or results.json with ``--json``), then on stderr-or-stdout: the
    comparison, every failing item and corpus problem, the tiers, the held-out suite and latency."""
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False))
    else:
        click.echo((out / "report.md").read_text(encoding="utf-8").split("\n## By category")[0])
        click.echo(f"Wrote {out}/results.json, report.md, ragas.jsonl and charts.")
    if deltas:
        click.echo(f"\nCompared with {previous}:\n" + "\n".join(deltas), err=as_json)
    for line in failing_lines(results):
        click.echo(line, err=True)
    for line in results["corpus_problems"]:
        click.echo(f"CORPUS: {line}", err=True)
    lines = ["", "Safety per tier (95% Wilson intervals):", *tier_lines(results["safety_tiers"])]
    lines += ["", *suite_lines(results.get("safety_suite"), terminal=True)]
    lines += ["", *latency_lines(results["latency"])]
    for line in lines:
        click.echo(line, err=as_json)
