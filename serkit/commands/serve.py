"""`serkit serve`: serve emotion recognition over HTTP (FastAPI on uvicorn).

With one worker the models are loaded in this process, so a bad ``--model`` is a one-line
error before the port opens. With several, uvicorn starts worker processes that each build
the app from environment variables (:mod:`serkit.server.settings`); this process only
checks the bundles (without torch) and supervises, so it stays small.
"""

from __future__ import annotations

import os
import socket
import sys

from serkit.errors import ConfigError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def add_parser(commands) -> None:
    """Register the command on the `serkit` sub-command parser."""
    serve = commands.add_parser(
        "serve", help="serve a model over HTTP (POST /v1/predict, /v1/predict/batch, "
        "/v1/timeline; docs at /docs)",
        description="Serve speech emotion recognition over HTTP. Send audio to POST /v1/predict "
        "or /v1/timeline as a multipart upload (curl -F file=@clip.wav) or as the raw body "
        "(-H 'Content-Type: audio/wav' --data-binary @clip.wav), and several clips to POST "
        "/v1/predict/batch (curl -F files=@a.wav -F files=@b.wav; ?adapt=true standardises on "
        "their statistics); the API docs are at /docs.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--model", action="append", metavar="NAME|PATH", default=None,
                       help="a bundled model's name or a bundle folder (default: the bundled "
                       "default model); repeat to serve several, the first is the default")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes, each with its own copy of the models (default 1)")
    serve.add_argument("--max-upload-mb", type=float, default=20.0,
                       help="largest request body in MiB, larger ones get 413; also the "
                       "largest clip of a batch (default 20)")
    serve.add_argument("--max-duration-s", type=float, default=600.0,
                       help="longest audio in seconds; longer gets 400 (default 600)")
    serve.add_argument("--max-batch-files", type=int, default=256, metavar="N",
                       help="most clips in one POST /v1/predict/batch; more get 413 (default 256)")
    serve.add_argument("--max-batch-mb", type=float, default=100.0,
                       help="largest request body of a batch in MiB; larger ones get 413 "
                       "(default 100). Each running or waiting batch may hold this much memory")
    serve.add_argument("--max-concurrency", type=int, default=None, metavar="N",
                       help="predictions run at once per worker process (default: the cores "
                       "available to it)")
    serve.add_argument("--max-queue", type=int, default=None, metavar="N",
                       help="requests that may wait for a free slot per worker process; more get "
                       "503 with a Retry-After header at once (default 4 per --max-concurrency)")
    serve.add_argument("--request-timeout", type=float, default=60.0, metavar="SECONDS",
                       help="time limit of a request (upload, wait and prediction): 408, 503 or "
                       "504 past it (default 60)")
    serve.add_argument("--log-level", choices=LOG_LEVELS, default="info",
                       help="uvicorn's log level (default info)")
    serve.add_argument("--no-access-log", action="store_true", help="do not log every request")
    serve.set_defaults(handler=_serve)


def _serve(args) -> int:
    from serkit.server.requirements import check_serve_extra

    check_serve_extra()
    settings = _settings(args)
    _check_listen(args.host, args.port, args.workers)
    import uvicorn

    options = {"host": args.host, "port": args.port, "log_level": args.log_level,
               "access_log": not args.no_access_log}
    if args.log_level in ("info", "debug"):  # loading and warming up take seconds: say why
        print(f"serkit: loading {', '.join(settings.models)}; then serving at "
              f"http://{args.host}:{args.port} (API docs at /docs)", file=sys.stderr)
    if args.workers == 1:
        from serkit.server.app import app_from_settings

        app = app_from_settings(settings)
    else:
        from serkit.server.settings import check_models

        check_models(settings.models)
        os.environ.update(settings.to_env())  # what each worker process reads
        app = "serkit.server:app_from_env"
        options.update(factory=True, workers=args.workers)
    try:
        uvicorn.run(app, **options)
    except KeyboardInterrupt:
        # uvicorn has shut down gracefully and re-raises Ctrl+C: stopping is how a server ends.
        pass
    return 0


def _settings(args):
    from serkit.server.settings import DEFAULT_MODEL, ServerSettings

    if not args.max_upload_mb > 0:
        raise ConfigError(f"--max-upload-mb must be positive, not {args.max_upload_mb:g}")
    if not args.max_duration_s > 0:
        raise ConfigError(f"--max-duration-s must be positive, not {args.max_duration_s:g}")
    if args.max_batch_files < 1:
        raise ConfigError(f"--max-batch-files must be at least 1, not {args.max_batch_files}")
    if not args.max_batch_mb > 0:
        raise ConfigError(f"--max-batch-mb must be positive, not {args.max_batch_mb:g}")
    if args.max_concurrency is not None and args.max_concurrency < 1:
        raise ConfigError(f"--max-concurrency must be at least 1, not {args.max_concurrency}")
    if args.max_queue is not None and args.max_queue < 0:
        raise ConfigError(f"--max-queue must be 0 or more, not {args.max_queue}")
    if not 0 < args.request_timeout < float("inf"):
        raise ConfigError(f"--request-timeout must be a positive number of seconds, "
                          f"not {args.request_timeout:g}")
    return ServerSettings(models=tuple(args.model or [DEFAULT_MODEL]),
                          max_upload_bytes=max(1, round(args.max_upload_mb * 2**20)),
                          max_duration_s=args.max_duration_s,
                          max_concurrency=args.max_concurrency, max_queue=args.max_queue,
                          request_timeout_s=args.request_timeout,
                          max_batch_files=args.max_batch_files,
                          max_batch_bytes=max(1, round(args.max_batch_mb * 2**20)))


def _check_listen(host: str, port: int, workers: int) -> None:
    """Fail with one line now, rather than in uvicorn after the models are loaded."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, not {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            # As uvicorn binds: SO_REUSEADDR, so a port in TIME_WAIT is not refused here.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                          "choose another --port or --host") from None
