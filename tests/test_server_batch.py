"""POST /v1/predict/batch: several clips in one request, each answered or failed on its own,
with ``?adapt=true`` standardising on the statistics of that request's usable clips."""

from __future__ import annotations

import asyncio
import json
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import TINY_LABELS, write_tone
from tests.test_server import asgi_post
from tests.test_server_limits import free_port

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from serkit.errors import ConfigError
from serkit.inference import load_model
from serkit.inference import recognizer as recognition
from serkit.server import ServerSettings, create_app

#: The duration cap of the test app, short so that "too long" needs only a short clip.
MAX_DURATION_S = 5.0
PREDICTION_KEYS = {"name", "label", "probabilities", "duration_s"}


@pytest.fixture(scope="module")
def recognizer(tiny_bundle):
    return load_model(tiny_bundle)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def client(recognizer):
    app = create_app(recognizer, max_duration_s=MAX_DURATION_S, torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """Five voiced-like clips of one 'set-up': different pitches, lengths and noise."""
    folder = tmp_path_factory.mktemp("batch")
    return [write_tone(folder / f"clip{i}.wav", seconds=0.6 + 0.2 * i, freq=140.0 + 55.0 * i,
                       seed=i) for i in range(5)]


@pytest.fixture(scope="module")
def bad(tmp_path_factory, clips) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("bad")
    silent = folder / "silent.wav"
    sf.write(str(silent), np.zeros(16_000, dtype=np.float32), 16_000)
    corrupt = clips[0].read_bytes()[:44] + bytes(range(256)) * 4
    return {"broken.wav": corrupt[:8] + b"WAVX" + corrupt[12:],
            "silent.wav": silent.read_bytes(),
            "short.wav": write_tone(folder / "short.wav", seconds=0.1).read_bytes(),
            "long.wav": write_tone(folder / "long.wav", seconds=MAX_DURATION_S + 1).read_bytes(),
            "empty.wav": b""}


def form(*items: Path | tuple[str, bytes]) -> list[tuple]:
    """Multipart ``files`` fields, in order: a clip's path, or ``(file name, bytes)``."""
    fields = []
    for item in items:
        name, data = (item.name, item.read_bytes()) if isinstance(item, Path) else item
        fields.append(("files", (name, data, "audio/wav")))
    return fields


def batch(client, *items, query: str = ""):
    return client.post(f"/v1/predict/batch{query}", files=form(*items))


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"model", "adapt", "results", "warnings"}
    for entry in body["results"]:
        assert set(entry) in (PREDICTION_KEYS, {"name", "error"})
    return body


def assert_error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert "Traceback" not in response.text
    return body["error"]["message"]


def assert_matches(entry: dict, prediction) -> None:
    assert set(entry) == PREDICTION_KEYS
    assert entry["label"] == prediction.label
    assert list(entry["probabilities"]) == TINY_LABELS
    assert entry["probabilities"] == pytest.approx(prediction.probabilities, abs=1e-9)
    assert entry["duration_s"] == pytest.approx(prediction.duration_s)


def probabilities(entries: list[dict]) -> np.ndarray:
    return np.array([[e["probabilities"][label] for label in TINY_LABELS] for e in entries])


# --- good clips, bad clips ----------------------------------------------------------------

def test_several_good_clips_each_match_the_recognizer(client, recognizer, clips, tmp_path):
    flac = write_tone(tmp_path / "other.flac", seconds=1.0, freq=260.0)
    body = ok(batch(client, *clips[:3], ("/home/ann/private/c.wav", clips[3].read_bytes()), flac))
    assert body["model"] == "tiny" and body["adapt"] is False and body["warnings"] == []
    assert [e["name"] for e in body["results"]] == [*(c.name for c in clips[:3]), "c.wav",
                                                    "other.flac"]
    for entry, path in zip(body["results"], [*clips[:4], flac]):
        assert_matches(entry, recognizer.predict(path))
    assert "/home/ann" not in json.dumps(body)


