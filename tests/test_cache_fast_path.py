"""The feature cache's stat memo: a known, unchanged file is not read again to be hashed,
and the content hash still decides hits and misses (serkit/features/cache.py)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from serkit.features import FeatureCache, extract_corpus, file_sha256, make_features
from serkit.features import cache as cache_module
from tests.conftest import write_tone

def aged(path, seconds_ago: float = 3600.0):
    """Set the file's times in the past, out of the racy window."""
    then = time.time() - seconds_ago
    os.utime(path, (then, then))
    return path


@pytest.fixture
def counted_hashing(monkeypatch):
    """Count the files hashed by reading them."""
    calls = []
    real = cache_module.file_sha256

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(cache_module, "file_sha256", counting)
    return calls


def test_a_known_unchanged_file_is_not_read_again(tmp_path, counted_hashing):
    wav = aged(write_tone(tmp_path / "a.wav"))
    cache = FeatureCache(tmp_path / "cache")
    first = cache.audio_hash(wav)
    assert first == file_sha256(wav) and len(counted_hashing) == 1
    # A new FeatureCache (another process) on the same root reads the memo.
    assert FeatureCache(tmp_path / "cache").audio_hash(wav) == first
    assert len(counted_hashing) == 1


def test_a_touched_but_unchanged_file_is_rehashed_and_still_hits(tmp_path, counted_hashing):
    wav = aged(write_tone(tmp_path / "a.wav"))
    cache = FeatureCache(tmp_path / "cache")
    fusion = make_features("fusion107")
    [before] = extract_corpus([wav], fusion, cache=cache, n_jobs=1)
    hashed = len(counted_hashing)
    os.utime(wav)  # touched: new mtime, same bytes
    aged(wav, 1800.0)
    calls = []
    [after] = extract_corpus([wav], _Counting(fusion, calls), cache=cache, n_jobs=1)
    assert len(counted_hashing) == hashed + 1  # re-hashed: the stamp changed
    assert calls == [] and np.array_equal(before, after)  # same content: a cache hit


def test_a_changed_file_of_the_same_size_misses(tmp_path, counted_hashing):
    wav = aged(write_tone(tmp_path / "a.wav", freq=220.0))
    cache = FeatureCache(tmp_path / "cache")
    fusion = make_features("fusion107")
    [before] = extract_corpus([wav], fusion, cache=cache, n_jobs=1)
    size = wav.stat().st_size
    write_tone(wav, freq=330.0)  # rewritten in place: same length, other samples
    assert wav.stat().st_size == size
    aged(wav, 1800.0)  # a new mtime, also out of the racy window
    [after] = extract_corpus([wav], fusion, cache=cache, n_jobs=1)
    assert not np.array_equal(before, after)
    assert np.array_equal(after, fusion(__import__("serkit").audio.load_audio(wav, sample_rate=16_000)))


def test_a_rewrite_that_restores_size_and_mtime_is_still_seen(tmp_path):
    """ctime and inode are in the stamp: copying the old mtime back does not fool it."""
    wav = aged(write_tone(tmp_path / "a.wav", freq=220.0))
    cache = FeatureCache(tmp_path / "cache")
    old_hash = cache.audio_hash(wav)
    stat = wav.stat()
    write_tone(wav, freq=330.0)
    os.utime(wav, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    time.sleep(0.01)
    assert cache.audio_hash(wav) == file_sha256(wav) != old_hash


def test_a_fresh_file_is_not_remembered(tmp_path, counted_hashing):
    wav = write_tone(tmp_path / "a.wav")  # modified just now: within the racy window
    cache = FeatureCache(tmp_path / "cache")
    cache.audio_hash(wav)
    cache.audio_hash(wav)
    assert len(counted_hashing) == 2
    assert not (tmp_path / "cache" / "stat").exists()


def test_a_corrupt_memo_is_ignored(tmp_path):
    wav = aged(write_tone(tmp_path / "a.wav"))
    cache = FeatureCache(tmp_path / "cache")
    digest = cache.audio_hash(wav)
    [memo] = (tmp_path / "cache" / "stat").rglob("*.txt")
    memo.write_text("garbage")
    assert cache.audio_hash(wav) == digest
    assert memo.read_text().split()[1] == digest


class _Counting:
    """An extractor that records its calls (a cache hit makes none)."""

    def __init__(self, inner, calls):
        self._inner, self._calls = inner, calls

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __call__(self, signal):
        self._calls.append(1)
        return self._inner(signal)
