"""How many deliberately broken variants of the system the release gate catches.

Run by `make bench` (or `python benchmarks/bench_mutations.py [NAME ...]` for some variants). Each
variant in `evals/mutations.yaml` (a setting, a messages file, a corpus edit or an engine fault)
goes through the same steps as `make eval`: ingest (corpus edits: a temporary copy of corpus/ indexed into a temporary
folder; the real corpus and index are never touched), `clbp-chat eval --check`, then the patient
dev set with its own bounds when `../shared/dev` is present. The gate runs in this one process, so
the model loads once and embeds each distinct text once (the same model gives the same vector), so
a corpus variant's ingest embeds only its changed lines; each variant gets a fresh engine. Prints
caught / not caught and the totals, and writes artifacts/mutations.json.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from clbp_chat.config import load_settings, settings_file
from clbp_chat.errors import ClbpError
from clbp_chat.evaluate.integrity import corpus_problems
from clbp_chat.evaluate.run import run_eval
from clbp_chat.index import build_index

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ROOT / "evals" / "mutations.yaml"
THRESHOLDS = Path("evals/thresholds.yaml")
DEV_SET = Path("../shared/dev/patient-questions.yaml")
KINDS = ("settings", "messages", "corpus", "engine")
# A latency figure among the quality bounds (as gates before the latency gate had them) is noise on
# this shared machine, never a catch; the latency gate's own misses (LATENCY MISSED, which allow
# for noise) are.
LATENCY = "latency_"
_MISSED = re.compile(r"^THRESHOLD MISSED: ([^\n]*)", re.M)
_SLOW = re.compile(r"^LATENCY MISSED: ([^\n]*)", re.M)
ENGINE_FAULTS = ("learned_layers", "gate", "library_delay_ms")


@dataclass(frozen=True)
class Variant:
    name: str
    why: str
    kind: str
    change: object


@dataclass
class Verdict:
    caught: bool
    by: str
    seconds: float = 0.0


def load_variants(path: Path = VARIANTS) -> list[Variant]:
    """The variants file, checked: one kind per variant, unique names (one line per problem)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["variants"]
    out, seen = [], set()
    for n, entry in enumerate(raw, 1):
        kinds = [k for k in KINDS if k in entry]
        if "name" not in entry or len(kinds) != 1 or entry["name"] in seen:
            raise SystemExit(f"{path}: variant {n} needs a unique name and exactly one of {KINDS}")
        seen.add(entry["name"])
        out.append(Variant(entry["name"], entry.get("why", ""), kinds[0], entry[kinds[0]]))
    return out


def _edit_corpus(corpus: Path, edits: list[dict]) -> None:
    """Apply corpus edits to a copy; an edit whose text is absent stops the bench (no silent no-op)."""
    for edit in edits:
        if "delete" in edit:
            (corpus / edit["delete"]).unlink()
            continue
        path = corpus / edit["file"]
        if "write" in edit:
            path.write_text(edit["write"], encoding="utf-8")
            continue
        text = path.read_text(encoding="utf-8")
        anchor = edit.get("replace", edit.get("after"))
        if anchor not in text:
            raise SystemExit(f"corpus edit: {anchor!r} is not in {edit['file']}")
        if "replace" in edit:
            text = text.replace(edit["replace"], edit["with"])
        else:
            lines = text.split("\n")
            at = next(i for i, line in enumerate(lines) if anchor in line)
            text = "\n".join([*lines[: at + 1], edit["add"], *lines[at + 1 :]])
        path.write_text(text, encoding="utf-8")


def variant_env(variant: Variant | None, work: Path) -> dict[str, str]:
    """The environment variables that make this variant (files it needs written under ``work``)."""
    if variant is None or variant.kind == "engine":
        return {}
    if variant.kind == "settings":
        return {k: str(v) for k, v in variant.change.items()}
    if variant.kind == "messages":
        path = work / "messages.yaml"
        path.write_text(yaml.safe_dump(variant.change, allow_unicode=True), encoding="utf-8")
        return {"CLBP_MESSAGES_FILE": str(path)}
    corpus = work / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    _edit_corpus(corpus, variant.change)
    return {"CLBP_CORPUS_DIR": str(corpus), "CLBP_INDEX_DIR": str(work / "index")}


def _embed_each_text_once() -> None:
    """Memoise the model's vectors by text for this process (ingests and baselines repeat them)."""
    from clbp_chat.embeddings import SentenceEmbeddings

    original, memo = SentenceEmbeddings.encode, {}

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            memo.update(zip(missing, original(self, missing, batch_size), strict=True))
        return np.stack([memo[t] for t in texts]) if texts else original(self, texts, batch_size)

    SentenceEmbeddings.encode = encode


