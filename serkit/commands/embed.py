"""`serkit embed`: one embedding per audio file, written to an .npz (or .parquet) file.

The work is :func:`serkit.inference.embedding.embed_files`; this module parses the command
line and writes the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from serkit.errors import ConfigError

DESCRIPTION = """\
Compute one embedding per audio file. PATHs are files or folders (searched recursively for
audio files, as `serkit predict` does). The default is the voice encoder's 256-d utterance
embedding (unit length: cosine similarity is a dot product).

--output FILE.npz holds the arrays `embeddings` (n, dim) float32, `paths` (n,) str, in the
order of the files, `feature_names` (dim,) str and `features` (the feature set and its
parameters as JSON); FILE.parquet (needs pyarrow) holds a `path` column and one float32
column per feature name. The file is written whole or not at all.

A file that cannot be used (missing, empty, corrupt, not audio, silent, too short) gets an
error line on stderr and is left out; the others are written.

exit status: 0 when every file was embedded, 1 when some failed (nothing is written when
all did), 2 for a usage error (bad option, an --output of another type, no audio files)."""

EPILOG = """\
examples:
  serkit embed clips/ --output emb.npz
  serkit embed a.wav b.flac --output emb.npz --pooling both
  serkit embed corpus/ --output emb.parquet --features fusion107

  python -c "import numpy as np; d = np.load('emb.npz'); print(d['embeddings'].shape)\""""

#: Output types by suffix.
SUFFIXES = (".npz", ".parquet")


def add_parser(commands) -> None:
    """Register `serkit embed` on the `serkit` sub-command parser."""
    parser = commands.add_parser(
        "embed", help="write one embedding per audio file (voice encoder by default)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", metavar="PATH", nargs="+", type=Path, help="audio files or folders")
    parser.add_argument("--output", type=Path, required=True, metavar="FILE",
                        help="FILE.npz, or FILE.parquet (needs pyarrow)")
    parser.add_argument("--features", default="voice_encoder", metavar="NAME",
                        help="a feature set giving one vector per clip (default: voice_encoder)")
    parser.add_argument("--pooling", choices=("embedding", "states", "both"), default=None,
                        help="voice_encoder only: the 256-d utterance embedding (default), the "
                        "mean and std of its LSTM states (512), or both (768)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from serkit.inference.batch import find_audio_files
    from serkit.inference.embedding import embed_files, embedding_extractor

    output = check_output(args.output)
    if args.pooling is not None and args.features != "voice_encoder":
        raise ConfigError(f"--pooling is an option of the voice_encoder features, not of "
                          f"{args.features!r}; leave it out")
    extractor = embedding_extractor(args.features,
                                    None if args.pooling is None else {"pooling": args.pooling})
    writer = _writer(output)  # before any work: a missing pyarrow is a usage error
    files = find_audio_files(args.paths)

    def report(path: Path, message: str) -> None:
        print(f"serkit embed: {path}: {message}", file=sys.stderr)

    result = embed_files(files, extractor, progress=not args.no_progress, on_error=report)
    n, failed = len(result.paths), len(result.failed)
    if n == 0:
        print(f"serkit embed: all {failed} file(s) failed; nothing written to {output}", file=sys.stderr)
        return 1
    writer(output, result.embeddings, [str(p) for p in result.paths], extractor)
    note = f"; {failed} file(s) failed and were left out" if failed else ""
    print(f"serkit embed: wrote {n} embeddings of {extractor.dim} dimensions ({extractor.name} "
          f"{json.dumps(extractor.params)}) to {output}{note}", file=sys.stderr)
    return 1 if failed else 0


def check_output(output: Path) -> Path:
    """``output`` if it names an .npz or .parquet file that can be written."""
    suffix = output.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"--output {output}: write .npz (or .parquet with pyarrow installed), "
                          f"not {suffix or 'a file without a suffix'}")
    if output.is_dir():
        raise ConfigError(f"--output {output} is a folder; name a file, e.g. {output / 'emb.npz'}")
    return output


def _writer(output: Path):
    if output.suffix.lower() == ".npz":
        return write_npz
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError(f"--output {output}: writing .parquet needs pyarrow, which is not "
                          "installed (pip install pyarrow); or write .npz instead") from None
    return write_parquet


def write_npz(output: Path, embeddings, paths: list[str], extractor) -> None:
    """The .npz file the command describes, written atomically (no pickled objects)."""
    import numpy as np

    from serkit.fileio import atomic_open

    with atomic_open(output, "wb") as handle:
        np.savez(handle, embeddings=np.asarray(embeddings, dtype=np.float32),
                 paths=np.asarray(paths, dtype=str),
                 feature_names=np.asarray(extractor.feature_names, dtype=str),
                 features=np.asarray(json.dumps({"name": extractor.name, "params": extractor.params})))


def write_parquet(output: Path, embeddings, paths: list[str], extractor) -> None:
    """A table with a ``path`` column and one float32 column per feature, written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from serkit.fileio import atomic_open

    columns = {"path": pa.array(paths, type=pa.string())}
    columns.update({name: pa.array(embeddings[:, i], type=pa.float32())
                    for i, name in enumerate(extractor.feature_names)})
    metadata = {b"serkit.features": json.dumps({"name": extractor.name,
                                                 "params": extractor.params}).encode()}
    table = pa.table(columns).replace_schema_metadata(metadata)
    with atomic_open(output, "wb") as handle:
        pq.write_table(table, handle)

