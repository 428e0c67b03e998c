"""Streaming timelines: Recognizer.stream / open_stream and the /v1/stream WebSocket.

The audio is a file cut into chunks (no microphone); what a stream gives must be what
Recognizer.timeline gives for the whole recording.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from serkit.errors import AudioError, ConfigError
from serkit.inference import load_model
from serkit.inference.timeline import NON_SPEECH

RATE = 16_000


@pytest.fixture(scope="module")
def recognizer(tiny_bundle):
    return load_model(tiny_bundle)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs torch on one thread."""


def recording(seconds_of_tone: float = 2.5, rate: int = RATE) -> np.ndarray:
    """Tone, 1.5 s of silence, a higher tone: 2 * seconds_of_tone + 1.5 s."""
    t = np.arange(int(seconds_of_tone * rate)) / rate
    a = 0.3 * np.sin(2 * np.pi * 180 * t * (1 + 0.3 * t))
    b = 0.2 * np.sin(2 * np.pi * 420 * t) + 0.05 * np.sin(2 * np.pi * 1300 * t)
    return np.concatenate([a, np.zeros(int(1.5 * rate)), b]).astype(np.float32)


def chunked(signal: np.ndarray, sizes) -> list[np.ndarray]:
    """``signal`` in chunks of the sizes in ``sizes``, cycled."""
    out, i, k = [], 0, 0
    while i < signal.size:
        out.append(signal[i:i + sizes[k % len(sizes)]])
        i += sizes[k % len(sizes)]
        k += 1
    return out


@pytest.mark.parametrize("sizes", [[160], [1234, 7, 40_000], [10**6]])
def test_stream_windows_are_the_offline_windows(recognizer, sizes):
    signal = recording()
    offline = recognizer.timeline(signal, window_s=1.0, hop_s=0.4, sample_rate=RATE, batch_size=1)
    live = recognizer.open_stream(RATE, window_s=1.0, hop_s=0.4, batch_size=1)
    got = []
    for chunk in chunked(signal, sizes):
        got += live.feed(chunk)
    got += live.finish_windows()
    assert got == offline.windows          # identical: same windows, same batch size
    assert live.finish() == offline        # and the same segments and summary
    assert NON_SPEECH in {s.label for s in offline.segments}


def test_each_window_comes_as_soon_as_its_audio_is_complete(recognizer):
    signal = recording()
    live = recognizer.open_stream(RATE, window_s=1.0, hop_s=0.4)
    received = 0
    for chunk in chunked(signal, [800]):  # 50 ms
        received += chunk.size
        for window in live.feed(chunk):
            # Its end is in this chunk: no window waits for more audio than it needs.
            assert received - chunk.size < round(window.end_s * RATE) <= received
    # The window that ends at the end (the last regular one ends at 6.2 s) waits for it.
    last = live.finish_windows()
    assert [(w.start_s, w.end_s) for w in last] == [(5.5, 6.5)]
    assert live.finish_windows() == []


def test_recognizer_stream_yields_the_offline_windows(recognizer):
    """Batched forward passes on both sides: equal to float rounding."""
    signal = recording()
    offline = recognizer.timeline(signal, window_s=1.0, hop_s=0.5, sample_rate=RATE)
    got = list(recognizer.stream(iter(chunked(signal, [3_000])), sample_rate=RATE, window_s=1.0,
                                 hop_s=0.5))
    assert [(w.start_s, w.end_s, w.label, w.speech) for w in got] == \
        [(w.start_s, w.end_s, w.label, w.speech) for w in offline.windows]
    for a, b in zip(got, offline.windows):
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)


def test_stream_at_another_rate_int16_and_stereo(recognizer):
    """44.1 kHz int16 stereo chunks: resampled as open_audio resamples an array."""
    rate = 44_100
    mono = recording(rate=rate)
    pcm = np.round(np.stack([mono, mono * 0.5], axis=1) * 32767).astype(np.int16)
    offline = recognizer.timeline(pcm, window_s=1.0, hop_s=0.5, sample_rate=rate, batch_size=1)
    live = recognizer.open_stream(rate, window_s=1.0, hop_s=0.5, batch_size=1)
    got = [w for chunk in chunked(pcm, [4_410, 999]) for w in live.feed(chunk)] + live.finish_windows()
    assert [(w.start_s, w.end_s, w.label) for w in got] == [(w.start_s, w.end_s, w.label) for w in offline.windows]
    for a, b in zip(got, offline.windows):
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)
    assert live.finish().duration_s == offline.duration_s


