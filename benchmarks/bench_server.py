"""Load-test `serkit serve`: requests/s, latency percentiles and the server's memory.

Usage:
    python benchmarks/bench_server.py [--model NAME|PATH] [--workers N] [--requests N]
                                      [--concurrency C] [--clip-seconds S]
                                      [--endpoint predict|timeline] [--json]

Starts `serkit serve` on a free localhost port with the model (default: the bundled
`default`) and N worker processes, waits for /health, sends one warm-up request per
connection, then fires the requests (a synthetic voiced-like clip, 16 kHz 16-bit wav, as
the raw body) from C concurrent keep-alive connections, one httpx client per thread. It
prints requests/s, p50/p95/p99 latency, and the server's memory summed over its processes
(the uvicorn supervisor, the workers and multiprocessing's helper): VmRSS now, peak VmHWM,
and PSS, which counts pages shared between the processes (torch's libraries) once. The
client runs on the same machine and takes some of its CPU. The server is stopped at the
end, also on errors and Ctrl+C.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
#: What the server is expected to reach on a 2-core machine (reported beside the results).
TARGETS = {"requests_per_s": 50.0, "worker_rss_mb": 350.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="model name or bundle folder")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--requests", type=int, default=500, help="timed requests")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent connections")
    parser.add_argument("--clip-seconds", type=float, default=3.0)
    parser.add_argument("--endpoint", choices=["predict", "timeline"], default="predict")
    parser.add_argument("--startup-timeout", type=float, default=180.0, help="seconds to wait for /health")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    clip = synthetic_clip(args.clip_seconds)
    with running_server(args.model, ["--workers", str(args.workers)], args.startup_timeout) as (base, pid):
        url = f"{base}/v1/{args.endpoint}"
        run_load(url, clip, requests=args.concurrency, concurrency=args.concurrency)  # warm-up
        load = run_load(url, clip, requests=args.requests, concurrency=args.concurrency)
        memory = server_memory(pid)
    results = {"model": args.model, "workers": args.workers, "endpoint": args.endpoint,
               "clip_seconds": args.clip_seconds, "concurrency": args.concurrency,
               "cores": len(os.sched_getaffinity(0)), **load, **memory, "targets": TARGETS}
    print(json.dumps(results, indent=2) if args.json else report(results))
    return 0 if load["errors"] == 0 else 1


def synthetic_clip(seconds: float, rate: int = 16_000) -> bytes:
    """A voiced-like clip as wav bytes: a gliding 120-220 Hz tone with harmonics, syllable-rate
    loudness and a little noise (not silence, so every request does the full work)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 170 + 50 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    x = 0.2 * voice * envelope + 0.005 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, x.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@contextlib.contextmanager
def running_server(model: str, options: list[str], timeout_s: float):
    """Start `serkit serve` with ``options`` on a free loopback port; yield (base URL, pid)
    once /health answers; always stop it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "serkit.cli", "serve", "--model", model, "--port", str(port),
             "--no-access-log", "--log-level", "warning", *options],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_health(proc, base, timeout_s, log)
            yield base, proc.pid
        finally:
            stop(proc)


def wait_for_health(proc: subprocess.Popen, base: str, timeout_s: float, log) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise SystemExit(f"serkit serve exited with {proc.returncode}:\n{log.read().decode()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise SystemExit(f"serkit serve did not answer /health within {timeout_s:g} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
    try:
        proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of its process group
        proc.wait()


def run_load(url: str, clip: bytes, *, requests: int, concurrency: int) -> dict:
    """Send ``requests`` POSTs from ``concurrency`` threads; latencies and throughput."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def connection() -> None:
        with httpx.Client(timeout=120, headers={"content-type": "audio/wav"}) as client:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                start = time.perf_counter()
                try:
                    response = client.post(url, content=clip)
                    ok = response.status_code == 200
                except httpx.HTTPError as exc:
                    ok, response = False, exc
                elapsed = time.perf_counter() - start
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors.append(_describe(response))

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(connection) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - start
    ms = 1000 * np.asarray(latencies) if latencies else np.asarray([np.nan])
    return {"requests": requests, "ok": len(latencies), "errors": len(errors),
            "first_errors": errors[:3], "wall_s": round(wall, 3),
            "requests_per_s": round(len(latencies) / wall, 2),
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)},
            "max_ms": round(float(np.max(ms)), 1)}


def _describe(response) -> str:
    if hasattr(response, "status_code"):
        return f"{response.status_code} {response.text[:200]}"
    return f"{type(response).__name__}: {response}"


# --- memory of the server's processes ---------------------------------------------------

def server_memory(pid: int) -> dict:
    """VmRSS, VmHWM (peak) and PSS in MB, summed over ``pid`` and its descendants."""
    pids = [pid, *descendants(pid)]
    per_process = {p: _memory_of(p) for p in pids}
    per_process = {p: m for p, m in per_process.items() if m}
    total = {key: round(sum(m.get(key, 0.0) for m in per_process.values()), 1)
             for key in ("rss_mb", "peak_rss_mb", "pss_mb")}
    return {**total, "processes": len(per_process),
            "per_process_rss_mb": [round(m["rss_mb"], 1) for m in per_process.values()]}


def descendants(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:
        return _descendants_from_proc(pid)
    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def _descendants_from_proc(pid: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces.
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _memory_of(pid: int) -> dict[str, float]:
    memory = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                memory["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = int(value.split()[0]) / 1024
    with contextlib.suppress(OSError):  # needs Linux >= 4.14; absent elsewhere
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                memory["pss_mb"] = int(line.split()[1]) / 1024
    return memory


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(r: dict) -> str:
    worker = max(r["per_process_rss_mb"], default=0.0)
    lines = [
        (f"serkit serve --model {r['model']} --workers {r['workers']}: POST /v1/{r['endpoint']}, "
         f"{r['clip_seconds']:g} s clip, {r['concurrency']} connections, {r['cores']} cores"),
        (f"  {r['ok']}/{r['requests']} ok in {r['wall_s']:.2f} s: {r['requests_per_s']:.1f} "
         f"requests/s ({_verdict(r['requests_per_s'] >= TARGETS['requests_per_s'])} the "
         f"{TARGETS['requests_per_s']:g}/s target)"),
        f"  latency ms: p50 {r['p50_ms']}, p95 {r['p95_ms']}, p99 {r['p99_ms']}, max {r['max_ms']}",
        (f"  server memory over {r['processes']} processes: RSS {r['rss_mb']:.0f} MB (per process "
         f"{r['per_process_rss_mb']}; the largest, a worker: {_verdict(worker <= TARGETS['worker_rss_mb'])} "
         f"the {TARGETS['worker_rss_mb']:g} MB per worker target), peak RSS {r['peak_rss_mb']:.0f} MB, "
         f"PSS {r['pss_mb']:.0f} MB"),
    ]
    if r["errors"]:
        lines.append(f"  {r['errors']} errors, e.g. {r['first_errors']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
