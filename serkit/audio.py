"""Audio input: any path, bytes or array → validated mono float32 at a requested rate.

Every problem with the input raises one :class:`~serkit.errors.AudioError` that names the
source and says what is wrong and what to do.

Files and bytes are decoded as a stream (:func:`open_audio`): blocks of
:data:`BLOCK_FRAMES` frames are read, mixed to mono and resampled with a streaming soxr
resampler, so memory does not grow with the length of the recording beyond what the
caller keeps; :func:`load_audio` joins the blocks (bit-identical to resampling the whole
signal at once). A file whose body is shorter than its header declares (a WAV cut off
in a copy or an upload) is read as far as it goes, with a warning on the
``serkit.audio`` logger.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
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
#: Highest source rate taken: 10 MHz, far above any audio rate (768 kHz); a header or an
#: argument beyond it is wrong, and soxr would take practically forever to design the filter.
MAX_SOURCE_RATE = 10_000_000
#: Frames decoded per read: 2**16 (1.5 s at 44.1 kHz; 512 KiB of float32 stereo).
BLOCK_FRAMES = 1 << 16
#: A body this much shorter than its header says (libsndfile's estimate for mp3 can be off
#: by a little) is reported as truncated.
_TRUNCATION_TOLERANCE = 0.01
#: libsndfile's frame count for a stream of unknown length (e.g. a FLAC written by a pipe).
_UNKNOWN_FRAMES = 1 << 62

log = logging.getLogger(__name__)

#: A path, the bytes of an audio file, or an array (numpy; a torch tensor is taken too:
#: see :func:`as_array`).
AudioSource = str | Path | bytes | np.ndarray


def is_tensor(source: object) -> bool:
    """Whether ``source`` is a torch tensor, checked without importing torch."""
    return type(source).__module__.startswith("torch") and hasattr(source, "detach")


def as_array(source):
    """``source`` with a torch tensor turned into a numpy array on the CPU (float tensors of
    any precision as float32; integer and bool tensors keep their dtype, scaled as numpy
    PCM is); anything else unchanged."""
    if not is_tensor(source):
        return source
    tensor = source.detach().cpu()
    if tensor.is_floating_point():
        tensor = tensor.float()
    try:
        return tensor.numpy()
    except (TypeError, RuntimeError) as exc:  # complex, quantised, ...: not audio samples
        raise AudioError(f"<array>: a tensor of {tensor.dtype} is not audio samples ({exc})") from None

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
            shorter than ``limits.min_duration_s`` or longer than ``limits.max_duration_s``,
            a sample rate that is not an audio rate (over :data:`MAX_SOURCE_RATE`).

    A file decodes a block at a time (:func:`open_audio`); only the result is held. A file
    whose body is shorter than its header declares is read as far as it goes and logged
    as a warning (``serkit.audio``), naming it and the share that is there.

    Example:
        >>> import numpy as np
        >>> tone = np.sin(np.linspace(0, 2000, 48_000)).astype("float32")
        >>> load_audio(tone, source_rate=48_000, sample_rate=16_000).shape
        (16000,)
    """
    return open_audio(source, sample_rate=sample_rate, source_rate=source_rate, limits=limits,
                      name=name).read()


def open_audio(
    source: AudioSource,
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    source_rate: int | None = None,
    limits: AudioLimits = AudioLimits(),
    name: str | None = None,
) -> AudioStream:
    """An :class:`AudioStream` of ``source``: what :func:`load_audio` returns, block by block.

    Checks what can be checked without decoding (the file exists and is audio, the header's
    duration is under ``limits.max_duration_s``, an array's shape and rate) and raises
    :class:`~serkit.errors.AudioError` as :func:`load_audio` does; the checks that need
    the samples (NaN, silence, the real duration) run while the stream is read.

    Example:
        >>> import numpy as np
        >>> tone = np.sin(np.linspace(0, 2000, 48_000)).astype("float32")
        >>> stream = open_audio(tone, source_rate=48_000, sample_rate=16_000)
        >>> sum(block.size for block in stream.blocks(4096))
        16000
    """
    source = as_array(source)
    label = name or _describe(source)
    if isinstance(source, np.ndarray):
        return _ArrayStream(source, source_rate, label, sample_rate, limits)
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.exists():
            raise AudioError(f"{label}: file not found; check the path")
        if path.is_dir():
            raise AudioError(f"{label}: is a folder, not an audio file")
        if path.stat().st_size == 0:
            raise AudioError(f"{label}: the file is empty (0 bytes)")
        return _FileStream(lambda: str(path), label, sample_rate, limits)
    if isinstance(source, (bytes, bytearray)):
        if len(source) == 0:
            raise AudioError(f"{label}: the audio is empty (0 bytes)")
        data = bytes(source)
        return _FileStream(lambda: io.BytesIO(data), label, sample_rate, limits)
    raise AudioError(
        f"{label}: expected a path, bytes, a numpy array or a torch tensor, not {type(source).__name__}"
    )


