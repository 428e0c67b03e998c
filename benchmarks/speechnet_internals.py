"""Does SpeechNet's attention attend and its routing route? Measure both on EmoDB.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/speechnet_internals.py [--epochs 5] [--seed 0] [--class-weights]
        [--trace K] [--margins ALPHA1 ALPHA3]

Builds EmoDB's fixed 80/20 split (split seed 0, the split of
configs/speechnet/emodb_paper_protocol.yaml), standardises the 107-d frames on the training
side, and trains the default SpeechNet (frames reading) on the training side for
``--epochs`` epochs as the paper does (Adam 1e-3, batch 256, the balanced margin loss with
the code's default parameters, no class weights unless ``--class-weights``), on one thread.
At initialisation and after training it prints, in eval mode over all training clips:

* ``attention entropy``: the entropy of each attention row (one query position of one
  head), averaged over clips, heads and positions, next to ``ln T`` (T = 64 positions):
  ``ln T`` is a plain average, the same output at every position;
* ``attention score spread``: the std over keys of the scores ``q_i·k_i/√d_h``;
* ``routing spread``: the std over class capsules of the coupling coefficients of the last
  routing iteration, averaged over input capsules, dimensions and clips: 0 is the uniform
  1/C of the first iteration, i.e. routing that does nothing;
* ``routed = unrouted``: the share of clips whose predicted class (longest capsule) is the
  same after the routing iterations as with uniform coefficients;
* the mean input-capsule length ``‖u_i‖`` and class-capsule length ``‖v_j‖``.

``--trace K`` also prints, every K epochs of the same training, where the capsule lengths
sit against eq. 15's margins (0.5 for the true class and for the others): the training
accuracy and loss, the mean length of the true class's capsule and of the longest other
one, and the shares of clips whose true capsule is under the margin (the positive term
is active) or whose longest other capsule is over it (the negative term is active).
The fit is resumed from its own state every K epochs, which gives the weights of one
uninterrupted fit (``fit``'s contract).

The numbers are computed from the modules' own layers (and checked against the model's
output), so the script also measures older code. To measure a commit before a change:

    git archive <commit> | tar -x -C /tmp/old
    OMP_NUM_THREADS=1 PYTHONPATH=/tmp/old python benchmarks/speechnet_internals.py --class-weights

(``--class-weights``: serkit always weighed the loss by class before issue 16.)
docs/models.md, "SpeechNet: what changed and why", quotes its output.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch


def load_emodb(data_root: str | None):
    """EmoDB's dataset (cached fusion107 frames) and the training side of the fixed 80/20 split."""
    from serkit.features.extract import Standardizer
    from serkit.splits import make_split
    from serkit.training.config import config_from_dict
    from serkit.training.runner import _scaled, _side, load_dataset

    config = config_from_dict({
        "experiment": "speechnet_internals", "data": {"corpora": ["emodb"], "label_scheme": "all"},
        "features": {"name": "fusion107", "params": {"pooling": "none"}},
        "model": {"name": "speechnet", "params": {"input_kind": "frames"}},
    })
    dataset = load_dataset(config, data_root=data_root, progress=False)
    try:  # rounding="total" (107 test clips, as the paper) is newer than the holdout split
        plan = make_split(dataset.corpus, "holdout", seed=0, test_fraction=0.2, val_fraction=0, rounding="total")
    except TypeError:
        plan = make_split(dataset.corpus, "holdout", seed=0, test_fraction=0.2, val_fraction=0)
    fold = plan.folds[0]
    train = _side(dataset, fold.train)
    train = _scaled(Standardizer().fit(train.features), train)
    return dataset, train


@torch.no_grad()
def margins(model, data, positive: float = 0.5, negative: float = 0.5, batch_size: int = 256) -> dict[str, float]:
    """Where the class-capsule lengths of ``data``'s clips sit against eq. 15's margins, α1
    (``positive``, for the true class) and α3 (``negative``, for the others), in eval mode."""
    model.eval()
    lengths, targets = [], []
    for x, clip_lengths, y in data.batches(batch_size):
        lengths.append(model(x, clip_lengths).exp())  # the model's logits are log lengths
        targets.append(y)
    length, target = torch.cat(lengths), torch.cat(targets)
    true = length.gather(1, target[:, None])[:, 0]
    other = length.scatter(1, target[:, None], -1.0).max(1).values  # the longest wrong capsule
    return {"accuracy (eval mode)": float((length.argmax(1) == target).float().mean()),
            "true length": float(true.mean()), "longest other": float(other.mean()),
            "true < margin": float((true < positive).float().mean()),
            "other > margin": float((other > negative).float().mean())}


def trace(model, train, loss_fn, settings, seed: int, every: int, bounds: tuple[float, float]) -> None:
    """Train ``settings.epochs`` epochs, printing :func:`margins` every ``every`` epochs."""
    import dataclasses
    import tempfile
    from pathlib import Path

    from serkit.training.fit import fit

    # Rows written here, not with fold_tables.md_row: that sibling imports serkit modules
    # an older tree (PYTHONPATH=<old tree>, above) may lack.
    def row(cells):
        print("| " + " | ".join(cells) + " |", flush=True)

    def values(epoch, loss, measured):
        row([str(epoch), "–" if loss is None else f"{loss:.2g}", *(f"{v:.3f}" for v in measured.values())])

    start = margins(model, train, *bounds)
    columns = ["epoch", "training loss", *start]
    row(columns)
    row(["---"] * len(columns))
    values(0, None, start)
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "training_state.pt"
        for end in range(every, settings.epochs + 1, every):
            part = dataclasses.replace(settings, epochs=end, checkpoint_every=every)
            result = fit(model, train, None, loss_fn=loss_fn, settings=part, seed=seed, state_path=state,
                         progress=False)
            values(end, result.history[-1]["train_loss"], margins(model, train, *bounds))


