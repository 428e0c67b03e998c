"""serkit: speech emotion recognition toolkit.

The public API, imported lazily so that ``import serkit`` (and serkit.evaluation) stays
light and never pulls in torch:

    load_audio, load_corpus, check_corpus, make_split, SplitPlan,
    load_config, run_experiment, run_variants, run_release, build_report, load_model,
    list_models, embed
"""

from importlib import import_module

__version__ = "0.1.0"

_API = {
    "load_audio": "serkit.audio",
    "load_corpus": "serkit.corpora",
    "check_corpus": "serkit.corpora",
    "make_split": "serkit.splits",
    "SplitPlan": "serkit.splits",
    "load_config": "serkit.training.config",
    "run_experiment": "serkit.training.runner",
    "run_variants": "serkit.training.runner",
    "run_release": "serkit.training.release",
    "build_report": "serkit.evaluation",
    "load_model": "serkit.inference",
    "list_models": "serkit.inference",
    "embed": "serkit.inference",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'serkit' has no attribute {name!r}")
