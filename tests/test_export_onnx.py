"""`serkit export MODEL --onnx FILE`: onnxruntime agrees with PyTorch; metadata round trip."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from serkit.audio import load_audio
from serkit.cli import main
from serkit.errors import MissingDependencyError, SerkitError
from serkit.features import Standardizer, make_features
from serkit.inference import load_model, onnx_export, read_bundle, save_bundle
from serkit.inference.bundle import load_parts
from serkit.inference.onnx_export import (
    ProbabilityNetwork,
    export_onnx,
    read_onnx_metadata,
)
from serkit.models import make_model
from tests.conftest import TINY_LABELS, write_tone

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def exported(tiny_bundle, tmp_path_factory) -> tuple[Path, str]:
    """The tiny bundle exported once through the command line, and what it printed."""
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    torch.set_num_threads(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["export", str(tiny_bundle), "--onnx", str(path)])
    assert code == 0
    return path, printed.getvalue()


def run_onnx(path: Path, features: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {"features": features.astype(np.float32)})[0]


def test_onnx_matches_the_recognizer_on_tones(exported, tiny_bundle, tmp_path):
    path, _ = exported
    recognizer = load_model(tiny_bundle)
    meta = read_onnx_metadata(path)
    extractor = make_features(meta["features"]["name"], **meta["features"]["params"])
    clips = [write_tone(tmp_path / f"t{i}.wav", seconds=0.7 + 0.3 * i, freq=f, seed=i)
             for i, f in enumerate((150.0, 310.0, 620.0))]
    features = np.stack([extractor(load_audio(c, sample_rate=meta["sample_rate"])) for c in clips])
    got = run_onnx(path, features)  # one batch of three: the batch axis is dynamic
    for row, clip in zip(got, clips):
        expected = recognizer.predict(clip).probabilities
        np.testing.assert_allclose(row, [expected[c] for c in TINY_LABELS], atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("batch", [1, 7])
def test_onnx_matches_pytorch_on_random_features(exported, tiny_bundle, batch):
    path, _ = exported
    network = load_parts(tiny_bundle)[3]
    x = torch.randn(batch, 107, generator=torch.Generator().manual_seed(batch))
    with torch.inference_mode():
        expected = torch.softmax(network(x), dim=-1).numpy()
    got = run_onnx(path, x.numpy())
    assert got.shape == (batch, len(TINY_LABELS))
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(got.max(axis=1) < 0.999)  # unsaturated: the comparison means something


def test_metadata_round_trip(exported, tiny_bundle):
    path, printed = exported
    info = read_bundle(tiny_bundle)
    meta = read_onnx_metadata(path)
    assert meta["labels"] == TINY_LABELS
    assert meta["sample_rate"] == 16_000 and meta["n_features"] == 107
    assert meta["features"] == info["features"]
    assert meta["model"] == {"name": info["model"]["name"], "params": info["model"]["params"]}
    assert meta["input_kind"] == "vector" and meta["bundle_name"] == "tiny"
    assert meta["exporter"] in onnx_export.EXPORTERS
    rebuilt = make_features(meta["features"]["name"], **meta["features"]["params"])
    assert rebuilt.params == make_features("fusion107").params
    assert f"wrote {path}" in printed and "anger, fear, happiness, neutral, sadness" in printed


FRAME_MODELS = [
    ("cnn", {"input_kind": "frames", "channels": [8, 8], "kernel_size": 3}),
    # SpeechNet pools its real frames into intervals (embedding_bag over computed indices).
    ("speechnet", {"input_kind": "frames", "n_intervals": 8, "encoder_units": [16], "lstm_units": 8,
                   "pre_attention_dim": 8, "n_heads": 2, "head_dim": 4, "conv_channels": 4}),
]


@pytest.mark.parametrize("model_name,params", FRAME_MODELS, ids=[name for name, _ in FRAME_MODELS])
def test_frames_model_with_a_standardizer_is_folded_in(tmp_path, model_name, params):
    """Frame features, a non-trivial standardizer: the graph takes raw extractor output."""
    torch.manual_seed(1)
    extractor = make_features("fusion107", pooling="none")
    clip = write_tone(tmp_path / "tone.wav", seconds=1.0, freq=260.0)
    raw = extractor(load_audio(clip))
    standardizer = Standardizer().fit(raw)
    bundle = save_bundle(tmp_path / "frames", name="frames", model=make_model(model_name, 107, 3, **params),
                         extractor=extractor, standardizer=standardizer,
                         labels=["anger", "neutral", "sadness"], model_params=params)
    out = tmp_path / "frames.onnx"
    result = export_onnx(bundle, out)
    assert result.input_kind == "frames" and result.max_difference <= TOLERANCE
    recognizer = load_model(bundle)
    for seconds in (1.0, 1.7):  # another frame count than the export example's
        audio = write_tone(tmp_path / f"t{seconds}.wav", seconds=seconds, freq=300.0, seed=2)
        got = run_onnx(out, extractor(load_audio(audio))[None])[0]
        expected = recognizer.predict(audio).probabilities
        np.testing.assert_allclose(got, [expected[c] for c in recognizer.labels], atol=TOLERANCE, rtol=0)
    assert read_onnx_metadata(out)["features"]["params"]["pooling"] == "none"


#: A SERCT small enough to export in seconds; untrained (its outputs mean nothing).
SERCT_PARAMS = {"channels": 8, "d_model": 16, "n_layers": 1, "n_heads": 2, "ffn": 16, "head_units": [8]}
SERCT_LABELS = ["anger", "neutral", "sadness"]


@pytest.fixture(scope="module")
def serct(tmp_path_factory) -> tuple[Path, Path, str]:
    """A tiny SERCT bundle on the waveform feature, exported once through `serkit export`:
    (bundle, onnx file, what the command printed)."""
    folder = tmp_path_factory.mktemp("serct")
    torch.set_num_threads(1)
    torch.manual_seed(3)
    model = make_model("serct", 1, len(SERCT_LABELS), **SERCT_PARAMS)
    bundle = save_bundle(folder / "serct", name="serct-tiny", model=model, extractor=make_features("waveform"),
                         standardizer=None, labels=SERCT_LABELS, model_params=SERCT_PARAMS)
    path, printed = folder / "serct.onnx", io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", str(bundle), "--onnx", str(path)]) == 0
    return bundle, path, printed.getvalue()


def noise_wav(path: Path, seconds: float, rate: int = 16_000, seed: int = 0) -> Path:
    """Random speech-loud noise: every sample matters to a waveform model."""
    x = 0.1 * np.random.default_rng(seed).standard_normal(round(seconds * rate))
    sf.write(str(path), x.astype(np.float32), rate)
    return path


def test_a_waveform_model_exports_and_matches_the_recognizer(serct, tmp_path):
    bundle, path, printed = serct
    meta = read_onnx_metadata(path)
    assert meta["input_kind"] == "waveform" and meta["model"]["name"] == "serct"
    assert meta["n_features"] == 1 and meta["labels"] == SERCT_LABELS
    assert "float32 (batch, samples), from serkit.features.make_features: waveform(" in printed
    recognizer = load_model(bundle)
    extractor = make_features(meta["features"]["name"], **meta["features"]["params"])
    # 1.3 s, and a clip shorter than it: the graph takes no lengths, so clips of different
    # lengths go one per call (a padded batch would read its zeros as audio).
    for seconds in (1.3, 0.4):
        clip = noise_wav(tmp_path / f"{seconds}.wav", seconds, seed=int(10 * seconds))
        samples = extractor(load_audio(clip, sample_rate=meta["sample_rate"]))
        assert samples.shape == (round(seconds * 16_000),)
        got = run_onnx(path, samples[None])[0]
        expected = recognizer.predict(clip).probabilities
        np.testing.assert_allclose(got, [expected[c] for c in SERCT_LABELS], atol=TOLERANCE, rtol=0)
        assert got.max() < 0.999  # unsaturated: the comparison means something


def test_the_waveform_graph_takes_a_batch_of_equal_lengths(serct):
    bundle, path, _ = serct
    x = np.random.default_rng(5).standard_normal((4, 20_800)).astype(np.float32)
    got = run_onnx(path, x)
    wrapper = ProbabilityNetwork(load_parts(bundle)[3], None).eval()
    with torch.inference_mode():
        np.testing.assert_allclose(got, wrapper(torch.from_numpy(x)).numpy(), atol=TOLERANCE, rtol=0)


def test_a_waveform_model_predicts_a_44_khz_file(serct, tmp_path):
    """serkit.audio resamples the file to the bundle's 16 kHz before the waveform feature."""
    bundle, path, _ = serct
    recognizer = load_model(bundle)
    clip = noise_wav(tmp_path / "cd.wav", 1.3, rate=44_100, seed=7)
    prediction = recognizer.predict(clip)
    assert prediction.duration_s == pytest.approx(1.3, abs=1e-3)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    samples, n = recognizer.raw_features(clip)
    assert samples.shape == (20_800,) and n == 20_800  # 1.3 s at 16 kHz
    got = run_onnx(path, samples[None])[0]
    np.testing.assert_allclose(got, [prediction.probabilities[c] for c in SERCT_LABELS], atol=TOLERANCE, rtol=0)


