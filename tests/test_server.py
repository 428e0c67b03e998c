"""The HTTP API (serkit.server) through FastAPI's TestClient, with the tiny random bundle."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import TINY_LABELS, write_tone

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from serkit.errors import ConfigError, MissingDependencyError
from serkit.inference import load_model
from serkit.server import ServerSettings, app_from_env, create_app

#: The duration cap of the test app, short so that "too long" needs only a short clip.
MAX_DURATION_S = 5.0


@pytest.fixture(scope="module")
def recognizer(tiny_bundle):
    return load_model(tiny_bundle)


@pytest.fixture(scope="module")
def client(recognizer):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    # As a context manager: one event loop serves every request, as uvicorn's does.
    with TestClient(create_app(recognizer, max_duration_s=MAX_DURATION_S, torch_threads=None)) as c:
        yield c
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "wav": write_tone(folder / "tone.wav", seconds=1.0),
        "flac": write_tone(folder / "tone.flac", seconds=1.0),
        "ogg": write_tone(folder / "tone.ogg", seconds=1.0),
        "stereo": write_tone(folder / "stereo.wav", seconds=1.0, channels=2),
        "44k": write_tone(folder / "tone44k.wav", seconds=1.0, rate=44_100),
        "3s": write_tone(folder / "long.wav", seconds=3.0),
        "short": write_tone(folder / "short.wav", seconds=0.1),
        "too_long": write_tone(folder / "too_long.wav", seconds=MAX_DURATION_S + 1),
    }


def multipart(path: Path, name: str | None = None) -> dict:
    return {"file": (name or path.name, path.read_bytes(), "audio/wav")}


def raw(path: Path, content_type: str = "audio/wav") -> dict:
    return {"content": path.read_bytes(), "headers": {"content-type": content_type}}


def assert_error(response, status: int, code: str, *hidden: object) -> str:
    """The response is ``status`` with a JSON error of ``code``; returns its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert message.strip()
    for secret in (os.getcwd(), "site-packages", "Traceback", *map(str, hidden)):
        assert secret not in response.text, f"{secret!r} leaked into {message!r}"
    return message


# --- the endpoints ----------------------------------------------------------------------