@pytest.mark.parametrize("chunk, message", [
    (np.zeros(100, np.uint8), "chunks must hold float samples in \\[-1, 1\\] or int16 PCM, not uint8"),
    (np.zeros(100, np.int32), "not int32"),
    ([0.0, 0.1], "a chunk must be a numpy array of samples, not list"),
    (np.zeros((2, 2, 2), np.float32), "not shape \\(2, 2, 2\\)"),
    (np.array([0.1, np.nan], np.float32), "NaN"),
])
def test_bad_chunks_are_audio_errors(recognizer, chunk, message):
    live = recognizer.open_stream(RATE)
    with pytest.raises(AudioError, match=message):
        live.feed(chunk)


def test_bad_stream_options_are_config_errors(recognizer):
    with pytest.raises(ConfigError, match="hop_s must be positive and at most window_s"):
        recognizer.open_stream(RATE, window_s=1.0, hop_s=2.0)
    with pytest.raises(ConfigError, match="sample_rate must be a whole number of Hz"):
        recognizer.open_stream(16_000.5)
    with pytest.raises(ConfigError, match="min_segment_s"):
        recognizer.open_stream(RATE, min_segment_s=-2)


def test_too_short_silent_too_long_and_finished_streams(recognizer):
    short = recognizer.open_stream(RATE)
    short.feed(recording()[:1_000])
    with pytest.raises(AudioError, match="shorter than the 0.25 s"):
        short.finish()
    silent = recognizer.open_stream(RATE)
    silent.feed(np.zeros(RATE, np.float32))
    with pytest.raises(AudioError, match="silent"):
        silent.finish()
    capped = recognizer.open_stream(RATE, max_duration_s=2.0)
    capped.feed(recording()[:RATE])
    with pytest.raises(AudioError, match="longer than the 2 s limit"):
        capped.feed(recording()[:RATE + 100])
    done = recognizer.open_stream(RATE)
    done.feed(recording())
    done.finish()
    with pytest.raises(AudioError, match="the stream is finished"):
        done.feed(recording())


# --- the WebSocket --------------------------------------------------------------------------

fastapi = pytest.importorskip("fastapi")


@pytest.fixture(scope="module")
def client(recognizer):
    from fastapi.testclient import TestClient

    from serkit.server import create_app

    with TestClient(create_app(recognizer, max_upload_bytes=64_000, torch_threads=None)) as c:
        yield c


def converse(ws, config: dict, chunks: list[bytes]) -> tuple[dict, list[dict], dict]:
    """Send the config, the chunks and "end"; the ready message, windows and summary."""
    ws.send_text(json.dumps(config))
    ready = ws.receive_json()
    windows = []
    for chunk in chunks:
        ws.send_bytes(chunk)
    ws.send_text(json.dumps({"type": "end"}))
    while True:
        message = ws.receive_json()
        if message["type"] != "window":
            return ready, windows, message
        windows.append(message)


def test_websocket_stream_of_a_chunked_file_is_the_offline_timeline(client, recognizer, tmp_path):
    path = tmp_path / "call.flac"
    sf.write(path, recording(), RATE, subtype="PCM_16")
    pcm = sf.read(path, dtype="int16")[0]
    offline = recognizer.timeline(path, window_s=1.0, hop_s=0.5, batch_size=1)
    with client.websocket_connect("/v1/stream") as ws:
        ready, windows, summary = converse(
            ws, {"sample_rate": RATE, "format": "int16", "window": 1.0, "hop": 0.5},
            [c.astype("<i2").tobytes() for c in chunked(pcm, [1_600, 5_000])])
    assert ready == {"type": "ready", "model": recognizer.name, "labels": recognizer.labels,
                     "sample_rate": RATE, "format": "int16", "window_s": 1.0, "hop_s": 0.5}
    assert windows == [{"type": "window", **w.to_dict()} for w in offline.windows]
    expected = offline.to_dict()
    del expected["windows"]
    assert summary == json.loads(json.dumps({"type": "summary", "model": recognizer.name, **expected}))
    assert sum(summary["summary"]["shares"].values()) == pytest.approx(1.0)


def test_websocket_float32_with_options(client, recognizer):
    signal = recording()
    with client.websocket_connect("/v1/stream") as ws:
        _, windows, summary = converse(
            ws, {"type": "config", "sample_rate": RATE, "window": 2.0, "hop": 1.0, "smoothing": "viterbi",
                 "min_segment": 0.5, "vad": "none"},
            [c.astype("<f4").tobytes() for c in chunked(signal, [8_000])])
    assert [(w["start_s"], w["end_s"]) for w in windows] == [(0, 2), (1, 3), (2, 4), (3, 5), (4, 6), (4.5, 6.5)]
    assert summary["segmenting"]["smoothing"] == "viterbi" and summary["summary"]["non_speech_s"] == 0


