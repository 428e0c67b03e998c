"""Bad input never gives a traceback, a hang or a half-made folder.

* A run that fails to start leaves no run folder behind, and never touches earlier results.
* Property tests (hypothesis): the bundle reader and the config reader, on random and
  mutated input, raise nothing but :class:`~serkit.errors.SerkitError` subclasses, each
  call within a time bound (hypothesis' ``deadline``, and a hard alarm against hangs).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import tempfile
import types
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from serkit.cli import main
from serkit.errors import SerkitError, SplitError
from serkit.training import runner
from serkit.training.config import config_from_dict, load_config
from serkit.training.runner import run_experiment, run_variants

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

BASE = {
    "experiment": "fake",
    "data": {"corpora": ["folder"]},
    "features": {"name": "fusion107", "params": {"pooling": "mean"}},
    "model": {"name": "mlp", "params": {"hidden_units": [8]}},
    "protocol": {"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.2}},
    "training": {"epochs": 1, "batch_size": 8, "num_threads": 1},
}


# --- a failed start leaves no run folder ----------------------------------------------------

def test_a_run_whose_corpus_folder_is_missing_leaves_no_run_folder(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(BASE))
    out = tmp_path / "runs" / "fake"
    code = main(["run", str(config), "--out", str(out), "--data-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and (tmp_path / "runs").is_dir()  # only the folder the run made goes


def test_a_split_that_cannot_be_made_leaves_no_run_folder(tmp_path, monkeypatch):
    # Found after the data loaded and protocol.json was written: the split of no utterances.
    dataset = types.SimpleNamespace(corpus=_Empty(), classes=["anger"])
    monkeypatch.setattr(runner, "load_dataset", lambda *a, **k: dataset)
    written = []
    original = runner._write_protocol
    monkeypatch.setattr(runner, "_write_protocol", lambda run, *a: written.append(run) or original(run, *a))
    out = tmp_path / "out"
    with pytest.raises(SplitError, match="no utterances"):
        run_experiment(config_from_dict(BASE), out_dir=out, progress=False)
    assert written and not out.exists()
    # An empty folder made beforehand stays, empty.
    out.mkdir()
    with pytest.raises(SplitError):
        run_experiment(config_from_dict(BASE), out_dir=out, progress=False)
    assert out.is_dir() and list(out.iterdir()) == []


class _Empty:
    """A corpus that holds no utterance."""

    utterances = ()

    def __len__(self) -> int:
        return 0


def test_a_failed_start_never_touches_earlier_results(tmp_path):
    out = tmp_path / "out"
    config = config_from_dict(BASE)
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    (out / "protocol.json").write_text("{}")
    (out / "seed=0" / "fold=0").mkdir(parents=True)
    (out / "seed=0" / "fold=0" / "predictions.csv").write_text("earlier results\n")
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    with pytest.raises(SerkitError, match="folder"):
        run_experiment(config, out_dir=out, data_root=tmp_path, progress=False)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert (out / "seed=0" / "fold=0" / "predictions.csv").read_text() == "earlier results\n"
    # Nor a folder holding anything else, nor one holding only a start of the same config.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(SerkitError):
        run_experiment(config, out_dir=other, data_root=tmp_path, progress=False)
    # (the run wrote its config.yaml beside the notes, as before; it removes nothing there)
    assert sorted(p.name for p in other.iterdir()) == ["config.yaml", "notes.txt"]


def test_a_fold_that_saved_work_before_failing_is_kept(tmp_path, monkeypatch):
    dataset = types.SimpleNamespace(corpus=_Empty(), classes=["anger"])
    monkeypatch.setattr(runner, "load_dataset", lambda *a, **k: dataset)
    fold = types.SimpleNamespace(train=(), val=(), test=())
    plan = types.SimpleNamespace(folds=(fold,))
    monkeypatch.setattr(runner, "_plan", lambda run, *a: (run.folds_plan(0).parent.mkdir(parents=True),
                                                          run.folds_plan(0).write_text("{}"), plan)[2])

    def fails_after_saving(config, dataset, fold, fold_dir, progress):
        fold_dir.path.mkdir(parents=True)
        fold_dir.scaler.write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_fold", fails_after_saving)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config_from_dict(BASE), out_dir=out, progress=False)
    assert (out / "seed=0" / "fold=0" / "scaler.json").is_file() and (out / "config.yaml").is_file()
    # The same failure before anything was saved leaves nothing.
    monkeypatch.setattr(runner, "run_fold", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config_from_dict(BASE), out_dir=tmp_path / "fresh", progress=False)
    assert not (tmp_path / "fresh").exists()


def test_a_run_of_variants_that_fails_to_start_leaves_no_folder(tmp_path):
    config = config_from_dict({**BASE, "variants": {"small": {}, "wide": {"model.params.hidden_units": [16]}}})
    out = tmp_path / "out"
    with pytest.raises(SerkitError, match="folder"):
        run_variants(config, out_dir=out, data_root=tmp_path, progress=False)
    assert not out.exists()


# --- property tests: helpers ------------------------------------------------------------------

#: What one read of a bundle or config may take at most; far above the few ms it needs, so
#: that a busy machine does not fail the test, and far below what a blow-up would take.
DEADLINE = timedelta(seconds=5)
#: A hang (a read that never returns) is stopped by an alarm after this long.
HANG_S = 60
#: Examples per property; set SERKIT_PROPERTY_EXAMPLES higher to search longer.
EXAMPLES = int(os.environ.get("SERKIT_PROPERTY_EXAMPLES", "60"))
PROPERTY_SETTINGS = settings(deadline=DEADLINE, max_examples=EXAMPLES,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextlib.contextmanager
def no_hang(seconds: float = HANG_S):
    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def only_serkit_errors(call, *args, **kwargs):
    """Run ``call``; any exception but a SerkitError fails the test (with its traceback)."""
    with no_hang():
        try:
            result = call(*args, **kwargs)
        except SerkitError as exc:
            assert str(exc).strip(), "an error without a message"
            # --hypothesis-show-statistics shows how deep the examples get.
            event(f"{call.__name__}: {type(exc).__name__}")
            return None
        event(f"{call.__name__}: accepted")
        return result


SIZES = st.sampled_from([0, 1, -1, 2, 3, 8, 107, 65536, 65537, 10**6, 2**31, 2**63, 10**30, 10**400])
SCALARS = (st.none() | st.booleans() | st.integers() | SIZES | st.floats()
           | st.text(max_size=12) | st.sampled_from(["", "mean", "vector", "frames", "cnn", "mlp", "..", "/"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


def _paths(node, prefix=()):
    """Every path (tuple of keys and indexes) into a JSON-like value, the root first."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:8]):  # long lists (a standardizer): a few suffice
            yield from _paths(value, (*prefix, index))


