"""Few-shot adaptation: a model for your own labels from a few clips each, as a bundle.

A folder holds one sub-folder per label with a few clips each (``support/anger/*.wav``,
``support/neutral/*.wav``, ...; the layout :mod:`serkit.corpora.folder` reads, whose label
names are emotions and their common spellings). Each clip becomes its voice-encoder
utterance embedding (256-d, unit length: :func:`serkit.inference.embedding.embed`), and a
small head is fitted on them in closed form:

- ``prototype`` (default): one prototype per label, the mean of its embeddings; a clip
  gets the label of the most cosine-similar prototype, and probabilities
  ``softmax(scale * cosine)``. The scale (an inverse softmax temperature) is fitted on
  the support set by leave-one-out, when every label has at least 2 clips: each clip is
  compared with its own label's prototype made without it, and the scale minimising the
  mean negative log-likelihood of its true label is taken (bounded to
  :data:`SCALE_BOUNDS`). With fewer clips for some label there is nothing to hold out,
  and :data:`DEFAULT_SCALE` is used; :attr:`FittedHead.details` says which. The scale
  never changes which label wins, only how confident the probabilities are.
- ``logistic``: a multinomial logistic regression with an L2 penalty (scikit-learn's,
  ``C`` = :data:`DEFAULT_C`, classes weighted to balance them), on the embeddings
  centred on the support set's mean and divided by their RMS spread (one number for all
  dimensions, which a few clips can estimate); that scaling is folded into the weights.

Both are saved as torch heads (:mod:`serkit.models.heads`, registered as
``prototype_head`` and ``linear_head``) in an ordinary bundle
(:func:`serkit.inference.bundle.save_bundle`) without a standardizer, so
``serkit predict --model BUNDLE`` and ``serkit.load_model(BUNDLE)`` use it like any other.

Example::

    from serkit.training.fewshot import fewshot_bundle

    result = fewshot_bundle("support/", "bundles/mine", method="prototype")
    result.details["scale_source"], result.metrics

Measured (benchmarks/bench_fewshot.py, docs/embeddings.md): leave-one-speaker-out on
EmoDB and RAVDESS, 4 classes, with 1, 3 and 10 clips per class of the new speaker.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from serkit.errors import ConfigError, CorpusError

METHODS = ("prototype", "logistic")
#: The prototype head's scale when the support set has a label with fewer than 2 clips
#: (no leave-one-out possible): the median (51) of the leave-one-out scales fitted on
#: 3-shot support sets of single SAVEE speakers (4 classes; ``python
#: benchmarks/bench_fewshot.py --corpora savee``), a corpus kept out of the benchmark's
#: table. Only the probabilities depend on it, never which label wins.
DEFAULT_SCALE = 50.0
#: The range a leave-one-out scale is searched in: a support set whose held-out clips
#: are all right would otherwise drive it to infinity (probabilities of 0 and 1). At 100
#: a cosine margin of 0.05 (typical between emotions of one voice) is odds of e^5 ≈ 150.
SCALE_BOUNDS = (1.0, 100.0)
#: The logistic regression's inverse L2 penalty (scikit-learn's C) on the scaled
#: embeddings. On SAVEE (outside the benchmark's table) C = 0.1, 1, 10 and 100 gave the
#: same few-shot UA within 1 point.
DEFAULT_C = 1.0
#: Leave-one-out accuracy of the logistic head is reported for up to this many clips
#: (one refit per clip); the prototype head's costs nothing and is always reported.
MAX_LOO_LOGISTIC = 200


@dataclass
class FittedHead:
    """A fitted head: the torch module, its registry name and how it was fitted."""

    model: Any
    model_name: str
    details: dict[str, Any]

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Class indices ``(n,)`` of ``(n, dim)`` embeddings."""
        return np.argmax(head_logits(self.model, embeddings), axis=1)


def head_logits(model, embeddings: np.ndarray) -> np.ndarray:
    """``(n, classes)`` float64 logits of a head for ``(n, dim)`` embeddings."""
    import torch

    with torch.inference_mode():
        return model(torch.as_tensor(np.asarray(embeddings, dtype=np.float32))).double().numpy()


# --- fitting ------------------------------------------------------------------------------

