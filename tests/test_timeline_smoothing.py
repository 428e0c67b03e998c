"""Timeline smoothing, minimum segment length, speech detection and the summary.

Pure functions on made-up windows (fast, exact), then the Recognizer on a recording made of
tone blocks and silences, and the default model on the shipped example clips.
"""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np
import pytest

from serkit.errors import ConfigError
from serkit.inference import load_model
from serkit.inference.speech_activity import SpeechDetector, SpeechSettings
from serkit.inference.timeline import (
    NON_SPEECH,
    Segmenting,
    TimelineWindow,
    build_segments,
    merge_segments,
    smooth,
    summarize,
    viterbi,
    windows_from_probabilities,
)

LABELS = ["anger", "neutral", "sadness"]
RATE = 16_000


def blocky_windows(seed: int = 0, flip: float = 0.3, blocks=(0, 1, 2, 0, 1), per_block: int = 13,
                   speech=None) -> list[TimelineWindow]:
    """1 s windows every 1 s over five emotion blocks (like the 67 s file of issue 19),
    each window's true label winning, except a share ``flip`` of windows spread evenly
    (never two in a row) won by a random other label: the flicker a raw merge turns into
    segments."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(blocks, per_block)
    rows = []
    for i, k in enumerate(truth):
        p = rng.dirichlet(np.ones(len(LABELS))) * 0.2
        flipped = (i * 7 + seed) % 10 < round(10 * flip)
        winner = (k + 1 + rng.integers(2)) % 3 if flipped else k
        p[winner] += 0.8
        rows.append(p / p.sum())
    bounds = [(i * RATE, (i + 1) * RATE) for i in range(len(truth))]
    return windows_from_probabilities(bounds, np.array(rows), LABELS, RATE, speech)


def same_segments(a, b) -> bool:
    """Equal segments (confidences to rounding: a weighted mean against a plain one)."""
    return [(s.start_s, s.end_s, s.label) for s in a] == [(s.start_s, s.end_s, s.label) for s in b] \
        and [s.confidence for s in a] == pytest.approx([s.confidence for s in b])


def tiles(segments, duration):
    assert segments[0].start_s == 0.0 and segments[-1].end_s == pytest.approx(duration)
    assert all(a.end_s == pytest.approx(b.start_s) and a.label != b.label for a, b in pairwise(segments))


@pytest.mark.parametrize("method", ["median", "mean", "viterbi"])
@pytest.mark.parametrize("seed", range(5))
def test_smoothing_removes_the_flicker_of_five_blocks(method, seed):
    windows = blocky_windows(seed)
    duration = windows[-1].end_s
    raw = merge_segments(windows, duration)
    smoothed = build_segments(windows, duration, None, Segmenting(smoothing=method, min_segment_s=0))
    held = build_segments(windows, duration, None, Segmenting(smoothing=method, min_segment_s=3.0))
    assert len(raw) > 15                      # the flicker the issue reports
    assert len(smoothed) < len(raw) / 2
    assert 5 <= len(held) <= 7                # five blocks, perhaps a stray survivor
    tiles(held, duration)
    # Each block's middle gets the block's label.
    for b, label in enumerate(["anger", "neutral", "sadness", "anger", "neutral"]):
        middle = b * 13 + 6.5
        assert next(s.label for s in held if s.start_s <= middle < s.end_s) == label


@pytest.mark.parametrize("min_s", [0.0, 1.5, 2.0, 4.0, 7.5])
@pytest.mark.parametrize("seed", range(4))
def test_min_segment_length_holds(min_s, seed):
    windows = blocky_windows(seed, flip=0.4)
    duration = windows[-1].end_s
    segments = build_segments(windows, duration, None, Segmenting(smoothing="none", min_segment_s=min_s))
    tiles(segments, duration)
    assert all(s.end_s - s.start_s >= min_s - 1e-9 for s in segments)
    assert all(0 < s.confidence <= 1 for s in segments)


def test_no_smoothing_no_minimum_no_speech_detection_is_the_raw_merge():
    windows = blocky_windows(1)
    duration = windows[-1].end_s
    got = build_segments(windows, duration, None, Segmenting(smoothing="none", min_segment_s=0, vad="none"))
    assert same_segments(got, merge_segments(windows, duration))


def test_median_and_viterbi_by_hand():
    p = np.array([[.9, .1], [.8, .2], [.3, .7], [.9, .1], [.2, .8], [.1, .9], [.2, .8]])
    ones = np.ones(len(p))
    smoothed, labels = smooth(p, ones, Segmenting(smoothing="median", smooth_windows=3))
    # Window 3's neighbourhood is windows 2-4: medians .3 and .7.
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert smoothed[3] == pytest.approx([.3, .7]) and smoothed[0] == pytest.approx([.85, .15])
    # One window of evidence against four does not pay a penalty of 2 twice...
    assert viterbi(p, np.ones(len(p), bool), 2.0).tolist() == [0, 0, 0, 0, 1, 1, 1]
    # ...without a penalty every window has its own way.
    assert viterbi(p, np.ones(len(p), bool), 0.0).tolist() == p.argmax(axis=1).tolist()


def test_windows_without_speech_carry_no_evidence():
    # Silence windows "predict" sadness confidently; with speech shares of 0 they must not
    # drag their speech neighbours' smoothed label to sadness.
    p = np.array([[.7, .2, .1]] * 3 + [[.0, .0, 1.0]] * 5 + [[.7, .2, .1]])
    speech = np.array([1, 1, 1, .2, 0, 0, 0, .1, 1.0])
    for method in ("median", "mean", "viterbi"):
        _, labels = smooth(p, speech, Segmenting(smoothing=method, smooth_windows=5))
        assert labels[[0, 1, 2, 8]].tolist() == [0, 0, 0, 0], method
        if method != "viterbi":  # window 5 has no speech within reach: it keeps its own
            assert labels[3:8].tolist() == [0, 0, 2, 0, 0], method


def test_non_speech_regions_become_segments_and_leave_the_summary():
    windows = blocky_windows(2, flip=0.0)
    duration = windows[-1].end_s
    regions = [(0.0, 10.0), (14.0, 40.0), (44.5, 65.0)]
    segments = build_segments(windows, duration, regions, Segmenting())
    tiles(segments, duration)
    gaps = [(s.start_s, s.end_s) for s in segments if s.label == NON_SPEECH]
    assert gaps == [(10.0, 14.0), (40.0, 44.5)]
    summary = summarize(segments, LABELS)
    assert summary.speech_s == pytest.approx(65 - 8.5)
    assert summary.non_speech_s == pytest.approx(8.5)
    assert list(summary.shares) == LABELS and sum(summary.shares.values()) == pytest.approx(1.0)
    # Speech: anger 0-10 and 44.5-52; neutral 14-26 and 52-65; sadness 26-39, and 39-40,
    # anger's 1 s before the gap, folded into it (under min_segment_s).
    assert summary.shares == pytest.approx({"anger": 17.5 / 56.5, "neutral": 25 / 56.5,
                                            "sadness": 14 / 56.5})
    assert summary.label == max(summary.shares, key=summary.shares.get)


def test_a_summary_without_speech_has_no_label():
    summary = summarize(build_segments(blocky_windows(0), 65.0, [], Segmenting()), LABELS)
    assert summary.speech_s == 0 and summary.label is None and set(summary.shares.values()) == {0.0}


@pytest.mark.parametrize("options, message", [
    ({"smoothing": "smooth"}, "unknown smoothing 'smooth'; use one of median, mean, viterbi, none"),
    ({"smooth_windows": 4}, "smooth_windows must be an odd"),
    ({"smooth_windows": 0}, "smooth_windows must be an odd"),
    ({"min_segment_s": -1.0}, "min_segment_s must be a number of seconds of at least 0"),
    ({"switch_penalty": float("nan")}, "switch_penalty must be"),
    ({"vad": "silero"}, "unknown speech detection (vad) 'silero'; use one of energy, none"),
])
def test_bad_segmenting_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Segmenting(**options)


# --- speech detection ------------------------------------------------------------------

def voice(seconds: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * 170 * t * (1 + 0.1 * t)) + 0.002 * rng.standard_normal(t.size)).astype(np.float32)


def hiss(seconds: float, level: float = 0.001, seed: int = 1) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * RATE))).astype(np.float32)


def test_detector_finds_speech_between_silences_and_keeps_short_pauses():
    signal = np.concatenate([hiss(1.0), voice(2.0), hiss(0.3), voice(1.0), hiss(2.0), voice(1.5), hiss(0.05)])
    detector = SpeechDetector(RATE)
    detector.feed(signal)
    regions = detector.regions()
    # The 0.3 s gap is a pause; the 2 s one is not speech; 0.05 s of hiss at the end is a pause.
    assert [(round(a, 2), round(b, 2)) for a, b in regions] == [(1.0, 4.3), (6.3, 7.85)]


def test_a_quiet_recording_is_still_speech_and_a_click_is_not():
    click = hiss(2.0, 1e-4)
    click[RATE:RATE + 800] = 0.5  # 50 ms, a second after the speech
    signal = np.concatenate([hiss(1.0, 1e-4), voice(1.5, level=0.005), click, hiss(1.0, 1e-4)])
    detector = SpeechDetector(RATE)
    detector.feed(signal)
    assert [(round(a, 2), round(b, 2)) for a, b in detector.regions()] == [(1.0, 2.5)]


@pytest.mark.parametrize("block", [1, 7, 320, 999, 16_000, 10**6])
def test_detector_decisions_do_not_depend_on_the_blocks(block):
    signal = np.concatenate([hiss(0.5), voice(1.3), hiss(1.1), voice(0.7, level=0.3)])
    whole = SpeechDetector(RATE)
    whole.feed(signal)
    parts = SpeechDetector(RATE)
    for i in range(0, signal.size, block):
        parts.feed(signal[i:i + block])
    assert np.array_equal(parts.frames, whole.frames) and parts.regions() == whole.regions()
    assert parts.share(8_000, 28_800) == whole.share(8_000, 28_800) == 1.0
    assert whole.share(0, 8_000) == 0.0


def test_bad_detector_settings_are_config_errors():
    with pytest.raises(ConfigError, match="range_db"):
        SpeechSettings(range_db=0)
    with pytest.raises(ConfigError, match="floor_db"):
        SpeechSettings(floor_db="loud")


# --- the Recognizer on blocks and silences ------------------------------------------------

@pytest.fixture(scope="module")
def recognizer(tiny_bundle):
    return load_model(tiny_bundle)


def test_recognizer_timeline_marks_silence_and_sums_up_speech(recognizer, one_torch_thread):
    signal = np.concatenate([voice(3.0), np.zeros(2 * RATE, np.float32), voice(3.0, level=0.2, seed=3),
                             hiss(2.0)])
    tl = recognizer.timeline(signal, window_s=1.0, hop_s=0.5, sample_rate=RATE, min_segment_s=1.0)
    tiles(tl.segments, 10.0)
    silent = [(s.start_s, s.end_s) for s in tl.segments if s.label == NON_SPEECH]
    assert silent == [(3.0, 5.0), (8.0, 10.0)]
    assert all(s.end_s - s.start_s >= 1.0 for s in tl.segments if s.label != NON_SPEECH)
    assert tl.summary.speech_s == pytest.approx(6.0) and tl.summary.non_speech_s == pytest.approx(4.0)
    assert sum(tl.summary.shares.values()) == pytest.approx(1.0)
    assert [w.speech for w in tl.windows if 3.0 <= w.start_s and w.end_s <= 5.0] == [0.0] * 3
    payload = tl.to_dict()
    assert payload["summary"]["shares"] == tl.summary.shares and payload["segmenting"]["vad"] == "energy"
    # Without speech detection the silence is labelled like speech: the old behaviour.
    raw = recognizer.timeline(signal, window_s=1.0, hop_s=0.5, sample_rate=RATE, smoothing="none",
                              min_segment_s=0, vad="none")
    assert NON_SPEECH not in {s.label for s in raw.segments}
    assert same_segments(raw.segments, merge_segments(raw.windows, 10.0))


def test_default_model_on_example_clips_with_silences(one_torch_thread):
    """The bundled model on three shipped clips joined by 2 s silences: three stretches of
    speech, two non-speech segments where the silences are, no segment under the minimum."""
    import soundfile as sf

    from serkit.inference.recognizer import PRETRAINED_DIR

    if not (PRETRAINED_DIR / "default").is_dir():
        pytest.skip("no bundled default model in this install")
    clips = [sf.read(f"serkit/examples/{n}.flac", dtype="float32")[0] for n in ("angry", "sad", "happy")]
    silence = np.zeros(2 * RATE, np.float32)
    signal = np.concatenate([clips[0], silence, clips[1], silence, clips[2]])
    tl = load_model().timeline(signal, sample_rate=RATE, window_s=2.0, hop_s=1.0)
    kinds = [s.label == NON_SPEECH for s in tl.segments]
    assert kinds.count(True) == 2 and not kinds[0] and not kinds[-1]
    first_gap = next(s for s in tl.segments if s.label == NON_SPEECH)
    assert first_gap.start_s == pytest.approx(clips[0].size / RATE - 0.15, abs=0.1)
    assert first_gap.end_s == pytest.approx(clips[0].size / RATE + 2.15, abs=0.1)
    assert sum(tl.summary.shares.values()) == pytest.approx(1.0)
    assert tl.summary.speech_s == pytest.approx(signal.size / RATE - 4.6, abs=0.6)
