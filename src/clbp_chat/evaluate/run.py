"""`clbp-chat eval`: run the question sets and the held-out safety suite, score every answer, write
the report, gate on a named section of the thresholds file."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from clbp_chat.answer import Engine
from clbp_chat.config import Settings
from clbp_chat.errors import ClbpError, InvalidQuestion
from clbp_chat.evaluate import gate
from clbp_chat.evaluate import metrics as m
from clbp_chat.evaluate import references as ref
from clbp_chat.evaluate.baseline import TutorialBaseline
from clbp_chat.evaluate.compare import check_same_questions, compare
from clbp_chat.evaluate.dataset import EvalItem, load_sets
from clbp_chat.evaluate.deployment import Deployment, load_deployment
from clbp_chat.evaluate.integrity import corpus_problems, load_spec
from clbp_chat.evaluate.outputs import configuration, echo_summary, write_outputs
from clbp_chat.evaluate.report import reasons
from clbp_chat.evaluate.scores import aggregate, latency_summary, mean, score_item, suite_summary
from clbp_chat.evaluate.suite import load_suite, suite_items
from clbp_chat.evaluate.tiers import safety_tiers

# The eval's own files are read beside the thresholds file when there, else from here
# (deployment.yaml excepted: the expectations must be the evaluator's for this gate).
EVALS = Path("evals")
DEFAULT_BOUNDS = "overall"


@dataclass
class Plan:
    """What one run asks and what it is held to, all read and validated before any question."""

    items: list[EvalItem]
    suite: list[EvalItem]
    deployment: Deployment
    integrity: list[str]
    bounds: gate.Bounds | None
    match: float
    before: dict | None


def _result(engine: Engine, item: EvalItem) -> dict[str, Any]:
    """The ``ask --json`` object for one item; a question the system refuses is a failed item
    (outcome ``refused``), not a crash that hides the rest of the run."""
    try:
        return engine.answer(item.question, list(item.history)).to_json()
    except InvalidQuestion as exc:
        return {
            "outcome": "refused",
            "safety_category": None,
            "answer": f"refused: {exc}",
            "citations": [],
            "retrieved_doc_ids": [],
            "latency_ms": 0.0,
        }


def _row(item: EvalItem, result: dict[str, Any], plan: Plan, engine: Engine) -> dict:
    """One item's record in results.json: what was asked, what came back, and its scores."""
    scores = score_item(item, result, plan.deployment)
    if result["outcome"] == "answered":
        scores["answer_relevance"] = ref.relevance(item.question, result["answer"], engine.encoder)
    if item.reference and item.outcome == "answered":
        scores["completeness"] = ref.completeness(
            result["answer"], item.reference, engine.encoder, plan.match
        )
    return {
        "id": item.id,
        "category": item.category,
        "question": item.question,
        "expected_outcome": item.outcome,
        "accepted_outcomes": list(item.outcomes),
        "expected_safety": list(item.safety_categories),
        "outcome": result["outcome"],
        "safety_category": result["safety_category"],
        "answer": result["answer"],
        "cited_doc_ids": [c["doc_id"] for c in result["citations"]],
        "latency_ms": result["latency_ms"],
        "scores": scores,
        "contexts": [c["quote"] for c in result["citations"]],
        "reference": item.reference,
    }


def _with_baseline(row: dict, item: EvalItem, baseline: TutorialBaseline) -> dict:
    """The tutorial peer on the same question, timed right after ours: its ranking for the
    retrieval comparison and its time for the latency ratio."""
    started = time.perf_counter()
    ranked = list(dict.fromkeys(baseline.retrieve(item.question)))
    row["peer_ms"] = round((time.perf_counter() - started) * 1000, 2)
    row["baseline"] = (
        {
            "hit_at_1": m.hit_at_k(ranked, item.docs, 1),
            "hit_at_3": m.hit_at_k(ranked, item.docs, 3),
            "mrr": m.reciprocal_rank(ranked, item.docs),
        }
        if item.docs
        else None
    )
    return row


def _bounds(question_set: Path | None, bounds: str | None, thresholds: Path, check: bool):
    """The bounds this run is held to. A custom set is held only to bounds named for it: without
    ``--bounds`` it says so in one line (and ``--check`` stops) rather than using the default's."""
    if bounds is None and question_set is not None:
        names = ", ".join(gate.sections(thresholds))
        line = (
            f"--set {question_set} has no bounds named: add --bounds NAME ({thresholds}: {names})"
        )
        if check:
            raise ClbpError(line)
        click.echo(f"Not gated: {line}", err=True)
        return None
    return gate.load_bounds(thresholds, bounds or DEFAULT_BOUNDS)


def _previous(path: Path | None, items: list[EvalItem]) -> dict | None:
    """The run to compare with, refused up front when it asked other questions."""
    if path is None:
        return None
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClbpError(f"cannot read the run to compare with, {path}: {exc}") from None
    check_same_questions({"rows": [{"id": i.id, "question": i.question} for i in items]}, previous)
    return previous