def mutate(data, value, seed_key: str = "extra"):
    """``value`` with one random change drawn from ``data``: a value replaced, a key removed
    or added, a list emptied or made longer."""
    import copy

    value = copy.deepcopy(value)
    path = data.draw(st.sampled_from(list(_paths(value))), label="path")
    if not path:
        return data.draw(JSON, label="new root")
    *parents, last = path
    node = value
    for key in parents:
        node = node[key]
    action = data.draw(st.sampled_from(["replace", "remove", "add", "grow"]), label="action")
    if action == "remove":
        del node[last]
    elif action == "add" and isinstance(node[last], dict):
        node[last][data.draw(st.text(max_size=12) | st.just(seed_key), label="key")] = data.draw(JSON)
    elif action == "grow" and isinstance(node[last], list):
        node[last] = node[last] * data.draw(st.integers(0, 3), label="times")
    else:
        node[last] = data.draw(JSON, label="value")
    return value


# --- property tests: the bundle reader --------------------------------------------------------

@pytest.fixture(scope="module")
def seed_bundle(tiny_bundle, tmp_path_factory) -> Path:
    """A private copy of the tiny bundle, the seed every mutation starts from."""
    return Path(shutil.copytree(tiny_bundle, tmp_path_factory.mktemp("seed") / "tiny"))


@contextlib.contextmanager
def bundle_copy(seed: Path):
    with tempfile.TemporaryDirectory(prefix="bundle-") as tmp:
        yield Path(shutil.copytree(seed, Path(tmp) / "b"))


def read_and_load(folder: Path) -> None:
    from serkit.inference.bundle import load_parts, read_bundle

    only_serkit_errors(read_bundle, folder)
    only_serkit_errors(load_parts, folder)


@PROPERTY_SETTINGS
@given(content=JSON)
def test_bundle_reader_on_random_json(seed_bundle, content):
    with bundle_copy(seed_bundle) as folder:
        (folder / "bundle.json").write_text(json.dumps(content))
        read_and_load(folder)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_bundle_reader_on_mutated_bundle_json(seed_bundle, data):
    info = json.loads((seed_bundle / "bundle.json").read_text())
    with bundle_copy(seed_bundle) as folder:
        (folder / "bundle.json").write_text(json.dumps(mutate(data, info)))
        read_and_load(folder)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_bundle_reader_on_mutated_model_and_feature_params(seed_bundle, data):
    from serkit.features import FEATURES
    from serkit.models import MODELS

    info = json.loads((seed_bundle / "bundle.json").read_text())
    part = data.draw(st.sampled_from(["model", "features"]), label="part")
    registry = MODELS if part == "model" else FEATURES
    name = data.draw(st.sampled_from(registry.names()) | st.just(info[part]["name"]), label="name")
    keys = sorted(registry.params(name))
    params = data.draw(st.dictionaries(st.sampled_from(keys) if keys else st.text(max_size=5),
                                       JSON | SIZES | st.lists(SIZES, max_size=5), max_size=3), label="params")
    info[part]["name"] = name
    info[part]["params"] = {**info[part]["params"], **params} if name == info[part]["name"] else params
    with bundle_copy(seed_bundle) as folder:
        (folder / "bundle.json").write_text(json.dumps(info))
        read_and_load(folder)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_bundle_reader_on_mutated_bundle_json_text(seed_bundle, data):
    text = (seed_bundle / "bundle.json").read_bytes()
    start = data.draw(st.integers(0, len(text)), label="start")
    end = data.draw(st.integers(start, min(len(text), start + 64)), label="end")
    insert = data.draw(st.binary(max_size=16) | st.sampled_from([b"[", b"{", b"}", b'"', b"9" * 5000,
                                                                 b"[" * 3000]), label="insert")
    with bundle_copy(seed_bundle) as folder:
        (folder / "bundle.json").write_bytes(text[:start] + insert + text[end:])
        read_and_load(folder)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@PROPERTY_SETTINGS
