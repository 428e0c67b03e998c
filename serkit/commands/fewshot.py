"""`serkit fewshot`: a model bundle from a few labelled clips (:mod:`serkit.training.fewshot`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Make a model for your own recordings from a few labelled clips. FOLDER holds one
sub-folder per label (named after an emotion: anger/angry, happiness/happy, neutral,
sadness/sad, fear, ...) with a few clips each. Every clip becomes its voice-encoder
embedding, and a small head is fitted on them:

  prototype  the label of the nearest class mean (cosine similarity); probabilities
             softmax(scale * cosine), the scale fitted by leave-one-out when every label
             has 2 or more clips, else a fixed one (the output says which)
  logistic   an L2-regularised logistic regression

The result is an ordinary model bundle: use it with `serkit predict --model BUNDLE_DIR`,
`serkit.load_model(BUNDLE_DIR)` or `serkit serve`.

A clip that cannot be used gets an error line on stderr and is left out.

exit status: 0 when the bundle was written from every clip, 1 when it was written without
some clips that failed, 2 for a usage error (no label folders, a label without usable
clips, an --out that is not a bundle folder)."""

EPILOG = """\
examples:
  serkit fewshot my_clips/ --out bundles/mine
  serkit fewshot my_clips/ --out bundles/mine-lr --method logistic --shots 10
  serkit predict new_calls/ --model bundles/mine"""


def add_parser(commands) -> None:
    """Register `serkit fewshot` on the `serkit` sub-command parser."""
    parser = commands.add_parser(
        "fewshot", help="make a model bundle from a few labelled clips per emotion",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", metavar="FOLDER", type=Path,
                        help="one sub-folder of clips per label")
    parser.add_argument("--out", type=Path, required=True, metavar="BUNDLE_DIR",
                        help="the bundle folder to write (an existing bundle is replaced)")
    parser.add_argument("--method", choices=("prototype", "logistic"), default="prototype",
                        help="the head fitted on the embeddings (default: prototype)")
    parser.add_argument("--shots", type=_positive_int, default=None, metavar="N",
                        help="use at most N clips per label, drawn at random (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="which clips --shots draws (default 0)")
    parser.add_argument("--name", default=None, help="the bundle's name (default: BUNDLE_DIR's name)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from serkit.training.fewshot import fewshot_bundle

    def report(path: Path, message: str) -> None:
        print(f"serkit fewshot: {path}: {message}", file=sys.stderr)

    result = fewshot_bundle(args.folder, args.out, method=args.method, shots=args.shots,
                            seed=args.seed, name=args.name, progress=not args.no_progress,
                            on_error=report)
    clips = ", ".join(f"{label} {n}" for label, n in result.counts.items())
    print(f"{args.method} head on the voice_encoder embeddings of {sum(result.counts.values())} "
          f"clips ({clips})")
    if args.method == "prototype":
        print(f"scale {result.details['scale']:g}: {result.details['scale_source']}")
    else:
        print(f"logistic regression, L2 penalty C = {result.details['C']:g}, classes balanced")
    loo = result.metrics.get("leave_one_out")
    if loo:
        print(f"leave-one-out accuracy on the support clips: {100 * loo['accuracy']:.1f} % "
              f"({loo['n']} clips)")
    else:
        print("leave-one-out accuracy: not measured (a label has fewer than 2 clips)")
    if result.failed:
        print(f"serkit fewshot: {len(result.failed)} clip(s) failed and were left out",
              file=sys.stderr)
    print(f"wrote {result.path}; predict with: serkit predict --model {result.path} FILES")
    return 1 if result.failed else 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {value}")
    return value