def fit_head(method: str, embeddings: np.ndarray, labels: Sequence[int], n_classes: int,
             **options: Any) -> FittedHead:
    """:func:`fit_prototype_head` or :func:`fit_logistic_head` by ``method`` name.

    Raises:
        ConfigError: an unknown method, or a class without any clip.
    """
    if method == "prototype":
        return fit_prototype_head(embeddings, labels, n_classes, **options)
    if method == "logistic":
        return fit_logistic_head(embeddings, labels, n_classes, **options)
    raise ConfigError(f"few-shot method must be one of {', '.join(METHODS)}, not {method!r}")


def fit_prototype_head(embeddings: np.ndarray, labels: Sequence[int], n_classes: int, *,
                       fixed_scale: float = DEFAULT_SCALE) -> FittedHead:
    """Prototypes (the mean of each class's L2-normalised embeddings) and a scale.

    The scale is fitted by leave-one-out when every class has 2 or more clips, else
    ``fixed_scale`` (module docstring); ``details["scale_source"]`` says which.
    """
    import torch

    from serkit.models import make_model

    x, y = _check_support(embeddings, labels, n_classes)
    unit = _normalise(x)
    sums = np.stack([unit[y == c].sum(axis=0) for c in range(n_classes)])
    counts = np.bincount(y, minlength=n_classes)
    details: dict[str, Any] = {"method": "prototype"}
    if counts.min() >= 2:
        scale = leave_one_out_scale(unit, y, n_classes)
        details.update(scale=scale, scale_source="leave-one-out on the support set")
    else:
        scale = float(fixed_scale)
        few = [c for c in range(n_classes) if counts[c] < 2]
        details.update(scale=scale, scale_source="fixed (fewer than 2 clips for class "
                       + ", ".join(map(str, few)) + ": nothing to hold out)", few_classes=few)
    model = make_model("prototype_head", x.shape[1], n_classes)
    model.set_prototypes(torch.from_numpy(sums / counts[:, None]).float(), scale=scale)
    return FittedHead(model.eval().requires_grad_(False), "prototype_head", details)


def leave_one_out_cosines(unit: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n, classes)`` cosine of each unit-length embedding to every class prototype, its
    own class's prototype made without it (every class needs 2 or more clips)."""
    sums = np.stack([unit[labels == c].sum(axis=0) for c in range(n_classes)])
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    protos = sums / counts[:, None]
    cos = unit @ _normalise(protos).T
    rows = np.arange(len(labels))
    own = (sums[labels] - unit) / (counts[labels] - 1)[:, None]
    cos[rows, labels] = np.einsum("ij,ij->i", unit, _normalise(own))
    return cos


def leave_one_out_scale(unit: np.ndarray, labels: np.ndarray, n_classes: int, *,
                        bounds: tuple[float, float] = SCALE_BOUNDS) -> float:
    """The scale minimising the leave-one-out negative log-likelihood (module docstring)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import logsumexp

    cos = leave_one_out_cosines(unit, labels, n_classes)
    true = cos[np.arange(len(labels)), labels]

    def nll(log_scale: float) -> float:
        s = math.exp(log_scale)
        return float(np.mean(logsumexp(s * cos, axis=1) - s * true))

    low, high = math.log(bounds[0]), math.log(bounds[1])
    # The NLL is convex in the scale, so unimodal in its log too: a bounded search finds it.
    found = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    best = min((found.x, low, high), key=nll)
    return float(round(math.exp(best), 4))


def fit_logistic_head(embeddings: np.ndarray, labels: Sequence[int], n_classes: int, *,
                      C: float = DEFAULT_C) -> FittedHead:
    """An L2-regularised multinomial logistic regression as a ``linear_head`` (module docstring)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from serkit.models import make_model

    x, y = _check_support(embeddings, labels, n_classes)
    if not (isinstance(C, (int, float)) and math.isfinite(C) and C > 0):
        raise ConfigError(f"the logistic head's C must be a positive number, not {C!r}")
    mean = x.mean(axis=0)
    spread = float(np.sqrt(np.mean((x - mean) ** 2)))
    spread = spread if spread > 1e-12 else 1.0
    fitted = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit((x - mean) / spread, y)
    coef, intercept = fitted.coef_, fitted.intercept_
    if n_classes == 2:  # scikit-learn gives one row for two classes: logits (0, w.x + b)
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    weight = coef / spread
    bias = intercept - weight @ mean
    model = make_model("linear_head", x.shape[1], n_classes)
    with torch.no_grad():
        model.linear.weight.copy_(torch.from_numpy(weight).float())
        model.linear.bias.copy_(torch.from_numpy(bias).float())
    return FittedHead(model.eval().requires_grad_(False), "linear_head", {"method": "logistic", "C": float(C),
                                                    "class_weight": "balanced"})


