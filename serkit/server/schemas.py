"""The JSON bodies the HTTP API returns, as pydantic models (they also document /docs)."""

from __future__ import annotations

from pydantic import BaseModel, Field

TOP_K_DESCRIPTION = ("the top_k most probable labels as [label, probability] pairs, most "
                     "probable first; only when the request asked for ?top_k=K")


class PredictionOut(BaseModel):
    label: str = Field(description="the most probable emotion")
    probabilities: dict[str, float] = Field(
        description="probability of each label, in the model's label order; sums to 1")
    duration_s: float = Field(description="duration of the audio in seconds")
    model: str = Field(description="name of the model that answered")
    top_k: list[tuple[str, float]] | None = Field(None, description=TOP_K_DESCRIPTION)


class TimelineWindowOut(BaseModel):
    start_s: float
    end_s: float
    label: str = Field(description="the model's most probable label for this window (unsmoothed)")
    probabilities: dict[str, float]
    speech: float = Field(1.0, description="share of the window's 20 ms frames the energy "
                          "speech detector calls speech (1 without speech detection)")


class SegmentOut(BaseModel):
    start_s: float
    end_s: float
    label: str = Field(description="an emotion, or \"non-speech\" where the speech detector "
                       "finds none")
    confidence: float = Field(description="mean smoothed probability of the label over the "
                              "segment's windows (non-speech: the share of its frames without speech)")


class SummaryOut(BaseModel):
    speech_s: float = Field(description="seconds of speech (the emotion segments)")
    non_speech_s: float = Field(description="seconds of the non-speech segments")
    shares: dict[str, float] = Field(description="share of the speech time each label's segments "
                                     "cover, every label in the model's order; sums to 1 when "
                                     "there is speech")
    label: str | None = Field(description="the label with the largest share (null without speech)")


class SegmentingOut(BaseModel):
    smoothing: str = Field(description="median, mean, viterbi or none")
    smooth_windows: int
    switch_penalty: float
    min_segment_s: float = Field(description="shorter emotion segments are folded into a neighbour")
    vad: str = Field(description="speech detection: energy or none")


class TimelineOut(BaseModel):
    model: str
    duration_s: float
    window_s: float = Field(description="length of each analysis window in seconds")
    hop_s: float = Field(description="seconds between the starts of consecutive windows")
    windows: list[TimelineWindowOut] = Field(description="one prediction per analysis window")
    segments: list[SegmentOut] = Field(
        description="contiguous, non-overlapping segments covering the whole audio, made of the "
        "smoothed windows")
    summary: SummaryOut | None = Field(None, description="the whole recording as shares of its "
                                       "speech time, rather than one averaged prediction")
    segmenting: SegmentingOut | None = Field(None, description="how the windows became segments")


class ModelOut(BaseModel):
    name: str
    labels: list[str]
    sample_rate: int
    description: str


class LoadOut(BaseModel):
    """The admission limits of the worker process that answered, and its load."""

    max_concurrency: int = Field(description="predictions run at once, at most")
    max_queue: int = Field(description="requests that may wait for a slot; more get 503")
    request_timeout_s: float | None = Field(description="time limit of a request (none: null)")
    running: int = Field(description="predictions running now, abandoned ones included")
    abandoned: int = Field(description="predictions still running after their request timed "
                           "out (a thread cannot be stopped: each holds its slot until it ends)")
    queued: int = Field(description="requests admitted and waiting for a slot (or their upload)")
    admitted: int = Field(description="requests admitted since start")
    completed: int = Field(description="predictions ended since start (answered, failed or abandoned)")
    rejected: int = Field(description="requests refused with 503 at once since start (at capacity)")
    timed_out: int = Field(description="requests answered 408, 503 or 504 at their time limit")


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])
    models: list[str] = Field(description="names of the served models")
    load: LoadOut


class ErrorDetail(BaseModel):
    code: str = Field(description="short machine-readable code, e.g. invalid_audio",
                      examples=["invalid_audio"])
    message: str = Field(description="what is wrong and what to do about it")


class ErrorOut(BaseModel):
    error: ErrorDetail


class BatchPredictionOut(BaseModel):
    name: str = Field(description="the uploaded file's name (without folders)")
    label: str = Field(description="the most probable emotion")
    probabilities: dict[str, float] = Field(
        description="probability of each label, in the model's label order; sums to 1")
    duration_s: float = Field(description="duration of the audio in seconds")
    top_k: list[tuple[str, float]] | None = Field(None, description=TOP_K_DESCRIPTION)


class BatchErrorOut(BaseModel):
    name: str = Field(description="the uploaded file's name (without folders)")
    error: ErrorDetail = Field(description="why this clip has no prediction: the code and "
                               "message /v1/predict would answer it with")


class BatchOut(BaseModel):
    model: str = Field(description="name of the model that answered")
    adapt: bool = Field(description="whether the features were standardised on the "
                        "statistics of this request's usable clips")
    results: list[BatchPredictionOut | BatchErrorOut] = Field(
        description="one entry per uploaded file, in upload order: its prediction, or its error")
    warnings: list[str] = Field(description="what makes these results less reliable, e.g. "
                                "too few clips for adapt")
