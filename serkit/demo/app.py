"""The serkit web demo: choose a model, pick or upload a clip, press Detect, see every
emotion's probability.

A Streamlit page. Start it with ``serkit demo [--samples FOLDER] [--models DIR]
[--model NAME|PATH]``, or ``SERKIT_DEMO_SAMPLES=... SERKIT_DEMO_MODELS=...
SERKIT_DEMO_MODEL=... streamlit run serkit/demo/app.py``.

Streamlit reruns this script from the top on every click. The sidebar lists the installed
bundles (:func:`serkit.demo.model_catalogue`, re-read every minute); each is loaded when
first chosen, once per process (``st.cache_resource``, keyed by the bundle's path), and
shared by every rerun and every visitor; the recognizer is thread-safe, so concurrent
visitors need no lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd
import streamlit as st

from serkit.audio import AUDIO_EXTENSIONS
from serkit.demo import (
    TIMELINE_MIN_S,
    WORKFLOW_IMAGE,
    DemoSettings,
    ModelCatalogue,
    ModelChoice,
    describe_choice,
    find_samples,
    model_catalogue,
)
from serkit.errors import SerkitError
from serkit.inference.bundle import read_model_card

if TYPE_CHECKING:  # the real import pulls in torch; the page loads it once, in load_recognizer
    from serkit.inference import Prediction, Recognizer, Timeline

#: The timeline's windows: long enough for an emotion to show, a step fine enough to follow it.
WINDOW_S, HOP_S = 3.0, 1.0
RESULT_KEY = "serkit_demo_result"
MODEL_KEY = "model"  # the model list's widget


@dataclass(frozen=True)
class Clip:
    """The audio the Detect button would analyse: a sample file or an upload's bytes."""

    key: str  # identifies the clip across reruns, so a result is never shown for another clip
    name: str  # how the page and error messages call it
    source: Path | bytes


@dataclass(frozen=True)
class Result:
    clip_key: str
    model_key: str  # a result is never shown for another model either
    prediction: Prediction
    timeline: Timeline | None  # for long clips only


@st.cache_resource(show_spinner="Loading the model ...")
def load_recognizer(model: str) -> Recognizer:
    """The recognizer of the bundle folder ``model``, loaded once and shared across reruns
    and sessions."""
    # Imported here: the import pulls in torch, which the page only needs once.
    from serkit.inference import load_model

    return load_model(model)


@st.cache_data(ttl=60, show_spinner=False)
def list_choices(models: str, initial: str) -> ModelCatalogue:
    """The models to choose from (bundle.json files only); re-read every minute, not on every click."""
    return model_catalogue(models or None, initial)


@st.cache_data(ttl=60, show_spinner=False)
def list_samples(folder: str) -> list[str]:
    """Sample paths relative to ``folder``; re-read every minute, not on every click."""
    root = Path(folder)
    return [path.relative_to(root).as_posix() for path in find_samples(root)]


def main() -> None:
    st.set_page_config(page_title="serkit: speech emotion recognition", layout="wide")
    settings = DemoSettings.from_environ()
    st.title("Speech emotion recognition")
    st.image(str(WORKFLOW_IMAGE), width="stretch")
    choice = _choose_model(settings)
    recognizer = _recognizer_or_stop(choice)
    with st.sidebar:
        st.header("Samples")
        st.caption(str(settings.samples))
    clip = _choose_clip(settings.samples)
    if st.button("Detect", type="primary", disabled=clip is None):
        _detect(recognizer, clip, choice.key)
    result = st.session_state.get(RESULT_KEY)
    if clip is not None and result is not None and (result.clip_key, result.model_key) == (clip.key, choice.key):
        _show_result(result, recognizer.labels)


def _choose_model(settings: DemoSettings) -> ModelChoice:
    """The model list in the sidebar and what the chosen bundle says of itself.

    A folder that is not a bundle is one warning line; a ``--model`` that is not a model
    stops the page with an error.
    """
    try:
        catalogue = list_choices(str(settings.models or ""), settings.model)
    except SerkitError as exc:
        st.error(f"Cannot load the model: {exc}")
        st.stop()
    choices = {choice.key: choice for choice in catalogue.choices}
    with st.sidebar:
        st.header("Model")
        key = st.selectbox("Choose a model", list(choices), index=catalogue.initial,
                           format_func=lambda k: choices[k].title if k in choices else k, key=MODEL_KEY)
        # A model chosen before the list was re-read without it: the first one instead.
        choice = choices.get(key) or catalogue.choices[catalogue.initial]
        for line in describe_choice(choice):
            st.markdown(line)
        st.caption(f"{choice.path}. Audio is resampled to {choice.sample_rate / 1000:g} kHz mono.")
        _model_card(choice)
        for line in catalogue.skipped:
            st.warning(line)
    return choice


def _model_card(choice: ModelChoice) -> None:
    try:
        card = read_model_card(choice.path)
    except SerkitError:
        return  # the card is for people; a bundle without a readable one still runs
    if card:
        with st.expander("Model card"):
            st.markdown(card)


def _recognizer_or_stop(choice: ModelChoice) -> Recognizer:
    try:
        return load_recognizer(choice.key)
    except SerkitError as exc:
        st.error(f"Cannot load the model {choice.name!r}: {exc}")
        st.stop()


