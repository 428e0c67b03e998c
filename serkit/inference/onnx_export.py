"""Export a bundle's network to ONNX, standardisation folded in and softmax at the end.

The ONNX graph maps the features of clips to class probabilities; the features themselves
(librosa) are computed outside it. Everything needed to reproduce that front end is in
the file's ``metadata_props`` (see :func:`read_onnx_metadata`).

Example (``tiny`` a bundle folder)::

    import onnxruntime as ort
    from serkit.features import make_features
    from serkit.audio import load_audio
    from serkit.inference.onnx_export import export_onnx, read_onnx_metadata

    export_onnx(tiny, "tiny.onnx")
    meta = read_onnx_metadata("tiny.onnx")
    extractor = make_features(meta["features"]["name"], **meta["features"]["params"])
    x = extractor(load_audio("clip.wav", sample_rate=meta["sample_rate"]))[None]
    probabilities = ort.InferenceSession("tiny.onnx").run(None, {"features": x})[0][0]
    dict(zip(meta["labels"], probabilities))
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from serkit.errors import MissingDependencyError, SerkitError, first_line
from serkit.inference.recognizer import MIN_DURATION_S
from serkit.inputs import InputSpec

log = logging.getLogger(__name__)

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"
#: Largest |ONNX − PyTorch| probability accepted when an export is checked.
TOLERANCE = 1e-4
#: The metadata keys whose values are JSON (the others are plain strings or integers).
_JSON_KEYS = ("labels", "features", "model")
_INT_KEYS = ("sample_rate", "n_features")
#: The TorchScript exporter's opset: old enough for every runtime still in use.
_TORCHSCRIPT_OPSET = 17
#: Exporters in the order they are tried.
EXPORTERS = ("dynamo", "torchscript")
#: Seconds of audio along the time axis of the export example, and of the check batches
#: (the shortest clip a Recognizer takes, and 1.28 s: 20 480 samples, whole frames of 320
#: and of every power of two up to 4096), where the input spec gives a rate. An exporter
#: keeps a branch on the input's length the way the example took it, so the example is a
#: real clip's length plus one step, which no frame size divides: SERCT's CNN pads a
#: waveform shorter than its receptive field (400 samples), and a graph exported from 50
#: samples padded every clip (a tiny SERCT's probabilities were 0.06 off on a 1.3 s clip,
#: which a check on 37 samples did not see); DST pads a clip to whole 320-sample frames,
#: and a graph exported from 16 000 samples never padded (clips of other lengths failed).
EXAMPLE_S = 1.0
CHECK_S = (MIN_DURATION_S, 1.28)
#: The fewest steps an example (a check) has, whatever the rate: frame models pool and
#: convolve over some tens of frames.
EXAMPLE_MIN_STEPS, CHECK_MIN_STEPS = 50, 37


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote and how."""

    path: Path
    exporter: str  # "dynamo" or "torchscript"
    opset: int
    input_kind: str  # see serkit.inputs: vector, frames, image or waveform
    max_difference: float  # largest |ONNX − PyTorch| probability on the check inputs
    failures: tuple[str, ...] = ()  # why earlier exporters were not used


def export_onnx(model: str | Path, out: str | Path, *, tolerance: float = TOLERANCE) -> OnnxExport:
    """Export the network of ``model`` to the ONNX file ``out``.

    The graph takes the **features** of clips, not audio: feature extraction (librosa)
    stays outside it, because its STFT, YIN pitch tracking and chroma have no faithful
    ONNX counterpart. Compute the features with ``serkit.features.make_features(name,
    **params)`` on mono float32 audio at the stored sample rate (both in the file's
    metadata), then run the graph:

    - input ``features``: float32 ``(batch, dim)`` for vector features,
      ``(batch, frames, dim)`` for frame features, ``(batch, channels, height, frames)``
      for images, or ``(batch, samples)`` for a waveform (the batch dimension is dynamic,
      and the frame or sample count too; clips of different lengths go one per call, as
      no padding mask is taken; a waveform or frames at least as long as
      :data:`~serkit.inference.MIN_DURATION_S` of audio, the shortest a Recognizer takes);
    - output ``probabilities``: float32 ``(batch, classes)``, each row summing to 1, in
      the order of the ``labels`` metadata.

    The bundle's standardisation is folded into the graph (raw extractor output goes in)
    and softmax is its last step. The dynamo exporter is tried first and the TorchScript
    one if it fails; each result is checked against PyTorch with onnxruntime on inputs
    of another batch size (and two other lengths, :func:`check_steps`) than the export
    example, and is rejected if a probability differs by more than ``tolerance``.

    ``metadata_props`` (read them back with :func:`read_onnx_metadata`): ``labels``,
    ``sample_rate``, ``features`` ({"name", "params"}), ``input_kind``, ``n_features``,
    ``model`` ({"name", "params"}), ``bundle_name``, ``serkit_version``, ``exporter``.

    Args:
        model: a bundled model name or a bundle folder.
        out: the ``.onnx`` file to write (atomically).
        tolerance: largest accepted |ONNX − PyTorch| probability.

    Raises:
        MissingDependencyError: onnx, onnxscript or onnxruntime is not installed.
        ConfigError: unknown model or invalid bundle.
        SerkitError: no exporter gives a graph that matches PyTorch (the reasons listed).
    """
    _require_export_dependencies()
    from serkit.inference import load_model
    from serkit.inference.bundle import load_parts

    folder = load_model(model).path  # resolves bundled names and checks the bundle
    info, extractor, standardizer, network = load_parts(folder)
    return export_network(network, standardizer, info=info, spec=extractor.spec,
                          out=out, tolerance=tolerance)


