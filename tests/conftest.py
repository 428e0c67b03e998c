"""Shared fixtures: where the real corpora are, and small fake audio."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf

#: ../shared/data beside the checkout, or $SERKIT_DATA (the first of its roots: like serkit,
#: it takes several separated by os.pathsep, each corpus from the first root that has it).
_ROOTS = [Path(p).expanduser() for p in os.environ.get("SERKIT_DATA", "").split(os.pathsep) if p]
SHARED_DATA = _ROOTS[0] if _ROOTS else Path(__file__).resolve().parents[2] / "shared" / "data"
#: The further roots of $SERKIT_DATA.
MORE_DATA = _ROOTS[1:]
#: The checkout's own git-ignored data/ folder, for corpora not in the shared data.
LOCAL_DATA = Path(__file__).resolve().parents[1] / "data"
#: The benchmark scripts (not a package: each imports its siblings, e.g. ``timing``).
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def import_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module, for tests of the tables docs quote."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


#: The corpora of ../shared/data (its README.md); the others (ased, nemo, ...) live in data/.
SHARED_CORPORA = ("emodb", "ravdess", "tess", "savee", "casia")


def required_corpora() -> set[str]:
    """The corpora whose absence fails a test instead of skipping it, from
    ``$SERKIT_REQUIRE_DATA``: ``1`` the shared corpora (.ci/run sets it whenever
    ../shared/data exists), ``all`` every corpus, or a comma-separated list of names."""
    value = os.environ.get("SERKIT_REQUIRE_DATA", "").strip().lower()
    if value in ("", "0", "false", "no"):
        return set()
    if value in ("1", "true", "yes"):
        return set(SHARED_CORPORA)
    if value == "all":
        return {"*"}
    return {name.strip() for name in value.split(",") if name.strip()}


#: The test being run now (set by pytest_runtest_protocol below), so corpus_root can
#: check that a test reading a corpus carries the ``data`` marker.
_RUNNING: dict[str, pytest.Item] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _RUNNING["item"] = item
    try:
        yield
    finally:
        _RUNNING.pop("item", None)


def corpus_root(name: str) -> Path:
    """The folder of one corpus in the shared data, else in the checkout's ``data/``
    folder, or skip the test saying where it looked (fail instead where
    ``$SERKIT_REQUIRE_DATA`` requires the corpus, see :func:`required_corpora`).

    A test that calls it must be marked ``data``; one that is not fails here."""
    item = _RUNNING.get("item")
    if item is not None and item.get_closest_marker("data") is None:
        pytest.fail(f"{item.nodeid} reads corpus {name!r} but is not marked data: add @pytest.mark.data",
                    pytrace=False)
    roots = [SHARED_DATA, *MORE_DATA]
    for root in (*(r / name for r in roots), LOCAL_DATA / name):
        if root.is_dir():
            return root
    message = (f"corpus {name!r} not found at {', '.join(str(r / name) for r in roots)} (set SERKIT_DATA "
               f"to the shared data folder) nor at {LOCAL_DATA / name} (the checkout's git-ignored data/ folder)")
    required = required_corpora()
    if name in required or "*" in required:
        pytest.fail(f"{message}; SERKIT_REQUIRE_DATA={os.environ['SERKIT_REQUIRE_DATA']} requires it",
                    pytrace=False)
    pytest.skip(message)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        message = f"shared corpora not found at {SHARED_DATA} (set SERKIT_DATA)"
        if required_corpora():
            pytest.fail(f"{message}; SERKIT_REQUIRE_DATA requires them", pytrace=False)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _no_user_feature_cache(tmp_path_factory):
    """Every test writes features to a cache of the session's own (a test or module may
    point SERKIT_CACHE at a fresher one), never to the user's ~/.cache/serkit."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERKIT_CACHE", str(tmp_path_factory.mktemp("session-cache")))
        yield


def write_tone(path: Path, *, seconds: float = 0.5, rate: int = 16_000, freq: float = 220.0,
               channels: int = 1, seed: int = 0) -> Path:
    """A short voiced-like test signal (tone + a little noise) written as wav/flac by suffix."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.astype(np.float32), rate)
    return path


#: Emotions of the fake folder corpus, each voiced at its own pitch.
FAKE_EMOTIONS = {"anger": 300.0, "sadness": 120.0, "neutral": 200.0}


def write_fake_corpus(root: Path, per_emotion: int = 10) -> Path:
    """``root/folder/<emotion>/s<speaker>_<n>.wav``: emotions differ by pitch, so a model
    can learn them; load it as corpus ``folder`` with ``data_root=root``."""
    for emotion, freq in FAKE_EMOTIONS.items():
        for n in range(per_emotion):
            write_tone(root / "folder" / emotion / f"s{n % 2}_{n}.wav", seconds=0.4,
                       freq=freq * (1 + 0.03 * n), seed=n)
    return root


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory) -> Path:
    """The fake folder corpus (:func:`write_fake_corpus`), one per test module; a module that
    needs another size or a manifest defines its own ``fake_root``."""
    return write_fake_corpus(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def private_cache(tmp_path_factory):
    """SERKIT_CACHE pointed at a fresh folder for one test module (never the user's cache)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture
def one_torch_thread():
    """Run a test on one torch thread: small models, and OpenMP barriers make 2-thread runs
    many times slower when other processes share the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: The labels of the ``tiny_bundle`` model, in the order of its outputs.
TINY_LABELS = ["anger", "fear", "happiness", "neutral", "sadness"]


def make_tiny_bundle(out_dir: Path, *, seed: int = 0) -> Path:
    """A bundle of a small, randomly initialised torch model on fusion107 vectors.

    Deterministic for a given ``seed``; its predictions mean nothing but are repeatable.
    """
    import torch

    from serkit.features import Standardizer, make_features
    from serkit.inference.bundle import save_bundle
    from serkit.models import make_model

    torch.manual_seed(seed)
    extractor = make_features("fusion107")
    params = {"channels": [8, 16], "kernel_size": 3}
    model = make_model("cnn", extractor.dim, len(TINY_LABELS), **params)
    standardizer = Standardizer.from_state({"mean": [0.0] * extractor.dim, "scale": [1.0] * extractor.dim})
    return save_bundle(
        out_dir, name="tiny", model=model, extractor=extractor, standardizer=standardizer,
        labels=TINY_LABELS, model_params=params,
        description="tiny random CNN for tests (its predictions mean nothing)",
        training={"note": f"not trained: random weights (torch.manual_seed({seed}))"},
        card="# tiny\n\nA randomly initialised model for tests.\n",
    )


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    """The Path of a bundle folder with a tiny random model on the 5 labels of TINY_LABELS."""
    return make_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny")
