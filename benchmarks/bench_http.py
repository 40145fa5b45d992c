"""Ours against the tutorial peer, measured side by side in one run on this machine.

- In process: answer() against the tutorial retrieval (embed + Chroma k=4), same questions, medians;
  first pass (nothing remembered) and a repeat pass (questions asked before, as starter buttons are).
- HTTP: REQUESTS requests from CONCURRENCY concurrent clients against `clbp-chat serve` and against
  the peer (benchmarks/peer_tutorial.py), one after the other: p50, p95, throughput, errors.
- Ready time from process start to a 200 from /healthz, and resident memory after the load.
Prints a table and writes artifacts/bench.json. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def questions() -> list[str]:
    from clbp_chat.evaluate.dataset import load_sets

    return [i.question for i in load_sets(ROOT / "evals" / "sets") if not i.history]


def start(cmd: list[str], port: int) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "CLBP_RATE_LIMIT": "0", "HF_HUB_OFFLINE": "1"}
    began = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = began + 180
    while time.perf_counter() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200:
                return proc, time.perf_counter() - began
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{cmd[0]} never became healthy")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(port: int, texts: list[str]) -> dict:
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
            body = json.dumps({"question": texts[n % len(texts)]}).encode()
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

    engine = Engine()
    engine.warm_up()
    encode = engine.embeddings.encode
    store = engine.index.vectorstore

    def median_ms(call) -> float:
        times = []
        for text in texts:
            t = time.perf_counter()
            call(text)
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)

    first = median_ms(engine.answer)
    repeat = median_ms(engine.answer)
    peer = median_ms(lambda q: store.similarity_search_by_vector(encode([q])[0].tolist(), k=4))
    return {
        "answer_p50_ms_first_pass": round(first, 1),
        "answer_p50_ms_repeat_pass": round(repeat, 1),
        "tutorial_retrieval_p50_ms": round(peer, 1),
        "ratio_first_pass": round(first / peer, 2),
        "ratio_repeat_pass": round(repeat / peer, 2),
    }


def main() -> None:
    texts = questions()
    results = {"questions": len(texts), "requests": REQUESTS, "concurrency": CONCURRENCY}
    results["in_process"] = in_process(texts)
    for name, cmd in (
        ("clbp-chat", [str(BIN / "clbp-chat"), "serve", "--port"]),
        ("tutorial peer", [sys.executable, str(ROOT / "benchmarks" / "peer_tutorial.py")]),
    ):
        port = free_port()
        proc, ready = start([*cmd, str(port)], port)
        try:
            figures = load(port, texts)
            figures["ready_s"] = round(ready, 1)
            figures["rss_mb"] = round(rss_mb(proc.pid))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        results[name] = figures
    ours, peer = results["clbp-chat"], results["tutorial peer"]
    results["http_ratio"] = {
        "p95": round(ours["p95_ms"] / peer["p95_ms"], 2),
        "throughput": round(ours["requests_per_s"] / peer["requests_per_s"], 2),
    }
    print(f"in process ({len(texts)} questions): {json.dumps(results['in_process'])}")
    print(f"{'':16}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}{'errors':>8}{'ready s':>9}{'RSS MB':>8}")
    for name in ("clbp-chat", "tutorial peer"):
        r = results[name]
        print(
            f"{name:16}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['requests_per_s']:>8}"
            f"{r['errors']:>8}{r['ready_s']:>9}{r['rss_mb']:>8}"
        )
    print(
        f"ratio ours/peer: p95 {results['http_ratio']['p95']}, throughput {results['http_ratio']['throughput']}"
    )
    out = ROOT / "artifacts" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
