"""The training hooks of serkit.training.fit: learning-rate schedules, random crops,
mixed precision, the device, per-epoch wall time, and lazily loaded features."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from serkit.batching import FeatureSet, random_crops
from serkit.errors import ConfigError
from serkit.features import FeatureCache, extract_corpus, make_features
from serkit.features.cache import CachedArray
from serkit.models import make_loss, make_model
from serkit.rundir import HISTORY_COLUMNS, FoldDir
from serkit.training import fit as fit_module
from serkit.training.config import Component, TrainingConfig, config_from_dict
from serkit.training.fit import fit
from tests.conftest import write_tone

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DIM = 6
STEP = Component("step", {"step_size": 2, "gamma": 0.1})


# ---------------------------------------------------------------------------------------
# helpers


def frames(n: int = 16, *, low: int = 10, high: int = 40, seed: int = 0) -> FeatureSet:
    """``n`` random float32 ``(T, DIM)`` items, T in [low, high), two classes."""
    rng = np.random.default_rng(seed)
    items = [rng.standard_normal((int(rng.integers(low, high)), DIM)).astype(np.float32) for _ in range(n)]
    return FeatureSet(items, (np.arange(n) % 2).astype(np.int64), "frames")


def separable(n: int, *, seed: int) -> FeatureSet:
    """Two well separated Gaussian clusters of DIM-d vectors."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    x = rng.standard_normal((n, DIM)) + np.where(y[:, None] == 1, 2.0, -2.0)
    return FeatureSet(x.astype(np.float32), y, "vector")


def tiny_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return make_model("mlp", DIM, 2, input_kind="frames", hidden_units=(8,), dropout=0.2)


def run(model, train, val, *, state_path=None, seed: int = 0, **settings):
    settings = {"epochs": 4, "batch_size": 4, **settings}
    return fit(model, train, val, loss_fn=make_loss("cross_entropy"), settings=TrainingConfig(**settings),
               seed=seed, state_path=state_path, progress=False)


def without_wall_time(history):
    return [{k: v for k, v in row.items() if k != "wall_s"} for row in history]