def test_a_bad_clip_gets_its_own_error_and_the_others_are_predicted(client, recognizer, clips,
                                                                     bad, tiny_bundle):
    items = [clips[0], *bad.items(), clips[1]]
    response = batch(client, *items)
    body = ok(response)
    results = body["results"]
    assert [e["name"] for e in results] == [clips[0].name, *bad, clips[1].name]
    assert_matches(results[0], recognizer.predict(clips[0]))
    assert_matches(results[-1], recognizer.predict(clips[1]))
    errors = {e["name"]: e["error"] for e in results[1:-1]}
    assert {name: e["code"] for name, e in errors.items()} == {
        "broken.wav": "invalid_audio", "silent.wav": "invalid_audio", "short.wav": "invalid_audio",
        "long.wav": "invalid_audio", "empty.wav": "empty_body"}
    # The messages /v1/predict would give for each file alone, naming the file.
    for name, data in bad.items():
        single = client.post("/v1/predict", files={"file": (name, data, "audio/wav")}).json()
        assert errors[name] == single["error"]
        assert errors[name]["message"].startswith(f"{name}:")
    assert "silent" in errors["silent.wav"]["message"]
    assert f"{MAX_DURATION_S:g} s" in errors["long.wav"]["message"]
    for secret in (str(tiny_bundle), str(clips[0].parent), "site-packages"):
        assert secret not in response.text


