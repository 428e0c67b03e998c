"""librosa's mel filterbank in plain numpy, so that the prediction path need not import
librosa (whose filters module pulls in numba and scipy.signal: about two seconds of a fresh
process). The arithmetic is librosa 0.11's ``filters.mel`` (Slaney scale and area
normalisation, ``htk=False, norm="slaney"``) operation for operation, so the matrix is
bit-identical to it (tests/test_speed_paths.py)."""

from __future__ import annotations

import functools

import numpy as np

_F_SP = 200.0 / 3  # Hz per mel below 1 kHz, Slaney's linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Slaney mels: linear below 1 kHz, logarithmic above (librosa ``htk=False``)."""
    frequencies = np.atleast_1d(np.asarray(frequencies, dtype=np.float64))
    mels = frequencies / _F_SP
    log = frequencies >= _MIN_LOG_HZ
    mels[log] = _MIN_LOG_MEL + np.log(frequencies[log] / _MIN_LOG_HZ) / _LOGSTEP
    return mels


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    """The inverse of :func:`hz_to_mel`."""
    mels = np.atleast_1d(np.asarray(mels, dtype=np.float64))
    freqs = _F_SP * mels
    log = mels >= _MIN_LOG_MEL
    freqs[log] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mels[log] - _MIN_LOG_MEL))
    return freqs


@functools.lru_cache(maxsize=16)
def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                fmax: float | None = None) -> np.ndarray:
    """``(n_mels, 1 + n_fft // 2)`` float32 triangular filters, each of unit area in Hz
    (librosa.filters.mel). Built once per setting and read-only."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin)[0], hz_to_mel(fmax)[0], n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    for i in range(n_mels):  # n_mels rows, once per setting: not a per-frame loop
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    weights.setflags(write=False)
    return weights
