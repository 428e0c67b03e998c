"""The web demo page (through Streamlit's AppTest) and the `serkit demo` command."""

from __future__ import annotations

import io
import json
import shutil
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
from serkit.demo import (
    APP_PATH,
    MODEL_ENV,
    MODELS_ENV,
    SAMPLES_ENV,
    DemoSettings,
    describe_choice,
    find_samples,
    model_catalogue,
    training_corpora,
)
from serkit.errors import ConfigError
from serkit.inference.recognizer import PRETRAINED_DIR
from tests.conftest import TINY_LABELS as LABELS
from tests.conftest import make_tiny_bundle, write_tone

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
    st.cache_data.clear()  # and so would a model list read by one
    calls: list[str] = []
    real = serkit.inference.load_model

    def counting(name, *args, **kwargs):
        calls.append(str(name))
        return real(name, *args, **kwargs)

    monkeypatch.setattr(serkit.inference, "load_model", counting)
    yield calls
    st.cache_resource.clear()
    st.cache_data.clear()


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
    for models in (None, tmp_path / "bundles"):
        settings = DemoSettings(samples=tmp_path, model="my_model", models=models)
        assert DemoSettings.from_environ(settings.to_environ()) == settings


# --- choosing among installed bundles ------------------------------------------------

SERCT_PARAMS = {"channels": 8, "d_model": 16, "n_layers": 1, "n_heads": 2, "ffn": 16, "head_units": [8]}
SERCT_LABELS = ["anger", "neutral", "sadness"]


