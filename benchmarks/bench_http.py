"""Ours against the tutorial peer, measured side by side in one run on this machine.

- In process: answer() against the tutorial retrieval (embed + Chroma k=4), same questions, medians;
  first pass (nothing remembered) and a repeat pass (questions asked before, as starter buttons are).
- HTTP: REQUESTS requests from CONCURRENCY concurrent clients against `clbp-chat serve` and against
  the peer (benchmarks/peer_tutorial.py), one after the other: p50, p95, throughput, errors. Twice:
  the questions repeating (as starter questions do), and every message distinct (a request number
  appended), so that nothing remembered helps.
- Ready time from process start to a 200 from /healthz, and resident memory after the load.
Prints a table and writes artifacts/bench.json. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import free_port, wait_for_200  # noqa: E402

BIN = Path(sys.executable).parent
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))


def questions() -> list[str]:
    from clbp_chat.evaluate.dataset import load_sets

    return [i.question for i in load_sets(ROOT / "evals" / "sets") if not i.history]


def start(cmd: list[str], port: int) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "CLBP_RATE_LIMIT": "0", "HF_HUB_OFFLINE": "1"}
    began = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_200(f"http://127.0.0.1:{port}/healthz", 180, proc)
    except AssertionError as exc:
        proc.kill()
        raise SystemExit(f"{cmd[0]} never became healthy: {exc}") from None
    return proc, time.perf_counter() - began


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(port: int, texts: list[str], distinct: bool) -> dict:
    url = f"http://127.0.0.1:{port}/api/ask"
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(REQUESTS))

    def worker() -> None:
        nonlocal errors
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            question = texts[n % len(texts)] + (f" (message {n})" if distinct else "")
            body = json.dumps({"question": question}).encode()
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    response.read()
                ok = True
            except OSError:
                ok = False
            with lock:
                latencies.append((time.perf_counter() - t) * 1000)
                errors += not ok

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "errors": errors,
    }


def in_process(texts: list[str]) -> dict:
    from clbp_chat.answer import Engine
    from clbp_chat.embeddings import TorchSentenceModel, resolve_model_path

    engine = Engine()
    engine.warm_up()
    collection = engine.index.collection
    tutorial = TorchSentenceModel(resolve_model_path(engine.settings.embedding_model))
    tutorial.encode(["warm up"])

    def median_ms(call) -> float:
        times = []
        for text in texts:
            t = time.perf_counter()
            call(text)
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)

    def retrieval(encode):
        """The tutorial's top-4 similarity search: the passages' texts and metadata by vector."""
        return lambda q: collection.query(
            query_embeddings=encode([q])[:1],
            n_results=4,
            include=["documents", "metadatas", "distances"],
        )

    first = median_ms(engine.answer)
    repeat = median_ms(engine.answer)
    peer = median_ms(retrieval(tutorial.encode))
    peer_same_model = median_ms(retrieval(engine.embeddings.encode))
    return {
        "embedding_backend": engine.embeddings.backend,
        "answer_p50_ms_first_pass": round(first, 1),
        "answer_p50_ms_repeat_pass": round(repeat, 1),
        "tutorial_retrieval_p50_ms": round(peer, 1),
        "tutorial_retrieval_on_our_backend_p50_ms": round(peer_same_model, 1),
        "ratio_first_pass": round(first / peer, 2),
        "ratio_repeat_pass": round(repeat / peer, 2),
        "ratio_first_pass_same_backend": round(first / peer_same_model, 2),
    }


def main() -> None:
    texts = questions()
    results = {"questions": len(texts), "requests": REQUESTS, "concurrency": CONCURRENCY}
    results["in_process"] = in_process(texts)
    servers = (
        ("clbp-chat", [str(BIN / "clbp-chat"), "serve", "--port"]),
        ("tutorial peer", [sys.executable, str(ROOT / "benchmarks" / "peer_tutorial.py")]),
    )
    for name, cmd in servers:
        port = free_port()
        proc, ready = start([*cmd, str(port)], port)
        try:
            results[name] = {
                "repeating": load(port, texts, distinct=False),
                "distinct": load(port, texts, distinct=True),
                "ready_s": round(ready, 1),
                "rss_mb": round(rss_mb(proc.pid)),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    ours, peer = results["clbp-chat"], results["tutorial peer"]
    results["http_ratio"] = {
        run: {
            "p95": round(ours[run]["p95_ms"] / peer[run]["p95_ms"], 2),
            "throughput": round(ours[run]["requests_per_s"] / peer[run]["requests_per_s"], 2),
        }
        for run in ("repeating", "distinct")
    }
    print(f"in process ({len(texts)} questions): {json.dumps(results['in_process'])}")
    print(f"{'':26}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}{'errors':>8}{'ready s':>9}{'RSS MB':>8}")
    for name, _ in servers:
        r = results[name]
        for run in ("repeating", "distinct"):
            f = r[run]
            print(
                f"{name + ', ' + run:26}{f['p50_ms']:>9}{f['p95_ms']:>9}{f['requests_per_s']:>8}"
                f"{f['errors']:>8}{r['ready_s']:>9}{r['rss_mb']:>8}"
            )
    for run, ratio in results["http_ratio"].items():
        print(f"ratio ours/peer, {run}: p95 {ratio['p95']}, throughput {ratio['throughput']}")
    out = ROOT / "artifacts" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
