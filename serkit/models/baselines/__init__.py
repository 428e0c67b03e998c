"""The baselines SpeechNet is compared with: the peers of the SpeechNet paper's Table 4.

Zhang et al. (2025, Fig. 6 and Table 4) name the peers (LSTM, GRU, CNN, Transformer,
Autoencoder, TCN, SVM) but not their configurations; these are small, standard versions
run on the same features as SpeechNet. One file per model; the sequence models share
:class:`~serkit.models.baselines.base.SequenceClassifier` (input kinds, interval pooling,
padding masks, parameter checks), described in :mod:`serkit.models.baselines.base`.

The SERCT thesis (Zheng 2024, section 5.2) compares SERCT with MLP, LSTM, CNN-BiLSTM, SVM
and CNN baselines on the raw padded waveform: ``lstm``, ``gru`` and ``cnn`` read a
waveform as frames of samples (``input_kind="waveform"``), ``svm`` (and
:class:`~serkit.models.mlp.MLPClassifier`) a fixed-length one as one vector, and
:class:`~serkit.models.baselines.cnn_bilstm.CNNBiLSTM` is the thesis's CNN-BiLSTM.
"""

from serkit.models.baselines.autoencoder import AutoencoderClassifier
from serkit.models.baselines.base import RecurrentClassifier, SequenceClassifier, validate_params
from serkit.models.baselines.cnn import CNNClassifier
from serkit.models.baselines.cnn_bilstm import CNNBiLSTM
from serkit.models.baselines.gru import GRUClassifier
from serkit.models.baselines.lstm import LSTMClassifier
from serkit.models.baselines.svm import make_svm
from serkit.models.baselines.tcn import TCNClassifier
from serkit.models.baselines.transformer import TransformerClassifier

__all__ = [
    "AutoencoderClassifier",
    "CNNBiLSTM",
    "CNNClassifier",
    "GRUClassifier",
    "LSTMClassifier",
    "RecurrentClassifier",
    "SequenceClassifier",
    "TCNClassifier",
    "TransformerClassifier",
    "make_svm",
    "validate_params",
]
