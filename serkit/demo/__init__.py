"""The web demo's settings, sample clips and model choices; the page itself is
``serkit/demo/app.py``.

``serkit demo`` runs the page with Streamlit and hands it its settings through environment
variables (:data:`SAMPLES_ENV`, :data:`MODEL_ENV`, :data:`MODELS_ENV`), which also work
for ``streamlit run serkit/demo/app.py`` and for Streamlit's in-process ``AppTest``, where
command-line arguments would collide with the test runner's own.

The page offers every installed bundle (:func:`model_catalogue`): the models bundled
with serkit (``default`` first) and each bundle folder directly inside the models folder
(``--models DIR``); ``--model`` picks the one shown first.

This module imports neither Streamlit nor torch, so the command stays fast to start.

Example:
    >>> settings = DemoSettings.from_environ({"SERKIT_DEMO_MODEL": "my_bundle/"})
    >>> settings.model, settings.samples == DEFAULT_SAMPLES, settings.models
    ('my_bundle/', True, None)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serkit.audio import AUDIO_EXTENSIONS, find_audio
from serkit.errors import ConfigError, first_line
from serkit.inference.bundle import BUNDLE_FILE, read_bundle
from serkit.inference.recognizer import resolve_model

APP_PATH = Path(__file__).with_name("app.py")
WORKFLOW_IMAGE = Path(__file__).with_name("workflow.png")
#: The synthetic example clips shipped with serkit.
DEFAULT_SAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEFAULT_MODEL = "default"
SAMPLES_ENV = "SERKIT_DEMO_SAMPLES"
MODEL_ENV = "SERKIT_DEMO_MODEL"
MODELS_ENV = "SERKIT_DEMO_MODELS"
#: Clips longer than this also get a timeline: one label for a long recording hides its changes.
TIMELINE_MIN_S = 6.0


@dataclass(frozen=True)
class DemoSettings:
    """Where the sample clips are, which model the page shows first, and the folder of
    bundles it offers beside the bundled ones (None: the bundled ones only)."""

    samples: Path = DEFAULT_SAMPLES
    model: str = DEFAULT_MODEL
    models: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> DemoSettings:
        samples = environ.get(SAMPLES_ENV) or DEFAULT_SAMPLES
        models = environ.get(MODELS_ENV)
        return cls(samples=Path(samples).expanduser(), model=environ.get(MODEL_ENV) or DEFAULT_MODEL,
                   models=Path(models).expanduser() if models else None)

    def to_environ(self) -> dict[str, str]:
        """The variables that make :meth:`from_environ` return these settings."""
        return {SAMPLES_ENV: str(self.samples), MODEL_ENV: self.model,
                MODELS_ENV: "" if self.models is None else str(self.models)}


def find_samples(folder: str | Path) -> list[Path]:
    """The audio files under ``folder`` (see :func:`serkit.audio.find_audio`: recursive,
    sorted by path, hidden files and folders skipped).

    A symbolic link (to a file, or to a folder of files) that leads outside ``folder`` is
    skipped: the page offers, plays and reads only what lies in the samples folder.

    Raises:
        ConfigError: ``folder`` does not exist or is not a folder.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"samples folder {str(folder)!r} not found; pass an existing folder of "
            f"{'/'.join(s.lstrip('.') for s in AUDIO_EXTENSIONS)} files with --samples"
        )
    root = folder.resolve()
    return [path for path in find_audio(folder) if _inside(path, root)]


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):  # vanished, or a link loop
        return False


# --- the models to choose from ----------------------------------------------------------

@dataclass(frozen=True)
class ModelChoice:
    """One bundle the page offers, described from its bundle.json (nothing loaded)."""

    key: str  # the bundle folder's absolute path: what the page loads, and its cache key
    title: str  # how the model list shows it: "name (model)", unique in the list
    name: str  # the bundle's name
    model: str  # its model's registry name, e.g. "serct"
    features: str  # its feature extractor's registry name, e.g. "waveform"
    labels: tuple[str, ...]
    corpora: tuple[str, ...]  # what it was trained on, where the bundle says
    description: str
    sample_rate: int
    bundled: bool  # shipped with serkit (rather than found in the models folder)

    @property
    def path(self) -> Path:
        return Path(self.key)