@given(data=st.data())
def test_bundle_reader_on_random_and_mutated_weights(seed_bundle, data):
    weights = (seed_bundle / "weights.pt").read_bytes()
    kind = data.draw(st.sampled_from(["random", "flip", "cut", "splice"]), label="kind")
    if kind == "random":
        new = data.draw(st.binary(max_size=2048), label="bytes")
    elif kind == "flip":
        new = bytearray(weights)
        for position in data.draw(st.lists(st.integers(0, len(weights) - 1), min_size=1, max_size=8)):
            new[position] ^= data.draw(st.integers(1, 255))
        new = bytes(new)
    elif kind == "cut":
        new = weights[:data.draw(st.integers(0, len(weights)))]
    else:
        at = data.draw(st.integers(0, len(weights)))
        new = weights[:at] + data.draw(st.binary(max_size=64)) + weights[at:]
    # With the sha256 updated, the bytes reach torch.load itself, not only the checksum.
    matching = data.draw(st.booleans(), label="matching sha256")
    with bundle_copy(seed_bundle) as folder:
        (folder / "weights.pt").write_bytes(new)
        if matching:
            info = json.loads((folder / "bundle.json").read_text())
            info["weights_sha256"] = hashlib.sha256(new).hexdigest()
            (folder / "bundle.json").write_text(json.dumps(info))
        read_and_load(folder)


# --- property tests: the config reader ------------------------------------------------------

def _shipped() -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in sorted(CONFIGS.rglob("*.yaml"))]


SHIPPED = _shipped()
SEEDS = [BASE, *SHIPPED]
CONFIG_KEYS = ["experiment", "data", "features", "model", "protocol", "seeds", "first_seed",
               "training", "variants", "search", "release"]


@PROPERTY_SETTINGS
@given(raw=st.dictionaries(st.sampled_from(CONFIG_KEYS) | st.text(max_size=8), JSON, max_size=8))
def test_config_reader_on_random_dicts(raw):
    only_serkit_errors(config_from_dict, raw)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_config_reader_on_mutated_configs(data):
    seed = data.draw(st.sampled_from(SEEDS), label="seed config")
    raw = mutate(data, seed)
    for _ in range(data.draw(st.integers(0, 2), label="more changes")):
        raw = mutate(data, raw) if isinstance(raw, dict) else raw
    only_serkit_errors(config_from_dict, raw) if isinstance(raw, dict) else None


@PROPERTY_SETTINGS
@given(data=st.data())
def test_config_reader_on_mutated_model_and_feature_params(data):
    from serkit.features import FEATURES
    from serkit.models import MODELS

    raw = json.loads(json.dumps(BASE))
    part = data.draw(st.sampled_from(["model", "features"]), label="part")
    registry = MODELS if part == "model" else FEATURES
    name = data.draw(st.sampled_from(registry.names()), label="name")
    keys = sorted(registry.params(name))
    raw[part] = {"name": name, "params": data.draw(st.dictionaries(
        st.sampled_from(keys) if keys else st.text(max_size=5),
        JSON | SIZES | st.lists(SIZES, max_size=5), max_size=3), label="params")}
    only_serkit_errors(config_from_dict, raw)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_load_config_on_random_and_mutated_yaml(data):
    texts = [path.read_text() for path in sorted(CONFIGS.rglob("*.yaml"))]
    kind = data.draw(st.sampled_from(["random", "edit"]), label="kind")
    if kind == "random":
        text = data.draw(st.text(max_size=200) | st.text(alphabet="[]{}:&*!|>-#'\"\n ,ax19", max_size=200))
    else:
        text = data.draw(st.sampled_from(texts), label="config")
        start = data.draw(st.integers(0, len(text)), label="start")
        end = data.draw(st.integers(start, min(len(text), start + 40)), label="end")
        text = text[:start] + data.draw(st.text(alphabet="[]{}:&*!|>-#'\"\n ,ax19\t", max_size=8)) + text[end:]
    overrides = data.draw(st.lists(st.text(max_size=30) | st.sampled_from(
        ["training.epochs=[1", "model.params.hidden_units=lots", "protocol.params.bogus=1",
         "a.b.c=1", "model=", "=1", "seeds=10000000000"]), max_size=2), label="overrides")
    with tempfile.TemporaryDirectory(prefix="config-") as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(text, encoding="utf-8")
        only_serkit_errors(load_config, path)
        only_serkit_errors(load_config, path, overrides=overrides)