def _choose_clip(samples_folder: Path) -> Clip | None:
    """The sample dropdown and the upload box, side by side; an upload wins when present."""
    left, right = st.columns(2)
    with left:
        sample = _sample_picker(samples_folder)
    with right:
        upload = _upload_box()
    clip = upload or sample
    if clip is None:
        st.info("Choose a sample clip or upload a recording, then press Detect.")
    elif upload is not None:
        st.caption(f"Detect will analyse your upload **{upload.name}** (remove it to use a sample clip).")
    else:
        st.caption(f"Detect will analyse the sample clip **{sample.name}**.")
    return clip


def _sample_picker(folder: Path) -> Clip | None:
    st.subheader("Sample clip")
    try:
        names = list_samples(str(folder))
    except SerkitError as exc:
        st.warning(str(exc))
        return None
    if not names:
        st.info(f"No {'/'.join(s.lstrip('.') for s in AUDIO_EXTENSIONS)} files in {folder}.")
        return None
    name = st.selectbox("Choose a clip", names, key="sample")
    path = folder / name
    st.audio(str(path), format=_mime(path.name))
    return Clip(key=f"sample:{path}", name=name, source=path)


def _upload_box() -> Clip | None:
    st.subheader("Your recording")
    upload = st.file_uploader("Upload an audio file (WAV, FLAC, OGG, ...)",
                              type=[s.lstrip(".") for s in AUDIO_EXTENSIONS], key="upload")
    if upload is None:
        return None
    data = upload.getvalue()
    st.caption(f"{upload.name}, {len(data) / 1024:.0f} KiB")
    st.audio(data, format=_mime(upload.name))
    return Clip(key=f"upload:{upload.file_id}", name=upload.name, source=data)


def _mime(filename: str) -> str:
    suffix = Path(filename).suffix.lower().lstrip(".")
    return f"audio/{suffix or 'wav'}"


def _detect(recognizer: Recognizer, clip: Clip, model_key: str) -> None:
    """Run the model on ``clip``; bad audio becomes an error box, never a traceback."""
    st.session_state.pop(RESULT_KEY, None)
    try:
        with st.spinner(f"Detecting the emotion in {clip.name} ..."):
            prediction = recognizer.predict(clip.source, name=clip.name)
            timeline = None
            if prediction.duration_s > TIMELINE_MIN_S:
                timeline = recognizer.timeline(clip.source, window_s=WINDOW_S, hop_s=HOP_S, name=clip.name)
    except SerkitError as exc:
        st.error(str(exc))
        return
    st.session_state[RESULT_KEY] = Result(clip.key, model_key, prediction, timeline)


def _show_result(result: Result, labels: list[str]) -> None:
    prediction = result.prediction
    confidence = prediction.probabilities[prediction.label]
    st.success(f"Detected emotion: **{prediction.label}** ({confidence:.0%}), "
               f"from {prediction.duration_s:.1f} s of audio")
    st.altair_chart(_probability_chart(prediction.probabilities, labels), width="stretch")
    if result.timeline is not None:
        st.subheader("Over time")
        st.caption(f"{WINDOW_S:g} s windows every {HOP_S:g} s; neighbouring windows with the same "
                   "emotion merge into one segment.")
        st.altair_chart(_timeline_chart(result.timeline, labels), width="stretch")


def _colours(labels: list[str]) -> alt.Scale:
    """One colour per emotion, the same in every chart."""
    return alt.Scale(domain=list(labels), scheme="tableau10")


def _probability_chart(probabilities: dict[str, float], labels: list[str]) -> alt.Chart:
    frame = pd.DataFrame({"emotion": list(labels), "probability": [probabilities[label] for label in labels]})
    bars = alt.Chart(frame, title="Probability of each emotion").mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=(0, 1)), axis=alt.Axis(format="%")),
        y=alt.Y("emotion:N", sort=list(labels), title=None),
        color=alt.Color("emotion:N", scale=_colours(labels), legend=None),
        tooltip=["emotion", alt.Tooltip("probability:Q", format=".1%")],
    )
    text = bars.mark_text(align="left", dx=3).encode(text=alt.Text("probability:Q", format=".0%"))
    # A height per bar: Streamlit squeezes a fixed chart height into a few pixels per bar.
    return (bars + text).properties(height=alt.Step(30))


def _timeline_chart(timeline: Timeline, labels: list[str]) -> alt.VConcatChart:
    """Each emotion's probability per window (at the window's centre), over the merged segments."""
    windows = pd.DataFrame(
        {"time_s": (w.start_s + w.end_s) / 2, "emotion": label, "probability": w.probabilities[label]}
        for w in timeline.windows for label in labels
    )
    segments = pd.DataFrame(
        {"start_s": s.start_s, "end_s": s.end_s, "emotion": s.label, "confidence": s.confidence}
        for s in timeline.segments
    )
    time_axis = alt.Scale(domain=(0, timeline.duration_s))
    colour = alt.Color("emotion:N", scale=_colours(labels), title="emotion")
    lines = alt.Chart(windows, title="Probability per window").mark_line(point=True).encode(
        x=alt.X("time_s:Q", scale=time_axis, title=None),
        y=alt.Y("probability:Q", scale=alt.Scale(domain=(0, 1)), axis=alt.Axis(format="%")),
        color=colour, tooltip=["emotion", "time_s", alt.Tooltip("probability:Q", format=".1%")],
    ).properties(height=220)
    strip = alt.Chart(segments, title="Segments").mark_bar(height=28).encode(
        x=alt.X("start_s:Q", scale=time_axis, title="time (s)"), x2="end_s:Q", color=colour,
        tooltip=["emotion", "start_s", "end_s", alt.Tooltip("confidence:Q", format=".1%")],
    ).properties(height=45)
    return alt.vconcat(lines, strip).resolve_scale(color="shared")


main()
