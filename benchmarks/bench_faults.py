"""A patient always gets a reply, warning signs first, whatever breaks (issue 16's fault suite).

Each fault runs against a real `clbp-chat serve` on loopback, with a mix of ordinary questions and
emergency messages sent by CONCURRENCY clients. For each fault it prints the replies given, the
errors, and the median and worst time to an emergency reply. Faults:
- none (the peer: the same load on a healthy server);
- a question log that cannot be written (logging on, the log path a folder);
- a damaged build (the Chroma file cut short), then repaired by `ingest --rebuild` while the server
  is idle: seconds until /healthz is 200 again with no question in between;
- a stalled Chroma server (SIGSTOP) under a server in Chroma mode, then a stopped one (SIGKILL).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import (  # noqa: E402
    answers_200,
    damage_live_build,
    free_port,
    health,
    running_server,
)

BIN = Path(sys.executable).parent
REQUESTS = int(os.environ.get("BENCH_FAULT_REQUESTS", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_FAULT_CONCURRENCY", "64"))
EMERGENCY = (
    "since this morning I can't feel my bottom and I've wet myself, is the pettine study good"
)
ORDINARY = ["How many people were in the Pettine study?", "is it safe", "what does ODI mean"]


def ask(base: str, question: str) -> tuple[int, float]:
    body = json.dumps({"question": question}).encode()
    request = urllib.request.Request(
        f"{base}/api/ask", data=body, headers={"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            reply = json.loads(response.read())
            status = 200 if reply.get("answer") else 0
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    return status, time.perf_counter() - start


def load(base: str, requests: int = REQUESTS) -> dict[str, object]:
    """Requests from CONCURRENCY clients, every tenth an emergency message."""
    results: list[tuple[bool, int, float]] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        for n in counter:
            emergency = n % 10 == 0
            status, seconds = ask(base, EMERGENCY if emergency else ORDINARY[n % 3])
            with lock:
                results.append((emergency, status, seconds))

    threads = [threading.Thread(target=client) for _ in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    urgent = [s for e, code, s in results if e and code == 200]
    return {
        "replies": sum(code in (200, 503) for _, code, _ in results),
        "answers": sum(code == 200 for _, code, _ in results),
        "errors": sum(code not in (200, 503) for _, code, _ in results),
        "emergency_answered": f"{len(urgent)}/{sum(e for e, _, _ in results)}",
        "emergency_p50_s": round(statistics.median(urgent), 3) if urgent else None,
        "emergency_max_s": round(max(urgent), 3) if urgent else None,
    }


def row(name: str, figures: dict[str, object]) -> None:
    print(f"{name:<34} " + "  ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


def local_faults(work: Path) -> None:
    index = work / "index"
    env = {"CLBP_INDEX_DIR": str(index)}
    subprocess.run(
        [str(BIN / "clbp-chat"), "ingest", "--quiet"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    with running_server(env, cwd=ROOT) as base:
        row("healthy server (peer)", load(base))

    log_dir = work / "log"
    (log_dir / "questions.jsonl").mkdir(parents=True)
    logging_on = {**env, "CLBP_LOG_QUESTIONS": "true", "CLBP_DATA_DIR": str(log_dir)}
    with running_server(logging_on, cwd=ROOT) as base:
        figures = load(base)
        figures["healthz_names_it"] = "question log" in json.dumps(health(base))
        row("question log cannot be written", figures)

        damage_live_build(index)
        figures = load(base, REQUESTS // 4)
        started = time.perf_counter()
        subprocess.run(
            [str(BIN / "clbp-chat"), "ingest", "--rebuild", "--quiet"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        while not answers_200(f"{base}/healthz") and time.perf_counter() - started < 120:
            time.sleep(0.2)
        figures["ready_after_repair_s"] = round(time.perf_counter() - started, 1)
        row("damaged build, repaired while idle", figures)


def chroma_faults(work: Path) -> None:
    port = free_port()
    chroma = subprocess.Popen(
        [str(BIN / "chroma"), "run", "--path", str(work / "chroma"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        env = {
            "CLBP_CHROMA_HOST": "127.0.0.1",
            "CLBP_CHROMA_PORT": str(port),
            "CLBP_INDEX_DIR": str(work / "empty"),
        }
        for _ in range(60):
            if (
                subprocess.run(
                    [str(BIN / "clbp-chat"), "ingest", "--quiet"],
                    cwd=ROOT,
                    env={**os.environ, **env},
                    capture_output=True,
                ).returncode
                == 0
            ):
                break
            time.sleep(1)
        with running_server(env, cwd=ROOT) as base:
            os.kill(chroma.pid, signal.SIGSTOP)
            row("Chroma server stalled (SIGSTOP)", load(base, REQUESTS // 4))
            os.kill(chroma.pid, signal.SIGCONT)
            chroma.kill()
            chroma.wait()
            row("Chroma server stopped", load(base, REQUESTS // 4))
    finally:
        chroma.kill()


def main() -> None:
    print(
        f"fault suite: {REQUESTS} requests (a quarter under a broken store), {CONCURRENCY} clients, "
        "every tenth an emergency message"
    )
    with tempfile.TemporaryDirectory() as folder:
        local_faults(Path(folder))
    if shutil.which(str(BIN / "chroma")) or (BIN / "chroma").exists():
        with tempfile.TemporaryDirectory() as folder:
            chroma_faults(Path(folder))


if __name__ == "__main__":
    main()
