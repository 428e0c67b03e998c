"""serkit.embed, `serkit embed`, the few-shot heads and `serkit fewshot`, on short tones.

The voice encoder runs with its real weights (the resemblyzer wheel, a dependency, ships
them): on clips of a second or less the whole file takes about 10 s on one thread, and
the few-shot tests need an encoder that tells pitches apart.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import serkit
from serkit.cli import main
from serkit.errors import AudioError, ConfigError, CorpusError
from serkit.inference import load_model
from serkit.inference.bundle import load_parts, save_bundle
from serkit.inference.embedding import embed, embed_files, embedding_extractor
from serkit.models import make_model
from serkit.models.heads import LinearHead, PrototypeHead
from serkit.training import fewshot
from serkit.training.fewshot import (
    DEFAULT_SCALE,
    SCALE_BOUNDS,
    fewshot_bundle,
    fit_head,
    leave_one_out_accuracy,
    leave_one_out_cosines,
)
from tests.conftest import FAKE_EMOTIONS, write_fake_corpus, write_tone

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def clips(tmp_path) -> Path:
    """Three tones at 44.1 kHz (one in a sub-folder) and a .wav that is not audio."""
    folder = tmp_path / "clips"
    for i, freq in enumerate((150.0, 260.0)):
        write_tone(folder / f"tone{i}.wav", seconds=0.8, rate=44_100, freq=freq, seed=i)
    write_tone(folder / "sub" / "tone2.flac", seconds=1.2, rate=44_100, freq=330.0, seed=2)
    (folder / "broken.wav").write_bytes(b"RIFF this is not a wav file")
    return folder


def good_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "broken.wav")


# --- serkit.embed ------------------------------------------------------------------------------

def test_files_bytes_and_arrays_give_the_same_rows(clips):
    path = clips / "tone0.wav"
    signal, rate = sf.read(path, dtype="float32")
    rows = serkit.embed([path, path.read_bytes(), signal, str(path)], sample_rate=rate)
    assert rows.shape == (4, 256) and rows.dtype == np.float32
    for row in rows[1:]:
        np.testing.assert_allclose(row, rows[0], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    # One source alone, and one clip at a time, give the same row too.
    np.testing.assert_allclose(embed(path)[0], rows[0], atol=1e-5)
    np.testing.assert_allclose(embed(signal, sample_rate=rate, batch_size=1)[0], rows[0], atol=1e-5)
    other = serkit.embed([clips / "tone1.wav"])[0]
    assert float(rows[0] @ other) < 0.9999  # different audio, different embedding


@pytest.mark.parametrize(("params", "dim"), [
    (None, 256), ({"pooling": "embedding"}, 256), ({"pooling": "states"}, 512), ({"pooling": "both"}, 768),
])
def test_shapes_per_pooling(clips, params, dim):
    files = good_files(clips)
    rows = embed(files, params=params)
    assert rows.shape == (len(files), dim) and rows.dtype == np.float32 and np.isfinite(rows).all()
    assert embedding_extractor(params=params).dim == dim


def test_other_vector_features_and_frames_refused(clips):
    files = good_files(clips)
    assert embed(files, features="fusion107").shape == (len(files), 107)
    assert embed([], params={"pooling": "both"}).shape == (0, 768)
    with pytest.raises(ConfigError, match="'frames', not one vector per clip"):
        embed(files, params={"pooling": "none"})
    with pytest.raises(ConfigError, match="valid parameters"):
        embed(files, features="fusion107", params={"poolin": "mean"})


def test_bad_sources_raise_the_recognizers_audio_errors(clips, tmp_path):
    rec_errors = []
    tiny = np.zeros(100, dtype=np.float32) + 0.1
    for source, kwargs in [(np.ones(16_000, dtype=np.float32), {}), (tiny, {"sample_rate": 16_000}),
                           (tmp_path / "missing.wav", {}), (clips / "broken.wav", {}), (b"", {})]:
        with pytest.raises(AudioError) as got:
            embed([clips / "tone0.wav", source], **kwargs)
        rec_errors.append(str(got.value))
    assert rec_errors[0] == ("item 1 (<array>): an audio array needs its sample rate; pass "
                             "sample_rate=... (e.g. sample_rate=16000)")
    assert "shorter than the 0.25 s" in rec_errors[1]
    assert rec_errors[2].endswith("missing.wav: file not found; check the path")
    assert rec_errors[3].startswith(str(clips / "broken.wav"))
    assert "empty (0 bytes)" in rec_errors[4]
    # The Recognizer's own message for the same array, word for word.
    recognizer = load_model()
    with pytest.raises(AudioError) as rec:
        recognizer.predict_batch([clips / "tone0.wav", np.ones(16_000, dtype=np.float32)])
    assert str(rec.value) == rec_errors[0]
    with pytest.raises(AudioError, match="^upload.wav: "):
        embed([b"nonsense"], names=["upload.wav"])
    with pytest.raises(ConfigError, match="2 sources but 1 names"):
        embed([clips / "tone0.wav", clips / "tone1.wav"], names=["a"])


def test_lazy_public_api_and_recognizer_embed(clips, tmp_path):
    assert serkit.embed is embed
    files = good_files(clips)
    recognizer = load_model()
    raw = recognizer.embed(files)
    assert raw.shape == (len(files), recognizer.info["model"]["n_features"]) and raw.dtype == np.float32
    np.testing.assert_array_equal(raw[1], recognizer.raw_features(files[1])[0])
    # embed batches the clips through the encoder: equal up to float32 rounding of batching
    np.testing.assert_allclose(raw, embed(files, features=recognizer.info["features"]["name"],
                                          params=recognizer.info["features"]["params"]), atol=1e-5)
    assert recognizer.embed([]).shape == (0, raw.shape[1])
    # One clip, as a path string, is one row: not one row per character of the path.
    np.testing.assert_array_equal(recognizer.embed(str(files[1])), raw[1:2])


def test_embed_files_leaves_bad_files_out(clips):
    files = sorted(p for p in clips.rglob("*") if p.is_file())
    seen = []
    result = embed_files(files, embedding_extractor(), batch_size=2, on_error=lambda p, m: seen.append(p))
    assert result.paths == good_files(clips) and seen == [clips / "broken.wav"]
    assert [p for p, _ in result.failed] == [clips / "broken.wav"]
    assert not result.failed[0][1].startswith(str(clips))  # the path is not repeated
    np.testing.assert_allclose(result.embeddings, embed(result.paths), atol=1e-5)


# --- serkit embed ------------------------------------------------------------------------------

def run_cli(*args, capsys) -> tuple[int, str, str]:
    code = main([*map(str, args), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_npz_and_reports_a_bad_file(clips, tmp_path, capsys):
    output = tmp_path / "out" / "emb.npz"
    code, out, err = run_cli("embed", clips, "--output", output, capsys=capsys)
    assert code == 1 and out == ""
    assert f"serkit embed: {clips / 'broken.wav'}: " in err and "Traceback" not in err
    assert "wrote 3 embeddings of 256 dimensions" in err and "1 file(s) failed" in err
    with np.load(output) as data:  # no pickled objects: allow_pickle stays False
        assert sorted(data.files) == ["embeddings", "feature_names", "features", "paths"]
        assert data["embeddings"].shape == (3, 256) and data["embeddings"].dtype == np.float32
        assert list(data["paths"]) == [str(p) for p in good_files(clips)]
        assert list(data["feature_names"]) == [f"vemb_{i:03d}" for i in range(256)]
        assert json.loads(str(data["features"]))["params"]["pooling"] == "embedding"
        np.testing.assert_allclose(data["embeddings"], embed(good_files(clips)), atol=1e-5)
    assert [p.name for p in output.parent.iterdir()] == ["emb.npz"]  # no temporary file left

    code, _, err = run_cli("embed", *good_files(clips), "--output", output, "--pooling", "both",
                           capsys=capsys)
    assert code == 0 and "failed" not in err
    with np.load(output) as data:
        assert data["embeddings"].shape == (3, 768) and data["feature_names"][-1] == "vstate_std_255"


def test_cli_usage_errors(clips, tmp_path, capsys, monkeypatch):
    for args, message in [
        (("--output", tmp_path / "emb.csv"), "write .npz"),
        (("--output", tmp_path), "write .npz"),
        (("--output", tmp_path / "x.npz", "--features", "fusion107", "--pooling", "both"), "--pooling"),
        (("--output", tmp_path / "x.npz", "--features", "mfcc"), "feature"),
    ]:
        code, _, err = run_cli("embed", clips, *args, capsys=capsys)
        assert code == 2 and message in err and "Traceback" not in err, err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli("embed", empty, "--output", tmp_path / "x.npz", capsys=capsys)
    assert code == 2 and "no audio files" in err
    code, _, err = run_cli("embed", clips / "broken.wav", "--output", tmp_path / "x.npz", capsys=capsys)
    assert code == 1 and "nothing written" in err and not (tmp_path / "x.npz").exists()
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if pyarrow were not installed
    code, _, err = run_cli("embed", clips, "--output", tmp_path / "x.parquet", capsys=capsys)
    assert code == 2 and "needs pyarrow" in err and ".npz" in err
    assert not (tmp_path / "x.parquet").exists()


def test_cli_writes_parquet(clips, tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    output = tmp_path / "emb.parquet"
    code, _, _ = run_cli("embed", clips, "--output", output, capsys=capsys)
    assert code == 1
    table = pq.read_table(output)
    assert table.column_names == ["path", *(f"vemb_{i:03d}" for i in range(256))]
    assert table.column("path").to_pylist() == [str(p) for p in good_files(clips)]
    values = np.stack([table.column(f"vemb_{i:03d}").to_numpy() for i in range(256)], axis=1)
    np.testing.assert_allclose(values, embed(good_files(clips)), atol=1e-5)
    assert json.loads(table.schema.metadata[b"serkit.features"])["name"] == "voice_encoder"


# --- the heads ---------------------------------------------------------------------------------

def test_heads_compute_what_they_say():
    torch.manual_seed(0)
    x = torch.randn(5, 8)
    head = make_model("prototype_head", 8, 3)
    protos = torch.randn(3, 8)
    head.set_prototypes(protos * 4.0, scale=12.5)  # only the direction of a prototype counts
    expected = 12.5 * torch.nn.functional.cosine_similarity(x[:, None], protos[None], dim=2)
    torch.testing.assert_close(head(x), expected)
    assert head(torch.zeros(2, 8)).abs().max() == 0  # a zero input: zero logits, not NaN
    linear = make_model("linear_head", 8, 3)
    torch.testing.assert_close(linear(x), x @ linear.linear.weight.T + linear.linear.bias)
    for model in (head, linear):
        with pytest.raises(ValueError, match=r"\(batch, 8\)"):
            model(torch.zeros(2, 5, 8))
    with pytest.raises(ConfigError, match="n_classes must be an integer"):
        make_model("prototype_head", 8, 0)
    with pytest.raises(ConfigError, match="n_features must be > 0"):
        LinearHead(0, 3)
    with pytest.raises(ConfigError, match="valid parameters"):
        make_model("linear_head", 8, 3, hidden_units=[4])
    with pytest.raises(ValueError, match="scale"):
        head.set_prototypes(protos, scale=0.0)


@pytest.mark.parametrize("name", ["prototype_head", "linear_head"])
def test_heads_round_trip_through_a_bundle(name, tmp_path):
    torch.manual_seed(1)
    extractor = embedding_extractor()
    model = make_model(name, extractor.dim, 3).eval()
    if isinstance(model, PrototypeHead):
        model.set_prototypes(torch.randn(3, extractor.dim), scale=37.0)
    else:
        assert isinstance(model, LinearHead)
    folder = save_bundle(tmp_path / name, name=name, model=model, extractor=extractor, standardizer=None,
                         labels=["anger", "neutral", "sadness"])
    info, loaded_extractor, standardizer, loaded = load_parts(folder)
    assert info["model"] == {"name": name, "params": {}, "n_features": 256, "n_classes": 3}
    assert standardizer is None and loaded_extractor.params == extractor.params
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.randn(4, extractor.dim)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


# --- fitting -----------------------------------------------------------------------------------

def clusters(per_class: list[int], dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around one random centre per class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(per_class), dim))
    y = np.repeat(np.arange(len(per_class)), per_class)
    x = centres[y] + 0.3 * rng.normal(size=(len(y), dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y


def test_leave_one_out_cosines_match_refitting():
    x, y = clusters([3, 2, 4])
    cos = leave_one_out_cosines(x.astype(np.float64), y, 3)
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        for c in range(3):
            proto = x[keep & (y == c)].mean(axis=0) if c == y[i] else x[y == c].mean(axis=0)
            assert cos[i, c] == pytest.approx(x[i] @ proto / np.linalg.norm(proto), abs=1e-6)


def test_prototype_scale_fitted_by_leave_one_out_or_fixed():
    x, y = clusters([3, 3, 3])
    fitted = fit_head("prototype", x, y, 3)
    assert fitted.details["scale_source"].startswith("leave-one-out")
    assert SCALE_BOUNDS[0] <= fitted.details["scale"] <= SCALE_BOUNDS[1]
    assert fitted.model.scale.item() == pytest.approx(fitted.details["scale"])
    assert (fitted.predict(x) == y).all()
    # Noisier classes (nearer centres) get a lower scale: less confident probabilities.
    noisy_x, noisy_y = clusters([3, 3, 3], seed=0)
    noisy_x = noisy_x + np.random.default_rng(5).normal(scale=0.6, size=noisy_x.shape).astype(np.float32)
    assert fit_head("prototype", noisy_x, noisy_y, 3).details["scale"] < fitted.details["scale"]
    one = fit_head("prototype", x[[0, 3, 4, 6]], y[[0, 3, 4, 6]], 3)
    assert one.details["scale"] == DEFAULT_SCALE and one.details["scale_source"].startswith("fixed")
    assert one.details["few_classes"] == [0, 2]
    assert leave_one_out_accuracy("prototype", x[[0, 3, 4, 6]], y[[0, 3, 4, 6]], 3) is None
    assert leave_one_out_accuracy("prototype", x, y, 3) == 1.0


@pytest.mark.parametrize("n_classes", [2, 4])
def test_logistic_head_is_scikit_learns_regression(n_classes):
    from sklearn.linear_model import LogisticRegression

    x, y = clusters([4] * n_classes, seed=n_classes)
    head = fit_head("logistic", x, y, n_classes, C=0.5)
    assert head.model_name == "linear_head" and head.details["C"] == 0.5
    mean = x.astype(np.float64).mean(axis=0)
    spread = np.sqrt(np.mean((x - mean) ** 2))
    reference = LogisticRegression(C=0.5, class_weight="balanced", max_iter=5000).fit((x - mean) / spread, y)
    probe = clusters([3] * n_classes, seed=9)[0]
    expected = reference.predict_proba((probe - mean) / spread)
    got = torch.softmax(torch.from_numpy(fewshot.head_logits(head.model, probe)), dim=1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert (head.predict(x) == y).all()
    assert leave_one_out_accuracy("logistic", x, y, n_classes) == 1.0


def test_fitting_refuses_bad_support_sets():
    x, y = clusters([2, 2])
    with pytest.raises(ConfigError, match="no clip of class 2"):
        fit_head("prototype", x, y, 3)
    with pytest.raises(ConfigError, match="method"):
        fit_head("knn", x, y, 2)
    with pytest.raises(ConfigError, match="C must be"):
        fit_head("logistic", x, y, 2, C=0.0)
    with pytest.raises(ConfigError, match="NaN"):
        fit_head("prototype", np.full_like(x, np.nan), y, 2)


# --- serkit fewshot ----------------------------------------------------------------------------

@pytest.fixture
def support(tmp_path) -> Path:
    """``folder/<emotion>/*.wav``: 4 tones per emotion, each emotion at its own pitch."""
    return write_fake_corpus(tmp_path / "data", per_emotion=4) / "folder"


@pytest.mark.parametrize("method", ["prototype", "logistic"])
def test_fewshot_bundle_predicts_its_support_clips(support, tmp_path, method, capsys):
    out = tmp_path / "bundles" / method
    code, stdout, err = run_cli("fewshot", support, "--out", out, "--method", method, capsys=capsys)
    assert code == 0 and err == "", err
    assert "leave-one-out accuracy on the support clips: 100.0 % (12 clips)" in stdout
    assert ("leave-one-out on the support set" in stdout) == (method == "prototype")
    recognizer = serkit.load_model(out)
    assert recognizer.labels == sorted(FAKE_EMOTIONS)
    assert recognizer.info["model"]["name"] == f"{'prototype' if method == 'prototype' else 'linear'}_head"
    files = sorted(support.rglob("*.wav"))
    predictions = recognizer.predict_batch(files)
    assert [p.label for p in predictions] == [f.parent.name for f in files]
    # The bundle's inputs are plain embeddings: Recognizer.embed is serkit.embed.
    np.testing.assert_allclose(recognizer.embed(files), embed(files), atol=1e-5)
    assert (out / "MODEL_CARD.md").read_text().startswith(f"# {method}\n")
    code, stdout, _ = run_cli("predict", "--model", out, "--format", "jsonl", "--jobs", "1", *files[:3],
                              capsys=capsys)
    assert code == 0 and [json.loads(line)["label"] for line in stdout.splitlines()] == ["anger"] * 3


def test_fewshot_with_one_shot_uses_the_fixed_scale(support, tmp_path, capsys):
    out = tmp_path / "one"
    code, stdout, _ = run_cli("fewshot", support, "--out", out, "--shots", "1", "--seed", "3", capsys=capsys)
    assert code == 0
    assert f"scale {DEFAULT_SCALE:g}: fixed (fewer than 2 clips for anger, neutral, sadness" in stdout
    assert "not measured" in stdout
    info = load_model(out).info
    assert info["training"]["fewshot"]["clips"] == {"anger": 1, "neutral": 1, "sadness": 1}
    assert "leave_one_out" not in info["metrics"]
    again = fewshot.support_files(support, shots=1, seed=3)
    assert again == fewshot.support_files(support, shots=1, seed=3)  # the seed fixes the draw
    assert all(len(v) == 1 for v in again.values())


def test_fewshot_leaves_out_bad_clips_and_refuses_bad_folders(support, tmp_path, capsys):
    (support / "anger" / "broken.wav").write_bytes(b"RIFF not audio")
    out = tmp_path / "b"
    code, _, err = run_cli("fewshot", support, "--out", out, capsys=capsys)
    assert code == 1 and f"serkit fewshot: {support / 'anger' / 'broken.wav'}: " in err
    assert load_model(out).info["training"]["fewshot"]["clips"]["anger"] == 4

    for clip in (support / "sadness").iterdir():
        clip.write_bytes(b"")
    code, _, err = run_cli("fewshot", support, "--out", tmp_path / "c", capsys=capsys)
    assert code == 2 and "no usable clip for label(s) sadness" in err and "Traceback" not in err
    assert not (tmp_path / "c").exists()

    (support / "grumpy").mkdir()
    write_tone(support / "grumpy" / "x.wav")
    code, _, err = run_cli("fewshot", support, "--out", tmp_path / "d", capsys=capsys)
    assert code == 2 and "'grumpy'" in err
    with pytest.raises(CorpusError, match="one label only"):
        one = tmp_path / "one" / "neutral"
        write_tone(one / "a.wav")
        fewshot_bundle(one.parent, tmp_path / "e")
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error
        run_cli("fewshot", support, "--out", tmp_path / "f", "--shots", "0", capsys=capsys)
    assert usage.value.code == 2 and "expected a positive integer, not 0" in capsys.readouterr().err
    # An existing folder that is not a bundle is never overwritten.
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    (support / "grumpy" / "x.wav").unlink()
    (support / "grumpy").rmdir()
    for clip in (support / "sadness").iterdir():
        write_tone(clip, freq=120.0)
    code, _, err = run_cli("fewshot", support, "--out", keep, capsys=capsys)
    assert code == 2 and "not a model bundle" in err and (keep / "notes.txt").read_text() == "mine"
