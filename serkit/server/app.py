"""The FastAPI application: ``create_app(recognizer or {name: recognizer}) -> FastAPI``.

Endpoints (all answers JSON; errors ``{"error": {"code", "message"}}``, see errors.py):

- ``POST /v1/predict``  audio → label, probabilities, duration, model
- ``POST /v1/predict/batch`` several clips (multipart, field ``files`` repeated) → each
  one's prediction or error, in order; ``?adapt=true`` standardises on their statistics
- ``POST /v1/timeline`` audio → windows and segments over time (``window``, ``hop`` seconds)
- ``WS /v1/stream``     live audio chunks → timeline windows as they complete, then the summary (stream.py)
- ``GET /v1/models``    the served models
- ``GET /health``       liveness, the served model names and the load (admission.py)
- ``GET /docs``, ``GET /redoc``, ``GET /openapi.json``  the interactive docs (served
  offline, docs.py) and the schema

Audio comes as a multipart upload (field ``file``) or as the raw body with an audio
Content-Type (a batch: multipart only); the POST endpoints take ``?model=NAME`` (default:
the first model); the predict endpoints take ``?top_k=K`` (also answer the K most probable
labels, most probable first). They are under admission control (:mod:`serkit.server.admission`): a
bounded number run at once, a bounded number wait, the rest get 503 with Retry-After, and
each request has a time limit (a batch takes one slot, and its time limit covers all its
clips). The GET endpoints answer from memory and are never throttled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import RedirectResponse

from serkit.inference.timeline import Segmenting
from serkit.server.admission import Admission, resolve_limits
from serkit.server.docs import install_docs
from serkit.server.errors import install_error_handlers
from serkit.server.schemas import (
    BatchOut,
    ErrorOut,
    HealthOut,
    ModelOut,
    PredictionOut,
    TimelineOut,
)
from serkit.server.service import ModelService
from serkit.server.settings import (
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_BATCH_FILES,
    DEFAULT_MAX_DURATION_S,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_REQUEST_TIMEOUT_S,
    ServerSettings,
    check_admission,
    check_batch_limits,
    check_limits,
    load_models,
)
from serkit.server.stream import MAX_WINDOW_S, MIN_HOP_S, stream_router
from serkit.server.upload import (
    BATCH_FIELD,
    MULTIPART,
    RAW_AUDIO_TYPES,
    read_upload,
    read_uploads,
)

if TYPE_CHECKING:
    from serkit.inference import Recognizer

#: The request body of the POST endpoints, for the OpenAPI schema: the endpoints read the
#: body themselves (to enforce the size limit while reading), so FastAPI cannot infer it.
_BINARY = {"type": "string", "format": "binary"}
AUDIO_BODY = {"requestBody": {"required": True, "content": {
    MULTIPART: {"schema": {"type": "object", "required": ["file"],
                           "properties": {"file": {**_BINARY, "description": "wav, flac or ogg"}}}},
    **{media_type: {"schema": _BINARY} for media_type in RAW_AUDIO_TYPES},
}}}
BATCH_BODY = {"requestBody": {"required": True, "content": {
    MULTIPART: {"schema": {"type": "object", "required": [BATCH_FIELD], "properties": {
        BATCH_FIELD: {"type": "array", "items": _BINARY,
                      "description": "the clips (wav, flac or ogg), one file per field"}}}},
}}}
AUDIO_ERRORS = {
    400: {"model": ErrorOut, "description": "the audio cannot be used (corrupt, not audio, "
          "silent, too short, too long), or no file was sent"},
    404: {"model": ErrorOut, "description": "no model of that name on this server"},
    413: {"model": ErrorOut, "description": "the upload is larger than the server's limit"},
    415: {"model": ErrorOut, "description": "the Content-Type is neither multipart nor audio"},
    408: {"model": ErrorOut, "description": "the upload did not arrive within the time limit"},
    422: {"model": ErrorOut, "description": "a query parameter is invalid"},
    503: {"model": ErrorOut, "description": "the server is at capacity, or the request waited "
          "its time limit for a free slot; retry after the seconds in the Retry-After header"},
    504: {"model": ErrorOut, "description": "the prediction did not finish within the time limit"},
}
BATCH_ERRORS = {
    **AUDIO_ERRORS,
    400: {"model": ErrorOut, "description": "no file in the form field 'files', or a malformed "
          "multipart body (a clip that cannot be used gets its own error entry instead)"},
    413: {"model": ErrorOut, "description": "the request is larger than the server's batch "
          "limit, or has more files than it allows"},
    415: {"model": ErrorOut, "description": "the Content-Type is not multipart/form-data"},
    422: {"model": ErrorOut, "description": "a query parameter is invalid, or adapt=true with a "
          "model that reads unstandardised features"},
}
API_DESCRIPTION = (
    "Send audio (wav, flac or ogg) as a multipart upload in the form field `file`, or as the "
    "raw body with `Content-Type: audio/wav` (or audio/flac, audio/ogg, "
    "application/octet-stream). Several clips go to `/v1/predict/batch` as a multipart upload, "
    "one file per form field `files`. Errors are JSON `{\"error\": {\"code\", \"message\"}}`.")
MODEL_QUERY = Query(None, description="name of a served model (GET /v1/models); default: the first")
TOP_K_QUERY = Query(None, description="also answer the K most probable labels with their "
                    "probabilities as top_k, most probable first (1 to the model's number of labels)")


def create_app(
    models: Recognizer | Mapping[str, Recognizer],
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S,
    max_concurrency: int | None = None,
    max_queue: int | None = None,
    request_timeout_s: float | None = DEFAULT_REQUEST_TIMEOUT_S,
    torch_threads: int | None = 1,
    warm_up: bool = True,
    max_batch_files: int = DEFAULT_MAX_BATCH_FILES,
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
) -> FastAPI:
    """The HTTP API serving ``models``.

    Args:
        models: one Recognizer (served under its ``name``) or ``{name: Recognizer}``; the
            first is the default model.
        max_upload_bytes: largest request body accepted (413 above it), and largest file
            of a batch (an error entry for that file above it).
        max_duration_s: longest audio accepted (400 above it); None for no cap.
        max_concurrency: predictions run at once (None: the cores available to the process).
        max_queue: requests admitted to wait for a slot; more get 503 with Retry-After at
            once (None: 4 per concurrent prediction; 0: none wait).
        request_timeout_s: time limit of a request from its admission (upload, wait and
            prediction); None for none. A prediction that overruns it is answered 504 but
            keeps its slot until it ends (a thread cannot be stopped).
        torch_threads: torch intra-op threads for this process (None leaves it). One
            thread per request keeps concurrent requests from fighting over the cores.
        warm_up: predict once per model now, so that the first request is not the one
            that pays the feature pipeline's one-off start-up cost (seconds).
        max_batch_files: most files in one ``POST /v1/predict/batch`` (413 above it).
        max_batch_bytes: largest request body of a batch (413 above it).

    Raises:
        ConfigError: no models, or a limit out of its range.

    Example:
        >>> from serkit.inference import load_model       # doctest: +SKIP
        >>> app = create_app(load_model("default"))        # doctest: +SKIP
        >>> # uvicorn.run(app) or fastapi.testclient.TestClient(app)
    """
    check_limits(max_upload_bytes, max_duration_s)
    check_admission(max_concurrency, max_queue, request_timeout_s)
    check_batch_limits(max_batch_files, max_batch_bytes)
    admission = Admission(*resolve_limits(max_concurrency, max_queue), request_timeout_s)
    service = ModelService(_by_name(models), max_duration_s=max_duration_s)
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    if warm_up:
        service.warm_up()
    from serkit import __version__

    # docs_url/redoc_url None: FastAPI's own pages load from a CDN; docs.py serves local copies.
    app = FastAPI(title="serkit", version=__version__,
                  summary="Speech emotion recognition over HTTP",
                  description=API_DESCRIPTION, docs_url=None, redoc_url=None)
    install_docs(app)
    app.state.service = service
    app.state.admission = admission
    install_error_handlers(app)
    app.include_router(_routes(service, admission, max_upload_bytes, max_batch_files,
                               max_batch_bytes))
    app.include_router(stream_router(service, max_message_bytes=max_upload_bytes))  # /v1/stream
    return app


def _by_name(models) -> dict[str, Recognizer]:
    if isinstance(models, Mapping):
        return dict(models)
    return {models.name: models}


def _routes(service: ModelService, admission: Admission, max_upload_bytes: int,
            max_batch_files: int, max_batch_bytes: int) -> APIRouter:
    router = APIRouter()

    # exclude_unset: top_k is in an answer only when the request asked for it.
    @router.post("/v1/predict", response_model=PredictionOut, responses=AUDIO_ERRORS,
                 openapi_extra=AUDIO_BODY, summary="Recognise the emotion in a clip",
                 response_model_exclude_unset=True)
    async def predict(request: Request, model: str | None = MODEL_QUERY,
                      top_k: int | None = TOP_K_QUERY) -> dict:
        """The most probable emotion of the whole clip and each label's probability."""
        name = service.resolve(model)  # before reading: an unknown model costs no upload
        service.check_top_k(name, top_k)
        return await admission.run(lambda: read_upload(request, max_upload_bytes),
                                   lambda upload: service.predict(name, upload, top_k=top_k))

    @router.post("/v1/predict/batch", response_model=BatchOut, responses=BATCH_ERRORS,
                 openapi_extra=BATCH_BODY, summary="Recognise the emotion in several clips",
                 response_model_exclude_unset=True)
    async def predict_batch(
        request: Request,
        model: str | None = MODEL_QUERY,
        adapt: bool = Query(False, description="standardise the features on the statistics of "
                            "this request's usable clips instead of the training data's: for "
                            "clips of one recording set-up the model has not heard (30 or more; "
                            "fewer get a warning). Nothing is kept between requests"),
        top_k: int | None = TOP_K_QUERY,
    ) -> dict:
        """Each clip's prediction, in upload order; a clip that cannot be used gets an error
        entry (the code /v1/predict would answer) and the others are still predicted."""
        name = service.resolve(model)
        service.check_top_k(name, top_k)
        return await admission.run(
            lambda: read_uploads(request, max_file_bytes=max_upload_bytes,
                                 max_total_bytes=max_batch_bytes, max_files=max_batch_files),
            lambda uploads: service.predict_batch(name, uploads, adapt=adapt, top_k=top_k))

    @router.post("/v1/timeline", response_model=TimelineOut, responses=AUDIO_ERRORS,
                 openapi_extra=AUDIO_BODY, summary="Emotion over time in a recording")
    async def timeline(
        request: Request,
        model: str | None = MODEL_QUERY,
        window: float = Query(3.0, gt=0, le=MAX_WINDOW_S, description="window length in seconds"),
        hop: float = Query(1.0, ge=MIN_HOP_S, le=MAX_WINDOW_S, description="seconds between window starts "
                           "(at most the window)"),
        smoothing: str = Query("median", description="how window labels are smoothed: median, "
                               "mean, viterbi or none"),
        smooth_windows: int = Query(5, description="windows the median or mean runs over (odd)"),
        switch_penalty: float = Query(4.0, description="what a change of label costs the viterbi "
                                      "path, in nats"),
        min_segment: float = Query(2.0, description="seconds: shorter emotion segments are folded "
                                   "into a neighbour (0 keeps them all)"),
        vad: str = Query("energy", description="speech detection: energy, or none (all speech)"),
    ) -> dict:
        """Predictions on overlapping windows, the smoothed segments of one label they make
        (non-speech ones apart) and the share of the speech time each label holds."""
        name = service.resolve(model)
        # Checked before the upload is read: a bad option costs no upload (400 ConfigError).
        segmenting = Segmenting(smoothing=smoothing, smooth_windows=smooth_windows,
                                switch_penalty=switch_penalty, min_segment_s=min_segment, vad=vad)
        return await admission.run(
            lambda: read_upload(request, max_upload_bytes),
            lambda upload: service.timeline(name, upload, window_s=window, hop_s=hop,
                                            segmenting=segmenting))

    # These answer from memory: async, so they never queue behind predictions for a thread.
    @router.get("/v1/models", response_model=list[ModelOut], summary="The served models")
    async def models() -> list[dict]:
        """Name, labels, sample rate and description of each model this server answers with."""
        return service.describe()

    @router.get("/health", response_model=HealthOut, summary="Liveness check and load")
    async def health() -> dict:
        """``ok`` once the models are loaded (the server listens only then), and the load of
        this worker process: its limits, what runs and waits now, and counts since start."""
        return {"status": "ok", "models": list(service.models), "load": admission.snapshot()}

    @router.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return router


def app_from_settings(settings: ServerSettings):
    """The FastAPI app for ``settings``, its models loaded."""
    return create_app(load_models(settings.models), max_upload_bytes=settings.max_upload_bytes,
                      max_duration_s=settings.max_duration_s,
                      max_concurrency=settings.max_concurrency, max_queue=settings.max_queue,
                      request_timeout_s=settings.request_timeout_s,
                      max_batch_files=settings.max_batch_files,
                      max_batch_bytes=settings.max_batch_bytes)


def app_from_env():
    """The app factory for uvicorn (``uvicorn --factory serkit.server:app_from_env``)."""
    return app_from_settings(ServerSettings.from_env())
