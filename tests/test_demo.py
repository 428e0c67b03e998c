"""The web demo page (through Streamlit's AppTest) and the `serkit demo` command."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest

import serkit.inference
from serkit.audio import AUDIO_EXTENSIONS
from serkit.cli import main
from serkit.commands import demo as demo_command
from serkit.demo import APP_PATH, MODEL_ENV, SAMPLES_ENV, DemoSettings, find_samples
from tests.conftest import TINY_LABELS as LABELS
from tests.conftest import write_tone

TIMEOUT_S = 60  # per script run; a tiny model on a busy 2-core machine


@pytest.fixture
def samples(tmp_path) -> Path:
    folder = tmp_path / "samples"
    write_tone(folder / "short.wav", seconds=1.0)
    write_tone(folder / "talks" / "long.flac", seconds=10.0, freq=300.0)
    sf.write(str(folder / "silent.wav"), np.zeros(16_000, dtype=np.float32), 16_000)
    (folder / "corrupt.wav").write_bytes(b"RIFF not really a wave file")
    (folder / "notes.txt").write_text("not audio")
    return folder


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """The models the page asks serkit to load, in order."""
    import streamlit as st

    st.cache_resource.clear()  # a model cached by an earlier test would hide the loads
    calls: list[str] = []
    real = serkit.inference.load_model

    def counting(name, *args, **kwargs):
        calls.append(str(name))
        return real(name, *args, **kwargs)

    monkeypatch.setattr(serkit.inference, "load_model", counting)
    yield calls
    st.cache_resource.clear()


@pytest.fixture
def page(monkeypatch, one_torch_thread, tiny_bundle, samples, loads) -> AppTest:
    monkeypatch.setenv(SAMPLES_ENV, str(samples))
    monkeypatch.setenv(MODEL_ENV, str(tiny_bundle))
    app = AppTest.from_file(str(APP_PATH), default_timeout=TIMEOUT_S)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def charts(app: AppTest) -> list[dict]:
    """The Vega-Lite specs of the page's charts."""
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


def chart_data(app: AppTest, index: int) -> list[list[dict]]:
    """The data rows of each dataset of one chart (Streamlit ships them as Arrow streams)."""
    import pyarrow as pa

    return [pa.ipc.open_stream(io.BytesIO(dataset.data.data)).read_all().to_pylist()
            for dataset in app.get("vega_lite_chart")[index].proto.datasets]


def detect(app: AppTest, sample: str | None = None) -> AppTest:
    if sample is not None:
        app.selectbox(key="sample").select(sample).run()
    app.button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


# --- the page -------------------------------------------------------------------------

def test_page_shows_the_workflow_samples_uploader_and_model(page, tiny_bundle):
    assert len(page.image) == 1
    options = page.selectbox(key="sample").options
    assert options == ["corrupt.wav", "short.wav", "silent.wav", "talks/long.flac"]
    assert page.file_uploader(key="upload").allowed_type == list(AUDIO_EXTENSIONS)  # what find_audio takes
    assert [b.label for b in page.button] == ["Detect"]
    sidebar = " ".join(m.value for m in page.sidebar.markdown)
    assert all(label in sidebar for label in LABELS)
    assert not page.error and not page.success  # nothing detected before the button


def test_detect_shows_the_label_and_every_probability(page):
    detect(page, "short.wav")
    [result] = page.success
    assert "Detected emotion" in result.value
    [spec] = charts(page)  # a short clip has no timeline
    assert "Probability of each emotion" in json.dumps(spec)
    assert "Over time" not in [s.value for s in page.subheader]
    [rows] = chart_data(page, 0)
    assert [row["emotion"] for row in rows] == LABELS
    probabilities = {row["emotion"]: row["probability"] for row in rows}
    assert sum(probabilities.values()) == pytest.approx(1.0)
    winner = max(probabilities, key=probabilities.get)
    assert f"**{winner}**" in result.value
    # Choosing another clip hides the result: it would be read as that clip's.
    page.selectbox(key="sample").select("talks/long.flac").run()
    assert not page.success and not charts(page)


def test_long_clip_also_shows_the_timeline(page):
    detect(page, "talks/long.flac")
    assert "10.0 s" in page.success[0].value
    _, timeline_chart = charts(page)
    assert "vconcat" in timeline_chart
    titles = json.dumps(timeline_chart)
    assert "Probability per window" in titles and "Segments" in titles
    windows, segments = sorted(chart_data(page, 1), key=lambda rows: "time_s" not in rows[0])
    # 3 s windows every 1 s over 10 s start at 0, 1, ..., 7: a row per window and emotion.
    assert len(windows) == 8 * len(LABELS)
    assert sorted({row["time_s"] for row in windows}) == [1.5 + k for k in range(8)]
    assert segments[0]["start_s"] == 0 and segments[-1]["end_s"] == pytest.approx(10.0)


def test_bad_clips_show_an_error_not_an_exception(page):
    for sample, problem in (("silent.wav", "silent"), ("corrupt.wav", "corrupt")):
        detect(page, sample)
        [error] = page.error
        assert sample in error.value and problem in error.value
        assert not page.success and not charts(page)


