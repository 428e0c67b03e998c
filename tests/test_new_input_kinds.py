"""A new feature kind and a new model plug in without editing serkit.

This file defines a toy waveform extractor with a toy waveform model, and a toy image
extractor (a log-magnitude spectrogram as a 1-channel image) with a toy image model,
registers them, and runs each pair through everything a user does: train → report →
bundle → predict → ONNX. No file outside this test knows about them; if this test needs
an edit in serkit to pass, the seam between features and models has leaked again.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from serkit.features import FEATURES
from serkit.inputs import InputSpec
from serkit.models import MODELS, register_model
from serkit.training.config import config_from_dict
from tests.conftest import write_tone


class ToyWaveform:
    """The signal itself, every 4th sample: ``(T,)`` at 4 kHz."""

    name = "toy_waveform"
    sample_rate = 16_000

    def __init__(self, *, step: int = 4):
        self.step = step

    @property
    def params(self) -> dict:
        return {"step": self.step}

    @property
    def spec(self) -> InputSpec:
        return InputSpec("waveform", (), rate=self.sample_rate / self.step)

    @property
    def dim(self) -> int:
        return 1

    @property
    def feature_names(self) -> list[str]:
        return ["sample"]

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(signal[:: self.step], dtype=np.float32)


class ToyImage:
    """log |STFT| as a 1-channel image ``(1, bins, frames)``."""

    name = "toy_image"
    sample_rate = 16_000

    def __init__(self, *, n_fft: int = 64):
        self.n_fft = n_fft

    @property
    def params(self) -> dict:
        return {"n_fft": self.n_fft}

    @property
    def spec(self) -> InputSpec:
        return InputSpec("image", (1, self.n_fft // 2 + 1), rate=self.sample_rate / self.n_fft)

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def feature_names(self) -> list[str]:
        return [f"bin_{k}" for k in range(self.dim)]

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        frames = len(signal) // self.n_fft
        blocks = signal[: frames * self.n_fft].reshape(frames, self.n_fft)
        magnitude = np.abs(np.fft.rfft(blocks * np.hanning(self.n_fft), axis=1))
        return np.log1p(magnitude).T[None].astype(np.float32)


def _masked_mean(h: torch.Tensor, lengths: torch.Tensor | None, total: int) -> torch.Tensor:
    """Mean over the last axis of ``h`` (batch, channels, time), padding left out."""
    if lengths is None:
        return h.mean(-1)
    # A conv with stride s maps input length L to about L / s steps.
    steps = torch.clamp(torch.div(lengths * h.shape[-1], total, rounding_mode="floor"), min=1)
    mask = (torch.arange(h.shape[-1])[None, :] < steps[:, None]).to(h.dtype)
    return (h * mask[:, None, :]).sum(-1) / steps[:, None].to(h.dtype)


class ToyWaveNet(nn.Module):
    """Strided 1-D conv over the raw samples, averaged over time."""

    def __init__(self, n_features: int, n_classes: int, *, width: int = 8):
        super().__init__()
        self.conv = nn.Conv1d(n_features, width, kernel_size=16, stride=8)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x, lengths=None):
        h = torch.relu(self.conv(x[:, None, :]))
        return self.head(_masked_mean(h, lengths, x.shape[-1]))


class ToyImageNet(nn.Module):
    """One 2-D conv over (channels, height, time), averaged over height and time."""

    def __init__(self, n_features: int, n_classes: int, *, channels: int = 1, height: int = 1,
                 width: int = 4):
        super().__init__()
        assert n_features == channels * height  # what the input spec promised
        self.conv = nn.Conv2d(channels, width, kernel_size=3, padding=1)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x, lengths=None):
        h = torch.relu(self.conv(x)).mean(2)
        return self.head(_masked_mean(h, lengths, x.shape[-1]))


PAIRS = {
    "waveform": ("toy_waveform", "toy_wave_net", {"random_crop": 800}),
    "image": ("toy_image", "toy_image_net", {}),
}


@pytest.fixture(scope="module", autouse=True)
def registered(tmp_path_factory):
    FEATURES.register("toy_waveform", ToyWaveform)
    FEATURES.register("toy_image", ToyImage)
    register_model("toy_wave_net", ToyWaveNet, accepts=("waveform",))
    register_model("toy_image_net", ToyImageNet, accepts=("image",),
                   spec_params={"channels": "channels", "height": "height"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield
    for name in ("toy_waveform", "toy_image"):
        FEATURES.unregister(name)
    for name in ("toy_wave_net", "toy_image_net"):
        MODELS.unregister(name)


def toy_config(kind: str):
    features, model, training = PAIRS[kind]
    return config_from_dict({
        "experiment": f"toy_{kind}",
        "data": {"corpora": ["folder"]},
        "features": {"name": features},
        "model": {"name": model},
        "protocol": {"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.2}},
        "training": {"epochs": 3, "batch_size": 8, "learning_rate": 0.01, "standardize": False, **training},
    })


@pytest.mark.parametrize("kind", list(PAIRS))
def test_train_report_bundle_predict_export(kind, fake_root, tmp_path, one_torch_thread):
    from serkit.evaluation import build_report
    from serkit.inference import load_model
    from serkit.inference.bundle import bundle_from_run
    from serkit.inference.onnx_export import export_onnx, read_onnx_metadata
    from serkit.training.runner import run_experiment

    run = tmp_path / "run"
    report = run_experiment(toy_config(kind), out_dir=run, data_root=fake_root, progress=False)
    assert report["n_predictions"] == 30 and 0.0 <= report["metrics"]["accuracy"]["mean"] <= 1.0
    assert build_report(run)["metrics"] == report["metrics"]  # the report regenerates

    bundle = bundle_from_run(run, seed=0, fold=1, out=tmp_path / "bundle")
    recognizer = load_model(bundle)
    clip = write_tone(tmp_path / "clip.wav", seconds=0.6, rate=22_050)  # another rate: resampled
    prediction = recognizer.predict(clip)
    assert prediction.label in recognizer.labels
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    batch = recognizer.predict_batch([clip, write_tone(tmp_path / "long.wav", seconds=1.3)])
    assert batch[0].probabilities == pytest.approx(prediction.probabilities)  # padding changes nothing

    result = export_onnx(bundle, tmp_path / "toy.onnx")
    assert result.input_kind == kind
    assert read_onnx_metadata(tmp_path / "toy.onnx")["input_kind"] == kind


def test_a_model_refuses_features_of_another_kind():
    from serkit.errors import ConfigError

    raw = toy_config("image").to_dict()
    raw["features"] = {"name": "toy_waveform", "params": {}}
    with pytest.raises(ConfigError, match="model 'toy_image_net' expects 'image' input, not the 'waveform'"):
        config_from_dict(raw)


def test_standardizing_a_waveform_is_refused_when_the_config_is_read():
    from serkit.errors import ConfigError

    raw = toy_config("waveform").to_dict()
    raw["training"]["standardize"] = True
    with pytest.raises(ConfigError, match="training.standardize: false"):
        config_from_dict(raw)