class AudioStream:
    """A validated audio source read block by block as mono float32 at ``sample_rate``.

    Build it with :func:`open_audio`. Each call of :meth:`blocks` reads the source from its
    start again (a file is reopened, bytes are re-read), so a caller may go over a long
    recording twice without holding it. Memory: one block of decoded frames and the
    resampler's state, whatever the length.

    Attributes:
        label: how error messages call the source.
        sample_rate: the rate of the blocks.
        source_rate: the rate of the source.
        frames: the source's length in frames as its header says (None when unknown);
            the stream may turn out shorter (a truncated file).
    """

    label: str
    sample_rate: int
    source_rate: int
    frames: int | None
    limits: AudioLimits

    @property
    def duration_s(self) -> float | None:
        """The duration the header declares (None when it does not say)."""
        return None if self.frames is None else self.frames / self.source_rate

    def blocks(self, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        """Mono float32 blocks at ``sample_rate`` (about ``block_frames`` source frames
        each; some may be empty), from the start.

        The checks of :func:`load_audio` run as the blocks come: NaN or infinite samples
        and a stream longer than the cap raise at the block where they show, the rest
        (empty, too short, silent) once the source is exhausted, before the iterator ends.

        Raises:
            AudioError: as :func:`load_audio`.
        """
        peak, count = 0.0, 0
        resampler = None if self.source_rate == self.sample_rate else soxr.ResampleStream(
            self.source_rate, self.sample_rate, 1, dtype="float32", quality="HQ")
        produced = 0
        for block in self._mono_blocks(max(1, int(block_frames))):
            if block.size == 0:
                continue
            if not np.all(np.isfinite(block)):
                raise AudioError(f"{self.label}: the audio contains NaN or infinite samples")
            count += block.size
            cap = self.limits.max_duration_s
            if cap is not None and count / self.source_rate > cap:
                raise AudioError(_too_long(self.label, count / self.source_rate, cap, at_least=True))
            peak = max(peak, float(np.max(np.abs(block))))
            out = block if resampler is None else resampler.resample_chunk(block)
            produced += out.size
            yield out
        self._check_end(count, peak)
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            produced += tail.size
            if produced == 0:
                raise AudioError(
                    f"{self.label}: {count} samples at {self.source_rate} Hz make no sample at "
                    f"{self.sample_rate} Hz; the audio is too short or its sample rate is wrong")
            yield tail

    def read(self) -> np.ndarray:
        """The whole signal, ``(samples,)`` float32 (what :func:`load_audio` returns)."""
        parts = list(self.blocks())
        if len(parts) == 1:
            return np.ascontiguousarray(parts[0], dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)

    def _mono_blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def _check_end(self, count: int, peak: float) -> None:
        """The checks of :func:`load_audio` that need the whole stream, in its order."""
        label, rate, limits = self.label, self.source_rate, self.limits
        if count == 0:
            raise AudioError(f"{label}: the audio is empty (0 samples)")
        duration = count / rate
        if limits.max_duration_s is not None and duration > limits.max_duration_s:
            raise AudioError(_too_long(label, duration, limits.max_duration_s))
        if limits.min_duration_s is not None and duration < limits.min_duration_s:
            raise AudioError(
                f"{label}: {duration:.3f} s of audio is shorter than the "
                f"{limits.min_duration_s:g} s this model needs"
            )
        if limits.reject_silence and peak < SILENCE_PEAK:
            raise AudioError(f"{label}: the audio is silent (all samples are zero or near zero)")


class _ArrayStream(AudioStream):
    """An array already in memory, converted and mixed to mono once, then sliced."""

    def __init__(self, source: np.ndarray, source_rate, label: str, sample_rate: int,
                 limits: AudioLimits):
        if source_rate is None:
            raise AudioError(f"{label}: an array needs its sample rate (pass source_rate=...)")
        try:
            source_rate = int(source_rate)
        except (TypeError, ValueError, OverflowError):
            raise AudioError(f"{label}: sample rate must be a number of Hz, not {source_rate!r}") from None
        if source.dtype.kind not in "biuf":
            raise AudioError(f"{label}: audio arrays must hold real numbers, not {source.dtype}")
        if source.size == 0:
            raise AudioError(f"{label}: the audio is empty (0 samples)")
        if source.ndim not in (1, 2):
            raise AudioError(
                f"{label}: audio arrays must be (samples,) or (samples, channels), "
                f"not shape {source.shape}"
            )
        _check_rate(label, source_rate)
        self.label, self.sample_rate, self.limits = label, int(sample_rate), limits
        self.source_rate = source_rate
        self._signal = _to_mono(_as_float(source))
        self.frames = int(self._signal.size)
        # In memory already: the checks that need every sample run now, in load_audio's order.
        if not np.all(np.isfinite(self._signal)):
            raise AudioError(f"{label}: the audio contains NaN or infinite samples")
        duration = self.frames / self.source_rate
        if limits.max_duration_s is not None and duration > limits.max_duration_s:
            raise AudioError(_too_long(label, duration, limits.max_duration_s))

    def _mono_blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        for start in range(0, self._signal.size, block_frames):
            yield self._signal[start:start + block_frames]


class _FileStream(AudioStream):
    """A file or the bytes of one, decoded by libsndfile a block at a time."""

    def __init__(self, opener, label: str, sample_rate: int, limits: AudioLimits):
        self._opener, self.label, self.sample_rate, self.limits = opener, label, int(sample_rate), limits
        with self._open() as f:
            self.source_rate = int(f.samplerate)
            _check_rate(label, self.source_rate)
            frames = int(f.frames)
            self.frames = None if frames >= _UNKNOWN_FRAMES else frames
            if self.frames == 0:
                raise AudioError(f"{label}: the audio is empty (0 samples)")
            # Check the cap from the header before decoding a huge file.
            if limits.max_duration_s is not None and self.frames is not None:
                duration = self.frames / self.source_rate
                if duration > limits.max_duration_s:
                    raise AudioError(_too_long(label, duration, limits.max_duration_s))
            self._warned = False
            self._warn_if_truncated(_declared_share(f), self.frames)

    def _open(self) -> sf.SoundFile:
        try:
            return sf.SoundFile(self._opener())
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OverflowError,
                MemoryError) as exc:
            raise AudioError(
                f"{self.label}: not audio or corrupt ({_reason(exc)}); "
                "use wav, flac or ogg (mp3 where your libsndfile reads it)"
            ) from None

    def _mono_blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        read = 0
        with self._open() as f:
            # At most 16 MiB a read, whatever the channel count a header claims.
            block_frames = max(1, min(block_frames, (1 << 22) // max(1, f.channels)))
            while True:
                try:
                    data = f.read(block_frames, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OverflowError,
                        MemoryError) as exc:
                    where = f"after {read / self.source_rate:.2f} s" if read else "at its start"
                    raise AudioError(f"{self.label}: not audio or corrupt {where} "
                                     f"({_reason(exc)})") from None
                if data.shape[0] == 0:
                    break
                read += data.shape[0]
                # (frames, channels) from libsndfile, whatever the block's length.
                yield data.mean(axis=1)
        if self.frames is not None and 0 < read < self.frames * (1 - _TRUNCATION_TOLERANCE):
            self._warn_if_truncated(read / self.frames, read)

    def _warn_if_truncated(self, share: float | None, frames_read: int | None) -> None:
        if share is None or share >= 1 - _TRUNCATION_TOLERANCE or self._warned:
            return
        self._warned = True
        read_s = (frames_read or 0) / self.source_rate
        declared_s = read_s / share if share > 0 else float("nan")
        log.warning("%s: truncated file: its header declares %.2f s of audio but only %.0f%% of "
                    "it is there (%.2f s); using the part that exists", self.label, declared_s,
                    100 * share, read_s)


#: libsndfile's header log says "data : 320000 (should be 159978)" when a body is short.
_SHORT_CHUNK = re.compile(r"^\s*(data|SSND|Data Size)\s*:\s*(\d+)\s*\(should be (\d+)\)",
                          re.MULTILINE)


class SampleBuffer:
    """The recent samples of a stream of blocks, addressed by their index in the signal.

    Streaming readers (sliding windows, long-clip pieces) append blocks as they arrive,
    take ``[lo, hi)`` by signal index, and drop what they no longer need, so that they
    hold about one window or piece whatever the signal's length.

    Example:
        >>> buffer = SampleBuffer()
        >>> buffer.append(np.arange(4.0)); buffer.append(np.arange(4.0, 8.0))
        >>> buffer.drop_before(3); buffer.take(3, 6).tolist(), buffer.total
        ([3.0, 4.0, 5.0], 8)
    """

    def __init__(self):
        self._samples = np.zeros(0, dtype=np.float32)
        self.first = 0  # the signal index of the first sample held
        self.total = 0  # samples appended so far
        self._pending: list[np.ndarray] = []

    def append(self, block: np.ndarray) -> None:
        # Joined lazily, on the next take: many small blocks cost one concatenation.
        if block.size:
            self._pending.append(block)
            self.total += block.size

    def take(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``[lo, hi)`` of the signal (a view: valid until the buffer changes)."""
        if self._pending:
            self._samples = np.concatenate([self._samples, *self._pending])
            self._pending.clear()
        return self._samples[lo - self.first:hi - self.first]

    def drop_before(self, index: int) -> None:
        """Forget the samples before signal index ``index``."""
        if index > self.first:
            self._samples = self.take(index, self.total).copy()
            self.first = index


def _declared_share(f: sf.SoundFile) -> float | None:
    """The share of the audio chunk its header declares that the file holds (None: all,
    or the header does not say)."""
    try:
        info = f.extra_info
    except Exception:  # noqa: BLE001 - the log is a nicety; never fail a read on it
        return None
    match = _SHORT_CHUNK.search(info)
    if match is None:
        return None
    declared, present = int(match.group(2)), int(match.group(3))
    # 0 and 0xFFFFFFFF are "length unknown" (streamed WAVs), not truncation.
    if declared <= 0 or declared >= 0xFFFFFFF0 or present >= declared:
        return None
    return present / declared


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


def _as_float(samples: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1]: integer PCM (int16, int32, uint8) is scaled by its full range;
    bool arrays are 0/1."""
    if np.issubdtype(samples.dtype, np.signedinteger):
        return (samples / -float(np.iinfo(samples.dtype).min)).astype(np.float32)
    if np.issubdtype(samples.dtype, np.unsignedinteger):
        half = (float(np.iinfo(samples.dtype).max) + 1) / 2
        return ((samples - half) / half).astype(np.float32)
    return samples.astype(np.float32, copy=False)


def _check_rate(label: str, rate: int) -> None:
    if rate <= 0:
        raise AudioError(f"{label}: sample rate must be positive, not {rate}")
    if rate > MAX_SOURCE_RATE:
        raise AudioError(f"{label}: a sample rate of {rate:.6g} Hz is not an audio rate (at most "
                         f"{MAX_SOURCE_RATE} Hz); the header or the sample_rate given is wrong")


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


def _too_long(label: str, duration: float, cap: float, *, at_least: bool = False) -> str:
    return (
        f"{label}: {'over ' if at_least else ''}{duration:.1f} s of audio is longer than the "
        f"{cap:g} s cap; "
        "cut it into parts or raise the cap (max_duration_s)"
    )


def pad_or_crop(signal: np.ndarray, length: int, *, offset: int = 0) -> np.ndarray:
    """Exactly ``length`` samples from ``offset`` on, zero-padded at the end if short."""
    segment = signal[offset : offset + length]
    if segment.size < length:
        segment = np.pad(segment, (0, length - segment.size))
    return segment