@contextlib.contextmanager
def engine_fault(variant: Variant | None):
    """An engine fault for the variant's run (restored after): the learned layers off (a model
    cache that cannot be read), the safety gate on its patterns alone (the model failed to load
    for it), or every library answer slowed by ``library_delay_ms``."""
    from clbp_chat import safety
    from clbp_chat.answer import Engine

    change = variant.change if variant and variant.kind == "engine" else {}
    known = {"learned_layers": "off", "gate": "patterns"}
    bad = [
        f"{k}: {v!r}"
        for k, v in change.items()
        if k not in ENGINE_FAULTS or (k in known and v != known[k])
    ]
    if bad:  # a fault that would do nothing must stop the bench, not pass as "not caught"
        raise SystemExit(f"engine variant {variant.name}: unknown fault {bad[0]} (quote 'off')")
    saved = {name: Engine.__dict__[name] for name in ("classifiers", "gate", "from_library")}
    if change.get("learned_layers") == "off":
        Engine.classifiers = property(lambda self: None)
    if change.get("gate") == "patterns":
        patterns = safety.SafetyGate()
        Engine.gate = property(lambda self: patterns)
    if change.get("library_delay_ms"):
        slow, delay = saved["from_library"], float(change["library_delay_ms"]) / 1000

        def from_library(self, triaged):
            time.sleep(delay)
            return slow(self, triaged)

        Engine.from_library = from_library
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(Engine, name, value)


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def gate(work: Path) -> Verdict:
    """`make eval` in this process: ingest, the question sets with --check, the dev set.

    A corpus that fails the integrity check fails `clbp-chat eval --check` whatever its answers,
    so that check comes first here and saves the variant's ingest.
    """
    steps = [("full set", None, "overall")]
    if DEV_SET.is_file():
        steps.append(("patient dev set", DEV_SET, "patients"))
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            # What `make eval` reads (the settings file too), never writing the question log.
            settings = load_settings(settings_file()).model_copy(update={"log_questions": False})
            problems = corpus_problems(settings.corpus_dir, THRESHOLDS.with_name("corpus.yaml"))
            if problems:
                return Verdict(True, f"corpus integrity: {problems[0][:130]}")
            build_index(settings, progress=False)
            for label, question_set, bounds in steps:
                code = run_eval(
                    settings, question_set, work / label, None, True, THRESHOLDS, False, bounds
                )
                missed = _MISSED.findall(output.getvalue())
                quality = [m for m in missed if not m.startswith(LATENCY)]
                slow = _SLOW.findall(output.getvalue())
                if code and (quality or slow or not missed):
                    by = "; ".join(quality) or ("latency: " + "; ".join(slow) if slow else "")
                    return Verdict(True, f"{label}: {by[:140] or f'exit {code}'}")
    except ClbpError as exc:
        return Verdict(True, f"stopped: {str(exc)[:120]}")
    except Exception as exc:  # noqa: BLE001 - a crash fails `make eval` too; shown as such
        return Verdict(True, f"CRASHED ({type(exc).__name__}: {str(exc)[:80]})")
    return Verdict(False, "passed every bound")


def judge(variant: Variant | None) -> Verdict:
    with tempfile.TemporaryDirectory(prefix="clbp-mutation-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        with _environment(variant_env(variant, work)), engine_fault(variant):
            verdict = gate(work)
        verdict.seconds = time.perf_counter() - started
        return verdict


def main(names: list[str]) -> int:
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    _embed_each_text_once()
    variants = [v for v in load_variants() if not names or v.name in names]
    started = time.perf_counter()
    control = judge(None)
    print(f"unmodified system: {'FAILS the gate: ' + control.by if control.caught else 'passes'}")
    if control.caught:
        return 1
    rows = []
    print("\n| variant | kind | caught | by | s |\n|---|---|---|---|---|")
    for variant in variants:
        verdict = judge(variant)
        rows.append({"name": variant.name, "kind": variant.kind, **verdict.__dict__})
        mark = "caught" if verdict.caught else "NOT CAUGHT"
        print(
            f"| {variant.name} | {variant.kind} | {mark} | {verdict.by} | {verdict.seconds:.0f} |",
            flush=True,
        )
    caught = sum(r["caught"] for r in rows)
    print(
        f"\nCaught {caught}/{len(rows)} ({caught / max(len(rows), 1):.0%}) by `make eval`'s gate;"
    )
    for kind in KINDS:
        of_kind = [r for r in rows if r["kind"] == kind]
        print(f"  {kind}: {sum(r['caught'] for r in of_kind)}/{len(of_kind)}")
    print(f"Total time {time.perf_counter() - started:.0f} s.")
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    (out / "mutations.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