@pytest.mark.parametrize("config, message", [
    ("not json", "the config is not JSON"),
    (json.dumps([16_000]), "the config must be a JSON object"),
    (json.dumps({"format": "int16"}), "the config needs sample_rate"),
    (json.dumps({"sample_rate": RATE, "format": "mp3"}), "format must be one of float32, int16"),
    (json.dumps({"sample_rate": RATE, "rate": 1}), "unknown config key(s) rate"),
    (json.dumps({"sample_rate": RATE, "window": 120}), "window must be a number of seconds over 0 and at most 60"),
    (json.dumps({"sample_rate": RATE, "window": 1, "hop": 0.01}), "hop must be a number of seconds at least 0.1"),
    (json.dumps({"sample_rate": RATE, "window": 1, "hop": 2}), "hop_s must be positive and at most window_s"),
    (json.dumps({"sample_rate": "fast"}), "sample_rate must be a whole number of Hz"),
    (json.dumps({"sample_rate": RATE, "smoothing": "hmm"}), "unknown smoothing 'hmm'"),
])
def test_bad_config_is_a_json_error_and_a_clean_close(client, config, message):
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(config)
        answer = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert answer["type"] == "error" and answer["error"]["code"] == "invalid_config"
    assert message in answer["error"]["message"]
    assert closed.value.code == 1008


@pytest.mark.parametrize("send, code, message", [
    (lambda ws: ws.send_bytes(b"\x00" * 7), "invalid_audio", "7 bytes is not a whole number of float32 samples"),
    (lambda ws: ws.send_bytes(np.full(4, np.inf, "<f4").tobytes()), "invalid_audio", "NaN or infinite"),
    (lambda ws: ws.send_bytes(b"\x00" * 64_004), "message_too_large", "over the server's limit of 64000"),
    (lambda ws: ws.send_text("stop"), "invalid_message", "must be {\"type\": \"end\"}"),
    (lambda ws: ws.send_text(json.dumps({"type": "end"})), "invalid_audio", "shorter than the 0.25 s"),
])
def test_bad_messages_after_the_config(client, send, code, message):
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"sample_rate": RATE}))
        assert ws.receive_json()["type"] == "ready"
        send(ws)
        answer = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert answer == {"type": "error", "error": {"code": code, "message": answer["error"]["message"]}}
    assert message in answer["error"]["message"] and closed.value.code == 1008


def test_audio_before_the_config_and_an_unknown_model(client):
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/v1/stream") as ws:
        ws.send_bytes(b"\x00" * 8)
        answer = ws.receive_json()
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()
    assert "the first message must be the config" in answer["error"]["message"]
    with client.websocket_connect("/v1/stream?model=nope") as ws:
        answer = ws.receive_json()
    assert answer["error"]["code"] == "unknown_model" and "no model 'nope'" in answer["error"]["message"]


def test_a_real_server_streams_over_a_websocket(tiny_bundle, recognizer, tmp_path):
    """`serkit serve` on uvicorn and a `websockets` client: what a browser or a script meets
    (uvicorn serves WebSockets only with the websockets or wsproto package installed)."""
    pytest.importorskip("websockets")
    import asyncio

    from websockets.asyncio.client import connect

    from tests.test_server_uvicorn import (
        free_port,
        start_server,
        stop,
        wait_until_healthy,
    )

    signal = recording()
    port, log = free_port(), tmp_path / "server.log"
    proc = start_server(tiny_bundle, port, log)

    async def talk() -> list[dict]:
        async with connect(f"ws://127.0.0.1:{port}/v1/stream") as ws:
            await ws.send(json.dumps({"sample_rate": RATE, "window": 1.0, "hop": 0.5}))
            messages = [json.loads(await ws.recv())]
            for chunk in chunked(signal, [4_000]):
                await ws.send(chunk.astype("<f4").tobytes())
            await ws.send(json.dumps({"type": "end"}))
            messages += [json.loads(m) async for m in ws]  # until the server closes
            return messages

    try:
        wait_until_healthy(proc, f"http://127.0.0.1:{port}", log)
        messages = asyncio.run(asyncio.wait_for(talk(), 60))
    finally:
        stop(proc)
    offline = recognizer.timeline(signal, window_s=1.0, hop_s=0.5, sample_rate=RATE)
    assert messages[0]["type"] == "ready" and messages[-1]["type"] == "summary"
    windows = messages[1:-1]
    assert [(w["start_s"], w["label"]) for w in windows] == [(w.start_s, w.label) for w in offline.windows]
    assert messages[-1]["summary"]["speech_s"] == pytest.approx(offline.summary.speech_s)