def test_a_clip_over_the_upload_limit_gets_its_own_error(recognizer, clips, tmp_path):
    small = tmp_path / "small.flac"  # 0.5 s of 16-bit flac: a few KB
    x = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16_000)
    sf.write(str(small), x.astype(np.float32), 16_000, subtype="PCM_16")
    limit = 8 * 1024
    assert small.stat().st_size < limit < clips[2].stat().st_size
    app = create_app(recognizer, max_upload_bytes=limit, torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        body = ok(batch(c, clips[2], small))
    big, fine = body["results"]
    assert big["name"] == clips[2].name and big["error"]["code"] == "upload_too_large"
    assert big["error"]["message"].startswith(f"{clips[2].name}:") and "MB" in big["error"]["message"]
    assert_matches(fine, recognizer.predict(small))


def test_nameless_files_and_text_values_keep_their_place(client, recognizer, clips):
    body = multipart_body([("", clips[0].read_bytes()), ("", b"junk"),
                           ("c.wav", clips[1].read_bytes())])
    text = b'--batchboundary\r\nContent-Disposition: form-data; name="files"\r\n\r\nhello\r\n'
    status, payload = asyncio.run(asgi_post(client.app, "/v1/predict/batch", text + body, [
        (b"content-type", b"multipart/form-data; boundary=batchboundary")]))
    assert status == 200, payload
    results = payload["results"]
    assert [e["name"] for e in results] == ["files[0]", "files[1]", "files[2]", "c.wav"]
    assert results[0]["error"]["code"] == "missing_file"
    assert results[0]["error"]["message"].startswith("files[0]: this value")
    assert_matches(results[1], recognizer.predict(clips[0]))
    assert results[2]["error"]["code"] == "invalid_audio"
    assert results[2]["error"]["message"].startswith("files[2]:")
    assert_matches(results[3], recognizer.predict(clips[1]))


# --- adapt ----------------------------------------------------------------------------------

def test_adapt_changes_the_probabilities_and_equals_predict_batch_adapt(
        client, recognizer, clips, monkeypatch):
    monkeypatch.setattr(recognition, "ADAPT_MIN_FILES", len(clips))
    # The tiny bundle was 'trained' on mean 0, scale 1; these clips' raw features are far
    # from that (pitch in Hz, energies in dB), so standardising on their own statistics
    # must change what the model sees, and so what it answers.
    raw = np.stack([recognizer.raw_features(c)[0] for c in clips])
    assert np.abs(raw.mean(axis=0)).max() > 10
    plain = ok(batch(client, *clips))
    adapted = ok(batch(client, *clips, query="?adapt=true"))
    assert (plain["adapt"], adapted["adapt"]) == (False, True)
    assert adapted["warnings"] == []
    assert np.abs(probabilities(plain["results"]) - probabilities(adapted["results"])).max() > 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ADAPT_MIN_FILES clips: no AdaptWarning either
        direct = recognizer.predict_batch(clips, adapt=True)
    for entry, prediction in zip(adapted["results"], direct):
        assert_matches(entry, prediction)
    for entry, prediction in zip(plain["results"], recognizer.predict_batch(clips)):
        assert_matches(entry, prediction)


def test_adapt_uses_the_usable_clips_only_and_keeps_nothing(client, recognizer, clips, bad,
                                                            monkeypatch):
    monkeypatch.setattr(recognition, "ADAPT_MIN_FILES", 2)
    first, second = clips[:3], clips[2:]
    body = ok(batch(client, first[0], ("broken.wav", bad["broken.wav"]), *first[1:],
                    query="?adapt=true"))
    good = [e for e in body["results"] if "error" not in e]
    assert len(good) == 3 and body["results"][1]["error"]["code"] == "invalid_audio"
    for entry, prediction in zip(good, recognizer.predict_batch(first, adapt=True)):
        assert_matches(entry, prediction)
    # The next request adapts on its own clips alone, and without adapt nothing has changed.
    again = ok(batch(client, *second, query="?adapt=true"))
    for entry, prediction in zip(again["results"], recognizer.predict_batch(second, adapt=True)):
        assert_matches(entry, prediction)
    plain = ok(batch(client, *second))
    for entry, path in zip(plain["results"], second):
        assert_matches(entry, recognizer.predict(path))


def test_adapt_with_too_few_usable_clips_answers_with_a_warning(client, clips, bad, monkeypatch):
    from serkit.server import service

    monkeypatch.setattr(recognition, "ADAPT_MIN_FILES", 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        service.silence_adapt_warnings()  # as at import; pytest resets filters per test
        body = ok(batch(client, *clips[:3], ("empty.wav", bad["empty.wav"]), query="?adapt=true"))
    assert body["adapt"] is True
    assert sum("error" in e for e in body["results"]) == 1
    (warning,) = body["warnings"]
    assert "3 usable clip(s)" in warning and "4 or more" in warning
    # The client is told; the server log is not (the recognizer's AdaptWarning is filtered).
    assert not [w for w in caught if issubclass(w.category, recognition.AdaptWarning)]
    # Enough clips, or no adapt: no warning.
    assert ok(batch(client, *clips[:4], query="?adapt=true"))["warnings"] == []
    assert ok(batch(client, *clips[:2], query="?adapt=false"))["warnings"] == []


def test_adapt_with_no_usable_clip_answers_errors_and_the_warning(client, bad):
    body = ok(batch(client, ("broken.wav", bad["broken.wav"]), query="?adapt=true"))
    assert body["results"][0]["error"]["code"] == "invalid_audio"
    assert "0 usable clip(s)" in body["warnings"][0]
    assert str(recognition.ADAPT_MIN_FILES) in body["warnings"][0]


def test_adapt_must_be_a_boolean(client, clips):
    message = assert_error(batch(client, clips[0], query="?adapt=maybe"), 422, "invalid_request")
    assert "adapt" in message


def test_adapt_with_a_model_that_reads_raw_features_is_refused(tiny_bundle, clips):
    from serkit.inference import Recognizer

    raw_reader = Recognizer.from_bundle(tiny_bundle)  # not load_model's shared, cached one
    raw_reader._standardizer = None  # as a bundle saved without a standardizer loads
    app = create_app(raw_reader, torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        message = assert_error(batch(c, *clips[:2], query="?adapt=true"), 422, "invalid_parameter")
        assert "adapt=true" in message and "tiny" in message
        assert ok(batch(c, *clips[:2]))["adapt"] is False


# --- whole-request errors -------------------------------------------------------------------

def test_too_many_files_is_a_413_that_says_the_limit(recognizer, clips):
    app = create_app(recognizer, max_batch_files=3, torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        assert len(ok(batch(c, *clips[:3]))["results"]) == 3
        message = assert_error(batch(c, *clips[:4]), 413, "too_many_files")
        assert "more than 3 files" in message and "several requests" in message


def test_a_batch_over_the_body_limit_is_a_413(recognizer, clips):
    limit = 2 * clips[0].stat().st_size
    app = create_app(recognizer, max_batch_bytes=limit, torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        assert len(ok(batch(c, clips[0]))["results"]) == 1
        message = assert_error(batch(c, *clips[:3]), 413, "upload_too_large")
        assert "batch" in message
        # A Content-Length that lies is caught while reading.
        body = multipart_body([(c.name, c.read_bytes()) for c in clips[:3]])
        status, payload = asyncio.run(asgi_post(c.app, "/v1/predict/batch", body, [
            (b"content-type", b"multipart/form-data; boundary=batchboundary"),
            (b"content-length", b"100")]))
        assert status == 413 and payload["error"]["code"] == "upload_too_large"
        assert c.app.state.admission.snapshot()["queued"] == 0


def test_no_files_is_a_400(client, clips):
    message = assert_error(client.post("/v1/predict/batch", files={
        "file": ("a.wav", clips[0].read_bytes(), "audio/wav")}), 400, "missing_files")
    assert "'files'" in message
    assert_error(client.post("/v1/predict/batch", files={"files": (None, "not a file")}), 400,
                 "missing_files")


def test_not_multipart_is_a_415(client, clips):
    response = client.post("/v1/predict/batch", content=clips[0].read_bytes(),
                           headers={"content-type": "audio/wav"})
    assert "'files'" in assert_error(response, 415, "unsupported_media_type")


def test_unknown_model_is_a_404_and_a_named_one_answers(recognizer, clips):
    app = create_app({"first": recognizer, "second": recognizer}, torch_threads=None,
                     warm_up=False)
    with TestClient(app) as c:
        assert "'nope'" in assert_error(batch(c, clips[0], query="?model=nope"), 404,
                                        "unknown_model")
        assert ok(batch(c, clips[0]))["model"] == "first"
        assert ok(batch(c, clips[0], query="?model=second"))["model"] == "second"


def multipart_body(files: list[tuple[str, bytes]], boundary: str = "batchboundary") -> bytes:
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
             f"filename=\"{name}\"\r\nContent-Type: audio/wav\r\n\r\n".encode() + data + b"\r\n"
             for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()




def mutated(body: bytes, rng) -> bytes:
    """``body`` with bytes overwritten, cut short, junk put in, or a stretch repeated."""
    data = bytearray(body)
    kind = rng.choice(["flip", "cut", "insert", "repeat"])
    if kind == "flip":
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == "cut":
        data = data[:rng.randrange(len(data) + 1)]
    elif kind == "insert":
        where = rng.randrange(len(data) + 1)
        data[where:where] = rng.choice([b"\r\n", b"--batchboundary\r\n", b"--batchboundary--",
                                        b'filename="x.wav"', bytes(rng.randrange(256)
                                                                   for _ in range(32))])
    else:
        start = rng.randrange(len(data))
        data[start:start] = data[start:start + rng.randint(1, 200)] * rng.randint(1, 30)
    return bytes(data)


def test_fuzz_mutated_batches_get_a_clear_answer(recognizer, clips, bad):
    """Seeded random mutations of a valid batch body: every answer is a 200 of the batch
    shape or a JSON 4xx (never a 500, never a hang), and no slot is left taken."""
    import random

    app = create_app(recognizer, max_upload_bytes=64 * 1024, max_batch_bytes=160 * 1024,
                     max_batch_files=4, max_duration_s=MAX_DURATION_S, max_concurrency=1,
                     max_queue=1, request_timeout_s=10, torch_threads=None, warm_up=False)
    valid = multipart_body([(clips[0].name, clips[0].read_bytes()),
                            ("broken.wav", bad["broken.wav"]),
                            (clips[1].name, clips[1].read_bytes())])
    rng = random.Random(0)
    seen: set[int] = set()
    for _ in range(120):
        body = mutated(valid, rng)
        content_type = rng.choice([b"multipart/form-data; boundary=batchboundary"] * 4 + [
            b"multipart/form-data", b"multipart/form-data; boundary=other", b"audio/wav", b""])
        headers = [(b"content-type", content_type)] if content_type else []
        if rng.random() < 0.5:
            headers.append((b"content-length", str(len(body)).encode()))
        status, payload = asyncio.run(asyncio.wait_for(
            asgi_post(app, "/v1/predict/batch", body, headers), 20))
        seen.add(status)
        assert status in {200, 400, 413, 415}, (status, payload)
        if status == 200:
            assert set(payload) == {"model", "adapt", "results", "warnings"}
            assert all(set(e) in (PREDICTION_KEYS, {"name", "error"}) for e in payload["results"])
        else:
            assert set(payload) == {"error"} and payload["error"]["message"].strip()
    assert {200, 400} <= seen
    snapshot = app.state.admission.snapshot()
    assert snapshot["running"] == snapshot["queued"] == 0


# --- admission, docs, settings ------------------------------------------------------------

class GatedRecognizer:
    """Its raw_features waits for a gate: a batch as slow as the test wants."""

    def __init__(self, inner):
        self._inner = inner
        self.gate = threading.Event()
        self.entered = threading.Event()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def raw_features(self, *args, **kwargs):
        self.entered.set()
        assert self.gate.wait(timeout=20), "the gate was never opened"
        return self._inner.raw_features(*args, **kwargs)


def test_a_batch_takes_one_slot_under_admission_control(recognizer, clips):
    from concurrent.futures import ThreadPoolExecutor

    gated = GatedRecognizer(recognizer)
    app = create_app({"tiny": gated}, max_concurrency=1, max_queue=0, request_timeout_s=30,
                     torch_threads=None, warm_up=False)
    with TestClient(app) as c, ThreadPoolExecutor(1) as pool:
        running = pool.submit(batch, c, *clips[:3])
        assert gated.entered.wait(timeout=20)
        try:
            refused = c.post("/v1/predict", files={"file": (clips[0].name, clips[0].read_bytes(),
                                                            "audio/wav")})
            assert_error(refused, 503, "overloaded")
            assert_error(batch(c, clips[0]), 503, "overloaded")
        finally:
            gated.gate.set()
        assert len(ok(running.result(timeout=20))["results"]) == 3
        load = c.get("/health").json()["load"]
    assert (load["admitted"], load["completed"], load["rejected"]) == (1, 1, 2)
    assert load["running"] == load["queued"] == 0


def test_a_batch_past_the_time_limit_gets_504(recognizer, clips):
    gated = GatedRecognizer(recognizer)
    app = create_app({"tiny": gated}, max_concurrency=1, max_queue=0, request_timeout_s=0.5,
                     torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        try:
            assert "0.5 s time limit" in assert_error(batch(c, *clips[:2]), 504, "timeout")
        finally:
            gated.gate.set()


def test_openapi_documents_the_batch_endpoint(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/predict/batch"]["post"]
    assert operation["summary"]
    body = operation["requestBody"]["content"]
    assert set(body) == {"multipart/form-data"}
    assert body["multipart/form-data"]["schema"]["properties"]["files"]["type"] == "array"
    assert {"200", "400", "404", "413", "415", "422", "503", "504"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {"model", "adapt", "top_k"}
    out = schema["components"]["schemas"]["BatchOut"]
    assert set(out["properties"]) == {"model", "adapt", "results", "warnings"}


def test_batch_limits_are_validated_and_travel_through_the_environment(recognizer):
    with pytest.raises(ConfigError, match="batch file limit"):
        create_app(recognizer, max_batch_files=0, warm_up=False)
    with pytest.raises(ConfigError, match="batch upload limit"):
        ServerSettings(max_batch_bytes=0)
    settings = ServerSettings(max_batch_files=7, max_batch_bytes=12345)
    assert ServerSettings.from_env(settings.to_env()) == settings
    assert ServerSettings().max_batch_files == 256
    with pytest.raises(ConfigError, match="SERKIT_SERVE_MAX_BATCH_FILES"):
        ServerSettings.from_env({"SERKIT_SERVE_MAX_BATCH_FILES": "many"})




def test_serve_command_carries_the_batch_limits(monkeypatch, tiny_bundle):
    import uvicorn

    from serkit.cli import main
    from serkit.server import settings

    for var in (settings.MODEL_VAR, settings.MAX_UPLOAD_VAR, settings.MAX_DURATION_VAR,
                settings.MAX_CONCURRENCY_VAR, settings.MAX_QUEUE_VAR, settings.REQUEST_TIMEOUT_VAR,
                settings.MAX_BATCH_FILES_VAR, settings.MAX_BATCH_BYTES_VAR):
        monkeypatch.setenv(var, "restored after the test")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(app))
    limits = ["--max-batch-files", "9", "--max-batch-mb", "2"]
    assert main(["serve", "--model", str(tiny_bundle), "--port", str(free_port()), "--workers", "2",
                 *limits]) == 0
    assert calls[-1] == "serkit.server:app_from_env"
    got = ServerSettings.from_env()  # what each worker process reads
    assert (got.max_batch_files, got.max_batch_bytes) == (9, 2 * 2**20)