def export_network(network, standardizer, *, info: dict, spec: InputSpec, out: str | Path,
                   tolerance: float = TOLERANCE) -> OnnxExport:
    """:func:`export_onnx` for parts already loaded (``info`` is the bundle.json dict)."""
    from serkit.fileio import atomic_write_bytes

    _require_export_dependencies()
    input_kind = spec.kind
    wrapper = ProbabilityNetwork(network, standardizer,
                                 temperature=float(info.get("temperature", 1.0))).eval()
    failures: list[str] = []
    for exporter in EXPORTERS:
        try:
            proto = _export(wrapper, exporter, spec)
            difference = max_difference(proto, wrapper, spec, standardizer)
        # Exporters fail in many ways (unsupported ops, tracing errors): each failure is
        # reported and the next exporter tried.
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{exporter} exporter failed ({_first_line(exc)})")
            log.info("ONNX export of %s: %s", info["name"], failures[-1])
            continue
        if difference > tolerance:
            failures.append(f"{exporter} exporter's graph differs from PyTorch by up to "
                            f"{difference:.2g} (tolerance {tolerance:g})")
            continue
        _add_metadata(proto, info, input_kind, exporter)
        _check(proto)
        atomic_write_bytes(out, proto.SerializeToString())
        return OnnxExport(Path(out), exporter, _opset(proto), input_kind, difference, tuple(failures))
    raise SerkitError(f"model {info['name']!r} ({info['model']['name']}) cannot be exported to "
                      f"ONNX: {'; '.join(failures)}")


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The serkit metadata of an exported file: JSON and integer values decoded.

    Raises:
        MissingDependencyError: onnx is not installed.
        SerkitError: not an ONNX file, or one serkit did not export.
    """
    _require_export_dependencies()
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, OSError, ... for a bad file
        raise SerkitError(f"{path}: not a readable ONNX file ({_first_line(exc)})") from None
    meta: dict[str, Any] = {p.key: p.value for p in proto.metadata_props}
    if "labels" not in meta or "features" not in meta:
        raise SerkitError(f"{path}: has no serkit metadata; was it written by `serkit export`?")
    for key in _JSON_KEYS:
        meta[key] = json.loads(meta[key])
    for key in _INT_KEYS:
        meta[key] = int(meta[key])
    return meta


# --- the exported module ----------------------------------------------------------------

class ProbabilityNetwork(torch.nn.Module):
    """``softmax(network((features - mean) / scale) / T)``: what the ONNX graph computes.

    ``T`` is the bundle's softmax temperature (calibrated bundles; 1 otherwise), so the
    graph's probabilities are the recognizer's, not the uncalibrated ones.
    """

    def __init__(self, network, standardizer, *, temperature: float = 1.0):
        super().__init__()
        self.network = network
        self.temperature = temperature
        self.standardize = standardizer is not None
        if self.standardize:
            self.register_buffer("mean", torch.tensor(np.asarray(standardizer.mean), dtype=torch.float32))
            self.register_buffer("scale", torch.tensor(np.asarray(standardizer.scale), dtype=torch.float32))

    def forward(self, features):
        if self.standardize:
            features = (features - self.mean) / self.scale
        logits = self.network(features)
        if self.temperature != 1.0:  # a plain graph for uncalibrated bundles
            logits = logits / self.temperature
        return torch.softmax(logits, dim=-1)


# --- exporting and checking -------------------------------------------------------------

def example_input(spec: InputSpec, *, batch: int = 2, steps: int | None = None, seed: int = 0):
    """A float32 batch of the graph's input layout (made by the one collate), standard
    normal values; ``steps`` along the time axis unless the spec fixes the length
    (default: one more than :data:`EXAMPLE_S` seconds at the spec's rate, or than
    :data:`EXAMPLE_MIN_STEPS`)."""
    from serkit.batching import collate

    generator = torch.Generator().manual_seed(seed)
    shape = list(spec.shape)
    if spec.time_axis is not None:
        shape.insert(spec.time_axis, spec.length or steps or time_steps(spec, EXAMPLE_S, EXAMPLE_MIN_STEPS) + 1)
    items = [torch.randn(*shape, generator=generator).numpy() for _ in range(batch)]
    return collate(items, spec.kind)[0]


def time_steps(spec: InputSpec, seconds: float, at_least: int) -> int:
    """Steps along the time axis for ``seconds`` of audio (``at_least`` where the rate is unknown)."""
    return max(at_least, round(spec.rate * seconds)) if spec.rate else at_least


def check_steps(spec: InputSpec) -> list[int | None]:
    """The time-axis lengths the export is checked at: one per :data:`CHECK_S` (None: no time axis)."""
    if spec.time_axis is None or spec.length is not None:
        return [None]
    return sorted({time_steps(spec, seconds, CHECK_MIN_STEPS) for seconds in CHECK_S})


def _dynamic_axes(spec: InputSpec) -> dict[int, str]:
    """Batch, and the time axis where the length varies."""
    if spec.time_axis is None or spec.length is not None:
        return {0: "batch"}
    return {0: "batch", 1 + spec.time_axis: "time"}


def _export(wrapper, exporter: str, spec: InputSpec):
    """The ModelProto of ``wrapper`` from one exporter (its console chatter silenced)."""
    import onnx

    example = (example_input(spec),)
    axes = _dynamic_axes(spec)
    with _quiet():
        if exporter == "dynamo":
            shapes = {INPUT_NAME: {i: torch.export.Dim(name) for i, name in axes.items()}}
            program = torch.onnx.export(wrapper, example, dynamo=True, input_names=[INPUT_NAME],
                                        output_names=[OUTPUT_NAME], dynamic_shapes=shapes,
                                        verbose=False)
            return program.model_proto
        buffer = io.BytesIO()
        torch.onnx.export(wrapper, example, buffer, dynamo=False, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], opset_version=_TORCHSCRIPT_OPSET,
                          dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: {0: "batch"}})
        return onnx.load_from_string(buffer.getvalue())


def max_difference(proto, wrapper, spec: InputSpec, standardizer=None) -> float:
    """Largest |onnxruntime − PyTorch| probability on random inputs.

    The inputs have another batch size (and lengths: :func:`check_steps`) than the export
    example, so a graph that baked in the example's shape, or a branch its length took,
    fails here; they are spread like the raw features the standardizer expects.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    worst = 0.0
    for seed, steps in enumerate(check_steps(spec), start=1):
        x = example_input(spec, batch=3, steps=steps, seed=seed)
        if standardizer is not None:
            x = x * torch.tensor(standardizer.scale, dtype=torch.float32) + torch.tensor(
                standardizer.mean, dtype=torch.float32)
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
        with torch.inference_mode():
            expected = wrapper(x).numpy()
        worst = max(worst, float(np.max(np.abs(got - expected))))
    return worst