@torch.no_grad()
def internals(model, data, batch_size: int = 256) -> dict[str, float]:
    """The measures above, averaged over every clip of ``data`` (eval mode)."""
    from serkit.models.layers import squash

    model.eval()
    seen: dict[str, torch.Tensor] = {}
    hooks = [model.attention.register_forward_pre_hook(lambda m, i: seen.update(h=i[0])),
             model.router.register_forward_pre_hook(lambda m, i: seen.update(u=i[0])),
             model.router.register_forward_hook(lambda m, i, o: seen.update(v=o))]
    sums: dict[str, float] = {}
    n = 0
    try:
        for x, lengths, _ in data.batches(batch_size):
            model(x, lengths)
            batch = x.shape[0]
            att, h = model.attention, seen["h"]
            q = att.pre_query(h) if att.pre_query is not None else h
            k = att.pre_key(h) if att.pre_key is not None else h
            b, steps, _ = h.shape
            qh = att.query(q).view(b, steps, att.n_heads, att.head_dim).transpose(1, 2)
            kh = att.key(k).view(b, steps, att.n_heads, att.head_dim).transpose(1, 2)
            scores = qh @ kh.transpose(-2, -1) / math.sqrt(att.head_dim)  # (B, heads, S, S)
            p = torch.softmax(scores, -1)
            entropy = -(p * p.clamp_min(1e-30).log()).sum(-1)  # (B, heads, S)

            router, u = model.router, seen["u"]
            a = torch.bmm(u.transpose(0, 1), router.weight).view(router.n_in, batch, router.n_classes,
                                                                 router.out_dim)
            uniform = squash(a.sum(0) / router.n_classes)
            v, c = uniform, None
            for _ in range(router.iterations - 1):
                if router.modified:
                    c = torch.softmax(a * v, dim=2)
                else:
                    agreement = (a * v).sum(-1, keepdim=True)
                    c = torch.softmax(agreement if c is None else torch.log(c) + agreement, dim=2)
                v = squash((c * a).sum(0))
            torch.testing.assert_close(v, seen["v"], rtol=1e-4, atol=1e-5)  # the replica is the model
            spread = c.std(dim=2).mean((0, 2)) if c is not None else torch.zeros(batch)  # (B,)
            values = {
                "attention entropy": entropy.mean((1, 2)),
                "attention score spread": scores.std(-1).mean((1, 2)),
                "routing spread": spread,
                "routed = unrouted": (v.norm(dim=-1).argmax(1) == uniform.norm(dim=-1).argmax(1)).float(),
                "input capsule length": u.norm(dim=-1).mean(1),
                "class capsule length": v.norm(dim=-1).mean(1),
            }
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + float(value.sum())
            n += batch
    finally:
        for hook in hooks:
            hook.remove()
    return {key: total / n for key, total in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--class-weights", action="store_true",
                        help="weigh the loss by inverse class frequency (serkit's rule before issue 16)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--trace", type=int, default=0, metavar="K",
                        help="print the capsule lengths against the margins every K epochs")
    parser.add_argument("--margins", type=float, nargs=2, default=(0.5, 0.5), metavar=("ALPHA1", "ALPHA3"),
                        help="eq. 15's margins for the true class and the others (the paper: 0.5 0.5; "
                             "CapsNet: 0.9 0.1)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from serkit.models import make_loss, make_model_for
    from serkit.training.config import TrainingConfig
    from serkit.training.data import class_weights
    from serkit.training.fit import fit

    dataset, train = load_emodb(args.data_root)
    torch.manual_seed(args.seed)
    model = make_model_for("speechnet", dataset.extractor.spec, len(dataset.classes), input_kind="frames")
    weights = torch.from_numpy(class_weights(train.targets, len(dataset.classes))) if args.class_weights else None
    alpha1, alpha3 = args.margins
    loss_fn = make_loss("balanced_margin", class_weights=weights, alpha1=alpha1, alpha3=alpha3)
    settings = TrainingConfig(epochs=args.epochs, batch_size=256, learning_rate=1e-3, select="last", num_threads=1)

    if args.trace:
        trace(model, train, loss_fn, settings, args.seed, args.trace, (alpha1, alpha3))
        return
    before = internals(model, train)
    began = time.perf_counter()
    result = fit(model, train, None, loss_fn=loss_fn, settings=settings, seed=args.seed, progress=False)
    seconds = time.perf_counter() - began
    after = internals(model, train)

    newer = hasattr(model.attention, "attention_weights")
    print(f"SpeechNet on EmoDB's training side ({len(train)} clips, split seed 0, 80/20), seed {args.seed}, "
          f"class weights {'on' if args.class_weights else 'off'}, margins {alpha1} / {alpha3}, {args.epochs} epochs "
          f"({seconds / max(args.epochs, 1):.2f} s/epoch, 1 thread); torch {torch.__version__}"
          f"{'' if newer else '; serkit before issue 16'}")
    print(f"final training loss {result.history[-1]['train_loss']:.4f}, "
          f"training accuracy {result.history[-1]['train_acc']:.3f}")
    print(f"| measure | at initialisation | after {args.epochs} epochs |")
    print("|---|---|---|")
    for key in before:
        print(f"| {key} | {before[key]:.4g} | {after[key]:.4g} |")
    print(f"| ln T (T = {model.n_intervals}): a plain average | {np.log(model.n_intervals):.4g} | |")


if __name__ == "__main__":
    main()
