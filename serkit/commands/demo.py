"""`serkit demo`: run the Streamlit web demo (serkit/demo/app.py) and wait until it stops.

Streamlit runs as a child process (``python -m streamlit run``) because it owns its event
loop and signal handling. The page's settings travel in environment variables
(:class:`serkit.demo.DemoSettings`); the samples folder, the models folder and the first
model are checked here first, so a typo is one line in the terminal rather than an error
page in the browser.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

#: Seconds Streamlit gets to shut down after Ctrl+C before it is terminated.
SHUTDOWN_GRACE_S = 10


def add_parser(commands) -> None:
    """Register the command on the `serkit` sub-command parser."""
    demo = commands.add_parser(
        "demo",
        help="run the web demo: pick or upload a clip and see its emotion probabilities",
        description="Start the Streamlit web demo and print its address; Ctrl+C stops it.",
    )
    demo.add_argument("--samples", type=Path, default=None, metavar="FOLDER",
                      help="folder of sample clips, searched recursively for audio files (wav, flac, ogg, ...), "
                           "e.g. a corpus folder (default: serkit's example clips)")
    demo.add_argument("--models", type=Path, default=None, metavar="DIR",
                      help="a folder of bundle folders (as `serkit bundle` writes them): the page offers each "
                           "beside the bundled models (default: $SERKIT_DEMO_MODELS, else the bundled ones only)")
    demo.add_argument("--model", default="default", metavar="NAME|PATH",
                      help="the model shown first: a bundled model's name, the name of a bundle folder in "
                           "--models, or a bundle folder (default: %(default)s)")
    demo.add_argument("--port", type=int, default=8501, help="port to listen on (default: %(default)s)")
    demo.add_argument("--host", default="localhost",
                      help="address to listen on; 0.0.0.0 serves every interface (default: %(default)s)")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from serkit.demo import (
        DEFAULT_SAMPLES,
        MODELS_ENV,
        DemoSettings,
        check_models_folder,
        find_samples,
        model_catalogue,
    )

    _require_streamlit()
    models = args.models or (Path(os.environ[MODELS_ENV]) if os.environ.get(MODELS_ENV) else None)
    settings = DemoSettings(samples=(args.samples or DEFAULT_SAMPLES).expanduser().resolve(),
                            model=_model_argument(args.model),
                            models=None if models is None else check_models_folder(models).resolve())
    find_samples(settings.samples)  # raises ConfigError for a missing folder
    catalogue = model_catalogue(settings.models, settings.model)  # raises ConfigError for an unknown --model
    for line in catalogue.skipped:
        print(f"serkit demo: {line}", file=sys.stderr)
    _check_model(catalogue.choices[catalogue.initial].key)
    count = len(catalogue.choices)
    print(f"serkit demo: serving http://{args.host}:{args.port} (model {settings.model} of {count} to choose "
          f"from, samples {settings.samples}); press Ctrl+C to stop", flush=True)
    return _run_until_stopped(streamlit_command(args.host, args.port), {**os.environ, **settings.to_environ()})


def streamlit_command(host: str, port: int) -> list[str]:
    """The command line that serves the demo page."""
    from serkit.demo import APP_PATH

    return [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        # The page's code is installed, not edited: watching it only costs inotify handles.
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        # Visitors need no developer menu (Deploy, rerun, settings).
        "--client.toolbarMode", "minimal",
    ]


def _require_streamlit() -> None:
    from serkit.errors import MissingDependencyError

    if importlib.util.find_spec("streamlit") is None:
        raise MissingDependencyError('the web demo needs Streamlit; install it with pip install "serkit[demo]"')


def _model_argument(model: str) -> str:
    """An existing folder becomes an absolute path, so the child finds it whatever its cwd."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def _check_model(model: str) -> None:
    # Loading is the only complete check of a bundle; it takes a second or two.
    from serkit.inference import load_model

    load_model(model)


def _run_until_stopped(command: list[str], env: dict[str, str]) -> int:
    process = subprocess.Popen(command, env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # Ctrl+C reached Streamlit too (same process group); let it finish shutting down.
        try:
            process.wait(timeout=SHUTDOWN_GRACE_S)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait()
        return 0
