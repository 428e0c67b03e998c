"""Experiment configs: dataclasses that YAML only fills.

Unknown keys are errors that list the valid ones; components are ``{name, params}``.

Example YAML::

    experiment: speechnet_emodb_random
    data: {corpora: [emodb], label_scheme: all}
    features: {name: fusion107, params: {pooling: mean}}
    model: {name: speechnet}
    protocol: {split: holdout, params: {test_fraction: 0.1, val_fraction: 0.1}}
    seeds: 10
    training: {epochs: 200, batch_size: 256, learning_rate: 0.001}
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from serkit.errors import ConfigError, first_line


@dataclass
class Component:
    """A pluggable part chosen by registry name, with its constructor parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    corpora: list[str] = field(default_factory=list)
    #: Folder holding one sub-folder per corpus; relative paths are taken from the
    #: working directory. None: --data-root, then $SERKIT_DATA, then ../shared/data.
    root: str | None = None
    label_scheme: str = "all"
    #: Options passed to each corpus loader, by corpus name (e.g. {ravdess: {song: true}}).
    loader_options: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ProtocolConfig:
    """How utterances are split into train/validation/test (see serkit.splits)."""

    split: str = "holdout"
    params: dict[str, Any] = field(default_factory=dict)
    #: None: every run seed draws its own split (variance over data and training). An int:
    #: every run uses the split of this seed, so runs differ only in training randomness,
    #: as the SpeechNet reproducibility metrics (GLR ... PCLR) require.
    split_seed: int | None = None
    #: Standardise each test corpus on its own test clips (their labels unused), as
    #: ``serkit predict --adapt`` does with the files of one call; needs training.standardize.
    adapt: bool = False


@dataclass
class TrainingConfig:
    epochs: int = 100
    batch_size: int = 32
    optimizer: str = "adam"  # adam | adamw | sgd
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    loss: Component = field(default_factory=lambda: Component("cross_entropy"))
    #: Stop after this many epochs without validation-loss improvement (None: never).
    early_stopping_patience: int | None = None
    #: What early stopping watches: "val_loss" (the lowest validation loss, as Keras), or
    #: "selection": the checkpoint choice itself (``select``, over ``select_window``), which
    #: stops once the kept epoch has stayed the same for ``early_stopping_patience`` judged
    #: epochs (validation loss can rise for many epochs while accuracy still climbs).
    early_stopping_on: str = "val_loss"
    #: Which checkpoint predicts the test fold: the epoch with the best validation loss or
    #: accuracy (never chosen on test data), or simply the last epoch.
    select: str = "val_loss"  # val_loss | val_accuracy | last
    #: Judge each epoch by the mean validation score over this many epochs centred on it
    #: (odd; 1: the epoch alone), so that one lucky epoch of a small validation side does
    #: not choose the checkpoint.
    select_window: int = 1
    #: Standardise features with statistics of the training side only.
    standardize: bool = True
    #: "corpus": standardise each training corpus on its own clips (the pooled statistics
    #: still go with the model for single clips); None: pooled statistics for all.
    standardize_by: str | None = None
    #: Fit a softmax temperature on the validation side (serkit.evaluation.calibration) and
    #: apply it to the test predictions and to a bundle made from the run.
    calibrate: bool = False
    #: Weigh the loss by inverse class frequencies of the training side
    #: (serkit.training.data.class_weights); false: every class weighs 1.
    class_weights: bool = True
    #: Training state is saved every this many epochs so an interrupted run resumes.
    checkpoint_every: int = 10
    #: Augmentations applied to the training side only, as {name, params}.
    augment: list[Component] = field(default_factory=list)
    device: str = "cpu"
    num_threads: int | None = None
    #: Learning-rate schedule as {name, params} (serkit.training.schedule); None: constant.
    scheduler: Component | None = None
    #: Train on a random window of this many time steps (frames, samples, image columns)
    #: of each longer input, drawn anew every epoch; validation and test read whole inputs.
    random_crop: int | None = None
    #: Batch training clips of similar lengths together (shuffled groups sorted by length,
    #: serkit.batching.batch_indices) and score validation and test sides in order of length:
    #: on corpora of mixed lengths, far fewer padded steps to compute. Only for models whose
    #: outputs ignore padding (masked); the batches differ, so results differ from false.
    group_by_length: bool = False
    #: Autocast to bfloat16 (CPU) or float16 with loss scaling (CUDA) while training.
    mixed_precision: bool = False
    #: Clip the global norm of the gradients to this value before each step (None: never);
    #: post-norm transformers trained without warm-up (SERCT) can diverge without it.
    grad_clip: float | None = None
    #: Score the test side after every epoch into history.csv (test_acc, test_uar) for the
    #: report's "oracle" (the best epoch chosen on test data, as some papers do). Never used
    #: for any choice; costs one pass over the test side per epoch.
    monitor_test: bool = False