def make_serct_bundle(out: Path, **kwargs) -> Path:
    """An untrained tiny SERCT on the waveform feature (its predictions mean nothing)."""
    import torch

    from serkit.features import make_features
    from serkit.inference import save_bundle
    from serkit.models import make_model

    torch.manual_seed(0)
    model = make_model("serct", 1, len(SERCT_LABELS), **SERCT_PARAMS)
    return save_bundle(out, model=model, extractor=make_features("waveform"), standardizer=None,
                       labels=SERCT_LABELS, model_params=SERCT_PARAMS, **{"name": "serct-tiny", **kwargs})


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A models folder: two bundles, a damaged one, two folders that are not bundles, a
    hidden folder (a bundle being written) and a file."""
    folder = tmp_path_factory.mktemp("models")
    make_tiny_bundle(folder / "tiny")
    make_serct_bundle(folder / "serct", description="SERCT on raw 16 kHz waveforms",
                      training={"corpora": ["emodb", "ravdess"], "label_scheme": "3class"})
    damaged = shutil.copytree(folder / "tiny", folder / "damaged")
    (damaged / "weights.pt").write_bytes(b"not the weights bundle.json vouches for")
    (folder / "broken").mkdir()
    (folder / "broken" / "bundle.json").write_text("{ not json")
    (folder / "empty").mkdir()
    shutil.copytree(folder / "tiny", folder / ".tiny.0123.tmp")
    (folder / "README.txt").write_text("bundles for the demo")
    return folder


def test_catalogue_lists_the_bundled_models_then_the_folder_and_skips_the_rest(models):
    catalogue = model_catalogue(models)
    titles = [choice.title for choice in catalogue.choices]
    assert titles == ["default (mlp)", "tiny (cnn) in damaged/", "serct-tiny (serct)", "tiny (cnn) in tiny/"]
    assert catalogue.choices[catalogue.initial].path == (PRETRAINED_DIR / "default").resolve()
    assert [c.bundled for c in catalogue.choices] == [True, False, False, False]
    broken, empty = catalogue.skipped  # not the hidden folder, not the file
    assert broken.startswith(f"skipped {models / 'broken'}: not valid JSON")
    assert empty == f"skipped {models / 'empty'}: not a model bundle (no bundle.json)"
    assert all("\n" not in line for line in catalogue.skipped)


def test_each_choice_shows_its_name_model_labels_and_corpora(models):
    by_folder = {choice.path.name: choice for choice in model_catalogue(models).choices}
    serct = by_folder["serct"]
    assert (serct.name, serct.model, serct.features) == ("serct-tiny", "serct", "waveform")
    assert serct.labels == tuple(SERCT_LABELS) and serct.corpora == ("emodb", "ravdess")
    assert describe_choice(serct) == [
        "**serct-tiny**: model `serct` on `waveform` features",
        "SERCT on raw 16 kHz waveforms",
        "**Emotions:** anger, neutral, sadness",
        "**Trained on:** emodb, ravdess",
    ]
    assert "**Trained on:** not recorded in the bundle" in describe_choice(by_folder["tiny"])
    default = by_folder["default"]
    assert default.model == "mlp" and {"emodb", "tess", "nemo"} <= set(default.corpora)


def test_training_corpora_in_each_form_a_bundle_records_them():
    assert training_corpora({"corpora": ["emodb"]}) == ("emodb",)
    assert training_corpora({"corpora": {"tess": {"anger": 3}, "savee": {}}}) == ("tess", "savee")
    assert training_corpora({"corpora": "casia"}) == ("casia",)
    assert training_corpora({"fewshot": {"folder": "/clips"}}) == ("few-shot clips in /clips",)
    assert training_corpora({"corpora": None}) == training_corpora({}) == ()


def test_a_bundle_s_text_shows_as_written(tmp_path):
    bundle = make_serct_bundle(tmp_path / "odd", name="serct_small [v2]", description="**not bold** $x$")
    catalogue = model_catalogue(tmp_path, str(bundle))
    name_line, description, *_ = describe_choice(catalogue.choices[catalogue.initial])
    assert name_line.startswith(r"**serct\_small \[v2\]**")
    assert description == r"\*\*not bold\*\* \$x\$"


def test_the_initial_model_by_folder_name_path_or_bundled_name(models, tmp_path):
    catalogue = model_catalogue(models, "serct")  # a folder name in the models folder
    assert catalogue.choices[catalogue.initial].path == models / "serct"
    catalogue = model_catalogue(models, str(models / "tiny"))  # the path of a listed one
    assert catalogue.choices[catalogue.initial].title == "tiny (cnn) in tiny/"
    assert len(catalogue.choices) == 4
    outside = make_serct_bundle(tmp_path / "elsewhere", name="elsewhere")
    catalogue = model_catalogue(models, str(outside))  # not in the list: added, first
    assert catalogue.initial == 0 and catalogue.choices[0].name == "elsewhere"
    assert len(catalogue.choices) == 5
    assert model_catalogue(models, "default").initial == 0
    with pytest.raises(ConfigError, match=f"unknown model 'nope'.*or the name of a bundle folder in {models}"):
        model_catalogue(models, "nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        model_catalogue(models, str(models / "broken"))


def test_a_models_folder_that_is_a_bundle_is_that_bundle(models):
    catalogue = model_catalogue(models / "serct")
    assert [c.name for c in catalogue.choices] == ["default", "serct-tiny"] and not catalogue.skipped


def test_a_missing_models_folder_leaves_the_bundled_models(tmp_path):
    catalogue = model_catalogue(tmp_path / "nowhere")
    assert [c.name for c in catalogue.choices] == ["default"]
    [line] = catalogue.skipped
    assert line.startswith("models folder") and "nowhere" in line


def test_the_model_card_is_read_as_a_bundle_s_other_files(tmp_path, models):
    from serkit.inference.bundle import read_model_card

    assert read_model_card(models / "tiny").startswith("# tiny")
    assert read_model_card(models / "serct") is None  # saved without a card
    linked = shutil.copytree(models / "serct", tmp_path / "linked")
    (linked / "MODEL_CARD.md").symlink_to(tmp_path / "elsewhere.md")
    with pytest.raises(ConfigError, match="symbolic link"):
        read_model_card(linked)


@pytest.fixture
def chooser(monkeypatch, one_torch_thread, models, samples, loads) -> AppTest:
    """The page with the models folder, showing the tiny CNN first."""
    monkeypatch.setenv(SAMPLES_ENV, str(samples))
    monkeypatch.setenv(MODELS_ENV, str(models))
    monkeypatch.setenv(MODEL_ENV, "tiny")
    app = AppTest.from_file(str(APP_PATH), default_timeout=TIMEOUT_S).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def sidebar_text(app: AppTest) -> str:
    return " ".join(m.value for m in app.sidebar.markdown)


def test_page_offers_every_installed_bundle_and_switches_between_them(chooser, models, loads):
    model_list = chooser.selectbox(key="model")
    assert model_list.options == ["default (mlp)", "tiny (cnn) in damaged/", "serct-tiny (serct)",
                                  "tiny (cnn) in tiny/"]
    assert model_list.value == str(models / "tiny")
    assert "**tiny**" in sidebar_text(chooser) and "randomly initialised" in sidebar_text(chooser)  # its card
    warnings = [w.value for w in chooser.sidebar.warning]
    assert len(warnings) == 2 and all(w.startswith("skipped ") for w in warnings)
    detect(chooser, "short.wav")
    assert chooser.success and [row["emotion"] for row in chart_data(chooser, 0)[0]] == LABELS

    model_list.select(str(models / "serct")).run()  # the SERCT bundle
    assert not chooser.exception
    assert not chooser.success and not charts(chooser)  # the CNN's result is not the SERCT's
    text = sidebar_text(chooser)
    assert "`serct` on `waveform`" in text and "anger, neutral, sadness" in text and "emodb, ravdess" in text
    detect(chooser, "talks/long.flac")  # 10 s of audio, and a timeline, from raw samples
    assert "10.0 s" in chooser.success[0].value
    assert [row["emotion"] for row in chart_data(chooser, 0)[0]] == SERCT_LABELS

    chooser.selectbox(key="model").select(str(models / "tiny")).run()
    assert loads == [str(models / "tiny"), str(models / "serct")]  # each loaded once, the default never


def test_a_bundle_that_fails_to_load_is_an_error_and_the_list_stays(chooser, models):
    chooser.selectbox(key="model").select(str(models / "damaged")).run()
    assert not chooser.exception
    assert "sha256" in chooser.error[0].value and not chooser.button
    chooser.selectbox(key="model").select(str(models / "serct")).run()
    assert not chooser.error and chooser.button


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


def test_command_passes_the_models_folder_and_a_model_in_it(monkeypatch, capsys, samples, models):
    launched = {}

    class FakeStreamlit:
        def __init__(self, command, env):
            launched.update(env=env)

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(subprocess, "Popen", FakeStreamlit)
    monkeypatch.delenv(MODELS_ENV, raising=False)
    assert main(["demo", "--samples", str(samples), "--models", str(models), "--model", "serct"]) == 0
    assert launched["env"][MODELS_ENV] == str(models.resolve()) and launched["env"][MODEL_ENV] == "serct"
    out, err = capsys.readouterr()
    assert "model serct of 4 to choose from" in out
    assert err.count("serkit demo: skipped") == 2
    monkeypatch.setenv(MODELS_ENV, str(models))  # the variable, without --models
    assert main(["demo", "--samples", str(samples)]) == 0
    assert launched["env"][MODELS_ENV] == str(models.resolve())


def test_command_rejects_a_missing_models_folder(capsys, tmp_path):
    assert main(["demo", "--models", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("serkit: error: models folder") and "nowhere" in err


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
