"""The everyday Python and HTTP API (issue 19, item 1): ``model(...)``, ``top_k``, torch
tensors and lists of arrays, ``errors="return"``, ``device``, ``warm_up``, ``?top_k=K``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

from serkit.errors import AudioError, ConfigError
from serkit.inference import Prediction, Recognizer, load_model
from serkit.server import create_app
from tests.conftest import TINY_LABELS, write_tone


@pytest.fixture(scope="module")
def rec(tiny_bundle) -> Recognizer:
    return load_model(tiny_bundle)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {
        "a": write_tone(root / "a.wav", seconds=0.8, freq=200.0, seed=1),
        "b": write_tone(root / "b.flac", seconds=0.6, freq=330.0, seed=2),
        "c": write_tone(root / "c.wav", seconds=0.7, freq=150.0, seed=3),
    }


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def signal(path: Path) -> tuple[np.ndarray, int]:
    x, rate = sf.read(path, dtype="float32")
    return x, rate


# --- model(...) -----------------------------------------------------------------------

def test_calling_the_model_predicts_one_clip_or_a_list(rec, clips):
    assert rec(clips["a"]) == rec.predict(clips["a"])
    batch = [clips["a"], clips["b"]]
    assert rec(batch) == rec.predict_batch(batch)
    assert rec(tuple(batch)) == rec.predict_batch(batch)
    x, rate = signal(clips["a"])
    assert rec(x, sample_rate=rate, top_k=2) == rec.predict(x, sample_rate=rate, top_k=2)


# --- top_k ----------------------------------------------------------------------------

def test_top_k_ranks_labels_by_probability(rec, clips):
    plain = rec.predict(clips["a"])
    assert plain.top_k is None and "top_k" not in plain.to_dict()
    p = rec.predict(clips["a"], top_k=3)
    assert len(p.top_k) == 3
    assert [q for _, q in p.top_k] == sorted(plain.probabilities.values(), reverse=True)[:3]
    assert p.top_k[0] == (plain.label, plain.probabilities[plain.label])
    assert all(plain.probabilities[label] == q for label, q in p.top_k)
    assert p.label == plain.label and p.probabilities == plain.probabilities
    assert p.to_dict()["top_k"] == [[label, q] for label, q in p.top_k]
    assert isinstance(p, Prediction)


def test_top_k_is_clipped_to_the_labels_and_rejects_under_one(rec, clips):
    p = rec.predict(clips["a"], top_k=100)
    assert sorted(label for label, _ in p.top_k) == sorted(TINY_LABELS)
    for bad in (0, -1):
        with pytest.raises(ConfigError, match="top_k"):
            rec.predict(clips["a"], top_k=bad)
    with pytest.raises(ConfigError, match="top_k"):
        rec.predict_batch([clips["a"]], top_k=0)
    batch = rec.predict_batch([clips["a"], clips["b"]], top_k=1)
    assert [p.top_k[0][0] for p in batch] == [p.label for p in batch]


# --- tensors and lists of arrays -------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_a_torch_tensor_is_taken_like_an_array(rec, clips, dtype):
    x, rate = signal(clips["a"])
    expected = rec.predict(torch.from_numpy(x).to(dtype).float().numpy(), sample_rate=rate)
    got = rec.predict(torch.from_numpy(x).to(dtype), sample_rate=rate)
    assert got == expected
    two_d = torch.from_numpy(np.stack([x, x], axis=1)).to(dtype)  # (samples, channels)
    assert rec.predict(two_d, sample_rate=rate).label == expected.label


def test_a_tensor_needs_its_sample_rate(rec, clips):
    x, _ = signal(clips["a"])
    with pytest.raises(AudioError, match="sample_rate"):
        rec.predict(torch.from_numpy(x))


def test_a_tensor_that_needs_grad_is_taken(rec, clips):
    x, rate = signal(clips["a"])
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    assert rec.predict(t, sample_rate=rate) == rec.predict(x, sample_rate=rate)


def test_a_batch_mixes_paths_bytes_arrays_and_tensors(rec, clips):
    x, rate = signal(clips["a"])
    sources = [clips["a"], clips["a"].read_bytes(), x, torch.from_numpy(x)]
    batch = rec.predict_batch(sources, sample_rate=rate)
    assert all(p == batch[0] for p in batch)
    assert rec(sources, sample_rate=rate) == batch
    with pytest.raises(AudioError, match=r"item 3 \(<array>\).*sample_rate"):
        rec.predict_batch([clips["a"], clips["b"], clips["c"], torch.from_numpy(x)])


def test_serkit_audio_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, serkit.audio; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- errors="return" -------------------------------------------------------------------

def test_errors_return_puts_the_error_in_the_bad_clips_place(rec, clips, tmp_path):
    missing = tmp_path / "missing.wav"
    silent = np.zeros(16_000, dtype=np.float32)
    sources = [clips["a"], missing, clips["b"], silent]
    out = rec.predict_batch(sources, sample_rate=16_000, errors="return")
    assert len(out) == 4
    assert isinstance(out[1], AudioError) and "missing.wav" in str(out[1])
    assert isinstance(out[3], AudioError) and "silent" in str(out[3])
    good = rec.predict_batch([clips["a"], clips["b"]])
    assert [out[0], out[2]] == good
    with pytest.raises(AudioError, match="missing.wav"):
        rec.predict_batch(sources, sample_rate=16_000)  # "raise", the default
    with pytest.raises(AudioError):
        rec.predict_batch(sources, sample_rate=16_000, errors="raise")
    only_bad = rec.predict_batch([missing], errors="return")
    assert len(only_bad) == 1 and isinstance(only_bad[0], AudioError)


def test_errors_must_be_raise_or_return(rec, clips):
    with pytest.raises(ConfigError, match="errors"):
        rec.predict_batch([clips["a"]], errors="ignore")


def test_errors_return_with_adapt_uses_the_good_clips_only(rec, clips, tmp_path):
    sources = [clips["a"], tmp_path / "missing.wav", clips["b"], clips["c"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = rec.predict_batch(sources, adapt=True, errors="return", top_k=2)
        expected = rec.predict_batch([clips["a"], clips["b"], clips["c"]], adapt=True, top_k=2)
    assert isinstance(out[1], AudioError)
    assert [out[0], out[2], out[3]] == expected


# --- device -------------------------------------------------------------------------------

def test_load_model_on_cpu(tiny_bundle, rec, clips):
    on_cpu = load_model(tiny_bundle, device="cpu")
    assert on_cpu.device == "cpu"
    assert on_cpu.predict(clips["a"]) == rec.predict(clips["a"])
    assert load_model(tiny_bundle, device="cpu") is on_cpu  # cached


def test_an_unknown_device_is_a_config_error(tiny_bundle):
    with pytest.raises(ConfigError, match="'tpu'"):
        load_model(tiny_bundle, device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is available here")
def test_cuda_without_a_gpu_is_a_clear_config_error(tiny_bundle):
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match=f"device '{device}' is not available"):
            load_model(tiny_bundle, device=device)


# --- warm_up ------------------------------------------------------------------------------

def test_warm_up_runs_the_pipeline_and_returns_its_seconds(rec, monkeypatch):
    calls = []
    real = Recognizer._probabilities

    def counting(self, features, batch_size):
        calls.append(len(features))
        return real(self, features, batch_size)

    monkeypatch.setattr(Recognizer, "_probabilities", counting)
    seconds = rec.warm_up()
    assert isinstance(seconds, float) and seconds > 0
    assert calls == [1]


def test_the_server_warms_up_through_the_recognizer(rec, monkeypatch):
    called = []
    monkeypatch.setattr(Recognizer, "warm_up", lambda self: called.append(self) or 0.0)
    create_app(rec, torch_threads=None)
    assert called == [rec]


# --- HTTP ?top_k=K --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(rec):
    with TestClient(create_app(rec, torch_threads=None, warm_up=False)) as c:
        yield c


def upload(path: Path) -> dict:
    return {"file": (path.name, path.read_bytes(), "audio/wav")}


def test_http_predict_with_top_k(client, rec, clips):
    plain = client.post("/v1/predict", files=upload(clips["a"]))
    assert plain.status_code == 200 and "top_k" not in plain.json()
    response = client.post("/v1/predict?top_k=2", files=upload(clips["a"]))
    assert response.status_code == 200, response.text
    body = response.json()
    expected = rec.predict(clips["a"], top_k=2)
    assert body["top_k"] == [[label, pytest.approx(q)] for label, q in expected.top_k]
    assert body["label"] == plain.json()["label"]


def test_http_batch_with_top_k(client, rec, clips):
    files = [("files", (p.name, p.read_bytes(), "audio/wav")) for p in (clips["a"], clips["b"])]
    files.append(("files", ("bad.wav", b"not audio", "audio/wav")))
    plain = client.post("/v1/predict/batch", files=files).json()
    assert all("top_k" not in r for r in plain["results"])
    response = client.post("/v1/predict/batch?top_k=5", files=files)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    for r, path in zip(results, (clips["a"], clips["b"])):
        assert [label for label, _ in r["top_k"]] == [
            label for label, _ in rec.predict(path, top_k=5).top_k]
    assert "error" in results[2] and "top_k" not in results[2]


@pytest.mark.parametrize("endpoint", ["/v1/predict", "/v1/predict/batch"])
@pytest.mark.parametrize("k", [0, 6, -2])
def test_http_top_k_out_of_range_is_422(client, clips, endpoint, k):
    field = "file" if endpoint == "/v1/predict" else "files"
    response = client.post(f"{endpoint}?top_k={k}",
                           files=[(field, ("a.wav", clips["a"].read_bytes(), "audio/wav"))])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert "top_k must be between 1 and 5" in error["message"] and str(k) in error["message"]


def test_http_top_k_not_a_number_is_422(client, clips):
    response = client.post("/v1/predict?top_k=two", files=upload(clips["a"]))
    assert response.status_code == 422
    assert "top_k" in response.json()["error"]["message"]


def test_openapi_documents_top_k(client):
    schema = client.get("/openapi.json").json()
    for path in ("/v1/predict", "/v1/predict/batch"):
        params = {p["name"]: p for p in schema["paths"][path]["post"]["parameters"]}
        assert "top_k" in params and params["top_k"]["description"]
    for name in ("PredictionOut", "BatchPredictionOut"):
        assert "top_k" in schema["components"]["schemas"][name]["properties"]