#: Training keys added after run folders existed, dropped from the resolved config while
#: they hold their defaults, so that older run folders still resume (see to_dict).
_LATER_TRAINING_DEFAULTS = {"scheduler": None, "random_crop": None, "mixed_precision": False,
                            "standardize_by": None, "calibrate": False, "class_weights": True,
                            "monitor_test": False, "grad_clip": None, "group_by_length": False,
                            "select_window": 1, "early_stopping_on": "val_loss"}
#: The same for protocol keys (in ``protocol`` and in each of ``release.protocols``).
_LATER_PROTOCOL_DEFAULTS = {"adapt": False}


@dataclass
class SearchConfig:
    """A grid search (``serkit search``): dotted config keys → the values to try.

    The Cartesian product of the lists gives the trials; the trial with the best mean
    validation score (``select``) at the chosen checkpoints wins. Test data never decides.
    """

    grid: dict[str, list] = field(default_factory=dict)
    select: str = "val_loss"  # val_loss | val_accuracy


@dataclass
class ReleaseConfig:
    """A release (``serkit release`` of a config with ``release:``): the variant with the best
    mean ``choose_by`` over ``protocols`` (speaker- and corpus-independent folds) is
    trained on all the data (whole speakers held out to choose its checkpoint) and
    written as a model bundle with a model card. See serkit.training.release.
    """

    protocols: list[ProtocolConfig] = field(default_factory=list)
    choose_by: str = "uar"
    bundle: str = "serkit/pretrained/default"
    name: str = "default"
    description: str = ""
    final_val_fraction: float = 0.1
    #: Lines for the model card's "Choices" section: why this label set, these corpora...
    notes: list[str] = field(default_factory=list)
    #: A candidate whose leave-one-corpus-out predictions give any test corpus one label
    #: for more than this share of its clips has collapsed and cannot be chosen; the
    #: release fails when every candidate has. None: no check.
    max_label_share: float | None = None


@dataclass
class ExperimentConfig:
    experiment: str
    data: DataConfig
    features: Component
    model: Component
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    #: Number of repeated runs R (seeds first_seed .. first_seed + R - 1).
    seeds: int = 1
    first_seed: int = 0
    training: TrainingConfig = field(default_factory=TrainingConfig)
    #: Named variants run side by side (ablations, peer models): each maps dotted keys to
    #: values that override this config, e.g. {no_lstm: {model.params.speech_recall: false}}.
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: A grid search over this config (see serkit.training.search); plain runs ignore it.
    search: SearchConfig | None = None
    #: Choose, train and bundle a model to ship (see ReleaseConfig); None for experiments.
    release: ReleaseConfig | None = None

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def to_dict(self) -> dict[str, Any]:
        raw = dataclasses.asdict(self)
        # Configs without a search keep the exact resolved form they had before searches
        # existed, so run folders made then still resume (the runner compares configs).
        for optional in ("search", "release"):
            if raw[optional] is None:
                del raw[optional]
        for key, default in _LATER_TRAINING_DEFAULTS.items():
            if raw["training"][key] == default:
                del raw["training"][key]
        protocols = [raw["protocol"], *(raw["release"]["protocols"] if raw.get("release") else [])]
        for protocol in protocols:
            for key, default in _LATER_PROTOCOL_DEFAULTS.items():
                if protocol[key] == default:
                    del protocol[key]
        return raw