def leave_one_out_accuracy(method: str, embeddings: np.ndarray, labels: Sequence[int],
                           n_classes: int, **options: Any) -> float | None:
    """Accuracy on the support set, each clip predicted by a head fitted without it; None
    when some class has fewer than 2 clips (or the logistic head over
    :data:`MAX_LOO_LOGISTIC` clips)."""
    x, y = _check_support(embeddings, labels, n_classes)
    if np.bincount(y, minlength=n_classes).min() < 2:
        return None
    if method == "prototype":
        predicted = np.argmax(leave_one_out_cosines(_normalise(x), y, n_classes), axis=1)
        return float(np.mean(predicted == y))
    if len(y) > MAX_LOO_LOGISTIC:
        return None
    keep = np.ones(len(y), dtype=bool)
    right = 0
    for i in range(len(y)):
        keep[i] = False
        head = fit_head(method, x[keep], y[keep], n_classes, **options)
        right += int(head.predict(x[i:i + 1])[0] == y[i])
        keep[i] = True
    return right / len(y)


def _check_support(embeddings: np.ndarray, labels: Sequence[int], n_classes: int):
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ConfigError(f"few-shot fitting needs (n, dim) embeddings and n labels, not shapes "
                          f"{x.shape} and {y.shape}")
    if not np.isfinite(x).all():
        raise ConfigError("few-shot fitting got embeddings with NaN or infinite values")
    if n_classes < 2 or y.min(initial=0) < 0 or y.max(initial=0) >= n_classes:
        raise ConfigError(f"few-shot fitting needs labels in 0..{n_classes - 1} of 2 or more classes")
    missing = [c for c in range(n_classes) if not np.any(y == c)]
    if missing:
        raise ConfigError(f"few-shot fitting got no clip of class {', '.join(map(str, missing))}")
    return x, y


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


# --- from a folder to a bundle -----------------------------------------------------------

@dataclass
class FewShotResult:
    """What :func:`fewshot_bundle` made: the bundle, the clips per label it used, the head's
    ``details`` and ``metrics``, and the clips left out as ``(file, message)``."""

    path: Path
    labels: list[str]
    counts: dict[str, int]
    details: dict[str, Any]
    metrics: dict[str, Any]
    failed: list[tuple[Path, str]] = field(default_factory=list)


def support_files(folder: str | Path, *, shots: int | None = None,
                  seed: int = 0) -> dict[str, list[Path]]:
    """The clips of a folder-per-label tree by label (sorted), at most ``shots`` each
    (drawn at random with ``seed`` where a label has more).

    Raises:
        CorpusError: not a folder-per-label tree of emotion names (see
            :mod:`serkit.corpora.folder`), or a single label.
        ConfigError: ``shots`` not a positive integer.
    """
    from serkit.corpora import load_corpus

    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 1):
        raise ConfigError(f"shots must be a positive number of clips per label, not {shots!r}")
    corpus = load_corpus("folder", folder)
    by_label: dict[str, list[Path]] = {}
    for utterance in corpus:
        by_label.setdefault(utterance.emotion, []).append(Path(utterance.path))
    if len(by_label) < 2:
        raise CorpusError(f"{folder} has clips of one label only ({', '.join(by_label)}); few-shot "
                          "adaptation needs two or more label folders")
    rng = np.random.default_rng(seed)
    chosen = {}
    for label in sorted(by_label):
        files = sorted(by_label[label])
        if shots is not None and len(files) > shots:
            files = [files[i] for i in sorted(rng.choice(len(files), shots, replace=False))]
        chosen[label] = files
    return chosen


