"""The voice_encoder features: equal to Resemblyzer's own encoder on real clips (data), and
shapes, batching, silence and errors on randomly initialised weights of the same shape."""

from __future__ import annotations

import pickle
import sys
import threading
import types
import warnings

import numpy as np
import pytest
import torch

from serkit.audio import load_audio
from serkit.errors import AudioError, ConfigError
from serkit.features import FEATURES, extract_corpus, make_features
from serkit.features import voice_encoder_net as net
from serkit.features.voice_encoder import partial_starts
from serkit.features.voice_encoder_net import VoiceEncoderNet, mel_power
from tests.conftest import corpus_root, write_tone

RATE = 16_000
POOLINGS = {"both": (768,), "embedding": (256,), "states": (512,)}


def tone(seconds: float = 3.0, freq: float = 220.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, seed: int = 0, scale: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


# --- fake weights: everything but the trained values -------------------------------------


@pytest.fixture
def fake_weights(tmp_path, monkeypatch, one_torch_thread):
    """A randomly initialised encoder saved like Resemblyzer's checkpoint, and
    voice_encoder pointed at it."""
    torch.manual_seed(0)
    path = tmp_path / "fake_pretrained.pt"
    state = VoiceEncoderNet().state_dict()
    state["similarity_weight"] = torch.tensor([10.0])  # the GE2E loss's, ignored
    torch.save({"step": 1, "model_state": state, "optimizer_state": {}}, path)
    monkeypatch.setattr(net, "weights_path", lambda: path)
    return path


def test_description_needs_no_weights():
    for pooling, shape in {**POOLINGS, "none": (256,)}.items():
        enc = make_features("voice_encoder", pooling=pooling)
        assert enc.spec.shape == shape and enc.dim == shape[0] and enc.sample_rate == RATE
        assert len(enc.feature_names) == enc.dim == len(set(enc.feature_names))
        assert make_features("voice_encoder", **enc.params).params == enc.params
        assert pickle.loads(pickle.dumps(enc)).params == enc.params
    both = make_features("voice_encoder")
    assert both.params == {"pooling": "both", "volume": "increase_only"}
    assert both.spec.kind == "vector"
    assert both.feature_names[:2] == ["vemb_000", "vemb_001"]
    assert both.feature_names[256] == "vstate_mean_000" and both.feature_names[512] == "vstate_std_000"
    frames = make_features("voice_encoder", pooling="none").spec
    assert frames.kind == "frames" and frames.rate == 100.0 and frames.length is None
    assert FEATURES.params("voice_encoder") == {"pooling": "both", "volume": "increase_only"}


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="pooling"):
        make_features("voice_encoder", pooling="mean")
    with pytest.raises(ConfigError, match="volume"):
        make_features("voice_encoder", volume="loud")
    with pytest.raises(ConfigError, match="valid parameters"):
        make_features("voice_encoder", sample_rate=16_000)