SELECT_CHOICES = ("val_loss", "val_accuracy", "last")
SEARCH_SELECT_CHOICES = ("val_loss", "val_accuracy")
#: Top-level keys a search grid cannot vary: they define the search itself.
UNSEARCHABLE_KEYS = ("search", "variants")
OPTIMIZERS = ("adam", "adamw", "sgd")
STANDARDIZE_BY = (None, "corpus")


def load_config(
    path: str | Path, *, overrides: list[str] | None = None, seeds: int | None = None
) -> ExperimentConfig:
    """Read a YAML experiment config, apply ``key=value`` overrides, validate it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size:,} bytes is too large for a config "
                          f"(the limit is {MAX_CONFIG_BYTES:,}); is it the right file?")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text ({exc}); is it a YAML config?") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ConfigError(f"{path}: not a usable YAML value ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys to values")
    for item in overrides or []:
        apply_override(raw, item)
    if seeds is not None:
        raw["seeds"] = seeds
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict[str, Any], *, source: str = "config") -> ExperimentConfig:
    """Build and validate a config from a mapping (what the YAML file holds).

    Raises:
        ConfigError: an unknown key, a value of the wrong type or out of range, a name
            that no registry knows, or parameters a component does not take.
    """
    _check_shape(raw, source)
    config = _build(ExperimentConfig, raw, f"{source}:")
    validate(config, source)
    return config


#: The largest config file read (a config is a page of YAML; this stops reading a wrong file).
MAX_CONFIG_BYTES = 10_000_000
#: How deeply a config may nest, and how many values it may hold (YAML aliases count each
#: time they are used, so an alias "bomb" or a recursive alias is refused, not expanded).
MAX_CONFIG_DEPTH = 32
MAX_CONFIG_VALUES = 100_000
#: The most seeds one run may have.
MAX_SEEDS = 10_000


def _check_shape(raw: Any, source: str) -> None:
    """ConfigError for a config nested too deeply or holding too many values."""
    count = 0
    stack = [(raw, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise ConfigError(f"{source}: more than {MAX_CONFIG_VALUES:,} values (with YAML aliases "
                              "expanded); a config is much smaller")
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError(f"{source}: nested more than {MAX_CONFIG_DEPTH} levels deep; a config "
                              "is much flatter")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for item in node.items() for v in item)
        elif isinstance(node, (list, tuple, set, frozenset)):
            stack.extend((v, depth + 1) for v in node)


def variant_configs(config: ExperimentConfig) -> dict[str, ExperimentConfig]:
    """One config per named variant (the experiment name gets the variant appended)."""
    variants = {}
    for name, changes in config.variants.items():
        raw = config.to_dict()
        raw["variants"] = {}
        raw["experiment"] = f"{config.experiment}/{name}"
        for key, value in (changes or {}).items():
            set_key(raw, str(key), value)
        variants[name] = config_from_dict(raw, source=f"variant {name!r}")
    return variants


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` in a nested dict; the value is parsed as YAML (numbers, lists…)."""
    if "=" not in item:
        raise ConfigError(f"--set expects KEY=VALUE, e.g. training.epochs=20, not {item!r}")
    key, value = item.split("=", 1)
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: the value {value!r} is not valid YAML "
                          f"({' '.join(str(exc).split())})") from None
    except (RecursionError, ValueError) as exc:
        raise ConfigError(f"--set {key}: the value {value[:40]!r} is not usable "
                          f"({type(exc).__name__})") from None
    set_key(raw, key, parsed)


