"""Soak-test `serkit serve`: many requests at its capacity, then overload; errors, 503s, memory.

Usage:
    python benchmarks/bench_server_soak.py [--requests N] [--rate R] [--model NAME|PATH]
        [--max-concurrency N] [--max-queue N] [--request-timeout S] [--connections C]
        [--overload-factor F] [--overload-seconds S] [--max-seconds S] [--clip-seconds S]
        [--json]

Starts `serkit serve` (one worker) on a free loopback port and waits for /health, then:

1. capacity: a closed loop (2 connections per concurrent slot of the server, each sending
   its next request when the last is answered) measures the requests/s it completes;
2. soak: ``--requests`` (default 10 000) offered at a steady ``--rate`` (default: the
   capacity just measured), each sent at its scheduled time from a bounded pool of
   keep-alive connections (the server's concurrency + queue + 8 unless ``--connections``);
3. overload: ``--overload-factor`` (default 2) times that rate for ``--overload-seconds``:
   the server should refuse the excess at once with 503 + Retry-After, and keep the
   latency of what it accepts bounded, instead of queueing without limit.

It prints, per phase, requests answered 200, refused 503 and errors (anything else: other
statuses, connection failures, timeouts; the soak should have none), p50/p99 latency of
the 200s (from the moment each was sent), and requests sent more than 0.1 s after their
schedule (the client could not keep up); then the server's resident memory (psutil where
installed, else /proc/<pid>/status VmRSS) after warm-up and at the end, and its own
counters from /health. The run is bounded in count and in time (``--max-seconds``: nothing
is sent after it); the server is stopped at the end, also on errors and Ctrl+C.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time

import numpy as np
from bench_server import running_server, server_memory, synthetic_clip

#: A request sent later than this after its scheduled time counts as "late".
LATE_S = 0.1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="model name or bundle folder")
    parser.add_argument("--requests", type=int, default=10_000, help="requests of the soak phase")
    parser.add_argument("--rate", type=float, default=None,
                        help="requests/s offered in the soak (default: the measured capacity)")
    parser.add_argument("--calibration-requests", type=int, default=300,
                        help="requests of the closed-loop capacity measurement")
    parser.add_argument("--connections", type=int, default=None,
                        help="client connections (default: server concurrency + queue + 8)")
    parser.add_argument("--overload-factor", type=float, default=2.0,
                        help="overload rate as a multiple of the soak rate (0: no overload phase)")
    parser.add_argument("--overload-seconds", type=float, default=15.0)
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop sending after this long in all (default: 2x the planned time + 120)")
    parser.add_argument("--max-concurrency", type=int, default=None, help="serve --max-concurrency")
    parser.add_argument("--max-queue", type=int, default=None, help="serve --max-queue")
    parser.add_argument("--request-timeout", type=float, default=None, help="serve --request-timeout")
    parser.add_argument("--clip-seconds", type=float, default=3.0)
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.calibration_requests < 1:
        parser.error("--requests and --calibration-requests must be at least 1")

    clip = synthetic_clip(args.clip_seconds)
    serve_options = [f"--{name.replace('_', '-')}={value}" for name, value in
                     (("max_concurrency", args.max_concurrency), ("max_queue", args.max_queue),
                      ("request_timeout", args.request_timeout)) if value is not None]
    with running_server(args.model, serve_options, args.startup_timeout) as (base, pid):
        import httpx

        url = f"{base}/v1/predict"
        limits = httpx.get(f"{base}/health", timeout=10).json()["load"]
        slots, queue = limits["max_concurrency"], limits["max_queue"]
        timeout_s = (limits["request_timeout_s"] or 600.0) + 30.0
        warm = closed_loop(url, clip, requests=2 * slots, connections=slots, timeout_s=timeout_s)
        rss_start = resident_mb(pid)
        capacity = closed_loop(url, clip, requests=args.calibration_requests,
                               connections=2 * slots, timeout_s=timeout_s)
        rate = args.rate or capacity["requests_per_s"]
        connections = args.connections or slots + queue + 8
        planned = args.requests / rate + (args.overload_seconds if args.overload_factor else 0)
        deadline = time.monotonic() + (args.max_seconds or 2 * planned + 120)
        soak = open_loop(url, clip, count=args.requests, rate=rate, connections=connections,
                         deadline=deadline, timeout_s=timeout_s)
        overload = None
        if args.overload_factor > 0:
            over_rate = args.overload_factor * rate
            overload = open_loop(url, clip, count=max(1, round(over_rate * args.overload_seconds)),
                                 rate=over_rate, connections=connections, deadline=deadline,
                                 timeout_s=timeout_s)
        rss_end = resident_mb(pid)
        counters = httpx.get(f"{base}/health", timeout=10).json()["load"]
    results = {"model": args.model, "clip_seconds": args.clip_seconds,
               "cores": len(os.sched_getaffinity(0)), "server_limits": {
                   k: limits[k] for k in ("max_concurrency", "max_queue", "request_timeout_s")},
               "warm_up_errors": warm["errors"], "capacity": capacity, "soak": soak,
               "overload": overload, "rss_mb": {"start": rss_start, "end": rss_end},
               "server_counters": counters}
    print(json.dumps(results, indent=2) if args.json else report(results))
    failed = soak["errors"] + (overload["errors"] if overload else 0) + warm["errors"]
    return 0 if failed == 0 and soak["sent"] == soak["offered"] else 1


def resident_mb(pid: int) -> float:
    """Resident memory of the server (and any children) in MB."""
    try:
        import psutil
    except ImportError:
        return server_memory(pid)["rss_mb"]  # /proc/<pid>/status VmRSS, summed
    process = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
                 / 2**20, 1)


def closed_loop(url: str, clip: bytes, *, requests: int, connections: int, timeout_s: float) -> dict:
    """Each connection sends its next request when the last is answered: completed/s."""
    counter = itertools.count()
    results: list[tuple] = []

    def connection() -> None:
        with _client(timeout_s) as client:
            while next(counter) < requests:
                results.append(_send(client, url, clip))

    start = time.perf_counter()
    _run_threads(connection, connections)
    wall = time.perf_counter() - start
    ok = sum(r[0] == 200 for r in results)
    return {"requests": requests, "connections": connections, "ok": ok,
            "errors": sum(r[0] not in (200, 503) for r in results),
            "wall_s": round(wall, 2), "requests_per_s": round(ok / wall, 2)}


def open_loop(url: str, clip: bytes, *, count: int, rate: float, connections: int,
              deadline: float, timeout_s: float) -> dict:
    """Send request i at start + i / rate (from ``connections`` threads), whatever the
    answers; nothing is sent after ``deadline`` (time.monotonic)."""
    counter = itertools.count()
    results: list[tuple] = []
    start = time.perf_counter() + 0.1
    offset = time.monotonic() - time.perf_counter()

    def connection() -> None:
        with _client(timeout_s) as client:
            while (i := next(counter)) < count:
                due = start + i / rate
                if due + offset > deadline:
                    return
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                late = time.perf_counter() - due
                results.append((*_send(client, url, clip), late))

    _run_threads(connection, connections)
    wall = time.perf_counter() - start
    return summarize(results, offered=count, rate=rate, connections=connections, wall=wall)


def _client(timeout_s: float):
    import httpx

    return httpx.Client(timeout=timeout_s, headers={"content-type": "audio/wav"})


def _send(client, url: str, clip: bytes) -> tuple:
    """(status or error name, seconds, Retry-After or None, error text or None)."""
    import httpx

    sent = time.perf_counter()
    try:
        response = client.post(url, content=clip)
    except httpx.HTTPError as exc:
        return type(exc).__name__, time.perf_counter() - sent, None, str(exc)[:200]
    elapsed = time.perf_counter() - sent
    text = None if response.status_code == 200 else response.text[:200]
    return response.status_code, elapsed, response.headers.get("retry-after"), text


def _run_threads(target, n: int) -> None:
    threads = [threading.Thread(target=target, daemon=True) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def summarize(results: list[tuple], *, offered: int, rate: float, connections: int,
              wall: float) -> dict:
    ok = [r[1] for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 503]
    errors = [r for r in results if r[0] not in (200, 503)]
    retry = sorted(int(r[2]) for r in refused if r[2] and r[2].isdigit())
    return {
        "offered": offered, "rate_per_s": round(rate, 2), "connections": connections,
        "sent": len(results), "wall_s": round(wall, 2), "ok": len(ok), "refused_503": len(refused),
        "errors": len(errors), "first_errors": [f"{r[0]} {r[3]}" for r in errors[:3]],
        "ok_per_s": round(len(ok) / wall, 2) if wall > 0 else 0.0,
        **_percentiles("ok_ms", ok),
        **_percentiles("refused_ms", [r[1] for r in refused]),
        "retry_after_s": [retry[0], retry[len(retry) // 2], retry[-1]] if retry else None,
        "late": sum(r[4] > LATE_S for r in results),
        "max_late_s": round(max((r[4] for r in results), default=0.0), 3),
    }


def _percentiles(name: str, seconds: list[float]) -> dict:
    if not seconds:
        return {f"{name}_p50": None, f"{name}_p99": None, f"{name}_max": None}
    ms = 1000 * np.asarray(seconds)
    return {f"{name}_p50": round(float(np.percentile(ms, 50)), 1),
            f"{name}_p99": round(float(np.percentile(ms, 99)), 1),
            f"{name}_max": round(float(ms.max()), 1)}


def _phase(title: str, p: dict) -> list[str]:
    lines = [(f"  {title} at {p['rate_per_s']:g}/s offered, {p['connections']} connections: "
              f"{p['sent']}/{p['offered']} sent in {p['wall_s']:.1f} s; {p['ok']} ok "
              f"({p['ok_per_s']:g}/s), {p['refused_503']} refused 503, {p['errors']} errors")]
    if p["ok"]:
        lines.append(f"    ok latency ms: p50 {p['ok_ms_p50']}, p99 {p['ok_ms_p99']}, "
                     f"max {p['ok_ms_max']}")
    if p["refused_503"]:
        lines.append(f"    503 answered in ms: p50 {p['refused_ms_p50']}, p99 {p['refused_ms_p99']}; "
                     f"Retry-After s (min, median, max): {p['retry_after_s']}")
    lines.append(f"    sent > {LATE_S:g} s after schedule: {p['late']} (most {p['max_late_s']} s)")
    if p["errors"]:
        lines.append(f"    errors, e.g. {p['first_errors']}")
    return lines


def report(r: dict) -> str:
    limits, capacity = r["server_limits"], r["capacity"]
    lines = [
        (f"serkit serve --model {r['model']} (1 worker; {limits['max_concurrency']} running, "
         f"{limits['max_queue']} waiting, {limits['request_timeout_s']} s limit): POST /v1/predict, "
         f"{r['clip_seconds']:g} s clip, {r['cores']} cores"),
        (f"  capacity (closed loop, {capacity['connections']} connections, {capacity['requests']} "
         f"requests): {capacity['requests_per_s']:g} requests/s, {capacity['errors']} errors"),
        *_phase("soak", r["soak"]),
        *(_phase("overload", r["overload"]) if r["overload"] else []),
        f"  server RSS MB: {r['rss_mb']['start']:.0f} after warm-up, {r['rss_mb']['end']:.0f} at the end",
        "  server counters: " + ", ".join(f"{k} {v}" for k, v in r["server_counters"].items()
                                          if k not in limits),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