def test_shapes_norm_and_determinism(fake_weights):
    clip = noise(2.3, seed=1)
    for pooling, shape in POOLINGS.items():
        enc = make_features("voice_encoder", pooling=pooling)
        out = enc(clip)
        assert out.shape == shape and out.dtype == np.float32 and np.isfinite(out).all()
        assert np.array_equal(out, enc(clip))
    both = make_features("voice_encoder")(clip)
    embedding = make_features("voice_encoder", pooling="embedding")(clip)
    states = make_features("voice_encoder", pooling="states")(clip)
    assert np.array_equal(both, np.concatenate([embedding, states]))
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)
    assert (states[256:] >= 0).all()  # standard deviations
    frames = make_features("voice_encoder", pooling="none")(clip)
    assert frames.shape == (1 + len(clip) // 160, 256) and frames.dtype == np.float32


def test_pooled_outputs_come_from_one_pass_over_the_partials(fake_weights):
    clip = noise(3.0, seed=2)
    enc = make_features("voice_encoder")
    wave = enc.prepare(clip)
    mels = enc.partial_mels(wave)
    assert tuple(mels.shape) == (3, 160, 40)
    with torch.inference_mode():
        partial_embeds, states = net.load_network()(mels)
    mean_embed = partial_embeds.numpy().mean(axis=0)
    # Windows at frames 0, 77 and 154; the clip's last frame is 48000 // 160 = 300, so the
    # last window's frames 147..159 are zero padding and are left out of the statistics.
    frames = np.concatenate([states[0], states[1], states[2, :147]]).astype(np.float64)
    expected = np.concatenate([mean_embed / np.linalg.norm(mean_embed),
                               frames.mean(axis=0), frames.std(axis=0)])
    np.testing.assert_allclose(enc(clip), expected, atol=1e-6)
    # "none" is one pass over the whole (unpadded) clip's frames.
    with torch.inference_mode():
        _, whole = net.load_network()(mel_power(wave)[None])
    np.testing.assert_allclose(make_features("voice_encoder", pooling="none")(clip),
                               whole[0].numpy(), atol=1e-6)


def test_embed_many_equals_one_clip_at_a_time(fake_weights):
    clips = [noise(s, seed=i) for i, s in enumerate([0.3, 1.0, 1.7, 3.0, 4.4, 0.05])]
    clips.append(tone(2.0))
    for pooling in (*POOLINGS, "none"):
        enc = make_features("voice_encoder", pooling=pooling)
        together = enc.embed_many(clips)
        alone = [enc(c) for c in clips]
        assert len(together) == len(clips)
        for a, b in zip(together, alone, strict=True):
            assert a.shape == b.shape
            # Equal up to float32 rounding: the LSTM's products block by batch size.
            np.testing.assert_allclose(a, b, atol=1e-5)
        if pooling != "none":
            assert isinstance(together, np.ndarray) and together.dtype == np.float32


def test_silence_gives_finite_features(fake_weights):
    for volume in ("increase_only", "always", "off"):
        for pooling in (*POOLINGS, "none"):
            enc = make_features("voice_encoder", pooling=pooling, volume=volume)
            for clip in (np.zeros(RATE, np.float32), np.zeros(1, np.float32),
                         np.full(RATE, 1e-30, np.float32)):
                assert np.isfinite(enc(clip)).all(), (volume, pooling, len(clip))


def test_volume_modes(fake_weights):
    quiet, loud = tone(amplitude=0.001), tone(amplitude=0.9)
    up = make_features("voice_encoder")
    always = make_features("voice_encoder", volume="always")
    off = make_features("voice_encoder", volume="off")

    def dbfs(x):
        return 20 * np.log10(np.sqrt(np.mean((x.astype(np.float64)) ** 2)))

    assert dbfs(up.prepare(quiet)) == pytest.approx(-30.0, abs=1e-3)
    assert np.array_equal(up.prepare(loud), loud)
    assert dbfs(always.prepare(loud)) == pytest.approx(-30.0, abs=1e-3)
    assert np.array_equal(off.prepare(quiet), quiet)
    # Gain-invariant where the volume is normalised; not where it is off.
    np.testing.assert_allclose(always(quiet), always(loud), atol=1e-4)
    assert not np.allclose(off(quiet), off(loud), atol=1e-3)


def test_bad_signals_are_audio_errors(fake_weights):
    enc = make_features("voice_encoder")
    with pytest.raises(AudioError, match="empty"):
        enc(np.zeros(0, np.float32))
    with pytest.raises(AudioError, match="NaN"):
        enc(np.array([0.0, np.nan], np.float32))
    with pytest.raises(AudioError, match="mono"):
        enc(np.zeros((100, 2), np.float32))


def test_partial_windows_follow_resemblyzer():
    # 3 s: frames 0, 77, 154 (the last 91 % audio); 1.0 s: one window; 2.5 s: the third
    # window would be 35 % audio, so it is dropped.
    assert partial_starts(48_000) == [0, 77, 154]
    assert partial_starts(16_000) == [0]
    assert partial_starts(40_000) == [0, 77]
    assert partial_starts(1) == [0]


def test_missing_weights_file_is_a_clear_error(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "pretrained.pt"
    monkeypatch.setattr(net, "weights_path", lambda: missing)
    with pytest.raises(ConfigError, match="weights file .*nowhere.*missing"):
        make_features("voice_encoder")(tone(0.5))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    monkeypatch.setattr(net, "weights_path", lambda: garbage)
    with pytest.raises(ConfigError, match="not a Resemblyzer voice encoder checkpoint"):
        make_features("voice_encoder")(tone(0.5))


def test_missing_package_says_pip_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "resemblyzer" else real(name, *a))
    net._default_weights_path.cache_clear()
    try:
        with pytest.raises(ConfigError, match="pip install resemblyzer"):
            make_features("voice_encoder")(tone(0.5))
    finally:
        monkeypatch.undo()
        net._default_weights_path.cache_clear()


def test_network_loads_once_per_process_across_threads(fake_weights, monkeypatch):
    loads = []
    real_load = net._load

    def counting_load(path):
        loads.append(path)
        return real_load(path)

    monkeypatch.setattr(net, "_load", counting_load)
    barrier = threading.Barrier(6)
    got = []

    def worker():
        barrier.wait()
        got.append(net.load_network())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(got) == 6 and all(g is got[0] for g in got)
    assert net.load_network() is got[0] and len(loads) == 1


def test_extract_corpus_runs_it(fake_weights, tmp_path):
    paths = [write_tone(tmp_path / f"t{i}.wav", seconds=0.6 + 0.4 * i, freq=150.0 + 50 * i)
             for i in range(3)]
    enc = make_features("voice_encoder")
    out = extract_corpus(paths, enc, n_jobs=1, progress=False)
    assert [o.shape for o in out] == [(768,)] * 3
    np.testing.assert_allclose(out[1], enc(load_audio(paths[1], sample_rate=RATE)), atol=1e-6)


# --- the real weights ---------------------------------------------------------------------


def test_short_clip_states_leave_the_padding_out(fake_weights):
    clip = noise(0.5, seed=3)  # one window of 160 frames, of which frames 0..50 are the clip
    enc = make_features("voice_encoder", pooling="states")
    with torch.inference_mode():
        _, states = net.load_network()(enc.partial_mels(enc.prepare(clip)))
    frames = states[0, :51].numpy().astype(np.float64)
    np.testing.assert_allclose(enc(clip), np.concatenate([frames.mean(0), frames.std(0)]),
                               atol=1e-6)


def test_real_checkpoint_loads_with_weights_only():
    if not _has_resemblyzer():
        pytest.skip("resemblyzer not installed")
    path = net.weights_path()
    checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    assert set(checkpoint) == {"step", "model_state", "optimizer_state"}
    assert isinstance(net.load_network(), VoiceEncoderNet)


@pytest.fixture(scope="module")
def resemblyzer_encoder():
    """Resemblyzer's own VoiceEncoder on the CPU. Its audio module imports webrtcvad, whose
    wheel imports pkg_resources (removed from setuptools 81 on); the VAD is not used here,
    so an empty stand-in module is put in its place when the real one fails to import."""
    if not _has_resemblyzer():
        pytest.skip("resemblyzer not installed")
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy.ndimage.morphology
        try:
            import webrtcvad  # noqa: F401
        except ImportError:
            patch.setitem(sys.modules, "webrtcvad", types.ModuleType("webrtcvad"))
        import resemblyzer
        from resemblyzer import audio as ref_audio

        encoder = resemblyzer.VoiceEncoder("cpu", verbose=False)
    return encoder, ref_audio


def real_clips() -> list[tuple[str, np.ndarray]]:
    root = corpus_root("emodb")
    files = sorted(root.rglob("*.flac")) or sorted(root.rglob("*.wav"))
    if len(files) < 5:
        pytest.skip(f"fewer than 5 EmoDB audio files under {root}")
    picked = files[:: len(files) // 5][:5]
    return [(p.name, load_audio(p, sample_rate=RATE)) for p in picked]


@pytest.mark.data
def test_equal_to_resemblyzer_on_real_clips(resemblyzer_encoder, one_torch_thread):
    ref, ref_audio = resemblyzer_encoder
    ours = make_features("voice_encoder", pooling="embedding")
    worst = {"embedding": 0.0, "partials": 0.0, "mel": 0.0}
    for name, clip in [*real_clips(), ("tone", tone(2.7))]:
        wav = ref_audio.normalize_volume(clip, -30, increase_only=True)
        prepared = ours.prepare(clip)
        np.testing.assert_array_equal(prepared, wav, err_msg=name)
        with torch.no_grad():
            embed, partials, wav_slices = ref.embed_utterance(wav, return_partials=True)
        assert partial_starts(len(wav)) == [s.start // 160 for s in wav_slices], name

        # The mel frames of each partial, as embed_utterance computes them.
        padded = np.pad(wav, (0, max(0, wav_slices[-1].stop - len(wav))))
        ref_mel = ref_audio.wav_to_mel_spectrogram(padded)
        ref_mels = np.array([ref_mel[s.start // 160:s.start // 160 + 160] for s in wav_slices])
        our_mels = ours.partial_mels(prepared).numpy()
        np.testing.assert_allclose(our_mels, ref_mels, rtol=1e-4, atol=1e-5 * ref_mels.max(),
                                   err_msg=name)
        worst["mel"] = max(worst["mel"], float(np.abs(our_mels - ref_mels).max() / ref_mels.max()))

        with torch.inference_mode():
            our_partials, _ = net.load_network()(ours.partial_mels(prepared))
        for key, a, b in (("embedding", ours(clip), embed),
                          ("partials", our_partials.numpy(), partials)):
            diff = float(np.abs(a - b).max())
            worst[key] = max(worst[key], diff)
            assert diff <= 1e-4, f"{name}: {key} differs by {diff:.2e}"
    both = make_features("voice_encoder")(clip)
    np.testing.assert_array_equal(both[:256], ours(clip))
    print(f"largest differences from resemblyzer: {worst}")


def _has_resemblyzer() -> bool:
    import importlib.util

    return importlib.util.find_spec("resemblyzer") is not None
