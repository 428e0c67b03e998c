"""Backpressure and robustness of the HTTP API (serkit.server.admission, upload.py).

- admission control: at most ``max_concurrency`` predictions at once and ``max_queue``
  waiting; the rest get 503 with Retry-After at once; a request past its time limit gets
  408 / 503 / 504; the GET endpoints are never throttled; the limits come from `serve`;
- property-based tests (hypothesis) of the upload path on random and mutated inputs:
  every answer is 200 or a JSON 4xx/5xx error (never a 500, never a hang), in bounded time.

Slow predictions are simulated with a recognizer that waits on a gate, so that the counts
do not depend on the speed of the machine.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import write_tone

pytest.importorskip("fastapi")
hypothesis = pytest.importorskip("hypothesis")
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serkit.errors import ConfigError
from serkit.inference import load_model
from serkit.server import ServerSettings, create_app

#: Seconds any single answer may take in these tests (a hang fails the test instead).
ANSWER_BOUND_S = 20.0


@pytest.fixture(scope="module")
def recognizer(tiny_bundle):
    return load_model(tiny_bundle)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def wav_bytes(tmp_path_factory) -> bytes:
    return write_tone(tmp_path_factory.mktemp("clips") / "tone.wav", seconds=1.0).read_bytes()


class GatedRecognizer:
    """Its predict waits for a gate (a prediction as slow as the test wants) and counts."""

    def __init__(self, inner):
        self._inner = inner
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def predict(self, *args, **kwargs):
        self.entered.release()
        assert self.gate.wait(timeout=ANSWER_BOUND_S), "the gate was never opened"
        return self._inner.predict(*args, **kwargs)


def gated_app(recognizer, **limits):
    gated = GatedRecognizer(recognizer)
    return gated, create_app({"tiny": gated}, torch_threads=None, warm_up=False, **limits)


def post_wav(client, wav: bytes, path: str = "/v1/predict"):
    return client.post(path, content=wav, headers={"content-type": "audio/wav"})


def load(client) -> dict:
    return client.get("/health").json()["load"]


def wait_for(condition, what: str, timeout: float = ANSWER_BOUND_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def assert_json_error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert "Traceback" not in response.text
    return body["error"]["message"]


def retry_after(response) -> int:
    value = int(response.headers["retry-after"])  # whole seconds, as HTTP has it
    assert value >= 1
    return value


# --- admission: concurrency, queue, 503 -----------------------------------------------

def test_requests_beyond_concurrency_and_queue_get_503_with_retry_after(recognizer, wav_bytes):
    gated, app = gated_app(recognizer, max_concurrency=1, max_queue=1, request_timeout_s=30)
    with TestClient(app) as c, ThreadPoolExecutor(8) as pool:
        first = pool.submit(post_wav, c, wav_bytes)
        assert gated.entered.acquire(timeout=ANSWER_BOUND_S)  # running, holding the one slot
        second = pool.submit(post_wav, c, wav_bytes)
        wait_for(lambda: load(c)["queued"] == 1, "the second request to wait")
        refused = [f.result(timeout=ANSWER_BOUND_S)  # answered at once: the gate is still shut
                   for f in [pool.submit(post_wav, c, wav_bytes, path) for path in
                             ("/v1/predict", "/v1/timeline", "/v1/predict")]]
        for response in refused:
            message = assert_json_error(response, 503, "overloaded")
            assert "capacity" in message and retry_after(response) >= 1
        assert load(c)["rejected"] == 3
        gated.gate.set()
        assert first.result(timeout=ANSWER_BOUND_S).status_code == 200
        assert second.result(timeout=ANSWER_BOUND_S).status_code == 200
        after = load(c)
    assert after["running"] == after["queued"] == 0
    assert (after["admitted"], after["completed"], after["rejected"], after["timed_out"]) == (2, 2, 3, 0)


def test_a_burst_gets_exactly_the_expected_number_of_503s(recognizer, wav_bytes):
    # 8 requests at once at 1 running + 2 waiting: exactly 5 are refused, whatever the order.
    gated, app = gated_app(recognizer, max_concurrency=1, max_queue=2, request_timeout_s=30)
    with TestClient(app) as c, ThreadPoolExecutor(8) as pool:
        barrier = threading.Barrier(8)

        def burst(_):
            barrier.wait(timeout=ANSWER_BOUND_S)
            return post_wav(c, wav_bytes)

        futures = [pool.submit(burst, i) for i in range(8)]
        wait_for(lambda: sum(f.done() for f in futures) >= 5, "the refusals")
        gated.gate.set()
        statuses = sorted(f.result(timeout=ANSWER_BOUND_S).status_code for f in futures)
        refused = [f.result() for f in futures if f.result().status_code == 503]
    assert statuses == [200] * 3 + [503] * 5
    assert all(retry_after(r) >= 1 and r.json()["error"]["code"] == "overloaded" for r in refused)


def test_retry_after_grows_with_recent_service_times(recognizer, wav_bytes):
    gated, app = gated_app(recognizer, max_concurrency=1, max_queue=0, request_timeout_s=30)
    with TestClient(app) as c, ThreadPoolExecutor(2) as pool:
        slow = pool.submit(post_wav, c, wav_bytes)
        assert gated.entered.acquire(timeout=ANSWER_BOUND_S)
        time.sleep(1.6)  # this prediction takes > 1.6 s
        gated.gate.set()
        assert slow.result(timeout=ANSWER_BOUND_S).status_code == 200
        gated.gate.clear()
        slow = pool.submit(post_wav, c, wav_bytes)
        assert gated.entered.acquire(timeout=ANSWER_BOUND_S)
        refused = post_wav(c, wav_bytes)
        gated.gate.set()
        assert slow.result(timeout=ANSWER_BOUND_S).status_code == 200
    assert_json_error(refused, 503, "overloaded")
    # ~1.6 s per prediction, one running, this one next, one slot: at least 2 * 1.6 s.
    assert retry_after(refused) >= 4


def test_health_models_and_docs_are_never_throttled(recognizer, wav_bytes):
    gated, app = gated_app(recognizer, max_concurrency=1, max_queue=0, request_timeout_s=30)
    with TestClient(app) as c, ThreadPoolExecutor(1) as pool:
        busy = pool.submit(post_wav, c, wav_bytes)
        assert gated.entered.acquire(timeout=ANSWER_BOUND_S)
        try:
            assert_json_error(post_wav(c, wav_bytes), 503, "overloaded")
            for path in ("/health", "/v1/models", "/docs", "/openapi.json"):
                assert c.get(path).status_code == 200, path
        finally:
            gated.gate.set()
        assert busy.result(timeout=ANSWER_BOUND_S).status_code == 200


def test_errors_before_admission_and_failures_free_their_slot(recognizer, wav_bytes):
    app = create_app(recognizer, max_concurrency=1, max_queue=0, torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        for _ in range(3):  # each of these would leak the only slot if it were not given back
            assert_json_error(c.post("/v1/predict", content=b"junk",
                                     headers={"content-type": "audio/wav"}), 400, "invalid_audio")
            assert_json_error(c.post("/v1/predict", content=b"x",
                                     headers={"content-type": "text/plain"}), 415,
                              "unsupported_media_type")
            assert_json_error(c.post("/v1/predict?model=nope", content=wav_bytes,
                                     headers={"content-type": "audio/wav"}), 404, "unknown_model")
        assert post_wav(c, wav_bytes).status_code == 200
        after = load(c)
    assert after["running"] == after["queued"] == after["rejected"] == 0


# --- time limits ------------------------------------------------------------------------

def test_a_prediction_past_the_time_limit_gets_504_and_keeps_its_slot_until_it_ends(
        recognizer, wav_bytes):
    gated, app = gated_app(recognizer, max_concurrency=1, max_queue=0, request_timeout_s=0.5)
    with TestClient(app) as c:
        start = time.monotonic()
        response = post_wav(c, wav_bytes)
        elapsed = time.monotonic() - start
        message = assert_json_error(response, 504, "timeout")
        assert "0.5 s time limit" in message and elapsed < 5
        during = load(c)
        # The thread cannot be stopped: it holds the only slot, so the next one is refused.
        assert_json_error(post_wav(c, wav_bytes), 503, "overloaded")
        gated.gate.set()
        wait_for(lambda: load(c)["running"] == 0, "the abandoned prediction to end")
        after = load(c)
        assert post_wav(c, wav_bytes).status_code == 200  # the slot is free again
    assert (during["running"], during["abandoned"], during["timed_out"]) == (1, 1, 1)
    assert (after["abandoned"], after["completed"]) == (0, 1)


def test_waiting_past_the_time_limit_gets_503_with_retry_after(recognizer, wav_bytes):
    gated, app = gated_app(recognizer, max_concurrency=1, max_queue=1, request_timeout_s=0.6)
    with TestClient(app) as c, ThreadPoolExecutor(2) as pool:
        running = pool.submit(post_wav, c, wav_bytes)
        assert gated.entered.acquire(timeout=ANSWER_BOUND_S)
        waiting = pool.submit(post_wav, c, wav_bytes)
        waited = waiting.result(timeout=ANSWER_BOUND_S)
        assert_json_error(running.result(timeout=ANSWER_BOUND_S), 504, "timeout")
        gated.gate.set()
        wait_for(lambda: load(c)["running"] == 0, "the abandoned prediction to end")
        after = load(c)
    assert "no prediction slot came free" in assert_json_error(waited, 503, "overloaded")
    assert retry_after(waited) >= 1
    assert after["timed_out"] == 2 and after["queued"] == 0 and after["completed"] == 1


def test_an_upload_slower_than_the_time_limit_gets_408(recognizer):
    app = create_app(recognizer, request_timeout_s=0.3, torch_threads=None, warm_up=False)

    async def stalled():
        await asyncio.sleep(30)  # the client never sends its body
        return {"type": "http.disconnect"}

    start = time.monotonic()
    status, body, _ = asyncio.run(asgi_call(app, "/v1/predict", [(b"content-type", b"audio/wav")],
                                            receive=stalled))
    assert status == 408 and body["error"]["code"] == "upload_timeout"
    assert time.monotonic() - start < 5
    assert app.state.admission.snapshot()["queued"] == 0


def test_admission_keeps_its_bounds_and_counts_under_a_random_storm():
    """Many loops (as several connections' tasks), random upload, work and time limits:
    never more than max_concurrency at work, and every slot comes back in the end."""
    import random

    from serkit.server.admission import Admission
    from serkit.server.errors import ApiError

    admission = Admission(max_concurrency=2, max_queue=4, request_timeout_s=0.25)
    lock, busy, most = threading.Lock(), [0], [0]
    outcomes: list[str] = []

    def work(seconds: float) -> str:
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(seconds)
        with lock:
            busy[0] -= 1
        return "ok"

    async def one(rng: random.Random) -> str:
        async def read():
            await asyncio.sleep(rng.choice([0, 0, 0, 0.01, 0.3]))
            return rng.choice([0.0, 0.01, 0.01, 0.03, 0.03, 0.4])
        try:
            return await admission.run(read, work)
        except ApiError as exc:
            return f"{exc.status} {exc.code}"

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(8):
            results = await asyncio.gather(*(one(rng) for _ in range(rng.randint(1, 4))))
            outcomes.extend(results)
            await asyncio.sleep(rng.random() * 0.05)

    threads = [threading.Thread(target=asyncio.run, args=(client(seed),)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    wait_for(lambda: admission.snapshot()["running"] == 0, "the abandoned work to end")
    snapshot = admission.snapshot()
    assert most[0] <= 2 and snapshot["queued"] == snapshot["abandoned"] == 0
    assert set(outcomes) <= {"ok", "503 overloaded", "504 timeout", "408 upload_timeout"}
    assert snapshot["admitted"] + snapshot["rejected"] == len(outcomes)
    assert snapshot["rejected"] + snapshot["timed_out"] == sum(o != "ok" for o in outcomes)
    assert {"ok", "503 overloaded", "504 timeout"} <= set(outcomes)


# --- the limits: defaults, validation, the serve command --------------------------------

def test_default_limits_follow_the_cores(recognizer):
    admission = create_app(recognizer, torch_threads=None, warm_up=False).state.admission
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert (admission.max_concurrency, admission.max_queue, admission.request_timeout_s) == \
        (cores, 4 * cores, 60.0)


@pytest.mark.parametrize("limits, words", [
    ({"max_concurrency": 0}, "concurrency limit"),
    ({"max_concurrency": 1.5}, "concurrency limit"),
    ({"max_queue": -1}, "queue limit"),
    ({"request_timeout_s": 0}, "time limit"),
    ({"request_timeout_s": float("nan")}, "time limit"),
])
def test_create_app_and_settings_reject_bad_limits(recognizer, limits, words):
    with pytest.raises(ConfigError, match=words):
        create_app(recognizer, warm_up=False, **limits)
    with pytest.raises(ConfigError, match=words):
        ServerSettings(**limits)


def test_limits_round_trip_through_the_environment():
    for settings_ in (ServerSettings(max_concurrency=3, max_queue=0, request_timeout_s=2.5),
                      ServerSettings(request_timeout_s=None), ServerSettings()):
        assert ServerSettings.from_env(settings_.to_env()) == settings_
    assert ServerSettings.from_env({"SERKIT_SERVE_MAX_CONCURRENCY": "auto",
                                    "SERKIT_SERVE_MAX_QUEUE": "AUTO"}) == ServerSettings()
    with pytest.raises(ConfigError, match="SERKIT_SERVE_MAX_QUEUE"):
        ServerSettings.from_env({"SERKIT_SERVE_MAX_QUEUE": "lots"})
    with pytest.raises(ConfigError, match="concurrency limit"):
        ServerSettings.from_env({"SERKIT_SERVE_MAX_CONCURRENCY": "0"})


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("argv, words", [
    (["--max-concurrency", "0"], "--max-concurrency must be at least 1, not 0"),
    (["--max-batch-files", "0"], "--max-batch-files must be at least 1, not 0"),
    (["--max-batch-mb", "0"], "--max-batch-mb must be positive, not 0"),
    (["--max-queue", "-1"], "--max-queue must be 0 or more, not -1"),
    (["--request-timeout", "0"], "--request-timeout must be a positive number of seconds"),
    (["--request-timeout", "inf"], "--request-timeout must be a positive number of seconds"),
])
def test_serve_command_rejects_bad_limits_in_one_line(capsys, argv, words):
    from serkit.cli import main

    assert main(["serve", "--port", str(free_port()), *argv]) == 2
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"serkit: error: {words}")


def test_serve_command_carries_the_limits_to_the_app_and_to_workers(monkeypatch, tiny_bundle):
    import uvicorn

    from serkit.cli import main
    from serkit.server import settings

    for var in (settings.MODEL_VAR, settings.MAX_UPLOAD_VAR, settings.MAX_DURATION_VAR,
                settings.MAX_CONCURRENCY_VAR, settings.MAX_QUEUE_VAR, settings.REQUEST_TIMEOUT_VAR,
                settings.MAX_BATCH_FILES_VAR, settings.MAX_BATCH_BYTES_VAR):
        monkeypatch.setenv(var, "restored after the test")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(app))
    limits = ["--max-concurrency", "3", "--max-queue", "0", "--request-timeout", "7.5"]
    assert main(["serve", "--model", str(tiny_bundle), "--port", str(free_port()), *limits]) == 0
    admission = calls[-1].state.admission  # one worker: the app itself
    assert (admission.max_concurrency, admission.max_queue, admission.request_timeout_s) == (3, 0, 7.5)
    assert main(["serve", "--model", str(tiny_bundle), "--port", str(free_port()), "--workers", "2",
                 *limits]) == 0
    assert calls[-1] == "serkit.server:app_from_env"
    got = ServerSettings.from_env()  # what each worker process reads
    assert (got.max_concurrency, got.max_queue, got.request_timeout_s) == (3, 0, 7.5)


# --- hypothesis: the upload path on random and mutated input ------------------------------

#: Statuses the upload path may answer; 500 (an unexpected failure) is never one of them.
ALLOWED = {200, 400, 404, 408, 413, 415, 422, 503, 504}
FUZZ_UPLOAD_LIMIT = 256 * 1024
CONTENT_TYPES = ["audio/wav", "audio/flac", "audio/ogg", "application/octet-stream", "audio/mpeg",
                 "multipart/form-data", "multipart/form-data; boundary=", "text/plain",
                 "application/json", "", "audio/wav; charset=binary", "AUDIO/WAV",
                 "multipart/form-data; boundary=xyz", "\x00/\xff"]
FUZZ = settings(max_examples=150, deadline=10_000, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def fuzz_app(recognizer):
    return create_app(recognizer, max_upload_bytes=FUZZ_UPLOAD_LIMIT, max_duration_s=5.0,
                      max_concurrency=2, max_queue=2, request_timeout_s=10,
                      torch_threads=None, warm_up=False)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    """Small valid files to mutate: wav (PCM16, float), flac, ogg, and a multipart body."""
    rate, t = 16_000, np.arange(8000) / 16_000
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    found = {}
    for name, fmt, subtype in [("wav16", "WAV", "PCM_16"), ("wavf", "WAV", "FLOAT"),
                               ("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS")]:
        buffer = io.BytesIO()
        sf.write(buffer, x, rate, format=fmt, subtype=subtype)
        found[name] = buffer.getvalue()
    return found


def multipart_body(data: bytes, boundary: str = "fuzzboundary", filename: str = "a.wav",
                   field: str = "file") -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: audio/wav\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()


async def asgi_call(app, path: str, headers: list, body: bytes = b"", *, receive=None,
                    chunk: int = 4096) -> tuple[int, dict, dict]:
    """POST straight to the ASGI app with exactly ``headers``: (status, JSON body, headers).

    An exception escaping the app (what would be a 500 with a logged traceback) propagates.
    """
    chunks = [body[i:i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def from_list():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # as a server does: no disconnect until the answer is sent

    async def send(message):
        sent.append(message)

    raw_path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": raw_path, "raw_path": raw_path.encode(),
             "query_string": query.encode(), "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1234), "server": ("testserver", 80)}
    await app(scope, receive or from_list, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(payload), dict(start.get("headers", []))


def check_answer(app, path: str, headers: list, body: bytes) -> int:
    """Send it; assert a bounded-time answer that is 200 or a JSON error (never a 500)."""
    start = time.monotonic()
    try:
        status, payload, _ = asyncio.run(asyncio.wait_for(asgi_call(app, path, headers, body),
                                                          ANSWER_BOUND_S))
    except TimeoutError:
        pytest.fail(f"no answer within {ANSWER_BOUND_S} s to {path} {headers}")
    assert time.monotonic() - start < ANSWER_BOUND_S
    assert status in ALLOWED, (status, payload)
    hypothesis.event(f"{status} {payload['error']['code'] if status != 200 else 'ok'}")
    if status == 200:
        assert "model" in payload
    else:
        assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message"}
        message = payload["error"]["message"]
        assert message.strip() and "Traceback" not in message and os.getcwd() not in message
    return status


ENDPOINTS = st.sampled_from(["/v1/predict", "/v1/timeline", "/v1/timeline?window=0.5&hop=0.25",
                             "/v1/predict?model=tiny", "/v1/predict?model=%00"])


@FUZZ
@given(body=st.binary(max_size=4096), content_type=st.sampled_from(CONTENT_TYPES), path=ENDPOINTS)
def test_fuzz_random_bytes_get_a_clear_answer(fuzz_app, body, content_type, path):
    headers = [(b"content-type", content_type.encode("latin-1"))] if content_type else []
    check_answer(fuzz_app, path, headers + [(b"content-length", str(len(body)).encode())], body)


def mutate(data: bytes, draw) -> bytes:
    """One of: bytes overwritten (mostly in the header), a header field set to an extreme,
    a cut, or a duplicated stretch."""
    data = bytearray(data)
    kind = draw(st.sampled_from(["flip", "field", "cut", "repeat"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            where = draw(st.integers(0, min(len(data), 128) - 1))
            data[where] = draw(st.integers(0, 255))
    elif kind == "field":  # RIFF size, fmt fields, data size: 16- and 32-bit values
        offset, fmt = draw(st.sampled_from([(4, "<I"), (16, "<I"), (20, "<H"), (22, "<H"),
                                            (24, "<I"), (28, "<I"), (32, "<H"), (34, "<H"),
                                            (40, "<I")]))
        bits = 16 if fmt == "<H" else 32
        value = draw(st.sampled_from([0, 1, 2, 3, 8, 255, 1024, 2**bits - 1, 2**(bits - 1)])
                     | st.integers(0, 2**bits - 1))
        struct.pack_into(fmt, data, offset, value)
    elif kind == "cut":
        data = data[:draw(st.integers(0, len(data)))]
    else:
        start = draw(st.integers(0, len(data) - 1))
        data[start:start] = data[start:start + draw(st.integers(1, 64))] * draw(st.integers(1, 20))
    return bytes(data)


@FUZZ
@given(data=st.data(), seed=st.sampled_from(["wav16", "wavf", "flac", "ogg"]), path=ENDPOINTS,
       as_form=st.booleans())
def test_fuzz_mutated_audio_gets_a_clear_answer(fuzz_app, seeds, data, seed, path, as_form):
    audio = mutate(seeds[seed], data.draw)
    if as_form:
        body, content_type = multipart_body(audio), "multipart/form-data; boundary=fuzzboundary"
    else:
        body, content_type = audio, "audio/wav"
    check_answer(fuzz_app, path, [(b"content-type", content_type.encode()),
                                  (b"content-length", str(len(body)).encode())], body)


@FUZZ
@given(data=st.data(), declared=st.one_of(st.integers(-10, 2**70).map(str),
                                          st.sampled_from(["", "abc", "1e9", " 12 ", "0x10",
                                                           "99999999999999999999999"])),
       as_form=st.booleans(), send=st.integers(0, 3 * FUZZ_UPLOAD_LIMIT // 2))
def test_fuzz_declared_lengths_and_oversize_bodies_get_a_clear_answer(fuzz_app, seeds, data,
                                                                      declared, as_form, send):
    audio = (seeds["wav16"] * (1 + send // len(seeds["wav16"])))[:send]
    if as_form:
        body = multipart_body(audio)
        content_type = "multipart/form-data; boundary=fuzzboundary"
    else:
        body, content_type = audio, "audio/wav"
    status = check_answer(fuzz_app, "/v1/predict",
                          [(b"content-type", content_type.encode()),
                           (b"content-length", declared.encode())], body)
    if len(body) > FUZZ_UPLOAD_LIMIT:
        assert status == 413
    if declared.strip().lstrip("-").isdigit() and int(declared) > FUZZ_UPLOAD_LIMIT:
        assert status == 413


@FUZZ
@given(data=st.data(), boundary=st.just("fuzzboundary") | st.text(st.characters(codec="latin-1"),
                                                                   max_size=80),
       field=st.sampled_from(["file", "File", "", "audio", "file\"; x=\""]),
       filename=st.text(max_size=300), junk=st.binary(max_size=64))
def test_fuzz_malformed_multipart_gets_a_clear_answer(fuzz_app, seeds, data, boundary, field,
                                                      filename, junk):
    body = multipart_body(seeds["wav16"], "fuzzboundary", filename.replace("\"", ""), field)
    cut = data.draw(st.integers(0, len(body)))
    body = data.draw(st.sampled_from([body, body[:cut], body[:cut] + junk + body[cut:],
                                      junk + body]))
    content_type = f"multipart/form-data; boundary={boundary}".encode("latin-1")
    check_answer(fuzz_app, "/v1/predict", [(b"content-type", content_type),
                                           (b"content-length", str(len(body)).encode())], body)


def test_fuzz_left_no_slot_taken(fuzz_app):
    # Runs after the fuzz tests in this module: every admitted request gave its slot back.
    snapshot = fuzz_app.state.admission.snapshot()
    assert snapshot["running"] == snapshot["queued"] == snapshot["abandoned"] == 0
