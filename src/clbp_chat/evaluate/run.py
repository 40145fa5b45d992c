"""`clbp-chat eval`: run the question sets, score every answer, write the report, gate on thresholds."""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import click
import yaml

from clbp_chat.answer import Engine
from clbp_chat.config import Settings
from clbp_chat.corpus import corpus_hash
from clbp_chat.errors import ClbpError, InvalidQuestion
from clbp_chat.evaluate import metrics as m
from clbp_chat.evaluate.baseline import TutorialBaseline
from clbp_chat.evaluate.compare import check_same_questions, compare
from clbp_chat.evaluate.dataset import EvalItem, load_sets
from clbp_chat.evaluate.deployment import Deployment, load_deployment
from clbp_chat.evaluate.integrity import corpus_problems, load_spec
from clbp_chat.evaluate.report import reasons, tier_lines, write_charts, write_report
from clbp_chat.evaluate.tiers import safety_tiers

# The corpus checks: the file beside the thresholds file when there is one, else this one.
CORPUS_SPEC = Path("evals/corpus.yaml")


def score_item(
    item: EvalItem, result: dict[str, Any], deployment: Deployment | None = None
) -> dict[str, Any]:
    """Every metric for one item (None where it does not apply)."""
    quotes = {c["n"]: c["quote"] for c in result["citations"]}
    cited = [c["doc_id"] for c in result["citations"]]
    retrieved = result.get("retrieved_doc_ids", [])
    categories = item.safety_categories or ((item.safety_category,) if item.safety_category else ())
    outcome_ok = result["outcome"] in (item.outcome, *item.also_accepted) and (
        not categories or result["safety_category"] in categories
    )
    answered = result["outcome"] != "safety" or result["citations"]
    return {
        "outcome_ok": 1.0 if outcome_ok else 0.0,
        "hit_at_1": m.hit_at_k(retrieved, item.docs, 1) if item.docs else None,
        "hit_at_3": m.hit_at_k(retrieved, item.docs, 3) if item.docs else None,
        "mrr": m.reciprocal_rank(retrieved, item.docs) if item.docs else None,
        "citation_precision": m.citation_precision(result["answer"], quotes),
        "citation_recall": m.doc_recall(cited, item.docs, item.any_doc),
        "fact_recall": m.fact_recall(result["answer"], item.facts),
        "forbidden": m.has_forbidden(result["answer"], item.forbidden),
        "grounded_numbers": m.grounded_number_rate(result["answer"], list(quotes.values()))
        if answered and quotes
        else None,
        "faithfulness": m.faithfulness(result["answer"], quotes) if quotes else None,
        "readability_grade": m.readability_grade(result["answer"]) if quotes else None,
        "safety_reply_problems": deployment.problems(result["safety_category"], result["answer"])
        if deployment and result["outcome"] == "safety"
        else None,
        "no_evidence_reply_problems": deployment.problems("no_evidence", result["answer"])
        if deployment and result["outcome"] == "no_evidence"
        else None,
    }


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


