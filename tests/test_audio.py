"""serkit.audio: every input kind, resampling, and each bad-input case."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from serkit.audio import AudioLimits, audio_duration_s, load_audio, pad_or_crop
from serkit.errors import AudioError
from tests.conftest import write_tone


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_loads_each_format_at_the_requested_rate(tmp_path, suffix):
    path = write_tone(tmp_path / f"a{suffix}", seconds=0.5, rate=44_100)
    signal = load_audio(path, sample_rate=16_000)
    assert signal.dtype == np.float32
    assert signal.ndim == 1
    assert abs(signal.size - 8000) <= 2


def test_stereo_is_mixed_to_mono(tmp_path):
    rate = 16_000
    left = np.full(rate // 2, 0.5, dtype=np.float32)
    right = np.full(rate // 2, -0.1, dtype=np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), rate, subtype="FLOAT")
    signal = load_audio(path, sample_rate=rate)
    assert np.allclose(signal, 0.2, atol=1e-6)


def test_bytes_and_path_give_the_same_signal(tmp_path):
    path = write_tone(tmp_path / "a.wav", rate=22_050)
    assert np.array_equal(load_audio(path.read_bytes()), load_audio(path))


def test_array_needs_its_rate_and_is_resampled():
    tone = np.sin(np.linspace(0, 500, 48_000)).astype(np.float32)
    with pytest.raises(AudioError, match="sample rate"):
        load_audio(tone)
    assert load_audio(tone, source_rate=48_000, sample_rate=16_000).shape == (16_000,)
    # (channels, samples) arrays are recognised as well as (samples, channels)
    stereo = np.stack([tone, tone])
    assert load_audio(stereo, source_rate=48_000, sample_rate=48_000).shape == (48_000,)


def test_resampling_keeps_a_tone_at_its_frequency(tmp_path):
    path = write_tone(tmp_path / "a.wav", seconds=1.0, rate=44_100, freq=440.0)
    signal = load_audio(path, sample_rate=16_000)
    spectrum = np.abs(np.fft.rfft(signal))
    peak_hz = np.argmax(spectrum) * 16_000 / signal.size
    assert abs(peak_hz - 440.0) < 2.0


def _corrupt(tmp_path):
    path = tmp_path / "corrupt.wav"
    good = write_tone(tmp_path / "good.wav").read_bytes()
    path.write_bytes(good[:20] + b"\x00garbage" * 50)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.wav", "not found"),
        (lambda p: (p / "empty.wav").touch() or p / "empty.wav", "empty"),
        (lambda p: (p / "notes.wav").write_text("hello, this is text") and p / "notes.wav", "not audio or corrupt"),
        (_corrupt, "not audio or corrupt"),
        (lambda p: p, "folder"),
    ],
    ids=["missing", "empty", "text", "corrupt", "folder"],
)
def test_bad_files_raise_one_clear_error_naming_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(AudioError, match=message) as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_silence_nan_short_and_long_are_rejected(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(16_000, dtype=np.float32), 16_000)
    with pytest.raises(AudioError, match="silent"):
        load_audio(silent)
    assert load_audio(silent, limits=AudioLimits(reject_silence=False)).size == 16_000

    nan = np.full(1000, np.nan, dtype=np.float32)
    with pytest.raises(AudioError, match="NaN"):
        load_audio(nan, source_rate=16_000)

    short = write_tone(tmp_path / "short.wav", seconds=0.2)
    with pytest.raises(AudioError, match="shorter than the 0.5 s"):
        load_audio(short, limits=AudioLimits(min_duration_s=0.5))

    long = write_tone(tmp_path / "long.wav", seconds=3.0)
    with pytest.raises(AudioError, match="longer than the 2 s cap"):
        load_audio(long, limits=AudioLimits(max_duration_s=2.0))


def test_empty_inputs_of_every_kind():
    with pytest.raises(AudioError, match="empty"):
        load_audio(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(np.zeros(0, dtype=np.float32), source_rate=16_000)
    with pytest.raises(AudioError, match="expected a path"):
        load_audio(12345)


def test_duration_from_header(tmp_path):
    path = write_tone(tmp_path / "a.flac", seconds=1.25, rate=24_000)
    assert audio_duration_s(path) == pytest.approx(1.25)


def test_pad_or_crop():
    x = np.arange(10, dtype=np.float32)
    assert pad_or_crop(x, 4, offset=2).tolist() == [2, 3, 4, 5]
    padded = pad_or_crop(x, 15)
    assert padded.size == 15 and padded[10:].sum() == 0


def test_integer_pcm_arrays_are_scaled_to_unit_range():
    import numpy as np

    from serkit.audio import load_audio

    x = np.sin(np.arange(16_000) / 5)
    as_int16 = (x * 16_384).astype(np.int16)
    as_uint8 = (128 + x * 64).astype(np.uint8)
    assert abs(load_audio(as_int16, source_rate=16_000).max() - 0.5) < 1e-3
    assert abs(load_audio(as_uint8, source_rate=16_000).max() - 0.5) < 0.02


# --- streaming decode ------------------------------------------------------------------

def _bytes_of(x: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, x, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.mark.parametrize(("rate", "channels", "fmt"), [(44_100, 2, "FLAC"), (16_000, 1, "WAV"),
                                                       (22_050, 3, "WAV"), (48_000, 1, "OGG")])
def test_stream_blocks_join_to_the_loaded_signal(rate, channels, fmt):
    from serkit.audio import open_audio

    rng = np.random.default_rng(channels)
    x = (0.2 * rng.standard_normal((int(rate * 2.3), channels))).astype(np.float32)
    data = _bytes_of(x, rate, fmt)
    whole = load_audio(data)
    stream = open_audio(data)
    assert stream.source_rate == rate and stream.duration_s == pytest.approx(2.3, abs=0.01)
    for block_frames in (1000, 4096, 1 << 16):
        joined = np.concatenate(list(stream.blocks(block_frames)))
        assert np.array_equal(joined, whole)  # bit-identical, whatever the block size
    # The same as decoding everything and resampling in one go (the pre-streaming loader).
    import soxr

    reference, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    reference = reference.mean(axis=1)
    if rate != 16_000:
        reference = soxr.resample(reference, rate, 16_000, quality="HQ")
    assert np.array_equal(whole, reference)


def test_stream_checks_run_as_it_is_read(tmp_path):
    from serkit.audio import open_audio

    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(40_000, dtype=np.float32), 16_000)
    stream = open_audio(silent)  # the header is fine
    with pytest.raises(AudioError, match="silent"):
        for _ in stream.blocks(4096):
            pass
    long = write_tone(tmp_path / "long.wav", seconds=3.0)
    with pytest.raises(AudioError, match="longer than the 2 s cap"):
        open_audio(long, limits=AudioLimits(max_duration_s=2.0))  # from the header, unread


def test_truncated_wav_is_read_with_a_warning(tmp_path, caplog):
    x = (0.3 * np.sin(np.arange(160_000) / 7)).astype(np.float32)
    data = _bytes_of(x, 16_000, "WAV", "PCM_16")
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: len(data) // 2])
    with caplog.at_level("WARNING", logger="serkit.audio"):
        signal = load_audio(path)
    assert signal.size == pytest.approx(80_000, abs=50)
    assert np.max(np.abs(signal - x[: signal.size])) < 1e-4  # the part that exists, as it was
    (record,) = [r for r in caplog.records if r.name == "serkit.audio"]
    assert record.levelname == "WARNING"
    assert str(path) in record.getMessage() and "truncated" in record.getMessage()
    assert "10.00 s" in record.getMessage() and "50%" in record.getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="serkit.audio"):
        load_audio(data[: len(data) // 4], name="upload.wav")
    assert "upload.wav" in caplog.text and "25%" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="serkit.audio"):
        load_audio(data)  # whole: no warning
    assert caplog.text == ""


def test_truncated_and_unknown_length_flac_are_clear_errors(tmp_path):
    x = (0.3 * np.sin(np.arange(48_000) / 7)).astype(np.float32)
    data = _bytes_of(x, 16_000, "FLAC")
    with pytest.raises(AudioError, match="corrupt"):
        load_audio(data[: len(data) // 2])
    # A FLAC written by a pipe says "length unknown" (0 samples in STREAMINFO); libsndfile
    # 1.2 fails at the end of such a stream (psf_fseek). Before streaming this was
    # misreported as longer than the cap; now it is a corrupt-file error naming the file.
    unknown = bytearray(data)
    unknown[21] &= 0xF0
    unknown[22:26] = b"\0\0\0\0"
    path = tmp_path / "piped.flac"
    path.write_bytes(bytes(unknown))
    for source in (path, bytes(unknown)):
        with pytest.raises(AudioError, match="corrupt"):
            load_audio(source)


def test_arrays_of_non_numbers_and_bad_rates_are_audio_errors():
    with pytest.raises(AudioError, match="real numbers"):
        load_audio(np.array(["a", "b"]), source_rate=16_000)
    with pytest.raises(AudioError, match="real numbers"):
        load_audio(np.ones(100, dtype=complex), source_rate=16_000)
    with pytest.raises(AudioError, match="number of Hz"):
        load_audio(np.ones(100, dtype=np.float32), source_rate=float("nan"))
    with pytest.raises(AudioError, match="positive"):
        load_audio(np.ones(100, dtype=np.float32), source_rate=-8000)
