"""Audio input: any path, bytes or array → validated mono float32 at a requested rate.

Every problem with the input raises one :class:`~serkit.errors.AudioError` that names the
source and says what is wrong and what to do.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from serkit.errors import AudioError

DEFAULT_SAMPLE_RATE = 16_000
#: Longest input accepted by default; a 10-minute call fits, a day-long recording does not.
DEFAULT_MAX_DURATION_S = 3600.0
#: Peak amplitude below which a signal counts as silence (about -90 dBFS, under 16-bit dither).
SILENCE_PEAK = 10 ** (-90 / 20)

AudioSource = str | Path | bytes | np.ndarray

#: Extensions that folder discovery takes, by the soundfile (libsndfile) format that reads them.
_EXTENSIONS_BY_FORMAT = {
    "WAV": (".wav",), "FLAC": (".flac",), "OGG": (".ogg", ".oga", ".opus"), "MP3": (".mp3",),
    "AIFF": (".aif", ".aiff"), "AU": (".au",), "CAF": (".caf",), "W64": (".w64",),
    "RF64": (".rf64",),
}
#: The extensions (lower case, with the dot) that :func:`find_audio` takes: those of the
#: formats this libsndfile build reads (wav, flac, ogg everywhere; mp3 from libsndfile 1.1;
#: m4a/aac never).
AUDIO_EXTENSIONS: tuple[str, ...] = tuple(
    ext for fmt, exts in _EXTENSIONS_BY_FORMAT.items() if fmt in sf.available_formats() for ext in exts
)


@dataclass(frozen=True)
class AudioLimits:
    """What a caller accepts. ``None`` switches a check off."""

    min_duration_s: float | None = None
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S
    reject_silence: bool = True


def load_audio(
    source: AudioSource,
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    source_rate: int | None = None,
    limits: AudioLimits = AudioLimits(),
    name: str | None = None,
) -> np.ndarray:
    """Load audio as mono float32 in [-1, 1] at ``sample_rate``.

    Args:
        source: a file path (wav, flac, ogg; mp3 where libsndfile reads it), the bytes of
            such a file, or an array ``(samples,)`` or ``(samples, channels)``.
        sample_rate: the rate to return, resampled with soxr where it differs.
        source_rate: the rate of an array source (required for arrays).
        limits: duration and silence checks.
        name: how error messages call the source (defaults to the path or "<bytes>").

    Returns:
        ``(samples,)`` float32.

    Raises:
        AudioError: missing, empty, not audio or corrupt, non-finite samples, all silence,
            shorter than ``limits.min_duration_s`` or longer than ``limits.max_duration_s``.

    Example:
        >>> import numpy as np
        >>> tone = np.sin(np.linspace(0, 2000, 48_000)).astype("float32")
        >>> load_audio(tone, source_rate=48_000, sample_rate=16_000).shape
        (16000,)
    """
    label = name or _describe(source)
    signal, rate = _read(source, source_rate, label, limits)
    signal = _to_mono(signal)
    _validate(signal, rate, label, limits)
    if rate != sample_rate:
        signal = soxr.resample(signal, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(signal, dtype=np.float32)


def find_audio(folder: str | Path) -> list[Path]:
    """The audio files under ``folder``, searched recursively and sorted by path.

    A file is audio by its extension (:data:`AUDIO_EXTENSIONS`, any case). Hidden files
    and folders are skipped: they are editor or OS clutter (``.git``; macOS's ``._x.wav``
    resource forks look like audio by name but are not).
    """
    folder = Path(folder)
    return sorted(
        path for path in folder.rglob("*")
        if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def audio_duration_s(path: str | Path) -> float:
    """Duration of an audio file from its header, without decoding it."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    return info.frames / info.samplerate


def _describe(source: AudioSource) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return "<uploaded audio>"
    return "<array>"