def test_upload_is_detected_by_its_name(page, tmp_path):
    wav = write_tone(tmp_path / "mine.wav", seconds=1.5, rate=22_050).read_bytes()
    page.file_uploader(key="upload").set_value(("mine.wav", wav, "audio/wav")).run()
    assert any("mine.wav" in c.value for c in page.caption)
    detect(page)
    assert "1.5 s" in page.success[0].value
    page.file_uploader(key="upload").set_value(("broken.ogg", b"OggS garbage", "audio/ogg")).run()
    detect(page)
    assert "broken.ogg" in page.error[0].value


def test_model_is_loaded_once_across_reruns(page, loads, tiny_bundle):
    for sample in ("short.wav", "silent.wav"):
        detect(page, sample)
    again = AppTest.from_file(str(APP_PATH), default_timeout=TIMEOUT_S).run()  # a second visitor
    assert not again.exception
    assert loads == [str(tiny_bundle)]


def test_unknown_model_is_an_error_on_the_page(monkeypatch, samples, loads):
    monkeypatch.setenv(SAMPLES_ENV, str(samples))
    monkeypatch.setenv(MODEL_ENV, "no_such_model")
    app = AppTest.from_file(str(APP_PATH), default_timeout=TIMEOUT_S).run()
    assert not app.exception
    assert "no_such_model" in app.error[0].value
    assert not app.button  # the page stops before offering to detect


def test_missing_samples_folder_leaves_the_upload(monkeypatch, tmp_path, tiny_bundle, loads):
    monkeypatch.setenv(SAMPLES_ENV, str(tmp_path / "nowhere"))
    monkeypatch.setenv(MODEL_ENV, str(tiny_bundle))
    app = AppTest.from_file(str(APP_PATH), default_timeout=TIMEOUT_S).run()
    assert not app.exception
    assert "nowhere" in app.warning[0].value
    assert app.file_uploader and app.button[0].disabled


# --- sample discovery and settings ----------------------------------------------------

def test_find_samples_is_recursive_sorted_and_skips_hidden_files(tmp_path):
    for name in ("b.wav", "a/c.FLAC", "a/d.ogg", ".hidden/e.wav", "._f.wav", "g.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in find_samples(tmp_path)] == \
        ["a/c.FLAC", "a/d.ogg", "b.wav"]


def test_find_samples_skips_links_that_lead_outside_the_folder(tmp_path):
    samples, outside = tmp_path / "samples", tmp_path / "private"
    for name in ("samples/a.wav", "samples/sub/b.wav", "private/secret.wav", "private/more/c.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (samples / "leak.wav").symlink_to(outside / "secret.wav")
    (samples / "leaks").symlink_to(outside / "more", target_is_directory=True)
    (samples / "alias.wav").symlink_to("sub/b.wav")  # inside: kept
    (samples / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    assert [p.relative_to(samples).as_posix() for p in find_samples(samples)] == \
        ["a.wav", "alias.wav", "sub/b.wav"]
    # A samples folder that is itself a link is fine: what counts is where its files lie.
    (tmp_path / "link").symlink_to(samples, target_is_directory=True)
    assert [p.name for p in find_samples(tmp_path / "link")] == ["a.wav", "alias.wav", "b.wav"]

def test_settings_round_trip_through_the_environment(tmp_path):
    settings = DemoSettings(samples=tmp_path, model="my_model")
    assert DemoSettings.from_environ(settings.to_environ()) == settings


# --- the command ----------------------------------------------------------------------

def test_command_launches_streamlit_with_the_settings(monkeypatch, capsys, samples, tiny_bundle):
    launched = {}

    class FakeStreamlit:
        def __init__(self, command, env):
            launched.update(command=command, env=env)

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(subprocess, "Popen", FakeStreamlit)
    assert main(["demo", "--samples", str(samples), "--model", str(tiny_bundle), "--port", "8765"]) == 0
    command = launched["command"]
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(APP_PATH)
    assert command[command.index("--server.port") + 1] == "8765"
    assert command[command.index("--server.headless") + 1] == "true"
    assert launched["env"][SAMPLES_ENV] == str(samples.resolve())
    assert launched["env"][MODEL_ENV] == str(tiny_bundle.resolve())
    assert "http://localhost:8765" in capsys.readouterr().out


def test_command_rejects_a_missing_samples_folder(capsys, tmp_path):
    assert main(["demo", "--samples", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("serkit: error: samples folder") and "nowhere" in err


def test_command_rejects_an_unknown_model(capsys, samples):
    assert main(["demo", "--samples", str(samples), "--model", "no_such_model"]) == 2
    assert "unknown model 'no_such_model'" in capsys.readouterr().err


def test_command_names_the_extra_when_streamlit_is_missing(monkeypatch, capsys):
    real = demo_command.importlib.util.find_spec
    monkeypatch.setattr(demo_command.importlib.util, "find_spec",
                        lambda name, *a: None if name == "streamlit" else real(name, *a))
    assert main(["demo"]) == 2
    assert 'pip install "serkit[demo]"' in capsys.readouterr().err