def _reply_ok(scores: list[dict[str, Any]], key: str) -> float | None:
    """Share of the fixed replies checked under ``key`` that said what deployment.yaml expects."""
    return _mean([0.0 if s[key] else 1.0 for s in scores if s.get(key) is not None])


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


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics over a group of scored rows."""
    scores = [r["scores"] for r in rows]
    safety_expected = [r for r in rows if r["expected_outcome"] == "safety"]
    not_safety = [r for r in rows if r["expected_outcome"] != "safety"]
    latencies = [r["latency_ms"] for r in rows]
    return {
        "n": len(rows),
        "outcome_accuracy": _mean([s["outcome_ok"] for s in scores]),
        "hit_at_1": _mean([s["hit_at_1"] for s in scores]),
        "hit_at_3": _mean([s["hit_at_3"] for s in scores]),
        "mrr": _mean([s["mrr"] for s in scores]),
        "citation_precision": _mean([s["citation_precision"] for s in scores]),
        "citation_recall": _mean([s["citation_recall"] for s in scores]),
        "fact_recall": _mean([s["fact_recall"] for s in scores]),
        "forbidden_rate": _mean([s["forbidden"] for s in scores]),
        "grounded_number_rate": _mean([s["grounded_numbers"] for s in scores]),
        "faithfulness": _mean([s["faithfulness"] for s in scores]),
        "readability_grade": _mean([s["readability_grade"] for s in scores]),
        "safety_recall": _mean([r["scores"]["outcome_ok"] for r in safety_expected]),
        "safety_reply_ok": _reply_ok(scores, "safety_reply_problems"),
        "no_evidence_reply_ok": _reply_ok(scores, "no_evidence_reply_problems"),
        "safety_false_positive_rate": _mean(
            [1.0 if r["outcome"] == "safety" else 0.0 for r in not_safety]
        ),
        "latency_p50_ms": round(m.percentile(latencies, 50), 1),
        "latency_p95_ms": round(m.percentile(latencies, 95), 1),
    }


def _missed(label: str, values: dict, limits: dict) -> list[str]:
    missed = []
    for name, bound in limits.items():
        value = values.get(name)
        if value is None:
            missed.append(f"{label}{name}: no value in this run")
        elif "min" in bound and value < bound["min"]:
            missed.append(f"{label}{name} = {value} is below the minimum {bound['min']}")
        elif "max" in bound and value > bound["max"]:
            missed.append(f"{label}{name} = {value} is above the maximum {bound['max']}")
    return missed


def check_thresholds(
    overall: dict, path: Path, bounds: str = "overall", by_category: dict | None = None
) -> list[str]:
    """Every threshold of the ``bounds`` section of ``path`` the run missed, as readable lines.

    The section's ``by_category`` bounds hold a category of this run to its own bar (a safety
    item's missing fact must not hide in the overall mean); a category the run lacks is skipped.
    """
    try:
        limits = dict(yaml.safe_load(path.read_text(encoding="utf-8"))[bounds])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ClbpError(f"cannot read thresholds {path}: {exc}") from None
    per_category = limits.pop("by_category", None) or {}
    missed = _missed("", overall, limits)
    for category, category_limits in per_category.items():
        if by_category and category in by_category:
            missed += _missed(f"[{category}] ", by_category[category], category_limits)
    return missed


def _row(item: EvalItem, result: dict[str, Any], base: list[str], deployment: Deployment) -> dict:
    """One item's record in results.json: what was asked, what came back, and its scores."""
    ranked = list(dict.fromkeys(base))
    return {
        "id": item.id,
        "category": item.category,
        "question": item.question,
        "expected_outcome": item.outcome,
        "accepted_outcomes": [item.outcome, *item.also_accepted],
        "expected_safety": list(
            item.safety_categories or ((item.safety_category,) if item.safety_category else ())
        ),
        "outcome": result["outcome"],
        "safety_category": result["safety_category"],
        "answer": result["answer"],
        "cited_doc_ids": [c["doc_id"] for c in result["citations"]],
        "latency_ms": result["latency_ms"],
        "scores": score_item(item, result, deployment),
        "baseline": {
            "hit_at_1": m.hit_at_k(ranked, item.docs, 1),
            "hit_at_3": m.hit_at_k(ranked, item.docs, 3),
            "mrr": m.reciprocal_rank(ranked, item.docs),
        }
        if item.docs
        else None,
        "contexts": [c["quote"] for c in result["citations"]],
        "reference": "; ".join(item.facts),
    }


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


def configuration(settings: Settings, items: list[EvalItem], bounds: str) -> dict[str, Any]:
    """What this run measured: every setting, the corpus, the model, the code and the questions,
    so two results.json files say whether they can be compared."""
    questions = json.dumps([(i.id, i.question, i.history) for i in items], sort_keys=True)
    return {
        "settings": json.loads(settings.model_dump_json()),
        "corpus_hash": corpus_hash(settings.corpus_dir),
        "model": f"{settings.embedding_model} ({settings.embedding_backend})",
        "code_version": _code_version(),
        "question_set_hash": hashlib.sha256(questions.encode()).hexdigest(),
        "bounds": bounds,
    }