def set_key(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` (``model.params.dropout``) in a nested config dict."""
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        if isinstance(node.get(part), str):  # a component given as a bare name
            node[part] = {"name": node[part]}
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {part!r} is not a section of the config")
    node[parts[-1]] = value


def validate(config: ExperimentConfig, source: str) -> None:
    t = config.training
    _check_experiment_name(config.experiment, source)
    if not config.data.corpora:
        raise ConfigError(f"{source}: data.corpora must name at least one corpus")
    if not 1 <= config.seeds <= MAX_SEEDS:
        raise ConfigError(f"{source}: seeds must be between 1 and {MAX_SEEDS}, not {config.seeds}")
    if not -(2**63) <= config.first_seed <= 2**63 - config.seeds:
        raise ConfigError(f"{source}: first_seed must be a 64-bit integer, not {config.first_seed}")
    _check_data(config.data, source)
    _check_protocol(config.protocol, "protocol", source)
    for i, protocol in enumerate(config.release.protocols if config.release is not None else ()):
        _check_protocol(protocol, f"release.protocols[{i}]", source)
    if t.select not in SELECT_CHOICES:
        raise ConfigError(f"{source}: training.select must be one of {SELECT_CHOICES}, not {t.select!r}")
    if t.select_window < 1 or t.select_window % 2 == 0:
        raise ConfigError(f"{source}: training.select_window must be an odd number of epochs (1, 3, 5 ...), "
                          f"not {t.select_window}")
    if t.early_stopping_on not in ("val_loss", "selection"):
        raise ConfigError(f"{source}: training.early_stopping_on must be 'val_loss' or 'selection', "
                          f"not {t.early_stopping_on!r}")
    if t.early_stopping_on == "selection" and t.select == "last":
        raise ConfigError(f"{source}: training.early_stopping_on: selection needs select: val_loss or "
                          "val_accuracy (select: last chooses nothing to watch)")
    if t.select == "last" and t.select_window != 1:
        raise ConfigError(f"{source}: training.select_window needs select: val_loss or val_accuracy "
                          "(select: last keeps the last epoch whatever the window)")
    if t.optimizer not in OPTIMIZERS:
        raise ConfigError(f"{source}: training.optimizer must be one of {OPTIMIZERS}, not {t.optimizer!r}")
    for name in ("epochs", "batch_size", "checkpoint_every"):
        if getattr(t, name) < 1:
            raise ConfigError(f"{source}: training.{name} must be at least 1, not {getattr(t, name)}")
    if t.learning_rate <= 0:
        raise ConfigError(f"{source}: training.learning_rate must be positive, not {t.learning_rate}")
    if t.grad_clip is not None and not t.grad_clip > 0:
        raise ConfigError(f"{source}: training.grad_clip must be a positive gradient norm or null, not {t.grad_clip}")
    _check_augment(t.augment, source)
    _check_scheduler(t.scheduler, source)
    _check_loss(t.loss, source)
    if t.random_crop is not None and t.random_crop < 1:
        raise ConfigError(f"{source}: training.random_crop must be a positive number of time steps, "
                          f"not {t.random_crop}")
    if t.standardize_by not in STANDARDIZE_BY:
        raise ConfigError(f"{source}: training.standardize_by must be one of {STANDARDIZE_BY}, "
                          f"not {t.standardize_by!r}")
    if t.standardize_by is not None and not t.standardize:
        raise ConfigError(f"{source}: training.standardize_by needs training.standardize: true")
    protocols = [config.protocol, *(config.release.protocols if config.release is not None else ())]
    if any(p.adapt for p in protocols) and not t.standardize:
        raise ConfigError(f"{source}: a protocol with adapt: true standardises the test side on its "
                          "own clips, which needs training.standardize: true")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", t.device):
        raise ConfigError(f"{source}: training.device must be cpu, cuda or cuda:<index>, not {t.device!r}")
    _check_input(config, source)
    if config.release is not None and config.release.max_label_share is not None \
            and not 0 < config.release.max_label_share <= 1:
        raise ConfigError(f"{source}: release.max_label_share must be in (0, 1], not "
                          f"{config.release.max_label_share}")
    if config.release is not None and not config.release.protocols:
        raise ConfigError(f"{source}: release.protocols must list at least one protocol to choose by, "
                          "e.g. [{split: loso}, {split: loco}]")
    if config.search is not None:
        _validate_search(config, source)
    if config.variants:
        _validate_variants(config, source)


def _check_experiment_name(name: str, source: str) -> None:
    # The run folder is runs/<experiment>: the name must stay inside runs/.
    parts = name.replace("\\", "/").split("/")
    if not name.strip() or name.startswith("/") or any(p in ("", ".", "..") for p in parts) \
            or "\0" in name or ":" in parts[0]:
        raise ConfigError(f"{source}: experiment must be a name like speechnet_emodb_random (it "
                          f"names the run folder runs/<experiment>), not {name!r}")


def _validate_variants(config: ExperimentConfig, source: str) -> None:
    """Each variant's name must be a folder name, and its config valid, before anything runs."""
    for name in config.variants:
        if not re.fullmatch(r"[\w][\w.+-]*", name):
            raise ConfigError(f"{source}: variant {name!r} must be a folder name (letters, digits, "
                              "_ . + -), as it names the variant's run folder")
    variant_configs(config)


def _check_data(data: DataConfig, source: str) -> None:
    """Corpora, their loader options and the label scheme, by name, before any data is read."""
    from serkit.corpora import LOADERS
    from serkit.labels import get_scheme

    try:
        for name in data.corpora:
            LOADERS.get(name)
        for name, options in data.loader_options.items():
            LOADERS.check_params(name, options)
        get_scheme(data.label_scheme)
    except ConfigError as exc:
        raise ConfigError(f"{source}: data: {exc}") from None


def _check_protocol(protocol: ProtocolConfig, key: str, source: str) -> None:
    """The split kind and its parameters, as :func:`serkit.splits.make_split` will take them."""
    from serkit.splits import SPLITS

    try:
        SPLITS.check_params(protocol.split, protocol.params)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {key}: {exc}") from None
    seed = protocol.split_seed
    if seed is not None and not 0 <= seed < 2**32:
        raise ConfigError(f"{source}: {key}.split_seed must be in [0, 2**32), not {seed}")


def _validate_search(config: ExperimentConfig, source: str) -> None:
    """Each grid key must be a real config key and each value valid there on its own."""
    search = config.search
    if search.select not in SEARCH_SELECT_CHOICES:
        raise ConfigError(f"{source}: search.select must be one of {SEARCH_SELECT_CHOICES}, not {search.select!r}")
    if config.variants:
        raise ConfigError(f"{source}: a config cannot have both search and variants; "
                          "search each variant as a config of its own")
    base = config.to_dict()
    del base["search"]
    for key, values in search.grid.items():
        key = str(key)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{source}: search.grid {key!r} must be a non-empty list of values, not {values!r}")
        if key.strip().split(".")[0] in UNSEARCHABLE_KEYS:
            raise ConfigError(f"{source}: search.grid cannot vary {key!r}")
        for value in values:
            # Setting the value through the override machinery gives unknown keys their
            # "did you mean" and wrong types their usual message, before anything trains.
            raw = copy.deepcopy(base)
            set_key(raw, key, value)
            config_from_dict(raw, source=f"{source}: search.grid {key}={value!r}")


def _check_input(config: ExperimentConfig, source: str) -> None:
    """The features' output must be what the model reads: checked here, before any work."""
    from serkit.features import FEATURES, make_features
    from serkit.labels import EMOTIONS, get_scheme
    from serkit.models import check_input, check_model, resolved_params
    from serkit.models.bounds import MAX_FEATURE_INT, check_params_types

    features, model = config.features, config.model
    try:
        FEATURES.check_params(features.name, features.params)
        check_params_types("feature", features.name, FEATURES.get(features.name), features.params,
                           max_int=MAX_FEATURE_INT)
        try:
            extractor = make_features(features.name, **features.params)
            spec = extractor.spec
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            raise ConfigError(f"features {features.name!r} cannot be built with {features.params}: "
                              f"{first_line(exc)}") from None
        check_input(model.name, model.params, features.name, spec)
        # The real class count is known once the data is read; the scheme's is close enough
        # to bound the model's size before anything is built.
        mapping = get_scheme(config.data.label_scheme).mapping
        n_classes = len(set(mapping.values())) if mapping else len(EMOTIONS)
        check_model(model.name, spec.dim, n_classes, resolved_params(model.name, spec, model.params))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if config.training.standardize and extractor.spec.kind in ("waveform", "image"):
        raise ConfigError(f"{source}: training.standardize scales each dimension of vectors and frames; "
                          f"features {config.features.name!r} give {extractor.spec.kind}s: set "
                          "training.standardize: false (normalise inside the extractor or the model)")


def _check_scheduler(scheduler: Component | None, source: str) -> None:
    from serkit.training.schedule import SCHEDULERS

    if scheduler is None:
        return
    try:
        SCHEDULERS.check_params(scheduler.name, scheduler.params)
    except ConfigError as exc:
        raise ConfigError(f"{source}: training.scheduler: {exc}") from None


def _check_augment(augment: list[Component], source: str) -> None:
    from serkit.augmentation import make_augmentation

    for component in augment:
        try:
            make_augmentation(component.name, **component.params)
        except ConfigError as exc:
            raise ConfigError(f"{source}: training.augment: {exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigError(f"{source}: training.augment: {component.name!r} cannot be built "
                              f"with {component.params}: {first_line(exc)}") from None


def _check_loss(loss: Component, source: str) -> None:
    from serkit.models import make_loss

    try:
        make_loss(loss.name, class_weights=None, **loss.params)
    except ConfigError as exc:
        raise ConfigError(f"{source}: training.loss: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{source}: training.loss: {loss.name!r} cannot be built with "
                          f"{loss.params}: {first_line(exc)}") from None



def _build(cls, raw: Any, where: str):
    """Fill dataclass ``cls`` from a mapping, recursively; unknown keys are errors."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} expected a mapping for {cls.__name__}, not {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields), key=str)
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{where} unknown key {key!r}{hint}; valid keys here: {', '.join(fields)}"
        )
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _convert(hints[name], raw[name], f"{where} {name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where} missing required key {name!r}")
    return cls(**values)


def _convert(hint, value, where: str):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        return _convert(hint, value, where)
    if dataclasses.is_dataclass(hint):
        if hint is Component and isinstance(value, str):
            value = {"name": value}
        return _build(hint, value, f"{where}:")
    if origin is list:
        if not isinstance(value, list):
            value = [value]
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, not {value!r}")
        for key in value:
            if not isinstance(key, str):
                raise ConfigError(f"{where}: keys must be names (strings), not {key!r}")
        if typing.get_origin(args[1]) is dict:  # loader_options, variants: name -> mapping
            return {k: _convert(args[1], {} if v is None else v, f"{where}.{k}") for k, v in value.items()}
        return dict(value)
    if hint is Any:
        return value
    return _scalar(hint, value, where)


def _scalar(hint, value, where: str):
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        # YAML 1.1 reads 1e-3 (no dot) as a string; people write learning rates that way.
        number = value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
        try:
            if number is not None and math.isfinite(float(number)):
                return float(number)
        except (ValueError, OverflowError):
            pass
        raise ConfigError(f"{where} must be a finite number, not {value!r}")
    elif hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"{where} must be {hint.__name__}, not {value!r}")


def without_machine_settings(raw: dict) -> dict:
    """A raw config without the thread count: how a machine runs the same computation, not
    what is computed, so a run or search begun on one thread may resume on two."""
    if not isinstance(raw.get("training"), dict):
        return raw
    return {**raw, "training": {k: v for k, v in raw["training"].items() if k != "num_threads"}}
