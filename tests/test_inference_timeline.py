"""Timelines: window placement, segment merging (pure functions) and Recognizer.timeline."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest

from serkit.errors import AudioError, ConfigError
from serkit.inference import Segment, TimelineWindow, load_model, merge_segments
from serkit.inference.timeline import check_windowing, sliding_windows, window_bounds
from tests.conftest import TINY_LABELS

LABELS = ["anger", "neutral", "sadness"]


def window(start, end, label, confidence=0.8):
    rest = (1 - confidence) / (len(LABELS) - 1)
    return TimelineWindow(start, end, label, {k: confidence if k == label else rest for k in LABELS})


def assert_tiles(segments: list[Segment], duration: float) -> None:
    """Contiguous, non-overlapping, covering [0, duration], labels changing at each boundary."""
    assert segments[0].start_s == 0.0
    assert segments[-1].end_s == pytest.approx(duration)
    for a, b in pairwise(segments):
        assert a.end_s == b.start_s
        assert a.label != b.label
    assert all(s.start_s < s.end_s for s in segments)


# --- window placement -----------------------------------------------------------------

@pytest.mark.parametrize("n, window, hop, expected", [
    (10, 4, 3, [(0, 4), (3, 7), (6, 10)]),
    (11, 4, 3, [(0, 4), (3, 7), (6, 10), (7, 11)]),  # the last window ends at the end
    (3, 4, 1, [(0, 3)]),                              # shorter than a window: all of it
    (4, 4, 1, [(0, 4)]),
    (8, 4, 4, [(0, 4), (4, 8)]),
])
def test_window_bounds(n, window, hop, expected):
    assert window_bounds(n, window, hop) == expected


@pytest.mark.parametrize("n", [1, 3, 4, 5, 10, 11, 12, 37, 100])
@pytest.mark.parametrize("window, hop", [(4, 1), (4, 3), (4, 4), (7, 2), (1, 1)])
@pytest.mark.parametrize("block", [1, 3, 4, 50])
def test_sliding_windows_over_blocks_are_window_bounds(n, window, hop, block):
    signal = np.arange(n, dtype=np.float32)
    blocks = [signal[i:i + block] for i in range(0, n, block)]
    blocks.insert(len(blocks) // 2, np.zeros(0, np.float32))  # an empty block changes nothing
    got = [(start, end, samples.copy()) for start, end, samples in sliding_windows(blocks, window, hop)]
    assert [(start, end) for start, end, _ in got] == window_bounds(n, window, hop)
    for start, end, samples in got:
        assert np.array_equal(samples, signal[start:end])


def test_sliding_windows_hold_one_window_and_hop_not_the_signal():
    block = 1000
    held = []

    def blocks():
        for _ in range(500):  # 500 000 samples
            yield np.ones(block, np.float32)

    windows = sliding_windows(blocks(), 3000, 1000)
    for _start, _end, samples in windows:
        held.append(samples.base.size if samples.base is not None else samples.size)
    assert len(held) == 498 and max(held) <= 3000 + 1000 + 2 * block
    assert list(sliding_windows([], 4, 1)) == []


@pytest.mark.parametrize("window_s, hop_s, message", [
    (0.0, 0.5, "window_s"),
    (-1.0, 0.5, "window_s"),
    (0.1, 0.1, "at least 0.25"),
    (2.0, 0.0, "hop_s"),
    (2.0, -1.0, "hop_s"),
    (2.0, 3.0, "hop_s"),
    ("2", 1.0, "window_s"),
    (float("nan"), 1.0, "window_s"),
    (True, 1.0, "window_s"),
])
def test_bad_windowing_is_a_config_error(window_s, hop_s, message):
    with pytest.raises(ConfigError, match=message):
        check_windowing(window_s, hop_s, min_window_s=0.25)


# --- merging --------------------------------------------------------------------------

def test_merge_joins_equal_neighbours_and_cuts_midway_between_centres():
    windows = [window(0, 2, "anger", 0.9), window(1, 3, "anger", 0.7),
               window(2, 4, "neutral", 0.6), window(3, 5, "sadness", 0.5)]
    segments = merge_segments(windows, 5.0)
    # Centres 1, 2, 3, 4: cuts at 1.5, 2.5, 3.5.
    assert [(s.start_s, s.end_s, s.label) for s in segments] == [
        (0.0, 2.5, "anger"), (2.5, 3.5, "neutral"), (3.5, 5.0, "sadness")]
    assert segments[0].confidence == pytest.approx(0.8)  # mean of 0.9 and 0.7
    assert segments[1].confidence == pytest.approx(0.6)


def test_one_window_is_one_segment_over_the_whole_clip():
    (segment,) = merge_segments([window(0, 1.2, "sadness", 0.55)], 1.2)
    assert (segment.start_s, segment.end_s, segment.label) == (0.0, 1.2, "sadness")
    assert segment.confidence == pytest.approx(0.55)


def test_a_label_returning_later_is_a_new_segment():
    labels = ["anger", "neutral", "anger"]
    windows = [window(i, i + 3, lab) for i, lab in enumerate(labels)]
    segments = merge_segments(windows, 5.0)
    assert [s.label for s in segments] == labels
    assert_tiles(segments, 5.0)


def test_confidence_is_the_mean_probability_of_the_segment_label():
    windows = [TimelineWindow(0, 2, "anger", {"anger": 0.5, "neutral": 0.3, "sadness": 0.2}),
               TimelineWindow(1, 3, "anger", {"anger": 0.4, "neutral": 0.35, "sadness": 0.25})]
    (segment,) = merge_segments(windows, 3.0)
    assert segment.confidence == pytest.approx(0.45)


def test_no_windows_no_segments_and_bad_order_is_refused():
    assert merge_segments([], 3.0) == []
    with pytest.raises(ValueError, match="order"):
        merge_segments([window(1, 3, "anger"), window(0, 2, "anger")], 3.0)
    with pytest.raises(ValueError, match="after"):
        merge_segments([window(0, 4, "anger")], 3.0)


@pytest.mark.parametrize("seed", range(20))
def test_segments_always_tile_the_clip(seed):
    """The coverage invariant on random window grids, labels and the end-aligned last window."""
    rng = np.random.default_rng(seed)
    rate = 100
    n = int(rng.integers(10, 2000))
    win = int(rng.integers(5, 400))
    hop = int(rng.integers(1, win + 1))
    bounds = window_bounds(n, win, hop)
    windows = [window(a / rate, b / rate, LABELS[int(rng.integers(0, 3))]) for a, b in bounds]
    segments = merge_segments(windows, n / rate)
    assert_tiles(segments, n / rate)
    # Every segment's label is the label of the windows it merged, in order.
    collapsed = [w.label for i, w in enumerate(windows) if i == 0 or w.label != windows[i - 1].label]
    assert [s.label for s in segments] == collapsed
    assert all(0 < s.confidence <= 1 for s in segments)


# --- Recognizer.timeline --------------------------------------------------------------

@pytest.fixture(scope="module")
def recognizer(tiny_bundle):
    return load_model(tiny_bundle)


def tone(seconds: float, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 180 * t * (1 + 0.3 * t))).astype(np.float32)


def test_timeline_windows_cover_the_clip_and_match_predict(recognizer, one_torch_thread):
    signal = tone(4.5)
    tl = recognizer.timeline(signal, window_s=2.0, hop_s=1.0, sample_rate=16_000)
    assert tl.duration_s == pytest.approx(4.5)
    assert [(w.start_s, w.end_s) for w in tl.windows] == [(0.0, 2.0), (1.0, 3.0), (2.0, 4.0), (2.5, 4.5)]
    assert_tiles(tl.segments, 4.5)
    for w in tl.windows:
        assert list(w.probabilities) == TINY_LABELS
        assert sum(w.probabilities.values()) == pytest.approx(1.0)
    # A window's probabilities are the prediction for that stretch on its own (up to
    # float32 rounding, which differs between batch sizes).
    alone = recognizer.predict(signal[16_000:48_000], sample_rate=16_000)
    assert tl.windows[1].probabilities == pytest.approx(alone.probabilities, abs=1e-6)
    payload = json.loads(json.dumps(tl.to_dict()))
    assert set(payload) >= {"duration_s", "windows", "segments"}
    assert payload["segments"][-1]["end_s"] == pytest.approx(4.5)


def test_clip_shorter_than_a_window_is_one_window(recognizer, one_torch_thread):
    tl = recognizer.timeline(tone(1.0), window_s=3.0, hop_s=1.0, sample_rate=16_000)
    assert [(w.start_s, w.end_s) for w in tl.windows] == [(0.0, 1.0)]
    assert [(s.start_s, s.end_s) for s in tl.segments] == [(0.0, 1.0)]


def test_timeline_rejects_bad_windows_and_bad_audio(recognizer):
    with pytest.raises(ConfigError, match="hop_s"):
        recognizer.timeline(tone(1.0), window_s=1.0, hop_s=2.0, sample_rate=16_000)
    with pytest.raises(AudioError, match="silent"):
        recognizer.timeline(np.zeros(32_000, np.float32), sample_rate=16_000)
    with pytest.raises(AudioError, match="sample_rate"):
        recognizer.timeline(tone(1.0))


def test_timeline_of_a_file_is_the_timeline_of_its_decoded_signal(recognizer, tmp_path, one_torch_thread):
    """Windows computed as the stream comes equal windows cut from the whole decoded signal
    (the pre-streaming computation), across decode blocks and resampling."""
    import soundfile as sf

    from serkit.audio import load_audio
    from serkit.inference.timeline import windows_from_probabilities

    rate = 44_100
    t = np.arange(int(7.3 * rate)) / rate
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 150 * t * (1 + 0.2 * t)),
                       0.2 * np.sin(2 * np.pi * 310 * t)], axis=1).astype(np.float32)
    path = tmp_path / "call.flac"
    sf.write(path, stereo, rate)
    got = recognizer.timeline(path, window_s=2.0, hop_s=0.7, batch_size=4)
    signal = load_audio(path, sample_rate=16_000)
    bounds = window_bounds(signal.size, 32_000, 11_200)
    features = [recognizer._features(signal[a:b], "w") for a, b in bounds]
    expected = windows_from_probabilities(bounds, recognizer._probabilities(features, 4),
                                          recognizer.labels, 16_000)
    assert got.windows == expected
    assert got.duration_s == signal.size / 16_000
    assert recognizer.timeline(path.read_bytes(), window_s=2.0, hop_s=0.7, batch_size=4) == got