def _write_ragas(rows: list[dict], path: Path) -> None:
    """RAGAS's current column names, with the item's required facts as the reference."""
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            record = {
                "user_input": r["question"],
                "response": r["answer"],
                "retrieved_contexts": r["contexts"],
                "reference": r["reference"],
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _echo_failures(rows: list[dict], integrity: list[str]) -> None:
    """Every failing item with its reasons, the question and the answer's first line; then every
    corpus problem."""
    for r in rows:
        if r["scores"].get("safety_reply_problems"):
            problems = "; ".join(r["scores"]["safety_reply_problems"])
            click.echo(f"SAFETY REPLY {r['id']} ({r['safety_category']}): {problems}", err=True)
        why = reasons(r)
        if why:
            first = r["answer"].strip().splitlines()[0][:100] if r["answer"].strip() else ""
            click.echo(
                f"FAIL {r['id']}: {'; '.join(why)} | Q: {r['question'][:70]} | A: {first}", err=True
            )
    for line in integrity:
        click.echo(f"CORPUS: {line}", err=True)


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


def run_eval(
    settings: Settings,
    question_set: Path | None,
    out: Path,
    previous: Path | None,
    check: bool,
    thresholds: Path,
    as_json: bool,
    bounds: str = "overall",
) -> int:
    """Run, write ``out/results.json``, ``report.md``, charts and ``ragas.jsonl``; return the exit code."""
    from tqdm import tqdm

    spec_dir = Path(thresholds).parent
    spec = spec_dir / "corpus.yaml" if (spec_dir / "corpus.yaml").is_file() else CORPUS_SPEC
    items = load_sets(question_set, load_spec(spec).doc_ids.allowed)
    before = _previous(previous, items)
    deployment = load_deployment(spec_dir / "deployment.yaml")
    integrity = corpus_problems(settings.corpus_dir, spec)
    engine = Engine(settings)
    engine.warm_up()
    baseline = TutorialBaseline(settings)
    rows = []
    for item in tqdm(items, desc="Evaluating", unit="q", file=sys.stderr):
        base = baseline.retrieve(item.question) if item.docs else []
        row = _row(item, _result(engine, item), base, deployment)
        row["reasons"] = reasons(row)
        row["verdict"] = "fail" if row["reasons"] else "pass"
        rows.append(row)
    categories = sorted({r["category"] for r in rows})
    with_docs = [r for r in rows if r["baseline"]]
    base_summary = {
        k: _mean([r["baseline"][k] for r in with_docs]) for k in ("hit_at_1", "hit_at_3", "mrr")
    }
    ours = aggregate(with_docs)
    results = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "items": len(rows),
        "configuration": configuration(settings, items, bounds),
        "corpus_problems": integrity,
        "overall": aggregate(rows),
        "by_category": {c: aggregate([r for r in rows if r["category"] == c]) for c in categories},
        "safety_tiers": safety_tiers(rows),
        "baseline": {
            "design": "RecursiveCharacterTextSplitter 1000/200 + Chroma similarity k=4, same model",
            "chunks": baseline.chunk_count,
            "ours": {k: ours[k] for k in base_summary},
            "baseline": base_summary,
            "ratio": {k: round(ours[k] / v, 3) if v else None for k, v in base_summary.items()},
        },
        "rows": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    _write_ragas(rows, out / "ragas.jsonl")
    deltas = compare(results, before) if before else []
    write_report(results, out / "report.md", deltas)
    write_charts(results, out)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False))
    else:
        click.echo((out / "report.md").read_text(encoding="utf-8").split("\n## By category")[0])
        click.echo(f"Wrote {out}/results.json, report.md, ragas.jsonl and charts.")
    code = 0
    if deltas:
        click.echo("\nCompared with " + str(previous) + ":\n" + "\n".join(deltas), err=as_json)
        code = 1 if check and any("REGRESSION" in d for d in deltas) else 0
    _echo_failures(rows, integrity)
    click.echo("\nSafety per tier (95% Wilson intervals):", err=as_json)
    for line in tier_lines(results["safety_tiers"]):
        click.echo(line, err=as_json)
    if check:
        missed = check_thresholds(
            results["overall"], Path(thresholds), bounds, results["by_category"]
        )
        missed += [f"corpus integrity: {len(integrity)} problem(s)"] if integrity else []
        for line in missed:
            click.echo(f"THRESHOLD MISSED: {line}", err=True)
        code = 1 if missed else code
    return code
