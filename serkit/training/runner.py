"""The experiment runner: corpus → features → seeds × folds → predictions.csv → report.

The run folder's layout is :mod:`serkit.rundir`'s. A fold whose predictions.csv exists is
finished and skipped, so an interrupted experiment resumes where it stopped; inside an
unfinished fold, training resumes from its last saved state (training_state.pt).

:func:`run_experiment` runs one experiment and returns its report; :func:`run_variants`
runs each variant of a config side by side and returns their reports. Releases
(:mod:`serkit.training.release`) and searches (:mod:`serkit.training.search`) are built
on these two.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from serkit.augmentation import augmented_extractors, make_augmentation
from serkit.corpora import load_corpus
from serkit.corpora.base import Corpus, merge_corpora
from serkit.errors import ConfigError
from serkit.evaluation import build_report, write_predictions
from serkit.evaluation.calibration import apply_temperature, fit_temperature, negative_log_likelihood
from serkit.features import make_features
from serkit.features.cache import FeatureCache
from serkit.features.extract import Standardizer, extract_corpus
from serkit.fileio import atomic_write_bytes, atomic_write_text
from serkit.batching import FeatureSet
from serkit.models import is_sklearn, make_loss, make_model_for
from serkit.progress import progress_bar
from serkit.rundir import FoldDir, RunDir
from serkit.splits import Fold, SplitPlan, make_split
from serkit.training.config import ExperimentConfig, variant_configs, without_machine_settings
from serkit.training.data import class_weights
from serkit.training.fit import fit, predict_proba
from serkit.training.seeding import seed_everything

log = logging.getLogger(__name__)

#: Where the corpora are when neither --data-root nor the config says.
DEFAULT_DATA_ROOTS = ("../shared/data", "data")


#: Input kinds whose features are read from the cache when used rather than held in
#: memory: a corpus of waveforms or images can be larger than RAM.
LAZY_KINDS = ("waveform", "image")


@dataclass
class Dataset:
    """The experiment's utterances, their features and class targets, aligned by index."""

    corpus: Corpus
    features: list[np.ndarray]
    classes: list[str]
    targets: np.ndarray
    extractor: Any = None

    def __post_init__(self):
        self._position = {u.id: i for i, u in enumerate(self.corpus.utterances)}

    @property
    def kind(self) -> str:
        return self.extractor.spec.kind

    def index_of(self, ids) -> np.ndarray:
        return np.array([self._position[i] for i in ids], dtype=np.int64)


def run_experiment(
    config: ExperimentConfig,
    *,
    out_dir: str | Path | None = None,
    data_root: str | Path | None = None,
    progress: bool = True,
    executor=None,
) -> dict:
    """Run every seed and fold of ``config`` (resuming finished ones); return its report.

    ``executor`` (:mod:`serkit.training.executors`) runs the unfinished folds elsewhere
    first, e.g. as Ray tasks; ``None`` runs them here, one after the other.

    Raises:
        ConfigError: a config with variants (use :func:`run_variants`) or a release
            section (use :func:`serkit.training.release.run_release`), or any bad input.
    """
    if config.release is not None:
        raise ConfigError(f"{config.experiment} is a release config (it has a release: section); "
                          "run it with `serkit release CONFIG` (serkit.training.release.run_release)")
    if config.variants:
        raise ConfigError(f"{config.experiment} has variants ({', '.join(config.variants)}); run them "
                          "with run_variants (`serkit run` does)")
    run = RunDir(out_dir if out_dir is not None else Path("runs") / config.experiment)
    with _claimed_run_dir(run, config):  # a start that fails leaves no half-made run folder
        dataset, jobs = _prepare(run, config, data_root=data_root, progress=progress)
        if executor is not None:  # it runs them all; the loop below then finds each one finished
            executor.run_folds(config, dataset, jobs, progress=progress)
        _run_here(config, dataset, jobs, progress=progress)
    return build_report(run.path)


def _prepare(run: RunDir, config: ExperimentConfig, *, data_root, progress: bool) -> tuple[Dataset, list]:
    """Load the data, write the protocol and each seed's folds; return the dataset and the
    ``(fold_dir, fold)`` jobs of every seed."""
    if config.training.num_threads:
        torch.set_num_threads(config.training.num_threads)
    dataset = load_dataset(config, data_root=data_root, progress=progress)
    _write_protocol(run, config, dataset)
    plans = {seed: _plan(run, config, dataset, seed) for seed in config.seed_list}
    return dataset, [(run.fold(seed, k), fold) for seed, plan in plans.items() for k, fold in enumerate(plan.folds)]