@dataclass(frozen=True)
class ModelCatalogue:
    """The page's model list, which of them it shows first, and what it left out."""

    choices: tuple[ModelChoice, ...]
    initial: int  # index into choices of the ``--model`` one
    skipped: tuple[str, ...]  # one line per folder that is not a valid bundle


def check_models_folder(folder: str | Path) -> Path:
    """``folder`` as a Path, if it is an existing folder.

    Raises:
        ConfigError: it does not exist or is not a folder.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"models folder {str(folder)!r} not found; pass a folder of bundle folders "
                          "(each with bundle.json, as `serkit bundle` writes them) with --models")
    return folder


def model_catalogue(models: str | Path | None = None, initial: str = DEFAULT_MODEL) -> ModelCatalogue:
    """The bundles the page offers: the bundled models, ``default`` first, then each bundle
    folder directly inside ``models`` by folder name (a ``models`` folder that is itself a
    bundle is that one bundle).

    Hidden folders (a bundle being written) and files are passed over; a folder that is not
    a valid bundle is skipped with one line saying why, as is a missing ``models`` folder.

    ``initial`` chooses the one shown first, as ``serkit demo --model`` takes it: a bundled
    model's name, the name of a folder in ``models``, or the path of a bundle folder (added
    first to the list when it is in neither place).

    Raises:
        ConfigError: ``initial`` is not a model (unknown name, or not a valid bundle).
    """
    from serkit.inference.recognizer import PRETRAINED_DIR  # read now: tests point it elsewhere

    found: list[tuple[Path, bool]] = []
    skipped: list[str] = []
    bundled = _subfolders(PRETRAINED_DIR, only_bundles=True)
    bundled.sort(key=lambda folder: (folder.name != DEFAULT_MODEL, folder.name))
    found += [(folder, True) for folder in bundled]
    if models is not None:
        try:
            folder = check_models_folder(models)
        except ConfigError as exc:
            skipped.append(str(exc))
        else:
            inside = [folder] if _is_bundle(folder) else _subfolders(folder, only_bundles=False)
            found += [(sub, False) for sub in inside]
    choices: list[ModelChoice] = []
    for folder, is_bundled in found:
        if not _is_bundle(folder):
            skipped.append(f"skipped {folder}: not a model bundle (no bundle.json)")
            continue
        try:
            choices.append(describe_bundle(folder, bundled=is_bundled))
        except ConfigError as exc:
            skipped.append(f"skipped {folder}: {_without_folder(first_line(exc), folder)}")
    choices, initial = _with_initial(choices, initial, models)
    return ModelCatalogue(tuple(_unique_titles(choices)), initial, tuple(skipped))


def describe_bundle(folder: str | Path, *, bundled: bool = False) -> ModelChoice:
    """What the page shows of the bundle in ``folder``, from its bundle.json.

    Raises:
        ConfigError: not a valid bundle (see :func:`serkit.inference.read_bundle`), or its
            weights file is missing.
    """
    folder = Path(folder).expanduser()
    info = read_bundle(folder)
    if not (folder / info["weights"]).is_file():
        raise ConfigError(f"{folder}: the bundle has no weights file {info['weights']!r}")
    model, features = info["model"]["name"], info["features"]["name"]
    return ModelChoice(
        key=str(folder.resolve()), title=f"{info['name']} ({model})", name=info["name"], model=model,
        features=features, labels=tuple(info["labels"]), corpora=training_corpora(info["training"]),
        description=info["description"], sample_rate=info["sample_rate"], bundled=bundled,
    )


def training_corpora(training: Mapping[str, Any]) -> tuple[str, ...]:
    """The corpora a bundle was trained on, as its bundle.json ``training`` records them.

    ``corpora`` is a list of names (``serkit bundle``) or a table of counts by corpus
    (``serkit release``); a few-shot head names the folder of its clips. Empty where the
    bundle does not say.

    Example:
        >>> training_corpora({"corpora": {"emodb": {"anger": 127}, "tess": {"anger": 399}}})
        ('emodb', 'tess')
        >>> training_corpora({"fewshot": {"folder": "my_clips"}})
        ('few-shot clips in my_clips',)
    """
    corpora = training.get("corpora")
    if isinstance(corpora, str):
        corpora = [corpora]
    if isinstance(corpora, (Mapping, list, tuple)):
        return tuple(str(name) for name in corpora)
    fewshot = training.get("fewshot")
    if isinstance(fewshot, Mapping) and fewshot.get("folder"):
        return (f"few-shot clips in {fewshot['folder']}",)
    return ()


def describe_choice(choice: ModelChoice) -> list[str]:
    """The Markdown lines the page shows under the model list for ``choice``."""
    trained_on = ", ".join(choice.corpora) or "not recorded in the bundle"
    lines = [f"**{_markdown_text(choice.name)}**: model {_code(choice.model)} on {_code(choice.features)} features"]
    if choice.description:
        lines.append(_markdown_text(choice.description))
    lines += [f"**Emotions:** {_markdown_text(', '.join(choice.labels))}",
              f"**Trained on:** {_markdown_text(trained_on)}"]
    return lines


#: What could turn a bundle's text into emphasis, code, a link or image, HTML, a table or
#: LaTeX on the page; escaped, it shows as written.
_MARKDOWN_SPECIAL = "\\`*_[]<>|~$#"


def _markdown_text(text: str) -> str:
    """``text`` (a bundle's name, description, labels: data) for Markdown, shown as written.

    Example:
        >>> _markdown_text("serct_small [test] $5")
        'serct\\\\_small \\\\[test\\\\] \\\\$5'
    """
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in text)


def _code(name: str) -> str:
    """A registry name as inline code (a backtick in it would end the code early)."""
    return f"`{name.replace('`', '')}`"


def _subfolders(parent: Path, *, only_bundles: bool) -> list[Path]:
    """Folders directly in ``parent`` by name, hidden ones left out."""
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return []
    return [entry for entry in entries
            if not entry.name.startswith(".") and entry.is_dir() and (not only_bundles or _is_bundle(entry))]


def _is_bundle(folder: Path) -> bool:
    return os.path.lexists(folder / BUNDLE_FILE)


def _without_folder(message: str, folder: Path) -> str:
    """A bundle error without its leading path (the warning names the folder once)."""
    for prefix in (str(folder / BUNDLE_FILE), str(folder)):
        if message.startswith(prefix + ": "):
            return message[len(prefix) + 2:]
    return message


def _with_initial(choices: list[ModelChoice], initial: str,
                  models: str | Path | None) -> tuple[list[ModelChoice], int]:
    """``choices`` with the ``initial`` model in them, and its index."""
    by_name = {}
    for choice in reversed(choices):  # the first of a name wins: bundled, then models folder
        by_name[choice.path.name] = choice
    path_like = os.sep in initial or "/" in initial or initial.startswith((".", "~"))
    chosen = None if path_like else by_name.get(initial)
    if chosen is None:
        try:
            folder = resolve_model(initial)
        except ConfigError as exc:
            also = f"; or the name of a bundle folder in {models}" if models is not None else ""
            raise ConfigError(f"{exc}{also}") from None
        key = str(folder.expanduser().resolve())
        chosen = next((c for c in choices if c.key == key), None)
        if chosen is None:
            chosen = describe_bundle(folder)
            choices = [chosen, *choices]
    return choices, choices.index(chosen)


def _unique_titles(choices: list[ModelChoice]) -> list[ModelChoice]:
    """Titles that tell bundles of one name apart by their folder (then by its path)."""
    from dataclasses import replace

    def repeated(items: list[ModelChoice]) -> set[str]:
        titles = [c.title for c in items]
        return {t for t in titles if titles.count(t) > 1}

    twice = repeated(choices)
    choices = [replace(c, title=f"{c.title} in {c.path.name}/") if c.title in twice else c for c in choices]
    twice = repeated(choices)
    return [replace(c, title=f"{c.title.rpartition(' in ')[0]} in {c.path}") if c.title in twice else c
            for c in choices]