def test_predict_multipart_matches_the_recognizer(client, recognizer, clips):
    response = client.post("/v1/predict", files=multipart(clips["wav"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"label", "probabilities", "duration_s", "model"}
    assert body["model"] == "tiny"
    assert list(body["probabilities"]) == TINY_LABELS
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert body["label"] == max(body["probabilities"], key=body["probabilities"].get)
    assert body["duration_s"] == pytest.approx(1.0)
    direct = recognizer.predict(clips["wav"])
    assert body["label"] == direct.label
    assert body["probabilities"] == pytest.approx(direct.probabilities)


@pytest.mark.parametrize("content_type", ["audio/wav", "audio/x-wav", "application/octet-stream",
                                          "audio/wav; charset=binary"])
def test_predict_raw_body_equals_multipart(client, clips, content_type):
    by_form = client.post("/v1/predict", files=multipart(clips["wav"])).json()
    by_body = client.post("/v1/predict", **raw(clips["wav"], content_type))
    assert by_body.status_code == 200, by_body.text
    assert by_body.json() == by_form


@pytest.mark.parametrize("kind, content_type", [("flac", "audio/flac"), ("ogg", "audio/ogg")])
def test_predict_flac_and_ogg(client, clips, kind, content_type):
    response = client.post("/v1/predict", **raw(clips[kind], content_type))
    assert response.status_code == 200, response.text
    assert response.json()["duration_s"] == pytest.approx(1.0, abs=0.01)


def test_stereo_is_mixed_to_mono(client, clips):
    mono = client.post("/v1/predict", files=multipart(clips["wav"])).json()
    stereo = client.post("/v1/predict", files=multipart(clips["stereo"]))
    assert stereo.status_code == 200, stereo.text
    # Both channels hold the mono signal, so their mean is the mono clip itself.
    assert stereo.json()["probabilities"] == pytest.approx(mono["probabilities"])
    assert stereo.json()["duration_s"] == pytest.approx(1.0)


def test_44k_wav_is_resampled(client, clips):
    response = client.post("/v1/predict", files=multipart(clips["44k"]))
    assert response.status_code == 200, response.text
    assert response.json()["duration_s"] == pytest.approx(1.0, abs=1e-3)


def test_timeline_windows_and_segments(client, clips):
    response = client.post("/v1/timeline?window=1&hop=0.5", files=multipart(clips["3s"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "tiny" and body["duration_s"] == pytest.approx(3.0)
    bounds = [t for w in body["windows"] for t in (w["start_s"], w["end_s"])]
    assert bounds == pytest.approx([0.0, 1.0, 0.5, 1.5, 1.0, 2.0, 1.5, 2.5, 2.0, 3.0])
    for window in body["windows"]:
        assert list(window["probabilities"]) == TINY_LABELS
        assert sum(window["probabilities"].values()) == pytest.approx(1.0)
    segments = body["segments"]
    assert segments[0]["start_s"] == 0.0 and segments[-1]["end_s"] == pytest.approx(3.0)
    assert all(a["end_s"] == pytest.approx(b["start_s"]) for a, b in itertools.pairwise(segments))
    assert all(0.0 <= s["confidence"] <= 1.0 for s in segments)


def test_timeline_defaults_and_raw_body(client, clips):
    response = client.post("/v1/timeline", **raw(clips["3s"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["window_s"], body["hop_s"]) == (3.0, 1.0)
    assert len(body["windows"]) == 1  # a 3 s clip is one 3 s window


def test_timeline_segmenting_options_reach_the_recognizer(client, recognizer, clips):
    query = "window=1&hop=0.5&smoothing=none&min_segment=0&vad=none"
    body = client.post(f"/v1/timeline?{query}", files=multipart(clips["3s"])).json()
    assert body["segmenting"] == {"smoothing": "none", "smooth_windows": 5, "switch_penalty": 4.0,
                                  "min_segment_s": 0.0, "vad": "none"}
    local = recognizer.timeline(clips["3s"], window_s=1.0, hop_s=0.5, smoothing="none",
                                min_segment_s=0.0, vad="none")
    assert [(s["label"], s["start_s"], s["end_s"]) for s in body["segments"]] == \
        [(s.label, pytest.approx(s.start_s), pytest.approx(s.end_s)) for s in local.segments]
    assert sum(body["summary"]["shares"].values()) == pytest.approx(1.0)
    # The defaults are the recognizer's (median over 5 windows, 2 s minimum, energy VAD).
    default = client.post("/v1/timeline?window=1&hop=0.5", files=multipart(clips["3s"])).json()
    assert default["segmenting"] == {"smoothing": "median", "smooth_windows": 5, "switch_penalty": 4.0,
                                     "min_segment_s": 2.0, "vad": "energy"}


@pytest.mark.parametrize("query, word", [
    ("smoothing=spline", "smoothing"),
    ("smooth_windows=4", "smooth_windows"),
    ("min_segment=-1", "min_segment_s"),
    ("vad=neural", "vad"),
])
def test_timeline_bad_segmenting_option(client, clips, query, word):
    response = client.post(f"/v1/timeline?{query}", files=multipart(clips["3s"]))
    assert response.status_code in (400, 422)
    assert word in response.json()["error"]["message"]


@pytest.mark.parametrize("query, status, code, word", [
    ("window=1&hop=2", 422, "invalid_parameter", "hop_s"),
    ("window=0.1", 422, "invalid_parameter", "window_s"),
    ("window=-1", 422, "invalid_request", "window"),
    ("hop=abc", 422, "invalid_request", "hop"),
])
def test_timeline_bad_windowing(client, clips, query, status, code, word):
    response = client.post(f"/v1/timeline?{query}", files=multipart(clips["3s"]))
    assert word in assert_error(response, status, code)


def test_models_and_health(client):
    assert client.get("/v1/models").json() == [{
        "name": "tiny", "labels": TINY_LABELS, "sample_rate": 16_000,
        "description": "tiny random CNN for tests (its predictions mean nothing)"}]
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"] == ["tiny"]
    assert {"max_concurrency", "max_queue", "request_timeout_s", "running", "queued",
            "rejected", "timed_out"} <= set(health["load"])


def test_openapi_documents_the_endpoints(client):
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/v1/predict"]["post"]
    assert predict["summary"]
    assert {"multipart/form-data", "audio/wav", "audio/flac", "audio/ogg",
            "application/octet-stream"} <= set(predict["requestBody"]["content"])
    assert {"200", "400", "404", "413", "415", "422"} <= set(predict["responses"])
    for path in ("/v1/timeline", "/v1/models", "/health"):
        operation = next(iter(schema["paths"][path].values()))
        assert operation["summary"] and "200" in operation["responses"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_several_models_by_name(recognizer, clips):
    app = create_app({"first": recognizer, "second": recognizer}, torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        assert [m["name"] for m in c.get("/v1/models").json()] == ["first", "second"]
        assert c.post("/v1/predict", files=multipart(clips["wav"])).json()["model"] == "first"
        chosen = c.post("/v1/predict?model=second", files=multipart(clips["wav"]))
        assert chosen.json()["model"] == "second"
        message = assert_error(c.post("/v1/predict?model=tiny", files=multipart(clips["wav"])),
                               404, "unknown_model")
        assert "first, second" in message


# --- bad input: one JSON error each, never a server path -------------------------------

def test_empty_raw_body(client, tiny_bundle):
    response = client.post("/v1/predict", content=b"", headers={"content-type": "audio/wav"})
    assert "empty" in assert_error(response, 400, "empty_body", tiny_bundle)


def test_empty_uploaded_file(client, tiny_bundle):
    response = client.post("/v1/predict", files={"file": ("clip.wav", b"", "audio/wav")})
    assert "clip.wav" in assert_error(response, 400, "empty_body", tiny_bundle)


def test_multipart_without_file_field(client):
    response = client.post("/v1/predict", files={"audio": ("clip.wav", b"RIFF", "audio/wav")})
    assert "'file'" in assert_error(response, 400, "missing_file")
    response = client.post("/v1/predict", data={"file": "not a file"})
    assert_error(response, 415, "unsupported_media_type")  # a urlencoded form is not audio


def test_corrupt_wav(client, clips, tiny_bundle):
    data = clips["wav"].read_bytes()
    corrupt = data[:44] + bytes(range(256)) * 4  # a wav header, then a body of another length
    corrupt = corrupt[:8] + b"WAVX" + corrupt[12:]  # and a broken format tag
    response = client.post("/v1/predict", files={"file": ("broken.wav", corrupt, "audio/wav")})
    message = assert_error(response, 400, "invalid_audio", clips["wav"].parent, tiny_bundle)
    assert message.startswith("broken.wav:")


def test_non_audio(client, clips, tiny_bundle):
    response = client.post("/v1/predict", content=b"%PDF-1.4 definitely not audio" * 20,
                           headers={"content-type": "application/octet-stream"})
    message = assert_error(response, 400, "invalid_audio", tiny_bundle)
    assert message.startswith("upload:") and "not audio" in message


def test_silent(client, tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(16_000, dtype=np.float32), 16_000)
    response = client.post("/v1/predict", files=multipart(path))
    assert "silent" in assert_error(response, 400, "invalid_audio", tmp_path)


def test_too_short(client, clips):
    response = client.post("/v1/predict", files=multipart(clips["short"]))
    assert "shorter" in assert_error(response, 400, "invalid_audio", clips["short"].parent)


def test_too_long(client, clips):
    response = client.post("/v1/predict", files=multipart(clips["too_long"]))
    message = assert_error(response, 400, "invalid_audio", clips["too_long"].parent)
    assert "longer" in message and f"{MAX_DURATION_S:g} s" in message


def test_client_path_in_filename_is_cut_to_its_name(client, clips):
    response = client.post("/v1/predict", files=multipart(clips["short"], "/home/ann/secret/c.wav"))
    message = assert_error(response, 400, "invalid_audio", "/home/ann")
    assert message.startswith("c.wav:")


@pytest.mark.parametrize("headers", [{"content-type": "text/plain"}, {"content-type": "video/mp4"}, {}])
def test_unsupported_content_type(client, clips, headers):
    response = client.post("/v1/predict", content=clips["wav"].read_bytes(), headers=headers)
    assert "multipart" in assert_error(response, 415, "unsupported_media_type")


def test_unknown_model(client, clips):
    response = client.post("/v1/predict?model=nope", files=multipart(clips["wav"]))
    assert "'nope'" in assert_error(response, 404, "unknown_model")
    response = client.post("/v1/timeline?model=nope", files=multipart(clips["wav"]))
    assert_error(response, 404, "unknown_model")


def test_unexpected_failure_is_a_json_500_without_details(recognizer, clips):
    class Broken:
        name, labels, sample_rate, info = "broken", TINY_LABELS, 16_000, {}

        def predict(self, *args, **kwargs):
            raise RuntimeError(f"disk error in {Path(__file__).parent}")

    app = create_app(Broken(), torch_threads=None, warm_up=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.post("/v1/predict", files=multipart(clips["wav"]))
    assert "server log" in assert_error(response, 500, "internal_error", Path(__file__).parent,
                                        "disk error")


def test_unknown_path_and_wrong_method(client):
    assert_error(client.get("/v2/predict"), 404, "not_found")
    assert_error(client.get("/v1/predict"), 405, "method_not_allowed")


# --- the upload size limit --------------------------------------------------------------

LIMIT = 8 * 1024


@pytest.fixture(scope="module")
def small_client(recognizer):
    app = create_app(recognizer, max_upload_bytes=LIMIT, torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        yield c


def test_oversize_body_with_content_length(small_client, clips):
    big = clips["wav"].read_bytes()  # 1 s of 16 kHz float wav: 64 KB
    response = small_client.post("/v1/predict", content=big, headers={"content-type": "audio/wav"})
    assert "limit" in assert_error(response, 413, "upload_too_large")
    assert_error(small_client.post("/v1/predict", files=multipart(clips["wav"])), 413, "upload_too_large")


def test_oversize_body_without_content_length(small_client, clips):
    big = clips["wav"].read_bytes()

    def chunks():  # a generator body is sent chunked, with no Content-Length
        for i in range(0, len(big), 1024):
            yield big[i:i + 1024]

    response = small_client.post("/v1/predict", content=chunks(), headers={"content-type": "audio/wav"})
    assert response.request.headers.get("content-length") is None
    assert_error(response, 413, "upload_too_large")


def test_lying_content_length_is_caught_while_reading(small_client, clips):
    big = clips["wav"].read_bytes()
    status, body = asyncio.run(asgi_post(small_client.app, "/v1/predict", big,
                                         [(b"content-type", b"audio/wav"), (b"content-length", b"100")]))
    assert status == 413 and body["error"]["code"] == "upload_too_large"


def test_upload_under_the_limit_passes(small_client, tmp_path):
    path = tmp_path / "small.flac"  # 0.5 s of flac fits in 8 KB
    x = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16_000)
    sf.write(str(path), x.astype(np.float32), 16_000, subtype="PCM_16")
    assert path.stat().st_size < LIMIT
    assert small_client.post("/v1/predict", **raw(path, "audio/flac")).status_code == 200


async def asgi_post(app, path: str, body: bytes, headers: list) -> tuple[int, dict]:
    """POST straight to the ASGI app, in 1 KB chunks, with exactly ``headers``."""
    chunks = [body[i:i + 1024] for i in range(0, len(body), 1024)]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 1234),
             "server": ("testserver", 80)}
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(payload)


# --- concurrency ------------------------------------------------------------------------

def test_concurrent_requests_all_succeed_alike(client, clips):
    from concurrent.futures import ThreadPoolExecutor

    def post(i: int):
        if i % 2:
            return client.post("/v1/predict", files=multipart(clips["wav"]))
        return client.post("/v1/predict", **raw(clips["wav"]))

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(16)))
    assert [r.status_code for r in responses] == [200] * 16
    assert all(r.json() == responses[0].json() for r in responses)


class GatedRecognizer:
    """A recognizer whose predict waits for a gate: shows whether the server stays responsive."""

    def __init__(self, inner):
        self._inner = inner
        self.entered = threading.Event()
        self.gate = threading.Event()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def predict(self, *args, **kwargs):
        self.entered.set()
        assert self.gate.wait(timeout=30), "the gate was never opened"
        return self._inner.predict(*args, **kwargs)


def test_a_running_prediction_does_not_block_other_requests(recognizer, clips):
    gated = GatedRecognizer(recognizer)
    app = create_app({"tiny": gated}, torch_threads=None, warm_up=False)
    with TestClient(app) as c:
        result = {}
        worker = threading.Thread(target=lambda: result.update(
            r=c.post("/v1/predict", files=multipart(clips["wav"]))))
        worker.start()
        try:
            assert gated.entered.wait(timeout=30)
            # The prediction is now parked in a worker thread; the event loop must still answer.
            assert c.get("/health").status_code == 200
        finally:
            gated.gate.set()
            worker.join(timeout=30)
    assert result["r"].status_code == 200


# --- construction, settings, factory, command line --------------------------------------

def test_create_app_rejects_bad_limits_and_no_models(recognizer):
    with pytest.raises(ConfigError, match="upload limit"):
        create_app(recognizer, max_upload_bytes=0, warm_up=False)
    with pytest.raises(ConfigError, match="duration cap"):
        create_app(recognizer, max_duration_s=-1, warm_up=False)
    with pytest.raises(ConfigError, match="at least one model"):
        create_app({}, warm_up=False)


def test_settings_round_trip_through_the_environment():
    settings = ServerSettings(models=("a", "/b/c"), max_upload_bytes=1234, max_duration_s=None)
    assert ServerSettings.from_env(settings.to_env()) == settings
    assert ServerSettings.from_env({}) == ServerSettings()
    with pytest.raises(ConfigError, match="SERKIT_SERVE_MAX_UPLOAD_BYTES"):
        ServerSettings.from_env({"SERKIT_SERVE_MAX_UPLOAD_BYTES": "lots"})


def test_app_from_env_serves_the_configured_model(monkeypatch, tiny_bundle, clips):
    monkeypatch.setenv("SERKIT_SERVE_MODEL", str(tiny_bundle))
    monkeypatch.setenv("SERKIT_SERVE_MAX_DURATION_S", "2")
    with TestClient(app_from_env()) as c:
        assert c.get("/health").json()["models"] == ["tiny"]
        assert c.post("/v1/predict", files=multipart(clips["wav"])).status_code == 200
        message = assert_error(c.post("/v1/predict", files=multipart(clips["3s"])), 400,
                               "invalid_audio", tiny_bundle)
        assert "2 s cap" in message


@pytest.mark.parametrize("argv, words", [
    (["--model", "no-such-model"], "unknown model 'no-such-model'"),
    (["--port", "0"], "--port"),
    (["--workers", "0"], "--workers"),
    (["--max-upload-mb", "-1"], "--max-upload-mb"),
])
def test_serve_command_bad_arguments(capsys, argv, words):
    from serkit.cli import main

    assert main(["serve", "--port", str(free_port()), *argv]) == 2  # a later --port wins
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("serkit: error:") and words in err
    assert "Traceback" not in err


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_refuses_a_port_in_use(capsys, tiny_bundle):
    import socket

    from serkit.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--model", str(tiny_bundle), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_serve_command_with_workers_hands_uvicorn_the_factory(monkeypatch, tiny_bundle, clips):
    import uvicorn

    from serkit.cli import main
    from serkit.server import settings

    for var in (settings.MODEL_VAR, settings.MAX_UPLOAD_VAR, settings.MAX_DURATION_VAR,
                settings.MAX_CONCURRENCY_VAR, settings.MAX_QUEUE_VAR, settings.REQUEST_TIMEOUT_VAR,
                settings.MAX_BATCH_FILES_VAR, settings.MAX_BATCH_BYTES_VAR):
        monkeypatch.setenv(var, "restored after the test")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    assert main(["serve", "--model", str(tiny_bundle), "--workers", "3", "--port", str(free_port()),
                 "--max-upload-mb", "1", "--max-duration-s", "2"]) == 0
    (app, options), = calls
    assert app == "serkit.server:app_from_env"
    assert options["factory"] is True and options["workers"] == 3
    # What each worker process does with the environment the command left for it:
    assert ServerSettings.from_env() == ServerSettings((str(tiny_bundle),), 2**20, 2.0)
    with TestClient(app_from_env()) as c:
        assert c.post("/v1/predict", files=multipart(clips["wav"])).json()["model"] == "tiny"


def test_serve_command_stops_quietly_on_ctrl_c(monkeypatch, tiny_bundle):
    import uvicorn

    from serkit.cli import main

    def interrupted(app, **options):
        assert app.title == "serkit"  # one worker: the app itself, models loaded
        raise KeyboardInterrupt

    monkeypatch.setattr(uvicorn, "run", interrupted)
    assert main(["serve", "--model", str(tiny_bundle), "--port", str(free_port())]) == 0


def test_check_models_reads_bundles_without_loading_them(tiny_bundle, tmp_path):
    from serkit.server import check_models

    assert check_models([str(tiny_bundle)]) == ["tiny"]
    with pytest.raises(ConfigError, match="both named 'tiny'"):
        check_models([str(tiny_bundle), str(tiny_bundle)])
    with pytest.raises(ConfigError, match="not a model bundle"):
        check_models([str(tmp_path)])


def test_missing_serve_extra_names_the_install_command(monkeypatch):
    from serkit.server import requirements

    monkeypatch.setattr(requirements, "find_spec",
                        lambda name: None if name == "uvicorn" else object())
    with pytest.raises(MissingDependencyError, match=r'uvicorn.*pip install "serkit\[serve\]"'):
        requirements.check_serve_extra()