def _run_here(config: ExperimentConfig, dataset: Dataset, jobs: list, *, progress: bool) -> None:
    """Run the unfinished jobs in this process, one after the other."""
    for fold_dir, fold in progress_bar(jobs, desc=config.experiment, unit="fold", enabled=progress):
        if not fold_dir.finished:
            run_fold(config, dataset, fold, fold_dir, progress=progress)


def run_variants(config: ExperimentConfig, *, out_dir: str | Path | None = None,
                 data_root: str | Path | None = None, progress: bool = True,
                 executor=None, only: list[str] | None = None) -> dict[str, dict]:
    """Run each variant of ``config`` into ``out/<variant>/``; return their reports by name.

    ``only`` names the variants to run now (all by default): an ablation too long for one
    sitting runs a variant at a time into the same folder. Also writes summary.json and
    summary.md comparing every variant finished so far. A config without variants runs as
    its single variant, named after the experiment, in ``out`` itself.
    """
    out = Path(out_dir) if out_dir is not None else Path("runs") / config.experiment
    chosen = chosen_variants(config, only)
    if not config.variants:
        return {config.experiment: run_experiment(config, out_dir=out, data_root=data_root, progress=progress,
                                                  executor=executor)}
    with _claimed_run_dir(RunDir(out), config):
        if executor is None:
            reports = {name: run_experiment(variant, out_dir=out / name, data_root=data_root, progress=progress)
                       for name, variant in chosen.items()}
        else:
            reports = _run_variants_together(chosen, out, data_root=data_root, progress=progress,
                                             executor=executor)
    summary = {"experiment": config.experiment,
               "variants": {name: headline(report) for name, report in _finished_reports(config, out, reports).items()}}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    atomic_write_text(out / "summary.md", _summary_markdown(summary))
    return reports


def chosen_variants(config: ExperimentConfig, only: list[str] | None) -> dict[str, ExperimentConfig]:
    """The variant configs named by ``only`` (every variant when None), in the config's order.

    Raises:
        ConfigError: a name the config has no variant for, or names given for a config
            without variants.
    """
    variants = variant_configs(config)
    if not only:
        return variants
    if not variants:
        raise ConfigError(f"{config.experiment} has no variants to choose from; run it without --variant")
    unknown = [name for name in only if name not in variants]
    if unknown:
        raise ConfigError(f"{config.experiment} has no variant {', '.join(map(repr, unknown))}; "
                          f"its variants are: {', '.join(variants)}")
    return {name: variant for name, variant in variants.items() if name in only}


def _finished_reports(config: ExperimentConfig, out: Path, reports: dict[str, dict]) -> dict[str, dict]:
    """This call's reports and those of variants finished by earlier calls, in config order."""
    finished = {}
    for name in config.variants:
        if name in reports:
            finished[name] = reports[name]
        elif (saved := RunDir(out / name).report).exists():
            finished[name] = json.loads(saved.read_text())
    return finished


def _run_variants_together(variants: dict[str, ExperimentConfig], out: Path, *, data_root, progress: bool,
                           executor) -> dict:
    """Hand the unfinished folds of every variant to ``executor`` at once, so that variants
    run side by side (a depth sweep of one fold per variant keeps every core busy, and the
    last folds of one variant share the cluster with the first of the next)."""
    with contextlib.ExitStack() as claims:
        prepared = {}
        for name, variant in variants.items():
            run = RunDir(out / name)
            claims.enter_context(_claimed_run_dir(run, variant))
            prepared[name] = (run, *_prepare(run, variant, data_root=data_root, progress=progress))
        executor.run_fold_groups([(variants[name], dataset, jobs) for name, (_, dataset, jobs) in prepared.items()],
                                 progress=progress)
        for name, (_, dataset, jobs) in prepared.items():
            _run_here(variants[name], dataset, jobs, progress=progress)
    return {name: build_report(run.path) for name, (run, _, _) in prepared.items()}


#: What a variant summary shows of each report.
HEADLINE_METRICS = ("accuracy", "uar", "macro_precision", "macro_recall", "macro_f1")
HEADLINE_REPRODUCIBILITY = ("plr", "pclr")