class Recorder(nn.Module):
    """Wraps a model; records (training?, x.shape, lengths) of every forward call."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.calls: list[tuple[bool, tuple[int, ...], torch.Tensor | None, torch.Tensor]] = []

    def forward(self, x, lengths=None):
        self.calls.append((self.training, tuple(x.shape),
                           None if lengths is None else lengths.clone(), x.detach().clone()))
        return self.inner(x, lengths)


class DtypeProbe(nn.Module):
    """A small vector classifier that records the dtype of its hidden activations."""

    def __init__(self, dim: int = DIM, n_classes: int = 2):
        super().__init__()
        self.hidden = nn.Linear(dim, 16)
        self.out = nn.Linear(16, n_classes)
        self.seen: list[tuple[bool, torch.dtype]] = []

    def forward(self, x, lengths=None):
        h = torch.relu(self.hidden(x))
        self.seen.append((self.training, h.dtype))
        return self.out(h)


# ---------------------------------------------------------------------------------------
# 1. learning-rate schedules


def _lr_after_each_epoch(monkeypatch, tmp_path, **settings) -> dict[int, float]:
    """Run a fit that saves its state after every epoch; return {epoch: optimizer lr then}."""
    real_save = fit_module._TrainingState.save
    seen: dict[int, float] = {}

    def recording_save(self, path, epoch):
        seen[epoch] = self.optimizer.param_groups[0]["lr"]
        real_save(self, path, epoch)

    monkeypatch.setattr(fit_module._TrainingState, "save", recording_save)
    run(tiny_mlp(), frames(8), None, state_path=tmp_path / "s.pt", checkpoint_every=1, select="last",
        **settings)
    return seen


def test_step_schedule_multiplies_the_rate_by_gamma_every_step_size_epochs(monkeypatch, tmp_path):
    lr = 0.01
    seen = _lr_after_each_epoch(monkeypatch, tmp_path, epochs=5, learning_rate=lr, scheduler=STEP)
    assert sorted(seen) == [1, 2, 3, 4, 5]
    for n, rate in seen.items():
        assert rate == pytest.approx(lr * 0.1 ** (n // 2), rel=1e-12), n
    # The saved training state carries the schedule and the decayed rate.
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    assert state["epoch"] == 5
    assert state["scheduler"]["last_epoch"] == 5
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(lr * 0.01, rel=1e-12)


@pytest.mark.parametrize("scheduler, expected", [
    (Component("exponential", {"gamma": 0.5}), lambda lr, n: lr * 0.5 ** n),
    (Component("cosine", {"t_max": 4, "eta_min": 0.0}), lambda lr, n: lr * (1 + math.cos(math.pi * n / 4)) / 2),
    (None, lambda lr, n: lr),
])
def test_other_schedules_and_none(monkeypatch, tmp_path, scheduler, expected):
    lr = 0.02
    seen = _lr_after_each_epoch(monkeypatch, tmp_path, epochs=4, learning_rate=lr, scheduler=scheduler)
    for n, rate in seen.items():
        assert rate == pytest.approx(expected(lr, n), rel=1e-9, abs=1e-15), n
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    assert ("scheduler" in state) == (scheduler is not None)


@pytest.mark.parametrize("crop", [None, 12], ids=["whole", "random_crop"])
def test_an_interrupted_fit_resumes_the_schedule_bit_for_bit(tmp_path, monkeypatch, crop):
    train, val = frames(12, seed=1), frames(6, seed=2)
    settings = {"epochs": 4, "checkpoint_every": 1, "scheduler": STEP, "random_crop": crop}
    reference = run(tiny_mlp(), train, val, state_path=tmp_path / "reference.pt", **settings)

    real_save = fit_module._TrainingState.save
    saved_epochs = []

    def crash_after_save(self, path, epoch):
        real_save(self, path, epoch)
        saved_epochs.append(epoch)
        raise KeyboardInterrupt

    # Interrupted after epoch 1: the schedule has stepped once, off its step_size boundary,
    # so a schedule that restarted from scratch would decay at another epoch.
    monkeypatch.setattr(fit_module._TrainingState, "save", crash_after_save)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_mlp(), train, val, state_path=tmp_path / "s.pt", **settings)
    assert saved_epochs == [1]
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    assert state["epoch"] == 1 and state["scheduler"]["last_epoch"] == 1

    monkeypatch.setattr(fit_module._TrainingState, "save", real_save)
    # Another initialisation and global RNG: everything must come from the saved state.
    resumed = run(tiny_mlp(seed=7), train, val, state_path=tmp_path / "s.pt", **settings)

    assert without_wall_time(resumed.history) == without_wall_time(reference.history)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    assert resumed.best_epoch == reference.best_epoch
    assert resumed.best_state.keys() == reference.best_state.keys()
    for key, value in reference.best_state.items():
        assert torch.equal(resumed.best_state[key], value), key
    assert torch.load(tmp_path / "s.pt", weights_only=True)["scheduler"]["last_epoch"] == 4


# ---------------------------------------------------------------------------------------
# 2. random crops


def _window_start(item: np.ndarray, crop: np.ndarray, axis: int) -> int:
    """Where ``crop`` sits along ``axis`` of ``item`` (items hold distinct values)."""
    length = crop.shape[axis]
    for start in range(item.shape[axis] - length + 1):
        if np.array_equal(np.take(item, np.arange(start, start + length), axis=axis), crop):
            return start
    raise AssertionError("the crop is not a contiguous window of the item")


def test_random_crops_are_contiguous_windows_of_exactly_the_length():
    items = [np.arange(t * 3, dtype=np.float32).reshape(t, 3) for t in (30, 5, 8, 60)]
    out = random_crops(items, "frames", 8, np.random.default_rng(0))
    assert [x.shape for x in out] == [(8, 3), (5, 3), (8, 3), (8, 3)]
    start = _window_start(items[0], out[0], 0)
    np.testing.assert_array_equal(out[0], items[0][start:start + 8])
    np.testing.assert_array_equal(out[1], items[1])  # shorter: whole
    np.testing.assert_array_equal(out[2], items[2])  # exactly the length: whole
    _window_start(items[3], out[3], 0)
    # One start is drawn per longer item only: the others leave the rng untouched.
    alone = random_crops([items[0], items[3]], "frames", 8, np.random.default_rng(0))
    np.testing.assert_array_equal(alone[0], out[0])
    np.testing.assert_array_equal(alone[1], out[3])


def test_random_crops_reach_every_window_and_follow_the_rng():
    item = np.arange(10, dtype=np.float32)[:, None]  # windows of 8: starts 0, 1, 2
    rng = np.random.default_rng(0)
    starts = {int(random_crops([item], "frames", 8, rng)[0][0, 0]) for _ in range(200)}
    assert starts == {0, 1, 2}

    items = [np.arange(100 * 2, dtype=np.float32).reshape(100, 2) + 1000 * i for i in range(20)]
    same_a = random_crops(items, "frames", 10, np.random.default_rng([0, 3]))
    same_b = random_crops(items, "frames", 10, np.random.default_rng([0, 3]))
    other_epoch = random_crops(items, "frames", 10, np.random.default_rng([0, 4]))
    assert all(np.array_equal(a, b) for a, b in zip(same_a, same_b))
    assert not all(np.array_equal(a, b) for a, b in zip(same_a, other_epoch))


def test_random_crops_cut_the_time_axis_of_images_and_waveforms_and_leave_vectors():
    image = np.arange(2 * 3 * 20, dtype=np.float32).reshape(2, 3, 20)
    (cut,) = random_crops([image], "image", 7, np.random.default_rng(1))
    assert cut.shape == (2, 3, 7)
    start = _window_start(image, cut, 2)
    np.testing.assert_array_equal(cut, image[:, :, start:start + 7])

    wave = np.arange(50, dtype=np.float32)
    (cut,) = random_crops([wave], "waveform", 16, np.random.default_rng(1))
    assert cut.shape == (16,)
    np.testing.assert_array_equal(cut, wave[int(cut[0]):int(cut[0]) + 16])

    vectors = [np.arange(40, dtype=np.float32), np.ones(40, np.float32)]
    out = random_crops(vectors, "vector", 4, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(out, vectors))


def test_feature_set_batches_crop_only_when_asked():
    data = frames(6, low=20, high=30)
    cropped = list(data.batches(3, crop=8, crop_rng=np.random.default_rng(0)))
    assert all(x.shape[1] == 8 and lengths.tolist() == [8, 8, 8] for x, lengths, _ in cropped)
    whole = list(data.batches(3))
    assert [lengths.tolist() for _, lengths, _ in whole] == [[len(x) for x in data.features[:3]],
                                                            [len(x) for x in data.features[3:]]]


def test_fit_trains_on_crops_and_validates_on_whole_inputs():
    train, val = frames(12, low=5, high=40, seed=3), frames(6, low=25, high=40, seed=4)
    model = Recorder(tiny_mlp())
    run(model, train, val, random_crop=8, epochs=3)
    training = [c for c in model.calls if c[0]]
    evaluation = [c for c in model.calls if not c[0]]
    assert len(training) == 3 * 3 and len(evaluation) == 3 * 2
    assert all(shape[1] <= 8 and int(lengths.max()) <= 8 for _, shape, lengths, _ in training)
    assert any(shape[1] == 8 for _, shape, _, _ in training)
    # Items shorter than the crop keep their own length.
    seen_lengths = sorted(int(v) for _, _, lengths, _ in training[:3] for v in lengths)
    assert seen_lengths == sorted(min(len(x), 8) for x in train.features)
    expected = [tuple(x.shape) for x, _, _ in val.batches(4)]
    assert [shape for _, shape, _, _ in evaluation] == expected * 3


def test_fit_draws_each_epochs_window_from_the_seed_and_the_epoch():
    rng = np.random.default_rng(5)
    long_item = rng.standard_normal((40, DIM)).astype(np.float32)
    short = [rng.standard_normal((5, DIM)).astype(np.float32) for _ in range(3)]
    train = FeatureSet([long_item, *short], np.array([0, 1, 0, 1]), "frames")
    model = Recorder(tiny_mlp())
    seed = 3
    run(model, train, None, random_crop=8, epochs=4, batch_size=4, select="last", seed=seed)
    starts = []
    for epoch, (_, _, lengths, x) in enumerate(c for c in model.calls if c[0]):
        row = int(np.flatnonzero(lengths.numpy() == 8)[0])
        start = int(np.random.default_rng([seed, epoch]).integers(0, 40 - 8 + 1))
        np.testing.assert_array_equal(x[row].numpy(), long_item[start:start + 8])
        starts.append(start)
    assert len(starts) == 4 and len(set(starts)) > 1


def test_random_crop_with_a_negative_seed():
    result = run(tiny_mlp(), frames(4), None, random_crop=8, epochs=1, select="last", seed=-1)
    assert len(result.history) == 1


# ---------------------------------------------------------------------------------------
# 3. mixed precision and the device


def test_mixed_precision_on_cpu_trains_in_bfloat16_and_still_learns():
    torch.manual_seed(0)
    model = DtypeProbe()
    result = run(model, separable(64, seed=0), separable(32, seed=1), mixed_precision=True,
                 epochs=8, batch_size=16, learning_rate=0.01, select="last")
    train_dtypes = {dtype for training, dtype in model.seen if training}
    eval_dtypes = {dtype for training, dtype in model.seen if not training}
    assert train_dtypes == {torch.bfloat16}
    assert eval_dtypes == {torch.float32}  # validation runs without autocast
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(v.dtype == torch.float32 for v in result.best_state.values())
    losses = [row["train_loss"] for row in result.history]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0]
    assert result.history[-1]["val_acc"] >= 0.9


def test_without_mixed_precision_training_is_float32():
    torch.manual_seed(0)
    model = DtypeProbe()
    run(model, separable(16, seed=0), None, mixed_precision=False, epochs=2, select="last")
    assert {dtype for _, dtype in model.seen} == {torch.float32}
    assert not torch.is_autocast_enabled("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixed_precision_on_cuda_uses_float16_and_a_grad_scaler(tmp_path):
    torch.manual_seed(0)
    model = DtypeProbe()
    result = run(model, separable(64, seed=0), separable(32, seed=1), device="cuda", mixed_precision=True,
                 epochs=6, batch_size=16, learning_rate=0.01, state_path=tmp_path / "s.pt", select="last")
    assert {dtype for training, dtype in model.seen if training} == {torch.float16}
    assert next(model.parameters()).device.type == "cuda"
    assert all(v.device.type == "cpu" for v in result.best_state.values())
    assert all(math.isfinite(row["train_loss"]) for row in result.history)
    assert result.history[-1]["val_acc"] >= 0.9
    assert "scaler" in torch.load(tmp_path / "s.pt", weights_only=True, map_location="cpu")


# ---------------------------------------------------------------------------------------
# 4. wall time per epoch


def test_every_history_row_has_its_epochs_wall_time_and_history_csv_keeps_it(tmp_path):
    began = time.perf_counter()
    result = run(tiny_mlp(), frames(32, seed=6), frames(8, seed=7), epochs=3)
    elapsed = time.perf_counter() - began
    walls = [row["wall_s"] for row in result.history]
    assert len(walls) == 3
    assert all(math.isfinite(w) and w > 0 for w in walls)
    assert sum(walls) <= elapsed + 0.01  # per epoch, not cumulative

    fold = FoldDir(tmp_path / "fold=0", seed=0, fold=0)
    fold.path.mkdir()
    fold.write_history(result.history, result.best_epoch)
    assert fold.history.read_text().splitlines()[0].split(",") == list(HISTORY_COLUMNS)
    assert "wall_s" in HISTORY_COLUMNS
    rows = fold.read_history()
    assert [row["wall_s"] for row in rows] == walls
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert fold.selected_epoch() == result.best_epoch


def test_wall_time_of_a_very_short_epoch_is_still_positive():
    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

        def forward(self, x, lengths=None):
            return self.layer(x)

    data = FeatureSet(np.eye(2, dtype=np.float32), np.array([0, 1]), "vector")
    result = run(Linear(), data, None, epochs=30, select="last")
    assert all(row["wall_s"] > 0 for row in result.history)


# ---------------------------------------------------------------------------------------
# 5. lazily loaded features


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    root = tmp_path_factory.mktemp("tones")
    return [write_tone(root / f"t{i}.wav", seconds=0.5, freq=150.0 + 90 * i, seed=i) for i in range(3)]


def test_lazy_extraction_gives_cached_arrays_equal_to_the_eager_ones(tones, tmp_path, monkeypatch):
    extractor = make_features("logmel", duration_s=0.5)
    eager = extract_corpus(tones, extractor, cache=None, n_jobs=1, progress=False)
    cache = FeatureCache(tmp_path / "cache")
    for attempt in ("misses", "hits"):
        lazy = extract_corpus(tones, extractor, cache=cache, lazy=True, n_jobs=1, progress=False)
        assert len(lazy) == len(eager)
        for item, array in zip(lazy, eager):
            assert isinstance(item, CachedArray), attempt
            assert not any(isinstance(v, np.ndarray) for v in vars(item).values())
            assert item.shape == array.shape and len(item) == len(array) and item.ndim == 2
            np.testing.assert_array_equal(np.asarray(item), array)
    assert not np.array_equal(eager[0], eager[1])

    # Shapes come from the file header: nothing is loaded for them ...
    with monkeypatch.context() as patch:
        patch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load called"))
        assert [x.shape for x in lazy] == [a.shape for a in eager]
    # ... and the values are read from the cache when used, not held.
    np.save(lazy[0].path, np.zeros_like(eager[0]))
    np.testing.assert_array_equal(np.asarray(lazy[0]), np.zeros_like(eager[0]))


def test_lazy_items_batch_and_crop_like_arrays(tones, tmp_path):
    extractor = make_features("logmel", duration_s=0.5)
    eager = extract_corpus(tones, extractor, cache=None, n_jobs=1, progress=False)
    lazy = extract_corpus(tones, extractor, cache=FeatureCache(tmp_path / "cache"), lazy=True,
                          n_jobs=1, progress=False)
    targets = np.array([0, 1, 0])
    for crop in (None, 10):
        a = list(FeatureSet(eager, targets, "frames").batches(2, crop=crop, crop_rng=np.random.default_rng(1)))
        b = list(FeatureSet(lazy, targets, "frames").batches(2, crop=crop, crop_rng=np.random.default_rng(1)))
        for (xa, la, ya), (xb, lb, yb) in zip(a, b, strict=True):
            assert torch.equal(xa, xb) and torch.equal(la, lb) and torch.equal(ya, yb)
            if crop:
                assert xa.shape[1] == crop


def test_lazy_extraction_needs_a_cache(tones):
    with pytest.raises(ConfigError, match="cache"):
        extract_corpus(tones, make_features("logmel", duration_s=0.5), cache=None, lazy=True, n_jobs=1,
                       progress=False)


# ---------------------------------------------------------------------------------------
# 6. config validation


BASE = {
    "experiment": "x",
    "data": {"corpora": ["emodb"]},
    "features": {"name": "fusion107", "params": {"pooling": "mean"}},
    "model": "speechnet",
}


def with_training(**training):
    return {**BASE, "training": training}


def test_valid_hook_settings_parse_and_survive_to_dict():
    config = config_from_dict(with_training(scheduler={"name": "cosine", "params": {"t_max": 20}},
                                            random_crop=1, mixed_precision=True, device="cuda:1"))
    t = config.training
    assert t.scheduler == Component("cosine", {"t_max": 20})
    assert (t.random_crop, t.mixed_precision, t.device) == (1, True, "cuda:1")
    assert config_from_dict(config.to_dict()).training == t
    assert config_from_dict(with_training(scheduler="step")).training.scheduler == Component("step", {})
    # Left at their defaults, the later keys stay out of the resolved config.
    assert not {"scheduler", "random_crop", "mixed_precision"} & set(config_from_dict(BASE).to_dict()["training"])


def test_unknown_scheduler_names_the_closest_one():
    with pytest.raises(ConfigError, match=r"(?i)training\.scheduler.*did you mean 'step'"):
        config_from_dict(with_training(scheduler={"name": "stepp"}))


def test_unknown_scheduler_parameter_is_an_error():
    with pytest.raises(ConfigError, match=r"training\.scheduler.*no parameter 'stepsize'.*step_size"):
        config_from_dict(with_training(scheduler={"name": "step", "params": {"stepsize": 3}}))


@pytest.mark.parametrize("crop", [0, -5])
def test_random_crop_must_be_positive(crop):
    with pytest.raises(ConfigError, match="random_crop must be a positive"):
        config_from_dict(with_training(random_crop=crop))


@pytest.mark.parametrize("device", ["gpu", "CPU", "cuda0", "mps"])
def test_unknown_devices_are_errors(device):
    with pytest.raises(ConfigError, match="device must be cpu, cuda or cuda:<index>"):
        config_from_dict(with_training(device=device))


@pytest.mark.parametrize("device", ["cuda:", "cuda:x"])
def test_cuda_device_needs_an_index(device):
    with pytest.raises(ConfigError, match="device"):
        config_from_dict(with_training(device=device))


def test_grad_clip_bounds_the_gradient_norm_of_every_step():
    import torch

    from serkit.training.fit import _Precision

    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    before = [p.detach().clone() for p in model.parameters()]
    loss = 1000.0 * model(torch.ones(2, 4)).pow(2).sum()
    _Precision(False, torch.device("cpu"), grad_clip=0.5).step(loss, optimizer)
    # SGD with lr 1 moves the parameters by exactly the (clipped) gradient.
    step = torch.cat([(b - p.detach()).flatten() for b, p in zip(before, model.parameters())])
    assert float(step.norm()) == pytest.approx(0.5, rel=1e-5)
    free = torch.nn.Linear(4, 3)
    loss = 1000.0 * free(torch.ones(2, 4)).pow(2).sum()
    _Precision(False, torch.device("cpu")).step(loss, torch.optim.SGD(free.parameters(), lr=1.0))
    assert all(float(p.grad.norm()) > 0.5 for p in free.parameters())  # unclipped without it


def test_grad_clip_must_be_positive():
    from serkit.errors import ConfigError
    from serkit.training.config import config_from_dict

    with pytest.raises(ConfigError, match="training.grad_clip must be a positive gradient norm or null, not 0"):
        config_from_dict({"experiment": "x", "data": {"corpora": ["folder"]}, "features": {"name": "fusion107"},
                          "model": {"name": "mlp"}, "training": {"grad_clip": 0}})
