"""Feature extractors, the feature cache, corpus extraction and standardisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import corpus_root, write_tone
from serkit.errors import AudioError, ConfigError
from serkit.features import (
    FEATURES,
    FeatureCache,
    FeatureExtractor,
    Standardizer,
    extract_corpus,
    make_features,
)

RATE = 16_000


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def column(extractor, name: str) -> int:
    return extractor.feature_names.index(name)


# --- every registered extractor ------------------------------------------------------


#: Each registered extractor in each of its configurations.
CONFIGURATIONS = ([("fusion107", {"pooling": p}) for p in ("mean", "meanstd", "none")] + [("logmel", {})]
                  + [("voice_encoder", {"pooling": p}) for p in ("embedding", "states", "both", "none")]
                  + [("scalogram", {}), ("scalogram", {"rgb": True, "n_scales": 16})]
                  + [("waveform", {}), ("waveform", {"fixed_samples": 48_000, "normalize": "none"})])


def test_every_extractor_is_covered():
    assert sorted({name for name, _ in CONFIGURATIONS}) == FEATURES.names()


@pytest.mark.parametrize(("name", "params"), CONFIGURATIONS)
def test_extractor_contract(name, params):
    extractor = make_features(name, **params)
    assert isinstance(extractor, FeatureExtractor)
    assert len(extractor.feature_names) == extractor.dim
    assert len(set(extractor.feature_names)) == extractor.dim
    json.dumps(extractor.params)  # cache keys and bundles need plain JSON
    assert make_features(name, **extractor.params).params == extractor.params
    out = extractor(tone(220.0))
    assert out.dtype == np.float32
    spec = extractor.spec
    assert spec.dim == extractor.dim
    if spec.kind == "vector":
        assert out.shape == (extractor.dim,)
    elif spec.kind == "image":  # (channels, rows, time)
        assert out.ndim == 3 and out.shape[:2] == spec.shape
        assert spec.length in (None, out.shape[2])
    elif spec.kind == "waveform":  # (samples,)
        assert out.ndim == 1 and spec.length in (None, out.shape[0])
    else:
        assert out.ndim == 2 and out.shape[1] == extractor.dim
        assert spec.length in (None, out.shape[0])  # a fixed length is the real one


def test_meanstd_pooling_is_the_mean_and_std_of_the_frames():
    frames = make_features("fusion107", pooling="none")(tone(220.0))
    pooled = make_features("fusion107", pooling="meanstd")
    out = pooled(tone(220.0))
    assert out.shape == (214,) and pooled.feature_names[107] == "mfcc_01_std"
    assert np.allclose(out[:107], frames.mean(axis=0), atol=1e-4)
    assert np.allclose(out[107:], frames.std(axis=0), atol=1e-4)


def test_unknown_feature_and_parameter_say_what_exists():
    with pytest.raises(ConfigError, match="Did you mean 'fusion107'"):
        make_features("fusion108")
    with pytest.raises(ConfigError, match="n_mfcc") as info:
        make_features("fusion107", n_mfccs=20)
    assert "'n_mfccs'" in str(info.value)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"pooling": "max"}, "pooling must be one of 'mean', 'meanstd', 'none'"),
        ({"fmin": 700.0}, "fmin < fmax"),
        ({"fmin": 20.0}, "too short for fmin"),
        ({"n_fft": 0}, "positive integer"),
        ({"hop_length": 2048}, "must not exceed n_fft"),
        ({"voicing_threshold": 0.0}, r"\(0, 1\]"),
    ],
)
def test_bad_parameter_values_are_config_errors(params, match):
    with pytest.raises(ConfigError, match=match):
        make_features("fusion107", **params)


# --- fusion107 -----------------------------------------------------------------------


def test_fusion_blocks_add_up_to_107_with_named_dimensions():
    fusion = make_features("fusion107")
    sizes = {block: len(names) for block, names in fusion.blocks.items()}
    assert sizes == {
        "mfcc": 25, "mfcc_delta": 25, "mfcc_delta2": 25, "zcr": 1, "chroma": 12,
        "contrast": 7, "centroid": 1, "rolloff": 1, "bandwidth": 1, "tonnetz": 6, "pitch": 3,
    }
    assert sum(sizes.values()) == fusion.dim == 107
    names = fusion.feature_names
    assert len(names) == len(set(names)) == 107
    prefixes = {"mfcc": "mfcc_", "mfcc_delta": "mfcc_delta_", "mfcc_delta2": "mfcc_delta2_",
                "zcr": "zcr", "chroma": "chroma_", "contrast": "contrast_",
                "centroid": "spectral_centroid", "rolloff": "spectral_rolloff",
                "bandwidth": "spectral_bandwidth", "tonnetz": "tonnetz_", "pitch": "pitch_"}
    for block, block_names in fusion.blocks.items():
        assert all(n.startswith(prefixes[block]) for n in block_names), block
    # The blocks appear in the output in table order.
    assert names[:3] == ["mfcc_01", "mfcc_02", "mfcc_03"]
    assert names[25] == "mfcc_delta_01" and names[50] == "mfcc_delta2_01"
    assert names[-3:] == ["pitch_log_f0", "pitch_voiced", "pitch_periodicity"]
    assert make_features("fusion107", n_mfcc=13).dim == 3 * 13 + 32


def test_frames_share_one_grid_and_the_vector_is_their_mean():
    frames_fx = make_features("fusion107", pooling="none")
    vector_fx = make_features("fusion107", pooling="mean")
    x = tone(300.0, seconds=1.0)
    frames = frames_fx(x)
    assert frames_fx.spec.kind == "frames" and vector_fx.spec.kind == "vector"
    assert frames.shape == (1 + x.size // 256, 107)
    np.testing.assert_allclose(vector_fx(x), frames.mean(axis=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "signal",
    [
        tone(220.0, seconds=0.5),
        np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1,
        np.zeros(8000, dtype=np.float32),
        tone(220.0, seconds=0.01),  # 160 samples, shorter than one 1024-sample frame
        np.array([0.1], dtype=np.float32),
    ],
    ids=["tone", "noise", "silence", "shorter-than-n_fft", "one-sample"],
)
def test_fusion_outputs_are_finite(signal):
    frames = make_features("fusion107", pooling="none")(signal)
    assert frames.shape[0] >= 1
    assert np.all(np.isfinite(frames))
    assert np.all(np.isfinite(make_features("fusion107")(signal)))


def test_fusion_rejects_non_signals():
    fusion = make_features("fusion107")
    with pytest.raises(AudioError, match="mono"):
        fusion(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(AudioError, match="empty"):
        fusion(np.zeros(0, dtype=np.float32))
    with pytest.raises(AudioError, match="NaN"):
        fusion(np.array([0.0, np.nan], dtype=np.float32))


def test_pitch_of_a_220_hz_tone():
    fusion = make_features("fusion107", pooling="none")
    frames = fusion(tone(220.0, seconds=1.0))
    voiced = frames[:, column(fusion, "pitch_voiced")] == 1
    assert voiced.mean() > 0.9
    f0 = np.exp(frames[voiced, column(fusion, "pitch_log_f0")])
    assert np.all(np.abs(f0 - 220.0) < 4.0)
    assert np.all(frames[voiced, column(fusion, "pitch_periodicity")] > 0.9)


def test_pitch_follows_the_signal_over_all_frames():
    # A common librosa snippet reads one fixed frame; a glide 150 → 300 Hz must show both.
    fusion = make_features("fusion107", pooling="none")
    t = np.arange(RATE) / RATE
    phase = np.concatenate([2 * np.pi * 150 * t, 2 * np.pi * 150 + 2 * np.pi * 300 * t])
    frames = fusion((0.3 * np.sin(phase)).astype(np.float32))
    f0 = np.exp(frames[:, column(fusion, "pitch_log_f0")])
    half = frames.shape[0] // 2
    assert np.median(f0[5 : half - 5]) == pytest.approx(150, abs=3)
    assert np.median(f0[half + 5 : -5]) == pytest.approx(300, abs=5)


def test_noise_and_silence_are_unvoiced_with_the_log_floor():
    fusion = make_features("fusion107", pooling="none", fmin=60.0)
    noise = np.random.default_rng(1).standard_normal(RATE).astype(np.float32) * 0.1
    for signal in (noise, np.zeros(RATE, dtype=np.float32)):
        frames = fusion(signal)
        unvoiced = frames[:, column(fusion, "pitch_voiced")] == 0
        assert unvoiced.mean() > 0.8
        np.testing.assert_allclose(frames[unvoiced, column(fusion, "pitch_log_f0")],
                                   np.log(60.0), rtol=1e-6)


def test_fusion_is_deterministic():
    x = np.random.default_rng(3).standard_normal(RATE).astype(np.float32) * 0.1 + tone(180.0)
    fusion = make_features("fusion107")
    np.testing.assert_array_equal(fusion(x), fusion(x))


def test_fusion_does_not_depend_on_the_blas_thread_count():
    # Workers run with one BLAS thread, the caller maybe with many: cached and directly
    # computed features must still be bit-identical.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    x = np.random.default_rng(4).standard_normal(RATE).astype(np.float32) * 0.1 + tone(140.0)
    fusion = make_features("fusion107", pooling="none")
    with threadpoolctl.threadpool_limits(4):
        many = fusion(x)
    with threadpoolctl.threadpool_limits(1):
        one = fusion(x)
    np.testing.assert_array_equal(many, one)


# --- cache ---------------------------------------------------------------------------


def test_cache_hit_returns_the_same_array_and_a_changed_param_misses(tmp_path):
    wav = write_tone(tmp_path / "a.wav", seconds=0.3)
    cache = FeatureCache(tmp_path / "cache")
    fusion = make_features("fusion107")
    first = extract_corpus([wav], fusion, cache=cache, n_jobs=1, progress=False)[0]
    stored = list((tmp_path / "cache").rglob("*.npy"))
    assert len(stored) == 1

    # A hit does not compute: a poisoned entry comes back as it is.
    np.save(stored[0], first + 1)
    again = extract_corpus([wav], fusion, cache=cache, n_jobs=1, progress=False)[0]
    np.testing.assert_array_equal(again, first + 1)
    np.save(stored[0], first)

    # Same audio under another name hits; another parameter or version misses.
    copy = tmp_path / "b.wav"
    copy.write_bytes(wav.read_bytes())
    np.testing.assert_array_equal(
        extract_corpus([copy], fusion, cache=cache, n_jobs=1, progress=False)[0], first)
    other = make_features("fusion107", n_mfcc=13)
    assert cache.get(_sha(wav), other) is None
    assert cache.path_for(_sha(wav), other) != cache.path_for(_sha(wav), fusion)
    out = extract_corpus([wav], other, cache=cache, n_jobs=1, progress=False)[0]
    assert out.shape == (other.dim,)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2


def test_cache_key_includes_the_serkit_version(tmp_path, monkeypatch):
    import serkit

    cache = FeatureCache(tmp_path)
    fusion = make_features("fusion107")
    before = cache.path_for("ab" * 32, fusion)
    monkeypatch.setattr(serkit, "__version__", "99.0.0")
    assert cache.path_for("ab" * 32, fusion) != before


def test_cache_default_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SERKIT_CACHE", str(tmp_path / "x"))
    assert FeatureCache().root == tmp_path / "x"


def test_cache_writes_atomically_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)
    fusion = make_features("fusion107")
    path = cache.put("cd" * 32, fusion, np.arange(107, dtype=np.float32))
    assert path.name == "cd" * 32 + ".npy" and path.parent.name == "cd"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "cd" * 32 + ".npy", "extractor.json"]
    assert json.loads((path.parent.parent / "extractor.json").read_text())["name"] == "fusion107"

    # A write that fails half-way leaves neither a temp file nor a partial entry.
    def broken_save(file, array, allow_pickle):
        file.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        cache.put("ef" * 32, fusion, np.zeros(107, dtype=np.float32))
    monkeypatch.undo()
    assert not list(tmp_path.rglob("*.tmp"))
    assert cache.get("ef" * 32, fusion) is None


def test_corrupt_cache_entry_is_a_miss(tmp_path):
    cache = FeatureCache(tmp_path)
    fusion = make_features("fusion107")
    path = cache.put("aa" * 32, fusion, np.zeros(107, dtype=np.float32))
    path.write_bytes(b"not an npy file")
    assert cache.get("aa" * 32, fusion) is None


# --- corpus extraction ---------------------------------------------------------------


def test_extract_corpus_keeps_order_with_two_jobs(tmp_path):
    freqs = [130.0, 170.0, 210.0, 250.0, 290.0, 330.0]
    paths = [write_tone(tmp_path / f"{i}.wav", seconds=0.4, freq=f, seed=i)
             for i, f in enumerate(freqs)]
    fusion = make_features("fusion107")
    cache = FeatureCache(tmp_path / "cache")
    parallel = extract_corpus(paths, fusion, cache=cache, n_jobs=2, progress=False)
    serial = extract_corpus(paths, fusion, cache=None, n_jobs=1, progress=False)
    for a, b in zip(parallel, serial):
        np.testing.assert_array_equal(a, b)
    # The pitch column orders the files as their tones do.
    assert np.all(np.diff([v[column(fusion, "pitch_log_f0")] for v in parallel]) > 0)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == len(paths)


def test_extract_corpus_names_the_bad_file(tmp_path):
    good = write_tone(tmp_path / "good.wav", seconds=0.3)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wav file")
    fusion = make_features("fusion107")
    for n_jobs in (1, 2):
        with pytest.raises(AudioError, match="broken.wav"):
            extract_corpus([good, bad, good], fusion, cache=None, n_jobs=n_jobs,
                           progress=False)
    with pytest.raises(AudioError, match="missing.wav"):
        extract_corpus([tmp_path / "missing.wav"], fusion, cache=FeatureCache(tmp_path / "c"),
                       progress=False)


def test_extract_corpus_keeps_finished_files_in_the_cache_when_one_fails(tmp_path):
    good = write_tone(tmp_path / "good.wav", seconds=0.3)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"junk")
    cache = FeatureCache(tmp_path / "cache")
    fusion = make_features("fusion107")
    with pytest.raises(AudioError):
        extract_corpus([good, bad], fusion, cache=cache, n_jobs=1, progress=False)
    assert cache.get(_sha(good), fusion) is not None


def test_extract_corpus_resamples_to_the_extractor_rate(tmp_path):
    wav16 = write_tone(tmp_path / "a16.wav", seconds=0.5, rate=16_000)
    wav48 = write_tone(tmp_path / "a48.flac", seconds=0.5, rate=48_000, channels=2)
    fusion = make_features("fusion107")
    a, b = extract_corpus([wav16, wav48], fusion, cache=None, n_jobs=1, progress=False)
    f0 = column(fusion, "pitch_log_f0")
    assert a[f0] == pytest.approx(b[f0], abs=0.02)


def test_extract_corpus_rejects_bad_n_jobs(tmp_path):
    with pytest.raises(ConfigError, match="n_jobs"):
        extract_corpus([], make_features("fusion107"), n_jobs=0)


# --- standardisation -----------------------------------------------------------------


def test_standardizer_learns_from_training_data_only():
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 2.0, size=(200, 4))
    test = rng.normal(-50.0, 9.0, size=(50, 4))
    scaler = Standardizer().fit(train)
    np.testing.assert_allclose(scaler.mean, train.mean(axis=0))
    np.testing.assert_allclose(scaler.scale, train.std(axis=0))
    out = scaler.transform(test)
    np.testing.assert_allclose(out, (test - train.mean(0)) / train.std(0), rtol=1e-5)
    # Compare with scikit-learn's StandardScaler.
    from sklearn.preprocessing import StandardScaler

    np.testing.assert_allclose(out, StandardScaler().fit(train).transform(test), rtol=1e-5)


def test_standardizer_zero_variance_and_frame_sequences():
    train = [np.array([[1.0, 7.0], [3.0, 7.0]]), np.array([[5.0, 7.0]])]
    scaler = Standardizer().fit(train)
    np.testing.assert_allclose(scaler.mean, [3.0, 7.0])
    assert scaler.scale[1] == 1.0
    out = scaler.transform(train)
    assert isinstance(out, list) and out[0].shape == (2, 2) and out[0].dtype == np.float32
    assert np.all(np.isfinite(np.concatenate(out)))
    np.testing.assert_allclose(np.concatenate(out)[:, 1], 0.0)


def test_standardizer_state_round_trips_through_json():
    scaler = Standardizer().fit(np.random.default_rng(1).normal(size=(10, 3)))
    state = json.loads(json.dumps(scaler.state_dict()))
    restored = Standardizer.from_state(state)
    x = np.ones((2, 3))
    np.testing.assert_array_equal(restored.transform(x), scaler.transform(x))


def test_standardizer_errors():
    with pytest.raises(ConfigError, match="not fitted"):
        Standardizer().transform(np.zeros((1, 3)))
    with pytest.raises(ConfigError, match="3-d features, not 4-d"):
        Standardizer().fit(np.zeros((2, 3))).transform(np.zeros((1, 4)))
    with pytest.raises(ConfigError, match="positive 'scale'"):
        Standardizer.from_state({"mean": [0.0], "scale": [0.0]})


# --- real data -----------------------------------------------------------------------


@pytest.mark.data
def test_fusion_on_emodb_files():
    wavs = sorted((corpus_root("emodb") / "wav").glob("*.flac"))[:4]
    fusion = make_features("fusion107")
    feats = extract_corpus(wavs, fusion, cache=None, n_jobs=1, progress=False)
    for v in feats:
        assert v.shape == (107,) and np.all(np.isfinite(v))
        voiced = v[column(fusion, "pitch_voiced")]
        assert 0.2 < voiced < 0.95  # speech is partly voiced
        # Mean ln f0 over voiced frames, undoing the ln(fmin) floor of unvoiced ones.
        voiced_log_f0 = (v[column(fusion, "pitch_log_f0")] - (1 - voiced) * np.log(60.0)) / voiced
        assert 70.0 < np.exp(voiced_log_f0) < 400.0


def _sha(path) -> str:
    from serkit.features import file_sha256

    return file_sha256(path)