def fewshot_bundle(
    folder: str | Path,
    out: str | Path,
    *,
    method: str = "prototype",
    shots: int | None = None,
    seed: int = 0,
    name: str | None = None,
    progress: bool = False,
    on_error: Callable[[Path, str], None] | None = None,
) -> FewShotResult:
    """Embed the clips of ``folder``, fit a ``method`` head on them and save a bundle at ``out``.

    Args:
        folder: one sub-folder of clips per label (:func:`support_files`).
        out: the bundle folder (an existing bundle there is replaced, anything else is not).
        method: ``"prototype"`` or ``"logistic"`` (module docstring).
        shots: use at most this many clips per label (default all).
        seed: which clips ``shots`` draws.
        name: the bundle's name (default the folder name of ``out``).
        progress: a progress bar on stderr while embedding.
        on_error: called with ``(file, message)`` for each clip that cannot be used; it is
            left out.

    Raises:
        CorpusError: ``folder`` is not a folder-per-label tree of two or more labels.
        ConfigError: an unknown method, a label left without any usable clip, or ``out``
            an existing folder that is not a bundle.
    """
    from serkit.inference.bundle import save_bundle
    from serkit.inference.embedding import embed_files, embedding_extractor

    if method not in METHODS:
        raise ConfigError(f"few-shot method must be one of {', '.join(METHODS)}, not {method!r}")
    out = Path(out)
    files = support_files(folder, shots=shots, seed=seed)
    labels = list(files)
    extractor = embedding_extractor()
    paths = [p for label in labels for p in files[label]]
    label_of = {p: i for i, label in enumerate(labels) for p in files[label]}
    embedded = embed_files(paths, extractor, progress=progress, on_error=on_error)
    y = np.array([label_of[p] for p in embedded.paths], dtype=np.int64)
    counts = {label: int(np.sum(y == i)) for i, label in enumerate(labels)}
    empty = [label for label, n in counts.items() if n == 0]
    if empty:
        raise ConfigError(f"no usable clip for label(s) {', '.join(empty)} in {folder}; every label "
                          "needs at least one clip of 0.25 s or more of audio")
    head = fit_head(method, embedded.embeddings, y, len(labels))
    details = {**head.details}
    if "few_classes" in details:  # indices → label names for people
        few = [labels[c] for c in details.pop("few_classes")]
        details["scale_source"] = (f"fixed (fewer than 2 clips for {', '.join(few)}: nothing to "
                                   "hold out)")
    support_accuracy = float(np.mean(head.predict(embedded.embeddings) == y))
    loo = leave_one_out_accuracy(method, embedded.embeddings, y, len(labels))
    metrics: dict[str, Any] = {"support": {"n": len(y), "accuracy": support_accuracy,
                                           "scope": "the support clips themselves (fitted on them)"}}
    if loo is not None:
        metrics["leave_one_out"] = {"n": len(y), "accuracy": loo,
                                    "scope": "each support clip predicted by a head fitted without it"}
    name = name or out.name or "fewshot"
    shown = ", ".join(f"{label} {n}" for label, n in counts.items())
    description = (f"few-shot {method} head on voice_encoder embeddings of {len(y)} clips "
                   f"({shown}) from {folder}")
    training = {"fewshot": {"folder": str(folder), "method": method, "shots": shots,
                            "seed": seed, "clips": counts, **details},
                "features": {"name": extractor.name, "params": extractor.params}}
    path = save_bundle(out, name=name, model=head.model, extractor=extractor, standardizer=None,
                       labels=labels, training=training, metrics=metrics,
                       description=description, card=_card(name, description, labels, training,
                                                           metrics),
                       model_name=head.model_name, model_params={})
    return FewShotResult(path, labels, counts, details, metrics, embedded.failed)


def _card(name: str, description: str, labels: list[str], training: dict, metrics: dict) -> str:
    fit = training["fewshot"]
    how = (f"scale {fit['scale']:g}, {fit['scale_source']}" if fit["method"] == "prototype"
           else f"L2 penalty C = {fit['C']:g}, classes balanced")
    lines = [f"# {name}", "", description, "", "## What it predicts", "",
             f"One of: {', '.join(labels)}, from speech audio (any rate; resampled to 16 kHz).",
             "", "## How it was made", "",
             f"- features: `voice_encoder` {json.dumps(training['features']['params'])}",
             f"- head: {fit['method']} ({how})",
             f"- clips per label: {json.dumps(fit['clips'])}",
             "", "## How well it does", ""]
    loo = metrics.get("leave_one_out")
    if loo:
        lines.append(f"Leave-one-out on the support set: accuracy {100 * loo['accuracy']:.1f} % "
                     f"({loo['n']} clips). Clips of the same speakers and recording set-up as the "
                     "support set; expect less elsewhere.")
    else:
        lines.append("Not measured: too few clips per label to hold any out.")
    lines += ["", "## Limits", "",
              ("A few clips say little about other speakers, microphones or rooms; add clips "
               "of the situations it will meet. Not for decisions about people."), ""]
    return "\n".join(lines)
