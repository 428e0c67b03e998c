"""``/v1/stream``: a timeline of live audio over a WebSocket.

The conversation (every text message is JSON; ``?model=NAME`` picks a served model):

1. The client sends its config as a text message::

       {"sample_rate": 16000, "format": "float32", "window": 3.0, "hop": 1.0}

   ``sample_rate`` is required; ``format`` is ``"float32"`` (little-endian IEEE floats in
   [-1, 1], the default) or ``"int16"`` (little-endian 16-bit PCM); mono. Optional:
   ``window`` and ``hop`` (seconds; the bounds of ``/v1/timeline``), ``smoothing``,
   ``smooth_windows``, ``switch_penalty``, ``min_segment``, ``vad`` (as
   :meth:`serkit.inference.Recognizer.timeline` takes them).
2. The server answers ``{"type": "ready", "model", "labels", "sample_rate", "format",
   "window_s", "hop_s"}``.
3. The client sends the audio as binary messages of samples (any number of samples each,
   at most the server's upload limit in bytes). For each analysis window the audio
   completes, the server sends ``{"type": "window", "start_s", "end_s", "label",
   "probabilities", "speech"}`` at once: the windows ``POST /v1/timeline`` gives for the
   same audio.
4. The client sends ``{"type": "end"}``; the server sends the last window(s), then
   ``{"type": "summary", "model", "duration_s", "window_s", "hop_s", "segments",
   "summary", "segmenting"}`` (smoothed segments and the share of the speech time each
   label holds) and closes the connection normally (1000).

A bad config or message gets ``{"type": "error", "error": {"code", "message"}}`` and the
connection is closed with 1008 (1011 for a failure of the server itself); a client silent
for :data:`IDLE_TIMEOUT_S` is closed the same way. The model runs in the thread pool, one
chunk at a time per connection, so the event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import numbers

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from serkit.errors import AudioError, SerkitError
from serkit.server.errors import ApiError
from serkit.server.service import ModelService

log = logging.getLogger("serkit.server")

#: The sample formats of the binary messages: little-endian float32 or int16, mono.
FORMATS = {"float32": np.dtype("<f4"), "int16": np.dtype("<i2")}
#: Window and hop bounds, as ``POST /v1/timeline`` has them (seconds).
MAX_WINDOW_S = 60.0
MIN_HOP_S = 0.1
#: A client that sends nothing for this long is disconnected.
IDLE_TIMEOUT_S = 60.0
#: The config keys and the Recognizer.open_stream option each sets.
OPTIONS = {"window": "window_s", "hop": "hop_s", "smoothing": "smoothing",
           "smooth_windows": "smooth_windows", "switch_penalty": "switch_penalty",
           "min_segment": "min_segment_s", "vad": "vad"}
#: Close codes: a client's mistake (policy violation), and the server's own failure.
CLIENT_ERROR, SERVER_ERROR = 1008, 1011


class StreamError(Exception):
    """A message the stream refuses: sent to the client as an error, then the connection closes."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def stream_router(service: ModelService, *, max_message_bytes: int) -> APIRouter:
    """The router of ``/v1/stream`` for the models of ``service``; binary messages over
    ``max_message_bytes`` are refused."""
    router = APIRouter()

    @router.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await _converse(websocket, service, max_message_bytes)
        except WebSocketDisconnect:
            return  # the client left: nothing to answer
        except StreamError as exc:
            await _refuse(websocket, exc.code, exc.message, CLIENT_ERROR)
        except Exception:
            log.exception("/v1/stream failed")
            await _refuse(websocket, "internal_error", "the server failed on this stream; its log "
                          "has the details", SERVER_ERROR)

    return router


async def _converse(websocket: WebSocket, service: ModelService, max_message_bytes: int) -> None:
    try:
        name = service.resolve(websocket.query_params.get("model"))
    except ApiError as exc:
        raise StreamError(exc.code, exc.message) from None
    recognizer = service.models[name]
    config = parse_config(await _receive(websocket, "the config"))
    dtype = FORMATS[config.pop("format")]
    rate = config.pop("sample_rate")
    try:
        live = recognizer.open_stream(rate, name="<stream>", batch_size=1,
                                      max_duration_s=service.limits.max_duration_s, **config)
    except SerkitError as exc:
        raise StreamError("invalid_config", f"config: {exc}") from None
    await websocket.send_json({"type": "ready", "model": name, "labels": list(recognizer.labels),
                               "sample_rate": rate, "format": dtype.name,
                               "window_s": live.window_s, "hop_s": live.hop_s})
    while True:
        message = await _receive(websocket, "audio or {\"type\": \"end\"}")
        if message.get("bytes") is not None:
            data = message["bytes"]
            if len(data) > max_message_bytes:
                raise StreamError("message_too_large", f"a binary message of {len(data)} bytes is "
                                  f"over the server's limit of {max_message_bytes}; send smaller chunks")
            await _send_windows(websocket, await _audio(live.feed, decode_chunk(data, dtype)))
            continue
        _expect_end(message.get("text"))
        await _send_windows(websocket, await _audio(live.finish_windows))
        timeline = (await _audio(live.finish)).to_dict()
        del timeline["windows"]  # the client has them, one message each
        await websocket.send_json({"type": "summary", "model": name, **timeline})
        await websocket.close(1000)
        return


