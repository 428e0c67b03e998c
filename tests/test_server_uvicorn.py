"""A real `serkit serve` on uvicorn, in a subprocess on a free localhost port.

One worker only: each server process spends seconds importing torch and librosa, so the
several-worker path (`--workers N`, the factory import string) is checked in
test_server.py up to the uvicorn call, and was run by hand with `--workers 2`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY_LABELS, write_tone

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

REPO = Path(__file__).resolve().parents[1]
#: Importing torch and the first prediction's warm-up take a few seconds per process on a
#: busy machine; generous, since the server is polled and answers as soon as it is up.
STARTUP_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(bundle: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as out:  # a file, not a pipe: a full pipe would stall the server
        return subprocess.Popen(
            [sys.executable, "-m", "serkit.cli", "serve", "--model", str(bundle), "--port", str(port),
             "--log-level", "warning", "--max-concurrency", "3", "--max-queue", "5",
             "--request-timeout", "30"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: cleaned up as one


def wait_until_healthy(proc: subprocess.Popen, base: str, log: Path) -> dict:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serkit serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            return httpx.get(f"{base}/health", timeout=2).json()
        except httpx.TransportError:
            time.sleep(0.3)
    pytest.fail(f"serkit serve did not answer /health within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> int:
    """Ctrl+C (uvicorn's graceful shutdown); then SIGKILL whatever is left of its group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a hung server or an orphaned worker
        proc.wait()


def test_serve_answers_over_http(tiny_bundle, tmp_path):
    clip = write_tone(tmp_path / "clip.wav", seconds=1.5)
    port, log = free_port(), tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    proc = start_server(tiny_bundle, port, log)
    try:
        health = wait_until_healthy(proc, base, log)
        assert health["status"] == "ok" and health["models"] == ["tiny"]
        assert {k: health["load"][k] for k in ("max_concurrency", "max_queue", "request_timeout_s")} \
            == {"max_concurrency": 3, "max_queue": 5, "request_timeout_s": 30.0}
        form = httpx.post(f"{base}/v1/predict", files={"file": ("clip.wav", clip.read_bytes(), "audio/wav")},
                          timeout=30)
        assert form.status_code == 200, form.text
        body = form.json()
        assert body["model"] == "tiny" and list(body["probabilities"]) == TINY_LABELS
        assert body["duration_s"] == pytest.approx(1.5)
        raw = httpx.post(f"{base}/v1/predict", content=clip.read_bytes(),
                         headers={"content-type": "audio/wav"}, timeout=30)
        assert raw.json() == body
        bad = httpx.post(f"{base}/v1/predict", content=b"not audio at all",
                         headers={"content-type": "audio/wav"}, timeout=30)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_audio"
        load = httpx.get(f"{base}/health", timeout=5).json()["load"]
        assert load["completed"] == 3 and load["running"] == load["queued"] == load["rejected"] == 0
    finally:
        code = stop(proc)
    assert code == 0, log.read_text()