def _read(source, source_rate, label, limits) -> tuple[np.ndarray, int]:
    if isinstance(source, np.ndarray):
        if source_rate is None:
            raise AudioError(f"{label}: an array needs its sample rate (pass source_rate=...)")
        if source.size == 0:
            raise AudioError(f"{label}: the audio is empty (0 samples)")
        if source.ndim not in (1, 2):
            raise AudioError(
                f"{label}: audio arrays must be (samples,) or (samples, channels), "
                f"not shape {source.shape}"
            )
        return _as_float(source), int(source_rate)
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.exists():
            raise AudioError(f"{label}: file not found; check the path")
        if path.is_dir():
            raise AudioError(f"{label}: is a folder, not an audio file")
        if path.stat().st_size == 0:
            raise AudioError(f"{label}: the file is empty (0 bytes)")
        return _decode(path, label, limits)
    if isinstance(source, (bytes, bytearray)):
        if len(source) == 0:
            raise AudioError(f"{label}: the audio is empty (0 bytes)")
        return _decode(io.BytesIO(bytes(source)), label, limits)
    raise AudioError(
        f"{label}: expected a path, bytes or a numpy array, not {type(source).__name__}"
    )


def _as_float(samples: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1]: integer PCM (int16, int32, uint8) is scaled by its full range."""
    if np.issubdtype(samples.dtype, np.signedinteger):
        return (samples / -float(np.iinfo(samples.dtype).min)).astype(np.float32)
    if np.issubdtype(samples.dtype, np.unsignedinteger):
        half = (float(np.iinfo(samples.dtype).max) + 1) / 2
        return ((samples - half) / half).astype(np.float32)
    return samples.astype(np.float32, copy=False)


def _decode(file, label, limits) -> tuple[np.ndarray, int]:
    try:
        with sf.SoundFile(file) as f:
            rate = f.samplerate
            if f.frames == 0:
                raise AudioError(f"{label}: the audio is empty (0 samples)")
            # Check the cap from the header before decoding a huge file into memory.
            if limits.max_duration_s is not None and f.frames > 0:
                duration = f.frames / rate
                if duration > limits.max_duration_s:
                    raise AudioError(_too_long(label, duration, limits.max_duration_s))
            data = f.read(dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(
            f"{label}: not audio or corrupt ({_reason(exc)}); "
            "use wav, flac or ogg (mp3 where your libsndfile reads it)"
        ) from None
    if data.shape[0] == 0:
        raise AudioError(f"{label}: the audio is empty (0 samples)")
    return data, rate


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text.split(": ", 1)[-1] if "Error opening" in text else text


def _to_mono(signal: np.ndarray) -> np.ndarray:
    if signal.ndim == 2:
        # Arrays may come as (channels, samples) from some libraries; channels are few.
        if signal.shape[0] <= 8 < signal.shape[1]:
            signal = signal.T
        signal = signal.mean(axis=1)
    return signal


def _validate(signal: np.ndarray, rate: int, label: str, limits: AudioLimits) -> None:
    if rate <= 0:
        raise AudioError(f"{label}: sample rate must be positive, not {rate}")
    if signal.size == 0:
        raise AudioError(f"{label}: the audio is empty (0 samples)")
    if not np.all(np.isfinite(signal)):
        raise AudioError(f"{label}: the audio contains NaN or infinite samples")
    duration = signal.size / rate
    if limits.max_duration_s is not None and duration > limits.max_duration_s:
        raise AudioError(_too_long(label, duration, limits.max_duration_s))
    if limits.min_duration_s is not None and duration < limits.min_duration_s:
        raise AudioError(
            f"{label}: {duration:.3f} s of audio is shorter than the "
            f"{limits.min_duration_s:g} s this model needs"
        )
    if limits.reject_silence and float(np.max(np.abs(signal))) < SILENCE_PEAK:
        raise AudioError(f"{label}: the audio is silent (all samples are zero or near zero)")


def _too_long(label: str, duration: float, cap: float) -> str:
    return (
        f"{label}: {duration:.1f} s of audio is longer than the {cap:g} s cap; "
        "cut it into parts or raise the cap (max_duration_s)"
    )


def pad_or_crop(signal: np.ndarray, length: int, *, offset: int = 0) -> np.ndarray:
    """Exactly ``length`` samples from ``offset`` on, zero-padded at the end if short."""
    segment = signal[offset : offset + length]
    if segment.size < length:
        segment = np.pad(segment, (0, length - segment.size))
    return segment
