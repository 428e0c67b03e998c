"""training.group_by_length: shuffled batches of clips of similar lengths, and validation
and test sides scored in order of length, with every output back in its place."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from serkit.batching import LENGTH_GROUP_BATCHES, FeatureSet, batch_indices
from serkit.training import fit as fit_module
from serkit.training.config import TrainingConfig, config_from_dict
from serkit.training.fit import predict_proba
from tests.test_training_hooks import Recorder, frames, run, tiny_mlp, without_wall_time

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def padded_steps(batches, lengths) -> int:
    """The time steps a model computes on: each batch padded to its longest item."""
    return sum(int(lengths[b].max()) * len(b) for b in batches)


# ---------------------------------------------------------------------------------------
# batch_indices


def test_without_lengths_the_batches_are_the_plain_shuffle_or_the_plain_order():
    n, size = 23, 4
    expected = torch.randperm(n, generator=torch.Generator().manual_seed(5)).numpy()
    batches = batch_indices(n, size, generator=torch.Generator().manual_seed(5))
    assert [b.tolist() for b in batches] == [expected[i:i + size].tolist() for i in range(0, n, size)]
    assert np.concatenate(batch_indices(n, size)).tolist() == list(range(n))
    # Lengths without a generator (evaluation) keep the given order: sorting is the caller's.
    assert np.concatenate(batch_indices(n, size, lengths=np.arange(n)[::-1].copy())).tolist() == list(range(n))


def test_grouped_batches_cover_every_row_once_and_follow_the_generator():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 1000, size=301)
    batches = batch_indices(301, 8, generator=torch.Generator().manual_seed(1), lengths=lengths)
    assert sorted(np.concatenate(batches).tolist()) == list(range(301))
    assert all(1 <= len(b) <= 8 for b in batches)
    again = batch_indices(301, 8, generator=torch.Generator().manual_seed(1), lengths=lengths)
    other = batch_indices(301, 8, generator=torch.Generator().manual_seed(2), lengths=lengths)
    assert [b.tolist() for b in again] == [b.tolist() for b in batches]
    assert [b.tolist() for b in other] != [b.tolist() for b in batches]


def test_within_one_group_each_batch_is_a_run_of_neighbouring_lengths():
    n, size = 200, 8  # one group: n <= LENGTH_GROUP_BATCHES * size
    assert n <= LENGTH_GROUP_BATCHES * size
    lengths = np.random.default_rng(3).permutation(np.arange(100, 100 + n))  # all different
    batches = batch_indices(n, size, generator=torch.Generator().manual_seed(0), lengths=lengths)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(lengths)] = np.arange(n)
    for b in batches:
        ranks = np.sort(rank[b])
        assert ranks[-1] - ranks[0] == len(b) - 1, "a batch skips a length between its own"
    # ...and the batches themselves come in random order, not longest (or shortest) first.
    tops = [int(lengths[b].max()) for b in batches]
    assert tops != sorted(tops) and tops != sorted(tops, reverse=True)


def test_groups_keep_the_shuffle_each_batch_draws_from_one_group_of_the_shuffled_rows():
    n, size = 3 * LENGTH_GROUP_BATCHES * 4 + 5, 4
    group = LENGTH_GROUP_BATCHES * size
    lengths = np.random.default_rng(4).integers(1, 10_000, size=n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(9)).numpy()
    group_of = np.empty(n, dtype=np.int64)
    group_of[order] = np.arange(n) // group
    batches = batch_indices(n, size, generator=torch.Generator().manual_seed(9), lengths=lengths)
    assert all(len(set(group_of[b].tolist())) == 1 for b in batches)
    assert len({int(group_of[b][0]) for b in batches[:LENGTH_GROUP_BATCHES]}) > 1  # groups interleave


def test_grouping_cuts_the_padding_of_mixed_lengths():
    lengths = np.concatenate([np.full(400, 32_000), np.full(400, 96_000)])  # 2 s and 6 s clips
    lengths = lengths + np.random.default_rng(0).integers(0, 1000, size=800)
    plain = batch_indices(800, 16, generator=torch.Generator().manual_seed(0))
    grouped = batch_indices(800, 16, generator=torch.Generator().manual_seed(0), lengths=lengths)
    real = int(lengths.sum())
    assert padded_steps(plain, lengths) > 1.4 * real
    assert padded_steps(grouped, lengths) < 1.05 * real


# ---------------------------------------------------------------------------------------
# FeatureSet, predict_proba and fit


def test_feature_set_lengths_and_sorted_copy():
    data = frames(9, seed=2)
    lengths = data.lengths()
    assert lengths.tolist() == [len(x) for x in data.features]
    ordered, order = data.by_length()
    assert ordered.lengths().tolist() == sorted(lengths.tolist())
    assert ordered.targets.tolist() == data.targets[order].tolist()
    vectors = FeatureSet(np.zeros((3, 2), np.float32), np.zeros(3, np.int64), "vector")
    assert vectors.lengths() is None
    assert vectors.by_length()[1].tolist() == [0, 1, 2]


def test_predict_proba_by_length_batches_sorted_and_returns_rows_in_place():
    data = frames(11, low=5, high=60, seed=3)
    model = Recorder(tiny_mlp())
    plain = predict_proba(model, data, batch_size=4)
    model.calls.clear()
    grouped = predict_proba(model, data, batch_size=4, by_length=True)
    np.testing.assert_allclose(grouped, plain, rtol=1e-5, atol=1e-6)
    seen = torch.cat([lengths for _, _, lengths, _ in model.calls]).tolist()
    assert seen == sorted(len(x) for x in data.features)


def _training_padding(model: Recorder) -> int:
    return sum(shape[0] * shape[1] for training, shape, _, _ in model.calls if training)


def test_fit_groups_training_batches_and_scores_validation_in_order_of_length():
    train = frames(64, low=5, high=200, seed=4)
    val = frames(12, low=5, high=200, seed=5)
    plain, grouped = Recorder(tiny_mlp()), Recorder(tiny_mlp())
    run(plain, train, val, epochs=2, batch_size=8)
    run(grouped, train, val, epochs=2, batch_size=8, group_by_length=True)
    assert _training_padding(grouped) < 0.8 * _training_padding(plain)
    val_lengths = [lengths.tolist() for training, _, lengths, _ in grouped.calls if not training]
    # 12 clips: the first epoch's two validation batches
    assert val_lengths[0] + val_lengths[1] == sorted(len(x) for x in val.features)


def test_an_interrupted_grouped_fit_resumes_bit_for_bit(tmp_path, monkeypatch):
    train, val = frames(40, seed=1), frames(6, seed=2)
    settings = {"epochs": 3, "checkpoint_every": 1, "group_by_length": True}
    reference = run(tiny_mlp(), train, val, state_path=tmp_path / "reference.pt", **settings)
    real_save = fit_module._TrainingState.save

    def crash_after_save(self, path, epoch):
        real_save(self, path, epoch)
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_module._TrainingState, "save", crash_after_save)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_mlp(), train, val, state_path=tmp_path / "s.pt", **settings)
    monkeypatch.setattr(fit_module._TrainingState, "save", real_save)
    resumed = run(tiny_mlp(seed=7), train, val, state_path=tmp_path / "s.pt", **settings)
    assert without_wall_time(resumed.history) == without_wall_time(reference.history)
    for key, value in reference.best_state.items():
        assert torch.equal(resumed.best_state[key], value), key


def test_the_setting_parses_and_an_old_run_config_without_it_still_resolves():
    raw = {"experiment": "x", "data": {"corpora": ["emodb"]}, "features": {"name": "waveform"},
           "model": {"name": "serct"}, "protocol": {"split": "holdout"}}
    assert config_from_dict({**raw, "training": {"group_by_length": True, "standardize": False}}).training.group_by_length is True
    default = config_from_dict({**raw, "training": {"standardize": False}})
    assert default.training.group_by_length is False
    assert "group_by_length" not in default.to_dict()["training"]
    assert TrainingConfig().group_by_length is False
