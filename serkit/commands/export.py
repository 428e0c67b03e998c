"""`serkit export`: a model's network as an ONNX file (see serkit.inference.onnx_export)."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Export MODEL's network to ONNX: input the features of clips, (batch, dim),
(batch, frames, dim), (batch, channels, height, frames) or, for a waveform model such as
serct, the samples (batch, samples); output class probabilities (standardisation folded
in, softmax at the end). Feature extraction stays outside the graph: the file's metadata
names the feature extractor, its parameters, the sample rate and the labels, so that
serkit.features.make_features(name, **params) reproduces the front end."""

#: The graph's input layout by input kind (serkit.inputs), as `serkit export` prints it.
INPUT_LAYOUTS = {
    "vector": "(batch, dim) with dim {dim}",
    "frames": "(batch, frames, dim) with dim {dim}",
    "image": "(batch, channels, height, frames)",
    "waveform": "(batch, samples)",
}


def add_parser(commands) -> None:
    """Register `serkit export` on the `serkit` sub-command parser."""
    parser = commands.add_parser("export", help="export a model to ONNX", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL", help="a bundled model name or a bundle folder")
    parser.add_argument("--onnx", type=Path, required=True, metavar="FILE",
                        help="the .onnx file to write")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from serkit.inference.onnx_export import export_onnx, read_onnx_metadata

    result = export_onnx(args.model, args.onnx)
    meta = read_onnx_metadata(result.path)
    print(f"wrote {result.path} ({result.exporter} exporter, opset {result.opset}); "
          f"matches PyTorch within {result.max_difference:.1g}")
    for failure in result.failures:
        print(f"  (not used: {failure})")
    features = f"{meta['features']['name']}({_params(meta['features']['params'])})"
    layout = INPUT_LAYOUTS[meta["input_kind"]].format(dim=meta["n_features"])
    print(f"input 'features': float32 {layout}, from serkit.features.make_features: "
          f"{features} on mono audio at {meta['sample_rate']} Hz")
    print(f"output 'probabilities': {', '.join(meta['labels'])}")
    return 0


def _params(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())