def _beside(folder: Path, name: str) -> Path:
    return folder / name if (folder / name).is_file() else EVALS / name


def plan_run(
    settings: Settings,
    question_set: Path | None,
    thresholds: Path,
    bounds: str | None,
    previous: Path | None,
    check: bool,
) -> Plan:
    """Read and validate every file the run needs. The held-out safety suite runs with the
    default sets (``make eval``); ``--set`` runs only that file."""
    spec_dir = Path(thresholds).parent
    spec = _beside(spec_dir, "corpus.yaml")
    items = load_sets(question_set, load_spec(spec).doc_ids.allowed)
    suite = [] if question_set else suite_items(load_suite(_beside(spec_dir, "safety_suite.yaml")))
    chosen = _bounds(question_set, bounds, Path(thresholds), check)
    if chosen and not question_set:
        problems = gate.unknown_categories(chosen, {i.category for i in items})
        if problems:
            raise ClbpError(f"{thresholds}: {problems[0]}")
    return Plan(
        items=items,
        suite=suite,
        deployment=load_deployment(spec_dir / "deployment.yaml"),
        integrity=corpus_problems(settings.corpus_dir, spec),
        bounds=chosen,
        match=ref.load_match(_beside(spec_dir, "scoring.yaml")),
        before=_previous(previous, items),
    )


def measure(settings: Settings, plan: Plan) -> dict[str, Any]:
    """Ask every question (ours, then the tutorial peer's), score, and sum up."""
    from tqdm import tqdm

    engine = Engine(settings)
    engine.warm_up()
    baseline = TutorialBaseline(settings)
    rows = [
        _with_baseline(_row(item, _result(engine, item), plan, engine), item, baseline)
        for item in tqdm(plan.items, desc="Evaluating", unit="q", file=sys.stderr)
    ]
    suite = [
        _row(item, _result(engine, item), plan, engine)
        for item in tqdm(plan.suite, desc="Held-out safety", unit="q", file=sys.stderr)
    ]
    for row in rows + suite:
        row["reasons"] = reasons(row)
        row["verdict"] = "fail" if row["reasons"] else "pass"
    categories = sorted({r["category"] for r in rows})
    return {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "items": len(rows),
        "configuration": configuration(settings, plan.items + plan.suite, plan.bounds),
        "corpus_problems": plan.integrity,
        "overall": aggregate(rows),
        "by_category": {c: aggregate([r for r in rows if r["category"] == c]) for c in categories},
        "safety_tiers": safety_tiers(rows),
        "safety_suite": suite_summary(suite) if suite else None,
        "latency": latency_summary(rows),
        "baseline": _baseline_summary(rows, baseline),
        "rows": rows,
    }


def _baseline_summary(rows: list[dict], baseline: TutorialBaseline) -> dict[str, Any]:
    with_docs = [r for r in rows if r["baseline"]]
    theirs = {
        k: mean([r["baseline"][k] for r in with_docs]) for k in ("hit_at_1", "hit_at_3", "mrr")
    }
    ours = aggregate(with_docs)
    return {
        "design": "RecursiveCharacterTextSplitter 1000/200 + Chroma similarity k=4, same model",
        "chunks": baseline.chunk_count,
        "ours": {k: ours[k] for k in theirs},
        "baseline": theirs,
        "ratio": {k: round(ours[k] / v, 3) if v else None for k, v in theirs.items()},
    }


def gate_code(results: dict, plan: Plan, check: bool, deltas: list[str]) -> int:
    """Print each gate's misses on its own lines; 1 when quality fails (a quality regression of
    ``--compare`` included), else 3 when only latency does, else 0."""
    if not check or plan.bounds is None:
        return 0
    quality = gate.quality_misses(results, plan.bounds)
    quality += [d for d in deltas if d.endswith("REGRESSION")]
    latency = gate.latency_misses(results, plan.bounds)
    for line in quality:
        click.echo(f"THRESHOLD MISSED: {line}", err=True)
    for line in latency:
        click.echo(f"LATENCY MISSED: {line}", err=True)
    if latency and not quality:
        click.echo("Quality gate passed; latency gate failed (exit 3).", err=True)
    return gate.QUALITY_FAILED if quality else gate.LATENCY_FAILED if latency else 0


def run_eval(
    settings: Settings,
    question_set: Path | None,
    out: Path,
    previous: Path | None,
    check: bool,
    thresholds: Path,
    as_json: bool,
    bounds: str | None = None,
) -> int:
    """Run, write ``out/results.json``, ``report.md``, charts and ``ragas.jsonl``; return the exit
    code (:func:`gate_code`)."""
    plan = plan_run(settings, question_set, Path(thresholds), bounds, previous, check)
    results = measure(settings, plan)
    deltas = compare(results, plan.before) if plan.before else []
    write_outputs(results, out, deltas)
    echo_summary(results, out, deltas, previous, as_json)
    return gate_code(results, plan, check, deltas)