def _add_metadata(proto, info: dict, input_kind: str, exporter: str) -> None:
    from serkit import __version__

    values = {
        "labels": json.dumps(info["labels"]),
        "sample_rate": str(int(info["sample_rate"])),
        "features": json.dumps(info["features"]),
        "input_kind": input_kind,
        "n_features": str(int(info["model"]["n_features"])),
        "model": json.dumps({"name": info["model"]["name"], "params": info["model"]["params"]}),
        "bundle_name": str(info["name"]),
        "serkit_version": __version__,
        "exporter": exporter,
    }
    del proto.metadata_props[:]
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = (
        f"serkit model {info['name']!r}: input {INPUT_NAME!r} = features "
        f"{info['features']['name']} {json.dumps(info['features']['params'])} of mono audio at "
        f"{info['sample_rate']} Hz (computed outside the graph; standardisation is inside), "
        f"output {OUTPUT_NAME!r} = probabilities of {', '.join(info['labels'])}"
    )


def _check(proto) -> None:
    import onnx

    onnx.checker.check_model(proto)


def _opset(proto) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)


@contextlib.contextmanager
def _quiet():
    """Silence the exporters' progress prints, warnings and log lines (failures still raise)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _first_line(exc: BaseException) -> str:
    # The dynamo exporter colours its text and can write very long lines.
    line = re.sub(r"\x1b\[[0-9;]*m", "", first_line(exc))
    return line if len(line) <= 300 else line[:297] + "..."


def _require_export_dependencies() -> None:
    missing = []
    for module in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingDependencyError(
            f"ONNX export needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            'not installed; install the export extra: pip install "serkit[export]"'
        )
