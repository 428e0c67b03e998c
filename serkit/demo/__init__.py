"""The web demo's settings and sample clips; the page itself is ``serkit/demo/app.py``.

``serkit demo`` runs the page with Streamlit and hands it its settings through environment
variables (:data:`SAMPLES_ENV`, :data:`MODEL_ENV`), which also work for
``streamlit run serkit/demo/app.py`` and for Streamlit's in-process ``AppTest``, where
command-line arguments would collide with the test runner's own.

This module imports neither Streamlit nor torch, so the command stays fast to start.

Example:
    >>> settings = DemoSettings.from_environ({"SERKIT_DEMO_MODEL": "my_bundle/"})
    >>> settings.model, settings.samples == DEFAULT_SAMPLES
    ('my_bundle/', True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from serkit.audio import AUDIO_EXTENSIONS, find_audio
from serkit.errors import ConfigError

APP_PATH = Path(__file__).with_name("app.py")
WORKFLOW_IMAGE = Path(__file__).with_name("workflow.png")
#: The synthetic example clips shipped with serkit.
DEFAULT_SAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEFAULT_MODEL = "default"
SAMPLES_ENV = "SERKIT_DEMO_SAMPLES"
MODEL_ENV = "SERKIT_DEMO_MODEL"
#: Clips longer than this also get a timeline: one label for a long recording hides its changes.
TIMELINE_MIN_S = 6.0


@dataclass(frozen=True)
class DemoSettings:
    """Where the sample clips are and which model the page runs."""

    samples: Path = DEFAULT_SAMPLES
    model: str = DEFAULT_MODEL

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> DemoSettings:
        samples = environ.get(SAMPLES_ENV) or DEFAULT_SAMPLES
        return cls(samples=Path(samples).expanduser(), model=environ.get(MODEL_ENV) or DEFAULT_MODEL)

    def to_environ(self) -> dict[str, str]:
        """The variables that make :meth:`from_environ` return these settings."""
        return {SAMPLES_ENV: str(self.samples), MODEL_ENV: self.model}


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