def test_export_checks_lengths_of_real_clips():
    """The example and the checks are clips' lengths: a branch on a short example's length
    (SERCT pads what is shorter than its receptive field) would otherwise go unseen."""
    waveform = make_features("waveform").spec
    # One sample over a second: no frame size divides it (DST pads to whole 320-sample
    # frames, a branch a graph exported from 16 000 samples left out).
    assert tuple(onnx_export.example_input(waveform).shape) == (2, 16_001)
    assert onnx_export.check_steps(waveform) == [4_000, 20_480]  # 0.25 s; 1.28 s = 64 frames of 320
    assert onnx_export.check_steps(make_features("fusion107").spec) == [None]
    frames = make_features("fusion107", pooling="none").spec  # 62.5 frames a second
    assert tuple(onnx_export.example_input(frames).shape) == (2, 63, 107)
    assert onnx_export.check_steps(frames) == [onnx_export.CHECK_MIN_STEPS, 80]


def test_falls_back_to_the_torchscript_exporter(tiny_bundle, tmp_path, monkeypatch):
    original = torch.onnx.export

    def dynamo_broken(*args, **kwargs):
        if kwargs.get("dynamo", True):
            raise RuntimeError("dynamo exporter unavailable here")
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", dynamo_broken)
    result = export_onnx(tiny_bundle, tmp_path / "ts.onnx")
    assert result.exporter == "torchscript"
    assert result.failures == ("dynamo exporter failed (dynamo exporter unavailable here)",)
    x = np.random.default_rng(0).standard_normal((3, 107)).astype(np.float32)
    wrapper = ProbabilityNetwork(load_parts(tiny_bundle)[3], None).eval()
    with torch.inference_mode():
        np.testing.assert_allclose(run_onnx(result.path, x), wrapper(torch.from_numpy(x)).numpy(),
                                   atol=TOLERANCE, rtol=0)


def test_a_graph_that_differs_from_pytorch_is_refused(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "max_difference", lambda *a, **k: 0.5)
    with pytest.raises(SerkitError, match="cannot be exported to ONNX.*differs from PyTorch"):
        export_onnx(tiny_bundle, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


def test_missing_onnx_names_the_extra(tiny_bundle, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript -> ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "serkit\[export\]"'):
        export_onnx(tiny_bundle, tmp_path / "x.onnx")
    assert main(["export", str(tiny_bundle), "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert 'serkit: error: ONNX export needs onnxscript' in capsys.readouterr().err


def test_unknown_model_is_one_error_line(tmp_path, capsys):
    assert main(["export", "no-such-model", "--onnx", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("serkit: error:") and len(err.strip().splitlines()) == 1


def test_reading_metadata_of_a_non_onnx_file_is_an_error(tmp_path):
    bogus = tmp_path / "bogus.onnx"
    bogus.write_text("not a model")
    with pytest.raises(SerkitError, match="bogus.onnx"):
        read_onnx_metadata(bogus)
