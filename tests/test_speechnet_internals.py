"""benchmarks/speechnet_internals.py --trace: the capsule lengths against eq. 15's margins,
which docs/models.md quotes to explain why some seeds underfit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from serkit.batching import FeatureSet
from serkit.models import make_loss, make_model
from serkit.training.config import TrainingConfig
from serkit.training.fit import fit
from tests.conftest import import_benchmark


@pytest.fixture(scope="module")
def internals():
    return import_benchmark("speechnet_internals")


class FixedLengths(nn.Module):
    """Returns the log of given capsule lengths, one row per clip, as SpeechNet's logits."""

    def __init__(self, lengths):
        super().__init__()
        self.logits = torch.log(torch.tensor(lengths, dtype=torch.float32))

    def forward(self, x, lengths=None):
        return self.logits[x[:, 0].long()]


def test_margins_measures_true_and_longest_other_capsule(internals):
    lengths = [[0.6, 0.2, 0.55],   # true 0 over the margin, longest other 0.55 over it: right
               [0.3, 0.4, 0.1],    # true 1 under, longest other 0.3: right
               [0.7, 0.2, 0.45]]   # true 2 under, longest other 0.7 over: wrong
    data = FeatureSet(np.arange(3, dtype=np.float32)[:, None], np.array([0, 1, 2]), "vector")
    got = internals.margins(FixedLengths(lengths), data, batch_size=2)
    assert got == pytest.approx({"accuracy (eval mode)": 2 / 3, "true length": (0.6 + 0.4 + 0.45) / 3,
                                 "longest other": (0.55 + 0.3 + 0.7) / 3, "true < margin": 2 / 3,
                                 "other > margin": 2 / 3})
    # CapsNet's margins: true under 0.9 for all three, the longest other over 0.1 for all three
    capsnet = internals.margins(FixedLengths(lengths), data, positive=0.9, negative=0.1, batch_size=2)
    assert (capsnet["true < margin"], capsnet["other > margin"]) == (1.0, 1.0)
    # the two bounds are not swapped: true over 0.35 for clips 0, 1, 2 (0.6, 0.4, 0.45); other over 0.65 for clip 2
    mixed = internals.margins(FixedLengths(lengths), data, positive=0.35, negative=0.65, batch_size=2)
    assert mixed["true < margin"] == 0.0 and mixed["other > margin"] == pytest.approx(1 / 3)


def test_trace_trains_as_one_uninterrupted_fit_and_prints_its_last_epoch(internals, capsys):
    rng = np.random.default_rng(0)
    data = FeatureSet(rng.standard_normal((40, 107)).astype(np.float32), np.arange(40) % 4, "vector")
    settings = TrainingConfig(epochs=4, batch_size=16, learning_rate=1e-3, select="last", num_threads=1)
    loss_fn = make_loss("balanced_margin")

    torch.manual_seed(0)
    traced = make_model("speechnet", 107, 4)
    internals.trace(traced, data, loss_fn, settings, seed=3, every=2, bounds=(0.5, 0.5))
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [row[0] for row in rows] == ["| 0", "| 2", "| 4"]

    torch.manual_seed(0)
    whole = make_model("speechnet", 107, 4)
    result = fit(whole, data, None, loss_fn=loss_fn, settings=settings, seed=3, progress=False)
    assert math.isclose(float(rows[-1][1]), result.history[-1]["train_loss"], rel_tol=0.01)
    assert float(rows[-1][2]) == pytest.approx(internals.margins(whole, data)["accuracy (eval mode)"], abs=1e-3)
    for a, b in zip(traced.state_dict().values(), whole.state_dict().values()):
        torch.testing.assert_close(a, b)