def headline(report: dict) -> dict:
    metrics = {k: report["metrics"][k] for k in HEADLINE_METRICS if k in report.get("metrics", {})}
    repro = report.get("reproducibility") or {}
    return {"metrics": metrics, "reproducibility": {k: repro.get(k) for k in HEADLINE_REPRODUCIBILITY}}


def _summary_markdown(summary: dict) -> str:
    from serkit.evaluation.report import mean_std_text

    variants = summary["variants"]
    # Reproducibility needs two runs or more: columns no variant has are left out.
    reproducibility = [k for k in HEADLINE_REPRODUCIBILITY
                       if any(h["reproducibility"].get(k) is not None for h in variants.values())]
    header = ["variant", *HEADLINE_METRICS, *reproducibility]
    lines = [f"# {summary['experiment']}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for name, h in variants.items():
        cells = [name]
        for k in HEADLINE_METRICS:
            m = h["metrics"].get(k)
            cells.append("—" if m is None else mean_std_text(m))
        for k in reproducibility:
            v = h["reproducibility"].get(k)
            cells.append("—" if v is None else f"{100 * v:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def load_dataset(config: ExperimentConfig, *, data_root=None, progress: bool = True) -> Dataset:
    """Load the corpora, apply the label scheme and extract (cached) features."""
    roots = resolve_data_roots(config.data.root if data_root is None else data_root)
    corpora = [
        load_corpus(name, corpus_folder(name, roots), **config.data.loader_options.get(name, {}))
        for name in config.data.corpora
    ]
    corpus = corpora[0] if len(corpora) == 1 else merge_corpora(corpora)
    corpus = corpus.with_scheme(config.data.label_scheme)
    if len(corpus) == 0:
        raise ConfigError(f"label scheme {config.data.label_scheme!r} keeps no utterance of {config.data.corpora}")
    extractor = make_features(config.features.name, **config.features.params)
    features = extract_corpus([u.path for u in corpus.utterances], extractor, cache=FeatureCache(),
                              progress=progress, lazy=extractor.spec.kind in LAZY_KINDS)
    classes = sorted({u.emotion for u in corpus.utterances})
    targets = np.array([classes.index(u.emotion) for u in corpus.utterances], dtype=np.int64)
    return Dataset(corpus, features, classes, targets, extractor)


def resolve_data_roots(root: str | Path | None) -> list[Path]:
    """The folders that hold corpus folders, in the order they are searched.

    ``root`` (--data-root or data.root) or else ``$SERKIT_DATA`` may list several folders
    separated by ``os.pathsep`` (``:`` on Linux); with neither, :data:`DEFAULT_DATA_ROOTS`
    (the shared data beside the checkout, then the checkout's git-ignored ``data/``).
    """
    given = root if root is not None else os.environ.get("SERKIT_DATA")
    candidates = [Path(p) for p in str(given).split(os.pathsep) if p] if given else \
        [Path(p) for p in DEFAULT_DATA_ROOTS]
    found = [c.expanduser() for c in candidates if c.expanduser().is_dir()]
    if not found:
        raise ConfigError(
            f"corpus folder not found (tried {', '.join(str(c) for c in candidates)}); "
            "pass --data-root FOLDER or set SERKIT_DATA to the folder holding emodb/, ravdess/, ..."
        )
    return found


def corpus_folder(name: str, roots: list[Path]) -> Path:
    """``<root>/<name>`` of the first root that has it (the first root's when none does,
    so the loader's message names where it looked)."""
    return next((r / name for r in roots if (r / name).is_dir()), roots[0] / name)


def run_fold(config: ExperimentConfig, dataset: Dataset, fold: Fold, fold_dir: FoldDir, *,
             progress: bool = True) -> None:
    """Train on one fold, choose the checkpoint on its validation side, predict its test side."""
    seed = fold_dir.seed
    seed_everything(seed)
    fold_dir.path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(fold_dir.config, yaml.safe_dump(config.to_dict(), sort_keys=False))
    train, val, test = (_side(dataset, ids) for ids in (fold.train, fold.val, fold.test))
    train, train_corpora = _augmented(config, dataset, fold.train, train, seed=seed, progress=progress)
    if config.training.standardize:
        train, val, test = _standardized(config, dataset, fold, fold_dir, train, train_corpora, val, test)
    if is_sklearn(config.model.name):
        probabilities = _fit_sklearn(config, dataset, train, test, fold_dir)
    else:
        probabilities = _fit_torch(config, dataset, train, val, test, fold_dir=fold_dir, progress=progress)
    rows = _prediction_rows(dataset, fold.test, probabilities, seed=seed, fold=fold_dir.fold)
    write_predictions(fold_dir.predictions, rows, dataset.classes)


def _standardized(config, dataset: Dataset, fold: Fold, fold_dir: FoldDir, train: FeatureSet,
                  train_corpora: np.ndarray, val: FeatureSet, test: FeatureSet):
    """The three sides standardised as the config says; the pooled scaler is saved.

    The pooled scaler (all training clips) is what a single clip gets at inference, so it
    is always saved with the fold. With ``standardize_by: corpus`` each training corpus is
    standardised on its own training clips instead (the validation side on its corpus's
    training statistics), so the model learns what a clip says relative to its recording
    set-up. With ``protocol.adapt`` each test corpus is standardised on its own test clips.
    """
    pooled = Standardizer().fit(train.features)
    atomic_write_text(fold_dir.scaler, json.dumps(pooled.state_dict()))
    if config.training.standardize_by == "corpus":
        by_corpus = _group_scalers(train, train_corpora)
        train = _scaled_by_group(by_corpus, pooled, train, train_corpora)
        val = _scaled_by_group(by_corpus, pooled, val, _corpora(dataset, fold.val))
    else:
        train, val = _scaled(pooled, train), _scaled(pooled, val)
    if config.protocol.adapt:
        test_corpora = _corpora(dataset, fold.test)
        test = _scaled_by_group(_group_scalers(test, test_corpora), pooled, test, test_corpora)
    else:
        test = _scaled(pooled, test)
    return train, val, test


def _corpora(dataset: Dataset, ids) -> np.ndarray:
    return np.array([dataset.corpus.utterances[i].corpus for i in dataset.index_of(ids)], dtype=object)


def _group_scalers(side: FeatureSet, groups: np.ndarray) -> dict[str, Standardizer]:
    return {g: Standardizer().fit(_take(side, groups == g).features) for g in sorted(set(groups))}


def _scaled_by_group(scalers: dict[str, Standardizer], fallback: Standardizer, side: FeatureSet,
                     groups: np.ndarray) -> FeatureSet:
    """Each row scaled by its group's scaler (the fallback for a group without one)."""
    if len(side) == 0:
        return side
    rows = [scalers.get(g, fallback).transform(x).astype(np.float32) for x, g in zip(side.features, groups)]
    features = rows if side.is_sequence else np.stack(rows)
    return FeatureSet(features, side.targets, side.kind)


def _take(side: FeatureSet, mask: np.ndarray) -> FeatureSet:
    index = np.flatnonzero(mask)
    features = [side.features[i] for i in index] if side.is_sequence else side.features[index]
    return FeatureSet(features, side.targets[index], side.kind)


def _fit_torch(config, dataset, train, val, test, *, fold_dir: FoldDir, progress) -> np.ndarray:
    settings = config.training
    if settings.select != "last" and len(val) == 0:
        raise ConfigError(
            f"protocol {config.protocol.split!r} gives no validation data, so no checkpoint can be "
            "chosen on it: set protocol.params.val_fraction > 0 or training.select: last"
        )
    model = make_model_for(config.model.name, dataset.extractor.spec, len(dataset.classes), **config.model.params)
    weights = (torch.from_numpy(class_weights(train.targets, len(dataset.classes)))
               if settings.class_weights else None)
    loss_fn = make_loss(settings.loss.name, class_weights=weights, **settings.loss.params)
    result = fit(model, train, val if len(val) else None, loss_fn=loss_fn, settings=settings,
                 seed=fold_dir.seed, state_path=fold_dir.training_state, progress=progress,
                 monitor=test if settings.monitor_test and len(test) else None, desc=f"{fold_dir.name} epochs")
    model.load_state_dict(result.best_state)
    buffer = io.BytesIO()
    torch.save(result.best_state, buffer)
    atomic_write_bytes(fold_dir.model_pt, buffer.getvalue())
    fold_dir.write_history(result.history, result.best_epoch)
    probabilities = (predict_proba(model, test, batch_size=settings.batch_size, device=settings.device,
                                   by_length=settings.group_by_length) if len(test) else np.zeros((0, len(dataset.classes))))
    if settings.calibrate and len(val):
        probabilities = _calibrated(model, val, probabilities, settings, fold_dir)
    fold_dir.training_state.unlink(missing_ok=True)
    return probabilities


def _calibrated(model, val: FeatureSet, test_probabilities: np.ndarray, settings, fold_dir: FoldDir) -> np.ndarray:
    """Test probabilities under the temperature fitted on the validation side (saved with the fold)."""
    val_probabilities = predict_proba(model, val, batch_size=settings.batch_size, device=settings.device,
                                      by_length=settings.group_by_length)
    temperature = fit_temperature(val_probabilities, val.targets)
    record = {"temperature": temperature,
              "val_nll_before": negative_log_likelihood(val_probabilities, val.targets),
              "val_nll_after": negative_log_likelihood(apply_temperature(val_probabilities, temperature), val.targets)}
    atomic_write_text(fold_dir.calibration, json.dumps(record, indent=2))
    return apply_temperature(test_probabilities, temperature)


def _fit_sklearn(config, dataset, train, test, fold_dir: FoldDir) -> np.ndarray:
    import joblib

    spec = dataset.extractor.spec
    if train.is_sequence and not (spec.kind == "waveform" and spec.length is not None):
        raise ConfigError(f"model {config.model.name!r} needs one feature vector per utterance; "
                          "use features with pooling: mean, or a waveform with fixed_samples")
    model = make_model_for(config.model.name, spec, len(dataset.classes), **config.model.params)
    model.fit(_as_vectors(train, spec), train.targets)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    atomic_write_bytes(fold_dir.model_joblib, buffer.getvalue())
    # predict_proba covers the classes seen in training; place them in the full class order.
    probabilities = np.zeros((len(test), len(dataset.classes)))
    if len(test):
        probabilities[:, model.classes_] = model.predict_proba(_as_vectors(test, spec))
    return probabilities


def _as_vectors(side: FeatureSet, spec) -> np.ndarray:
    """``(n, dim)`` for a scikit-learn model: vectors as they are, fixed-length waveforms
    (every clip ``spec.length`` samples, read lazily from the cache) stacked one per row."""
    if not side.is_sequence:
        return side.features
    if not len(side):
        return np.zeros((0, spec.length), np.float32)
    return np.stack([np.asarray(x, dtype=np.float32) for x in side.features])


def _augmented(config: ExperimentConfig, dataset: Dataset, ids, train: FeatureSet, *, seed: int,
               progress: bool) -> FeatureSet:
    """The training side plus its augmented copies (validation and test stay clean), and
    the corpus of each of its rows."""
    corpora = _corpora(dataset, ids)
    if not config.training.augment:
        return train, corpora
    augmentations = [make_augmentation(c.name, **c.params) for c in config.training.augment]
    paths = [dataset.corpus.utterances[i].path for i in dataset.index_of(ids)]
    features, targets = [train.features], [train.targets]
    for extractor in augmented_extractors(dataset.extractor, augmentations, seed=seed):
        copies = extract_corpus(paths, extractor, cache=FeatureCache(), progress=progress,
                                lazy=dataset.kind in LAZY_KINDS)
        features.append(np.stack(copies) if not train.is_sequence else copies)
        targets.append(train.targets)
    corpora = np.concatenate([corpora] * len(features))
    if train.is_sequence:
        return FeatureSet([x for part in features for x in part], np.concatenate(targets), train.kind), corpora
    return FeatureSet(np.concatenate(features), np.concatenate(targets), train.kind), corpora


def _side(dataset: Dataset, ids) -> FeatureSet:
    index = dataset.index_of(ids)
    if dataset.kind != "vector":
        return FeatureSet([dataset.features[i] for i in index], dataset.targets[index], dataset.kind)
    features = (np.stack([dataset.features[i] for i in index]) if len(index)
                else np.zeros((0, dataset.extractor.spec.dim), np.float32))
    return FeatureSet(features, dataset.targets[index], dataset.kind)


def _scaled(scaler, side: FeatureSet) -> FeatureSet:
    if len(side) == 0:
        return side
    if side.is_sequence:
        return FeatureSet([scaler.transform(x).astype(np.float32) for x in side.features], side.targets, side.kind)
    return FeatureSet(scaler.transform(side.features).astype(np.float32), side.targets, side.kind)


def _prediction_rows(dataset: Dataset, test_ids, probabilities, *, seed: int, fold: int) -> list[dict]:
    rows = []
    for utt_index, p in zip(dataset.index_of(test_ids), probabilities):
        u = dataset.corpus.utterances[utt_index]
        rows.append({
            "utt_id": u.id, "corpus": u.corpus, "seed": seed, "fold": fold,
            "truth": u.emotion, "prediction": dataset.classes[int(np.argmax(p))],
            "speaker": u.speaker, "gender": u.gender, "intensity": u.intensity,
            "language": u.language,
            "probabilities": {c: float(v) for c, v in zip(dataset.classes, p)},
        })
    return rows


def _plan(run: RunDir, config: ExperimentConfig, dataset: Dataset, seed: int) -> SplitPlan:
    """The split plan of one seed: loaded if saved (so a resumed run keeps its folds)."""
    path = run.folds_plan(seed)
    if path.exists():
        return SplitPlan.load(path)
    split_seed = seed if config.protocol.split_seed is None else config.protocol.split_seed
    plan = make_split(dataset.corpus.utterances, config.protocol.split, seed=split_seed, **config.protocol.params)
    plan.save(path)
    return plan


def _claim_run_dir(run: RunDir, config: ExperimentConfig) -> bool:
    """Create the run folder with the resolved config, or check an existing run used the same one.

    Returns:
        Whether the start is fresh: the folder did not exist, or was empty.
    """
    if run.path.exists() and not run.path.is_dir():
        raise ConfigError(f"{run.path} is a file, not a run folder; pass --out a folder")
    fresh = not run.path.exists() or not any(run.path.iterdir())
    resolved = yaml.safe_dump(_comparable(config.to_dict()), sort_keys=True)
    if run.config.exists():
        previous = yaml.safe_load(run.config.read_text())
        if yaml.safe_dump(_comparable(previous), sort_keys=True) != resolved:
            raise ConfigError(
                f"{run.path} holds a run of a different config; pass --out to start a new run "
                "folder, or delete the old one"
            )
    atomic_write_text(run.config, yaml.safe_dump(config.to_dict(), sort_keys=False))
    return fresh


#: The files a run writes before any training: a failed fresh start holding only these
#: (in its folder and sub-folders) is removed.
_START_FILES = frozenset({"config.yaml", "protocol.json", "folds.json"})


@contextlib.contextmanager
def _claimed_run_dir(run: RunDir, config: ExperimentConfig):
    """Claim the run folder (:func:`_claim_run_dir`) for the block; if the block fails, the
    folder was fresh and it still holds nothing but :data:`_START_FILES`, remove it.

    So a run that never got going (a corpus folder not found, a label scheme or split that
    the data cannot give, a bad option found at the first fold) leaves no half-made run
    folder behind, while a folder that held anything before, or any work a fold saved
    (checkpoints, scalers, histories, predictions), is never touched.
    """
    existed = run.path.exists()
    fresh = _claim_run_dir(run, config)
    try:
        yield
    except BaseException:
        if fresh:
            _remove_failed_start(run.path, remove_root=not existed)
        raise


def _remove_failed_start(path: Path, *, remove_root: bool) -> None:
    walk = list(os.walk(path))
    if any(name not in _START_FILES for _, _, files in walk for name in files):
        return  # some work was saved: keep everything, a rerun resumes from it
    for folder, _, files in sorted(walk, key=lambda entry: -entry[0].count(os.sep)):  # deepest first
        for name in files:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
        if folder != str(path) or remove_root:
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only if empty


def _comparable(raw: dict) -> dict:
    # More seeds extend a run, and more variants extend a run of variants (each variant's
    # own folder still checks its own config); everything else but the machine's settings
    # must match for results to be comparable.
    return without_machine_settings({k: v for k, v in raw.items() if k not in ("seeds", "variants")})


def _write_protocol(run: RunDir, config: ExperimentConfig, dataset: Dataset) -> None:
    protocol = {
        "name": config.experiment,
        "split": config.protocol.split,
        "split_params": config.protocol.params,
        "split_seed": "run seed" if config.protocol.split_seed is None else config.protocol.split_seed,
        "seeds": config.seed_list,
        "corpora": config.data.corpora,
        "label_scheme": config.data.label_scheme,
        "classes": dataset.classes,
        "utterances": len(dataset.corpus),
        "features": {"name": config.features.name, "params": config.features.params},
        "model": {"name": config.model.name, "params": config.model.params},
        "checkpoint_selection": config.training.select,
    }
    atomic_write_text(run.protocol, json.dumps(protocol, indent=2, default=str))
