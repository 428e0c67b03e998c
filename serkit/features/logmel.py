"""Log-mel spectrograms of a fixed-length segment, as the CNN–Transformer paper uses them.

Wei et al. 2025, section III.B: each recording is loaded at 48 kHz, a 3-second segment
starting 0.5 s in is kept and zero-padded to 3 s, and a 128-band mel spectrogram with a
1024-point FFT, a 512-sample window and a 256-sample hop is taken on a log (dB) scale.

serkit keeps every one of those numbers configurable. Its default keeps the paper's FFT,
window and hop *in samples* at our corpora's 16 kHz, so the frames are three times longer
in time (window 32 ms, hop 16 ms instead of 10.7 ms and 5.3 ms) and a 3 s segment gives 188
frames instead of 563; the mel bands span 0–8 kHz instead of 0–24 kHz. docs/models.md
says why (the CPU cost of the network grows with the frame count).

Two choices the paper leaves open:

- The dB reference is the clip's own maximum (``librosa.power_to_db(ref=np.max)``,
  floor 80 dB below it), so the spectrogram does not depend on the recording gain.
- A clip shorter than offset + duration starts earlier (at ``max(0, length - duration)``)
  rather than losing its first 0.5 s to the offset; a clip of at least 3.5 s is cut
  exactly as the paper cuts it.

``duration_s: null`` takes the whole clip from ``offset_s`` on instead, so clips give as
many frames as they last (variable length, padded per batch like the other sequence
features): the reading for models that take variable-length input, such as the wavelet
CNN–LSTM's log-mel ablation, where a fixed segment would pad short clips with real
columns of floor values.
"""

from __future__ import annotations

from typing import Any

import librosa
import numpy as np

from serkit.audio import pad_or_crop
from serkit.features.filterbanks import mel_filters
from serkit.inputs import InputSpec


class LogMel:
    """``(frames, n_mels)`` log-mel spectrogram of a fixed-length segment of a clip.

    Args:
        sample_rate: the rate the signal must have (the paper: 48 000; ours: 16 000).
        offset_s: where the segment starts (paper: 0.5 s).
        duration_s: segment length; shorter clips are zero-padded (paper: 3 s). None: the
            whole clip from ``offset_s`` on, as many frames as it lasts.
        n_fft, win_length, hop_length: STFT sizes in samples (paper: 1024, 512, 256).
        n_mels: mel bands (paper: 128).
        top_db: dynamic range kept below the clip's maximum, in dB.

    Example:
        >>> import numpy as np
        >>> logmel = LogMel()
        >>> logmel(np.random.default_rng(0).normal(size=16000).astype("float32")).shape
        (188, 128)
    """

    name = "logmel"

    def __init__(
        self,
        *,
        sample_rate: int = 16_000,
        offset_s: float = 0.5,
        duration_s: float | None = 3.0,
        n_fft: int = 1024,
        win_length: int = 512,
        hop_length: int = 256,
        n_mels: int = 128,
        top_db: float = 80.0,
    ):
        from serkit.errors import ConfigError

        if not (win_length <= n_fft and hop_length > 0 and n_mels > 0 and (duration_s is None or duration_s > 0)
                and offset_s >= 0):
            raise ConfigError(
                "logmel needs win_length <= n_fft, hop_length > 0, n_mels > 0, duration_s > 0 (or null) "
                f"and offset_s >= 0 (got n_fft={n_fft}, win_length={win_length}, "
                f"hop_length={hop_length}, n_mels={n_mels}, duration_s={duration_s}, offset_s={offset_s})"
            )
        self.sample_rate = int(sample_rate)
        self.offset_s = float(offset_s)
        self.duration_s = None if duration_s is None else float(duration_s)
        self.n_fft, self.win_length, self.hop_length = int(n_fft), int(win_length), int(hop_length)
        self.n_mels = int(n_mels)
        self.top_db = float(top_db)

    @property
    def params(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate, "offset_s": self.offset_s,
                "duration_s": self.duration_s, "n_fft": self.n_fft,
                "win_length": self.win_length, "hop_length": self.hop_length,
                "n_mels": self.n_mels, "top_db": self.top_db}

    @property
    def dim(self) -> int:
        return self.n_mels

    @property
    def spec(self) -> InputSpec:
        """``n_frames`` frames of ``n_mels`` log-mel values, every clip the same length
        (any length with ``duration_s`` None)."""
        return InputSpec("frames", (self.n_mels,), length=self.n_frames,
                         rate=self.sample_rate / self.hop_length)

    @property
    def segment_samples(self) -> int | None:
        return None if self.duration_s is None else int(round(self.duration_s * self.sample_rate))

    @property
    def n_frames(self) -> int | None:
        """Frames per clip: every clip gives the same number (centred STFT); None when
        clips give as many as they last."""
        return None if self.segment_samples is None else 1 + self.segment_samples // self.hop_length

    @property
    def feature_names(self) -> list[str]:
        return [f"logmel_{i:03d}" for i in range(self.n_mels)]

    def segment(self, signal: np.ndarray) -> np.ndarray:
        """The ``duration_s`` segment the spectrogram is taken of, zero-padded at the end
        (with ``duration_s`` None: the clip from ``offset_s`` on, at least one sample)."""
        length = self.segment_samples
        if length is None:
            start = min(int(round(self.offset_s * self.sample_rate)), max(0, len(signal) - 1))
            rest = np.asarray(signal)[start:]
            return pad_or_crop(rest, max(1, len(rest))).astype(np.float32, copy=False)
        start = min(int(round(self.offset_s * self.sample_rate)), max(0, len(signal) - length))
        return pad_or_crop(np.asarray(signal), length, offset=start).astype(np.float32, copy=False)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        # librosa.feature.melspectrogram(y, sr, n_fft, win_length, hop_length, n_mels,
        # power=2) step by step, with the mel filters built once instead of on every call
        # (a quarter of the time); the same arithmetic, so bit-identical values.
        magnitude = np.abs(librosa.stft(self.segment(signal), n_fft=self.n_fft,
                                        hop_length=self.hop_length, win_length=self.win_length,
                                        center=True, pad_mode="constant"))
        power = np.einsum("...ft,mf->...mt", magnitude**2.0,
                          mel_filters(self.sample_rate, self.n_fft, self.n_mels), optimize=True)
        if not np.any(power > 0):
            return np.full((power.shape[-1], self.n_mels), -self.top_db, dtype=np.float32)
        db = librosa.power_to_db(power, ref=np.max, top_db=self.top_db)
        return db.T.astype(np.float32)