async def _receive(websocket: WebSocket, what: str) -> dict:
    """The next message, or StreamError when the client stays silent too long."""
    try:
        message = await asyncio.wait_for(websocket.receive(), IDLE_TIMEOUT_S)
    except TimeoutError:
        raise StreamError("timeout", f"nothing received for {IDLE_TIMEOUT_S:g} s; expected {what}") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return message


async def _audio(call, *args):
    """``call(*args)`` in the thread pool; the audio's faults become StreamErrors."""
    try:
        return await run_in_threadpool(call, *args)
    except AudioError as exc:
        raise StreamError("invalid_audio", str(exc)) from None


async def _send_windows(websocket: WebSocket, windows) -> None:
    for window in windows:
        await websocket.send_json({"type": "window", **window.to_dict()})


async def _refuse(websocket: WebSocket, code: str, message: str, close_code: int) -> None:
    """Send the error and close, unless the client is already gone."""
    try:
        await websocket.send_json({"type": "error", "error": {"code": code, "message": message}})
        await websocket.close(close_code)
    except (WebSocketDisconnect, RuntimeError):
        pass


def parse_config(message: dict) -> dict:
    """The options of a config message: ``sample_rate``, ``format`` and the
    :data:`OPTIONS` given, named as :meth:`Recognizer.open_stream` takes them.

    Raises:
        StreamError: not a JSON object, unknown keys, a missing or bad sample rate or format,
            or a window or hop out of the bounds of ``/v1/timeline``.
    """
    text = message.get("text")
    if text is None:
        raise StreamError("invalid_config", "the first message must be the config, as JSON text "
                          "(e.g. {\"sample_rate\": 16000, \"format\": \"float32\"}), not audio")
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        raise StreamError("invalid_config", "the config is not JSON; send e.g. "
                          "{\"sample_rate\": 16000, \"format\": \"float32\"}") from None
    if not isinstance(config, dict):
        raise StreamError("invalid_config", "the config must be a JSON object")
    if config.pop("type", "config") != "config":
        raise StreamError("invalid_config", "the first message must be the config (type \"config\")")
    unknown = sorted(set(config) - {"sample_rate", "format", *OPTIONS})
    if unknown:
        raise StreamError("invalid_config", f"unknown config key(s) {', '.join(unknown)}; known: "
                          f"sample_rate, format, {', '.join(OPTIONS)}")
    if "sample_rate" not in config:
        raise StreamError("invalid_config", "the config needs sample_rate, the rate of the audio "
                          "in Hz (e.g. 16000)")
    fmt = config.get("format", "float32")
    if fmt not in FORMATS:
        raise StreamError("invalid_config", f"format must be one of {', '.join(FORMATS)} "
                          f"(little-endian, mono), not {fmt!r}")
    out = {"sample_rate": config["sample_rate"], "format": fmt}
    out.update({OPTIONS[key]: value for key, value in config.items() if key in OPTIONS})
    _check_bounds(out.get("window_s", 3.0), out.get("hop_s", 1.0))
    return out


def _check_bounds(window: object, hop: object) -> None:
    for key, value, low, ok in (("window", window, 0.0, lambda v: 0 < v <= MAX_WINDOW_S),
                                ("hop", hop, MIN_HOP_S, lambda v: MIN_HOP_S <= v <= MAX_WINDOW_S)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
                or not ok(value):
            bound = "over 0" if key == "window" else f"at least {low:g}"
            raise StreamError("invalid_config", f"{key} must be a number of seconds {bound} and at "
                              f"most {MAX_WINDOW_S:g}, not {value!r}")


def decode_chunk(data: bytes, dtype: np.dtype) -> np.ndarray:
    """The samples of a binary message in the stream's format.

    Raises:
        StreamError: a length that is not a whole number of samples.
    """
    if len(data) % dtype.itemsize:
        raise StreamError("invalid_audio", f"a binary message of {len(data)} bytes is not a whole "
                          f"number of {dtype.name} samples ({dtype.itemsize} bytes each); check the "
                          "format in the config")
    return np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="))


def _expect_end(text: str | None) -> None:
    try:
        message = json.loads(text or "")
    except json.JSONDecodeError:
        message = None
    if not (isinstance(message, dict) and message.get("type") == "end"):
        raise StreamError("invalid_message", "text messages after the config must be "
                          "{\"type\": \"end\"}; send audio as binary messages")
