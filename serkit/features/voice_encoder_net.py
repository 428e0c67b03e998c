"""The torch half of the ``voice_encoder`` features: mel front end, network, weights.

Kept apart from :mod:`serkit.features.voice_encoder` so that ``import serkit.features``
does not import torch (about 0.8 s, against 0.1 s for the rest of serkit.features); the
extractor imports this module the first time it computes something.

The network is Resemblyzer's speaker encoder (Jemine, Resemble AI; Apache-2.0; see
NOTICE): a 3-layer LSTM 40 → 256, a linear layer 256 → 256, ReLU and L2 normalisation,
trained for speaker verification (GE2E loss). serkit builds the same architecture here
and loads the weights file ``pretrained.pt`` that the ``resemblyzer`` wheel ships,
without importing any resemblyzer module: they import webrtcvad (which needs
``pkg_resources``, gone from setuptools 81 on) and a deprecated scipy namespace at import.

The checkpoint is a plain dict, loadable with ``torch.load(weights_only=True)``:
``step`` (int, the training step, 1 564 501), ``model_state`` (``lstm.*``, ``linear.*``
and the GE2E loss's ``similarity_weight``/``similarity_bias``, which inference does not
use) and ``optimizer_state`` (Adam's moments). Only the ``lstm.*`` and ``linear.*``
tensors are kept, strictly: a file of another shape is an error.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import numpy as np
import torch
from torch import nn

from serkit.errors import ConfigError, first_line

#: The encoder's audio settings (resemblyzer/hparams.py).
SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms window
HOP = 160  # 10 ms step
N_MELS = 40
HIDDEN = 256
EMBEDDING = 256
LAYERS = 3

#: An embedding whose norm is below this is returned as is rather than divided by ~0.
_TINY = 1e-12

_LOCK = threading.Lock()
_NETWORKS: dict[Path, VoiceEncoderNet] = {}


class VoiceEncoderNet(nn.Module):
    """Resemblyzer's encoder: LSTM(40 → 256, 3 layers) → Linear(256 → 256) → ReLU → L2.

    :meth:`forward` returns both what the package returns (one embedding per sequence,
    from the last layer's final hidden state) and the last layer's hidden output at every
    frame, which the package discards: one pass serves both.
    """

    def __init__(self, n_mels: int = N_MELS, hidden: int = HIDDEN,
                 embedding: int = EMBEDDING, layers: int = LAYERS):
        super().__init__()
        self.lstm = nn.LSTM(n_mels, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, embedding)

    def forward(self, mels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, frames, n_mels)`` mel power → (embeddings ``(batch, embedding)``,
        hidden states ``(batch, frames, hidden)``).

        The embedding is that of the last frame, so it is meaningful only for sequences
        without end padding (the partial utterances are all full length). An embedding
        whose ReLU output is all zero stays zero instead of becoming NaN.
        """
        states, _ = self.lstm(mels)
        raw = torch.relu(self.linear(states[:, -1]))
        norm = torch.linalg.vector_norm(raw, dim=1, keepdim=True)
        return raw / norm.clamp_min(_TINY), states


def weights_path() -> Path:
    """``pretrained.pt`` inside the installed ``resemblyzer`` package (not imported).

    Raises:
        ConfigError: resemblyzer is not installed.
    """
    return _default_weights_path()


@functools.cache
def _default_weights_path() -> Path:
    # find_spec of a top-level package locates it without executing its __init__.
    try:
        spec = importlib.util.find_spec("resemblyzer")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the voice_encoder features load the pretrained weights that the resemblyzer "
            "package ships, and it is not installed: pip install resemblyzer"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"


def load_network() -> VoiceEncoderNet:
    """The encoder with the weights at :func:`weights_path`, loaded once per process.

    Thread-safe: concurrent first calls load the file once; later calls take no lock.
    The network is in eval mode and must not be modified.

    Raises:
        ConfigError: resemblyzer missing, or a weights file missing or not the encoder's.
    """
    path = weights_path()
    network = _NETWORKS.get(path)
    if network is None:
        with _LOCK:
            network = _NETWORKS.get(path)
            if network is None:
                network = _load(path)
                _NETWORKS[path] = network
    return network


def _load(path: Path) -> VoiceEncoderNet:
    if not path.is_file():
        raise ConfigError(
            f"the voice_encoder weights file {path} is missing; reinstall the package that "
            "ships it: pip install --force-reinstall resemblyzer"
        )
    try:
        checkpoint = torch.load(path, weights_only=True, map_location="cpu")
        state = checkpoint["model_state"]
        network = VoiceEncoderNet()
        keep = {k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}
        network.load_state_dict(keep, strict=True)
    except Exception as exc:  # noqa: BLE001 - unpickling, a missing key, wrong shapes
        raise ConfigError(
            f"{path} is not a Resemblyzer voice encoder checkpoint ({type(exc).__name__}: "
            f"{first_line(exc)})"
        ) from None
    network.eval()
    network.requires_grad_(False)
    return network


@functools.cache
def _mel_basis() -> torch.Tensor:
    from serkit.features.filterbanks import mel_filters

    # librosa.feature.melspectrogram's own filters (Slaney mel scale and norm), float32,
    # built without importing librosa (numba and scipy.signal: seconds of a fresh process).
    return torch.from_numpy(mel_filters(SAMPLE_RATE, N_FFT, N_MELS).copy())


@functools.cache
def _window() -> torch.Tensor:
    return torch.hann_window(N_FFT, periodic=True)


def mel_power(signal: np.ndarray) -> torch.Tensor:
    """``(frames, 40)`` float32 mel power spectrogram, ``frames = 1 + len // 160``.

    Equal, up to float32 rounding, to ``librosa.feature.melspectrogram(y=signal,
    sr=16000, n_fft=400, hop_length=160, n_mels=40).T`` (what resemblyzer's
    ``wav_to_mel_spectrogram`` returns): a centred, zero-padded, periodic-Hann STFT,
    power 2, librosa's mel filters. torch's STFT takes about a quarter of librosa's time
    (0.35 ms against 1.5 ms on a 3 s clip, one thread); librosa takes the FFT in float64,
    this one in float32, and they differ by about 1e-6 of the value.
    """
    x = torch.from_numpy(np.ascontiguousarray(signal, dtype=np.float32))
    return _mel_of(torch.stft(x, N_FFT, HOP, window=_window(), center=True, pad_mode="constant",
                              return_complex=True))


def mel_frames(signal: np.ndarray, first: int, last: int) -> torch.Tensor:
    """Frames ``[first, last)`` of :func:`mel_power` ``(signal)``, computed from only the
    samples they read (zeros outside the signal, as the centred STFT pads), so that a long
    clip's spectrogram never has to exist whole."""
    lo, hi = first * HOP - N_FFT // 2, (last - 1) * HOP + N_FFT // 2 + (N_FFT % 2)
    segment = np.zeros(hi - lo, dtype=np.float32)
    a, b = max(lo, 0), min(hi, len(signal))
    if b > a:
        segment[a - lo:b - lo] = signal[a:b]
    x = torch.from_numpy(segment)
    return _mel_of(torch.stft(x, N_FFT, HOP, window=_window(), center=False, return_complex=True))


def _mel_of(spectrum: torch.Tensor) -> torch.Tensor:
    """``(frames, 40)`` mel power of a complex STFT ``(bins, frames)``."""
    power = spectrum.real.square() + spectrum.imag.square()
    return (_mel_basis() @ power).T
