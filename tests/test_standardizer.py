"""features.Standardizer: the training statistics every model input goes through, the
adapted copy of --adapt, its saved state, and its messages (mutation-tested: docs/testing.md)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from serkit.errors import ConfigError
from serkit.features import Standardizer

TRAIN = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 4.0]])


def fitted() -> Standardizer:
    return Standardizer().fit(TRAIN)


def test_fit_learns_mean_and_std_and_gives_constant_dimensions_scale_one():
    s = fitted()
    assert s.mean.tolist() == [2.0, 5.0, 2.0] and s.scale.tolist() == [1.0, 1.0, 2.0]
    assert s.fitted and not Standardizer().fitted


def test_an_unfitted_standardizer_has_no_statistics():
    s = Standardizer()
    assert s.mean is None and s.scale is None
    assert repr(s) == "Standardizer(unfitted)" and repr(fitted()) == "Standardizer(dim=3)"


def test_adapted_uses_its_own_statistics_where_they_vary_and_the_trained_ones_elsewhere():
    trained = fitted()
    call = np.array([[10.0, 7.0, 1.0], [14.0, 7.0, 1.0], [12.0, 7.0, 1.0]])
    adapted = trained.adapted(call)
    # Dimension 0 varies in the call: its own mean and std; 1 and 2 are constant: trained.
    assert adapted.mean.tolist() == pytest.approx([12.0, 5.0, 2.0])
    assert adapted.scale.tolist() == pytest.approx([np.std([10.0, 14.0, 12.0]), 1.0, 2.0])
    assert adapted is not trained and trained.mean.tolist() == [2.0, 5.0, 2.0]
    assert isinstance(adapted, Standardizer)
    np.testing.assert_allclose(adapted.transform(call)[:, 0], (call[:, 0] - 12.0) / np.std(call[:, 0]), rtol=1e-6)


def test_adapted_on_frame_sequences_counts_every_frame():
    trained = fitted()
    adapted = trained.adapted([np.array([[0.0, 5.0, 2.0], [2.0, 5.0, 2.0]]), np.array([[4.0, 5.0, 2.0]])])
    assert adapted.mean.tolist() == pytest.approx([2.0, 5.0, 2.0])
    assert adapted.scale.tolist() == pytest.approx([np.std([0.0, 2.0, 4.0]), 1.0, 2.0])


def test_transform_keeps_the_layout_and_gives_float32():
    s = fitted()
    one = s.transform(np.array([4.0, 6.0, 6.0]))
    assert one.dtype == np.float32 and one.tolist() == [2.0, 1.0, 2.0]
    many = s.transform([np.array([[2.0, 5.0, 2.0]]), np.array([3.0, 5.0, 0.0])])
    assert isinstance(many, list) and [m.tolist() for m in many] == [[[0.0, 0.0, 0.0]], [1.0, 0.0, -1.0]]
    np.testing.assert_array_equal(Standardizer().fit_transform(TRAIN), [[-1.0, 0.0, -1.0], [1.0, 0.0, 1.0]])


@pytest.mark.parametrize("missing", ["mean", "scale"])
def test_transform_and_state_refuse_a_half_fitted_standardizer(missing):
    s = fitted()
    setattr(s, missing, None)
    with pytest.raises(ConfigError, match="^Standardizer is not fitted; call fit\\(\\) on training features first$"):
        s.transform(TRAIN)
    with pytest.raises(ConfigError, match="^Standardizer is not fitted; there is no state to save$"):
        s.state_dict()


def test_features_of_another_dimension_are_refused_with_their_shape():
    s = fitted()
    with pytest.raises(ConfigError, match=re.escape("Standardizer was fitted on 3-d features, not 2-d (shape (4, 2))")):
        s.transform(np.zeros((4, 2)))
    with pytest.raises(ConfigError, match=re.escape("fitted on 3-d features, not 0-d (shape ())")):
        s.transform(np.array(1.0))
    # The last axis is the feature axis: (5, 4, 2) frames have 2 features, not 4 or 5.
    with pytest.raises(ConfigError, match=re.escape("not 2-d (shape (5, 4, 2))")):
        s.transform(np.zeros((5, 4, 2)))


def test_state_round_trip_as_float64():
    state = fitted().state_dict()
    assert state == {"mean": [2.0, 5.0, 2.0], "scale": [1.0, 1.0, 2.0]}
    back = Standardizer.from_state({"mean": [1, 2], "scale": [3, 4]})
    assert back.mean.dtype == np.float64 and back.scale.dtype == np.float64
    assert back.transform(np.array([4, 6])).tolist() == [1.0, 1.0]


@pytest.mark.parametrize(("state", "message"), [
    ({"mean": [0.0]}, "a Standardizer state needs 'mean' and 'scale' number lists \\('scale'\\)"),
    ({"mean": ["x"], "scale": [1.0]}, "a Standardizer state needs 'mean' and 'scale' number lists \\(could not"),
    ({"mean": [[0.0]], "scale": [[1.0]]}, re.escape("1-D 'mean' and positive 'scale' of one length, not shapes (1, 1) and (1, 1)")),
    ({"mean": [0.0, 1.0], "scale": [1.0]}, re.escape("not shapes (2,) and (1,)")),
    ({"mean": [0.0], "scale": [0.0]}, re.escape("not shapes (1,) and (1,)")),
])
def test_a_bad_state_is_refused(state, message):
    with pytest.raises(ConfigError, match=message):
        Standardizer.from_state(state)
