"""Model bundles: a folder holding everything a trained model needs to predict.

Layout::

    <bundle>/
      bundle.json     what to rebuild (features, model, standardizer, labels) and how it
                      was made (training, metrics); see :data:`BUNDLE_KEYS`, and
                      optionally ``temperature`` (a softmax temperature fitted on
                      validation data; 1 when absent)
      weights.pt      the model's state_dict: tensors only, read with weights_only=True
      MODEL_CARD.md   optional, for people

``bundle.json`` names the feature extractor and the model by their registry names with
their parameters, so a bundle holds no pickled code: loading one runs only serkit's own
constructors, and the weights file is checked against its sha256 first.

Example (``model`` a torch model from :func:`serkit.models.make_model`)::

    from serkit.features import make_features
    from serkit.inference.bundle import save_bundle, read_bundle

    path = save_bundle("bundles/mine", name="mine", model=model,
                       extractor=make_features("fusion107"), standardizer=None,
                       labels=["anger", "happiness", "neutral", "sadness"])
    read_bundle(path)["labels"]
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import shutil
import stat
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from serkit.errors import ConfigError, first_line
from serkit.rundir import FoldDir, RunDir

FORMAT = "serkit-bundle/1"
BUNDLE_FILE = "bundle.json"
WEIGHTS_FILE = "weights.pt"
CARD_FILE = "MODEL_CARD.md"

#: The largest bundle.json read: it holds names, parameters, a standardizer and metrics,
#: a few hundred kB at most; a bigger file is not a bundle's.
MAX_INFO_BYTES = 64_000_000
#: The largest MODEL_CARD.md read (serkit writes a few kB).
MAX_CARD_BYTES = 1_000_000
#: How deeply bundle.json may nest (what serkit writes nests under ten levels).
MAX_INFO_DEPTH = 64
#: Every key of bundle.json, in the order it is written.
BUNDLE_KEYS = ("format", "name", "description", "serkit_version", "labels", "sample_rate",
               "features", "model", "standardizer", "weights", "weights_sha256", "training",
               "metrics", "created")


# --- writing --------------------------------------------------------------------------

def save_bundle(
    out_dir: str | Path,
    *,
    name: str,
    model,
    extractor,
    standardizer,
    labels: Sequence[str],
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    description: str = "",
    card: str | None = None,
    model_name: str | None = None,
    model_params: Mapping[str, Any] | None = None,
    temperature: float = 1.0,
) -> Path:
    """Write a bundle folder for a torch ``model`` and the features it reads.

    The folder is written beside ``out_dir`` under a temporary name and renamed into place,
    so ``out_dir`` is either the complete new bundle or (on failure) what it was before.

    Args:
        out_dir: the bundle folder; an existing bundle there is replaced.
        name: the bundle's name (what :func:`serkit.inference.load_model` reports).
        model: a torch model built by :func:`serkit.models.make_model`.
        extractor: the feature extractor it reads (:func:`serkit.features.make_features`).
        standardizer: a fitted :class:`~serkit.features.Standardizer`, or None.
        labels: the classes in the order of the model's outputs.
        training: how it was trained (corpora, label scheme, protocol, config).
        metrics: how well it did.
        description: one line for listings.
        card: text of MODEL_CARD.md (none written when None).
        model_name: the model's registry name; default found from its class.
        model_params: the constructor parameters it was built with (default none). They are
            stored verbatim and checked by rebuilding the model and loading the weights.
        temperature: the softmax temperature fitted on validation data
            (:mod:`serkit.evaluation.calibration`); 1.0 leaves the softmax as trained.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        ConfigError: an empty name, labels that do not fit the model, a model that cannot be
            rebuilt from ``model_name``/``model_params``, or ``out_dir`` an existing folder
            that is not a bundle (it is never overwritten).
    """
    import torch

    out = Path(out_dir)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a bundle needs a non-empty name, not {name!r}")
    labels = _check_labels(labels, where="save_bundle")
    model_name = model_name or _registry_name(model)
    model_params = dict(model_params or {})
    weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    _check_rebuilds(model_name, model_params, extractor.dim, len(labels), weights)
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    weight_bytes = buffer.getvalue()
    info = {
        "format": FORMAT,
        "name": name,
        "description": description,
        "serkit_version": _serkit_version(),
        "labels": labels,
        "sample_rate": int(extractor.sample_rate),
        "features": {"name": extractor.name, "params": dict(extractor.params)},
        "model": {"name": model_name, "params": model_params,
                  "n_features": int(extractor.dim), "n_classes": len(labels)},
        "standardizer": None if standardizer is None else standardizer.state_dict(),
        "weights": WEIGHTS_FILE,
        "weights_sha256": hashlib.sha256(weight_bytes).hexdigest(),
        "training": dict(training or {}),
        "metrics": dict(metrics or {}),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if temperature != 1.0:
        info["temperature"] = float(temperature)
    _check_info(info, out)  # the same checks a reader makes: never write what cannot be read

    def write(folder: Path) -> None:
        # Plain writes: the folder as a whole is swapped in atomically, and plain files get
        # the usual permissions (mkstemp's 0600 would hide a shipped bundle from other users).
        (folder / WEIGHTS_FILE).write_bytes(weight_bytes)
        (folder / BUNDLE_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        if card is not None:
            (folder / CARD_FILE).write_text(card, encoding="utf-8")

    _write_folder_atomically(out, write)
    return out


def _registry_name(model) -> str:
    from serkit.models import MODELS

    for name in MODELS.names():
        if MODELS.get(name) is type(model):
            return name
    raise ConfigError(
        f"{type(model).__name__} is not a registered serkit model (see serkit.models.MODELS); "
        "pass model_name= for a model built with make_model"
    )


def _check_rebuilds(name: str, params: dict, n_features: int, n_classes: int, weights: dict) -> None:
    """Rebuild the model as a loader will and load ``weights`` into it strictly."""
    try:
        rebuilt = build_model(name, params, n_features, n_classes)
    except ConfigError as exc:
        raise ConfigError(f"the model cannot be bundled: {exc}") from None
    try:
        rebuilt.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise ConfigError(
            f"the model's weights do not fit model {name!r} with params {params} for "
            f"{n_features} features and {n_classes} labels; pass the model_params it was "
            f"built with and labels in the order of its outputs ({first_line(exc)})"
        ) from None


def _write_folder_atomically(out: Path, write) -> None:
    """Fill a temporary sibling folder with ``write(folder)``, then swap it in for ``out``."""
    is_other = out.exists() and not (out / BUNDLE_FILE).is_file()
    if is_other and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not a model bundle; choose another folder "
                          "(an existing bundle is replaced, anything else is never overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    # mkdir (not mkdtemp, which makes 0700 folders) so the bundle gets the usual permissions.
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex}.tmp"
    staging.mkdir()
    old = None
    try:
        write(staging)
        if out.exists():
            # A folder cannot be renamed over a non-empty one: move the old aside first.
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            os.replace(out, old / out.name)
        os.replace(staging, out)
    except BaseException:
        if old is not None and not out.exists():
            os.replace(old / out.name, out)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _serkit_version() -> str:
    from serkit import __version__

    return __version__


# --- reading --------------------------------------------------------------------------

def read_bundle(path: str | Path) -> dict:
    """Read and validate a bundle's bundle.json (the weights are checked when loaded).

    Args:
        path: the bundle folder (or its bundle.json).

    Returns:
        The bundle.json dict.

    Raises:
        ConfigError: no such folder, no bundle.json, invalid JSON, another format, or a
            key missing or of the wrong type; the message names the bundle and the key.
    """
    folder = Path(path)
    if folder.name == BUNDLE_FILE and folder.is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"model bundle {str(folder)!r} not found; pass the folder that holds "
                          f"{BUNDLE_FILE} and {WEIGHTS_FILE}")
    file = folder / BUNDLE_FILE
    if not os.path.lexists(file):
        raise ConfigError(f"{folder} is not a model bundle (it has no {BUNDLE_FILE}); pass the "
                          "folder `serkit bundle` wrote")
    data = _read_inside(folder, BUNDLE_FILE, what="description", limit=MAX_INFO_BYTES)
    try:
        info = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, or an int too long to read
        raise ConfigError(f"{file}: not valid JSON ({exc}); the bundle is damaged, rebuild it "
                          "with `serkit bundle`") from None
    except RecursionError:
        raise ConfigError(f"{file}: nested too deeply to be a bundle description; the bundle is "
                          "damaged, rebuild it with `serkit bundle`") from None
    if _depth_over(info, MAX_INFO_DEPTH):
        raise ConfigError(f"{file}: nested more than {MAX_INFO_DEPTH} levels deep; the bundle is "
                          "damaged, rebuild it with `serkit bundle`")
    _check_info(info, folder)
    return info


def read_model_card(path: str | Path, *, limit: int = MAX_CARD_BYTES) -> str | None:
    """The text of a bundle's MODEL_CARD.md, or None where the bundle has none.

    Read as the bundle's other files are: a plain file in the folder itself, never
    through a link.

    Raises:
        ConfigError: the card is a link, not a regular file, over ``limit`` bytes,
            unreadable or not UTF-8.
    """
    folder = Path(path)
    if folder.name == BUNDLE_FILE and folder.is_file():
        folder = folder.parent
    try:
        data = _read_inside(folder, CARD_FILE, what="model card", limit=limit)
    except FileNotFoundError:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{folder / CARD_FILE}: the bundle's model card is not UTF-8 text") from None


def _read_inside(folder: Path, name: str, *, what: str, limit: int | None = None) -> bytes:
    """The bytes of ``folder/name``, which must be a regular file in the bundle folder itself.

    A symbolic link is refused before anything is read, wherever it points: a bundle is a
    self-contained folder, and following a link could read any file on the machine. So
    is anything but a regular file (a FIFO would block the reader forever).

    Raises:
        FileNotFoundError: there is no such file.
        ConfigError: a link, not a regular file, over ``limit`` bytes, or unreadable.
    """
    path = folder / name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:  # a name too long, a folder that cannot be searched, ...
        raise ConfigError(f"{path}: the bundle's {what} cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise ConfigError(f"{path}: the bundle's {what} is a symbolic link (to "
                          f"{os.readlink(path)!r}); a bundle's files must be plain files in its "
                          "folder: copy the file in place of the link")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{path}: the bundle's {what} is not a regular file; the bundle is damaged")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:  # ELOOP: replaced by a link since the check; EACCES, ...
        raise ConfigError(f"{path}: the bundle's {what} cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as stream:
        st = os.fstat(stream.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path}: the bundle's {what} is not a regular file; the bundle is damaged")
        if limit is not None and st.st_size > limit:
            raise ConfigError(f"{path}: {st.st_size:,} bytes is more than a bundle's {what} holds "
                              f"(the limit is {limit:,}); the bundle is damaged")
        try:
            return stream.read()
        except OSError as exc:
            raise ConfigError(f"{path}: the bundle's {what} cannot be read ({exc.strerror})") from None


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) nests deeper than ``limit`` levels; no recursion."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


def _check_info(info: Any, folder: Path) -> None:
    where = f"{folder / BUNDLE_FILE}"
    if not isinstance(info, dict):
        raise ConfigError(f"{where}: expected a JSON object, not {type(info).__name__}")
    if info.get("format") != FORMAT:
        raise ConfigError(f"{where}: format {info.get('format')!r} is not {FORMAT!r}; this "
                          f"serkit ({_serkit_version()}) reads {FORMAT} bundles")
    missing = [k for k in BUNDLE_KEYS if k not in info]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}; the bundle is "
                          "incomplete, rebuild it with `serkit bundle`")
    _expect(info, "name", str, where)
    _expect(info, "description", str, where)
    _check_labels(info["labels"], where=where)
    if isinstance(info["sample_rate"], bool) or not isinstance(info["sample_rate"], int) \
            or info["sample_rate"] <= 0:
        raise ConfigError(f"{where}: sample_rate must be a positive integer, not {info['sample_rate']!r}")
    _check_component(info, "features", where)
    _check_component(info, "model", where)
    model = info["model"]
    for key in ("n_features", "n_classes"):
        value = model.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{where}: model.{key} must be a positive integer, not {value!r}")
    if model["n_classes"] != len(info["labels"]):
        raise ConfigError(f"{where}: model.n_classes is {model['n_classes']} but there are "
                          f"{len(info['labels'])} labels")
    _check_standardizer(info["standardizer"], model["n_features"], where)
    temperature = info.get("temperature", 1.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or temperature <= 0:
        raise ConfigError(f"{where}: temperature must be a positive number, not {temperature!r}")
    weights = info["weights"]
    if not isinstance(weights, str) or Path(weights).name != weights or weights in ("", ".", "..") \
            or "\0" in weights or "\\" in weights:
        raise ConfigError(f"{where}: weights must be a file name inside the bundle, not {weights!r}")
    sha = info["weights_sha256"]
    if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        raise ConfigError(f"{where}: weights_sha256 must be 64 lowercase hex digits, not {sha!r}")
    _expect(info, "training", dict, where)
    _expect(info, "metrics", dict, where)


def _expect(info: dict, key: str, kind: type, where: str) -> None:
    if not isinstance(info[key], kind):
        raise ConfigError(f"{where}: {key} must be a {_KIND_NAMES[kind]}, not {type(info[key]).__name__}")


_KIND_NAMES = {str: "string", dict: "JSON object", list: "list"}


def _check_component(info: dict, key: str, where: str) -> None:
    part = info[key]
    if not isinstance(part, dict) or not isinstance(part.get("name"), str) \
            or not isinstance(part.get("params"), dict):
        raise ConfigError(f"{where}: {key} must be {{\"name\": string, \"params\": object}}, not {part!r}")


def _check_standardizer(state: Any, n_features: int, where: str) -> None:
    if state is None:
        return
    from serkit.features.extract import Standardizer

    if not isinstance(state, dict):
        raise ConfigError(f"{where}: standardizer must be null or {{\"mean\", \"scale\"}}, not {state!r}")
    try:
        scaler = Standardizer.from_state(state)
    except (ConfigError, TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{where}: standardizer: {first_line(exc)}") from None
    if scaler.mean.shape[0] != n_features:
        raise ConfigError(f"{where}: the standardizer has {scaler.mean.shape[0]} dimensions but the "
                          f"model reads {n_features} features")


def _check_labels(labels: Any, *, where: str) -> list[str]:
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence) or not labels:
        raise ConfigError(f"{where}: labels must be a non-empty list of class names, not {labels!r}")
    labels = list(labels)
    if not all(isinstance(x, str) and x for x in labels):
        raise ConfigError(f"{where}: labels must be non-empty strings, not {labels!r}")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{where}: labels must be unique, not {labels!r}")
    return labels


# --- rebuilding -----------------------------------------------------------------------

def build_model(name: str, params: Mapping[str, Any], n_features: int, n_classes: int):
    """The torch model of a bundle, untrained: ``make_model(name, n_features, n_classes, **params)``.

    Raises:
        ConfigError: unknown model or parameter, or a scikit-learn model (bundles hold
            torch weights only).
    """
    from serkit.models import is_sklearn, make_model

    if is_sklearn(name):
        raise ConfigError(f"model {name!r} is a scikit-learn model; bundles hold torch weights "
                          "only (no pickled code)")
    return make_model(name, n_features, n_classes, **params)


def load_weights(folder: str | Path, info: Mapping[str, Any]) -> dict:
    """The state_dict of a bundle, after checking its sha256 against bundle.json.

    Raises:
        ConfigError: the weights file is missing, its sha256 differs (the bundle is
            damaged), or it is not a tensors-only torch file.
    """
    import torch

    path = Path(folder) / info["weights"]
    try:
        data = _read_inside(Path(folder), info["weights"], what="weights file")
    except FileNotFoundError:
        raise ConfigError(f"{path}: the bundle's weights file is missing; the bundle is "
                          "incomplete, rebuild it with `serkit bundle`") from None
    if hashlib.sha256(data).hexdigest() != info["weights_sha256"]:
        raise ConfigError(f"{path}: the weights do not match the sha256 in {BUNDLE_FILE}; the "
                          "bundle is damaged, copy or rebuild it again")
    try:
        state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - torch raises several types for a file it cannot unpickle safely
        raise ConfigError(f"{path}: not a tensors-only torch state_dict ({first_line(exc)}); "
                          "bundles hold weights only") from None
    if not isinstance(state, dict):
        raise ConfigError(f"{path}: expected a state_dict (a dict of tensors), not {type(state).__name__}")
    return state


def load_parts(folder: str | Path) -> tuple[dict, Any, Any, Any]:
    """Everything a bundle rebuilds: ``(info, extractor, standardizer or None, model)``.

    The model is in eval mode with the bundle's weights loaded.

    Raises:
        ConfigError: an invalid or damaged bundle, or one naming features or a model that
            this serkit does not have (the message names them).
    """
    from serkit.features import FEATURES, make_features
    from serkit.features.extract import Standardizer
    from serkit.models.bounds import MAX_FEATURE_INT, check_params_types

    info = read_bundle(folder)
    folder = Path(folder)
    if folder.name == BUNDLE_FILE and not folder.is_dir():
        folder = folder.parent
    where = str(folder)
    features = info["features"]
    try:
        FEATURES.check_params(features["name"], features["params"])
        check_params_types("feature", features["name"], FEATURES.get(features["name"]),
                           features["params"], max_int=MAX_FEATURE_INT)
        extractor = make_features(features["name"], **features["params"])
        dim, rate = extractor.dim, extractor.sample_rate
    except ConfigError as exc:
        raise ConfigError(f"{where}: the bundle's features cannot be built: {exc}") from None
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
        raise ConfigError(f"{where}: the bundle's features cannot be built from "
                          f"{features['params']}: {first_line(exc)}") from None
    model_info = info["model"]
    if dim != model_info["n_features"] or rate != info["sample_rate"]:
        raise ConfigError(
            f"{where}: features {info['features']['name']!r} give {extractor.dim} dimensions at "
            f"{extractor.sample_rate} Hz, but the bundle says {model_info['n_features']} at "
            f"{info['sample_rate']} Hz; the bundle is inconsistent, rebuild it"
        )
    try:
        # make_model checks the parameters' types and the model's size before building it.
        model = build_model(model_info["name"], model_info["params"], model_info["n_features"],
                            model_info["n_classes"])
    except ConfigError as exc:
        raise ConfigError(f"{where}: the bundle's model cannot be built: {exc}") from None
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
        raise ConfigError(f"{where}: the bundle's model cannot be built from "
                          f"{model_info['params']}: {first_line(exc)}") from None
    state = load_weights(folder, info)
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ConfigError(f"{where}: the weights do not fit model {model_info['name']!r} "
                          f"({first_line(exc)}); the bundle is damaged or was made by another "
                          "serkit version") from None
    model.eval()
    standardizer = None if info["standardizer"] is None else Standardizer.from_state(info["standardizer"])
    return info, extractor, standardizer, model



# --- from a run folder ----------------------------------------------------------------

def bundle_from_run(
    run_dir: str | Path,
    *,
    seed: int | None = None,
    fold: int | None = None,
    out: str | Path | None = None,
    name: str | None = None,
) -> Path:
    """Bundle the model of one finished fold of an experiment run (see serkit.training.runner).

    Args:
        run_dir: the run folder (``runs/<experiment>``, or one variant folder of it).
        seed: which seed; default the run's first.
        fold: which fold; default 0.
        out: the bundle folder; default ``bundles/<name>``.
        name: the bundle's name; default the experiment's.

    Returns:
        The bundle folder.

    Raises:
        ConfigError: not a run folder, a run of variants (pass one variant folder), an
            unknown or unfinished seed/fold, or a scikit-learn fold (model.joblib is a
            pickle and bundles hold no pickled code).
    """
    import torch
    import yaml

    from serkit.features import make_features
    from serkit.features.extract import Standardizer
    from serkit.models import resolved_params

    run = RunDir(run_dir)
    protocol = run.read_protocol()
    fold_dir = _choose_fold(run, protocol, seed, fold)
    _check_fold_dir(fold_dir)
    seed, fold = fold_dir.seed, fold_dir.fold
    config = yaml.safe_load(fold_dir.config.read_text(encoding="utf-8"))
    features, model_spec = config["features"], config["model"]
    labels = list(protocol["classes"])
    extractor = make_features(features["name"], **(features.get("params") or {}))
    # Stored resolved (e.g. with the extractor's n_frames) so loading needs no extractor help.
    model_params = resolved_params(model_spec["name"], extractor.spec, model_spec.get("params") or {})
    model = build_model(model_spec["name"], model_params, extractor.dim, len(labels))
    try:
        state = torch.load(fold_dir.model_pt, weights_only=True, map_location="cpu")
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - unreadable file or weights of another shape
        raise ConfigError(f"{fold_dir.model_pt}: cannot be loaded into model "
                          f"{model_spec['name']!r} ({first_line(exc)}); the fold is damaged or "
                          "was written by another serkit version") from None
    standardizer = (Standardizer.from_state(json.loads(fold_dir.scaler.read_text()))
                    if fold_dir.scaler.is_file() else None)
    temperature = (json.loads(fold_dir.calibration.read_text())["temperature"]
                   if fold_dir.calibration.is_file() else 1.0)
    # A variant's experiment is "<experiment>/<variant>": keep names one folder deep.
    name = name or re.sub(r"[^\w.-]+", "-", protocol.get("name") or run.path.name)
    out = Path(out) if out is not None else Path("bundles") / name
    training = _training_info(run, protocol, config, fold_dir)
    metrics = _metrics_info(run, fold_dir, labels)
    description = (f"{model_spec['name']} on {features['name']} features, trained on "
                   f"{', '.join(protocol.get('corpora', []))} ({protocol.get('label_scheme')} "
                   f"labels), seed {seed} fold {fold} of run {protocol.get('name', run.path.name)}")
    info_for_card = {"name": name, "description": description, "labels": labels,
                     "features": {"name": extractor.name, "params": extractor.params},
                     "model": {"name": model_spec["name"], "params": model_params},
                     "training": training, "metrics": metrics}
    return save_bundle(out, name=name, model=model, extractor=extractor, standardizer=standardizer,
                       labels=labels, training=training, metrics=metrics, description=description,
                       card=model_card(info_for_card), model_name=model_spec["name"],
                       model_params=model_params, temperature=temperature)


def _choose_fold(run: RunDir, protocol: dict, seed: int | None, fold: int | None) -> FoldDir:
    seeds = run.seeds()
    if not seeds:
        raise ConfigError(f"{run.path} has no seed=<s> folders yet; run the experiment first")
    if seed is None:
        planned = [s for s in protocol.get("seeds", []) if s in seeds]
        seed = planned[0] if planned else seeds[0]
    if seed not in seeds:
        raise ConfigError(f"{run.path} has no seed {seed}; its seeds are {', '.join(map(str, seeds))}")
    folds = [f.fold for f in run.folds(seed)]
    fold = 0 if fold is None else fold
    if fold not in folds:
        listed = ", ".join(map(str, folds)) or "none yet"
        raise ConfigError(f"{run.seed_dir(seed)} has no fold {fold}; its folds are {listed}")
    return run.fold(seed, fold)


def _check_fold_dir(fold_dir: FoldDir) -> None:
    if fold_dir.model_joblib.is_file() and not fold_dir.model_pt.is_file():
        raise ConfigError(
            f"{fold_dir.path} holds a scikit-learn model (model.joblib), which cannot be bundled: it "
            "is a pickle, and bundles hold only torch weights (no pickled code); bundle a run "
            "of a torch model"
        )
    if not fold_dir.finished:
        raise ConfigError(f"{fold_dir.path} is not finished (no predictions.csv); rerun the "
                          "experiment with `serkit run` (it resumes), then bundle it")
    for needed in (fold_dir.model_pt, fold_dir.config):
        if not needed.is_file():
            raise ConfigError(f"{fold_dir.path} has no {needed.name}; it is not a fold `serkit run` wrote")


def _training_info(run: RunDir, protocol: dict, config: dict, fold_dir: FoldDir) -> dict:
    return {
        "run": str(run.path),
        "experiment": protocol.get("name"),
        "corpora": protocol.get("corpora"),
        "label_scheme": protocol.get("label_scheme"),
        "utterances": protocol.get("utterances"),
        "protocol": {k: protocol.get(k) for k in ("split", "split_params", "split_seed",
                                                  "checkpoint_selection")},
        "seed": fold_dir.seed,
        "fold": fold_dir.fold,
        "selected_epoch": fold_dir.selected_epoch(),
        "config": config,
    }


def _metrics_info(run: RunDir, fold_dir: FoldDir, labels: list[str]) -> dict:
    """This fold's test metrics (from its predictions.csv) and the run's, where reported."""
    from serkit.evaluation import classification_metrics, read_predictions

    rows = read_predictions(fold_dir.predictions)
    metrics: dict[str, Any] = {
        "test": {"n": len(rows), **classification_metrics(list(rows.truth), list(rows.prediction),
                                                          labels=labels)},
        "scope": f"test side of seed {fold_dir.seed} fold {fold_dir.fold}",
    }
    if run.report.is_file():
        with contextlib.suppress(ValueError, OSError):
            summary = json.loads(run.report.read_text(encoding="utf-8")).get("metrics")
            if summary:
                metrics["run"] = summary  # mean ± std over every seed and fold of the run
    return metrics


def model_card(info: Mapping[str, Any]) -> str:
    """A short MODEL_CARD.md for a bundle's ``info`` (bundle.json keys)."""
    training = info.get("training") or {}
    test = (info.get("metrics") or {}).get("test") or {}
    lines = [
        f"# {info['name']}", "", info.get("description", ""), "",
        "## What it predicts", "",
        (f"One of: {', '.join(info['labels'])}, from speech audio (any rate; resampled to the "
         "model's)."), "",
        "## How it was made", "",
        f"- features: `{info['features']['name']}` {json.dumps(info['features']['params'])}",
        f"- model: `{info['model']['name']}` {json.dumps(info['model']['params'])}",
    ]
    if training:
        lines += [
            (f"- corpora: {', '.join(training.get('corpora') or [])}; label scheme "
             f"`{training.get('label_scheme')}`"),
            f"- protocol: {json.dumps(training.get('protocol'))}",
            (f"- seed {training.get('seed')}, fold {training.get('fold')}; checkpoint of epoch "
             f"{training.get('selected_epoch')}"),
        ]
    if test:
        lines += ["", "## Test metrics", "",
                  f"On the {test.get('n')} test utterances of this fold: " + ", ".join(
                      f"{k} {100 * test[k]:.1f} %" for k in ("accuracy", "uar", "macro_f1") if k in test)]
    lines += ["", "## Limits", "",
              ("Acted emotions from the training corpora; expect lower accuracy on spontaneous "
               "speech, other languages, noisy or far-field audio. Not for decisions about people."),
              ""]
    return "\n".join(lines)
