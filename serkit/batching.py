"""Batches for models: one collate for every input kind, used by training, the
recognizer and ONNX export alike (see :mod:`serkit.inputs` for the kinds).

Example:
    >>> import numpy as np
    >>> x, lengths = collate([np.ones((3, 2)), np.ones((5, 2))], "frames")
    >>> tuple(x.shape), lengths.tolist()
    ((2, 5, 2), [3, 5])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from serkit.inputs import TIME_AXES


def collate(items: Sequence[np.ndarray], kind: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Stack ``items`` of input kind ``kind`` into ``(x, lengths)``.

    Vectors are stacked (lengths None); the other kinds are zero-padded at the end of
    their time axis to the longest item, with each item's real length in ``lengths``.
    """
    axis = TIME_AXES[kind]
    if axis is None:
        return torch.from_numpy(np.ascontiguousarray(np.stack([np.asarray(x) for x in items]))), None
    lengths = np.array([x.shape[axis] for x in items], dtype=np.int64)
    first = np.asarray(items[0])
    shape = list(first.shape)
    shape[axis] = int(lengths.max())
    padded = np.zeros((len(items), *shape), dtype=np.float32)
    for row, x in enumerate(items):
        index = [row] + [slice(None)] * first.ndim
        index[1 + axis] = slice(0, x.shape[axis])
        padded[tuple(index)] = x
    return torch.from_numpy(padded), torch.from_numpy(lengths)


#: How many batches' worth of shuffled clips ``group_by_length`` sorts together: each batch
#: then holds clips of similar lengths (little padding to compute on), while which clips
#: meet and the order of the batches stay random (Hugging Face's ``group_by_length``).
LENGTH_GROUP_BATCHES = 50


def batch_indices(n: int, batch_size: int, *, generator: torch.Generator | None = None,
                  lengths: np.ndarray | None = None) -> list[np.ndarray]:
    """The rows of each batch of ``n`` items: in order, or shuffled by ``generator``.

    With ``lengths`` (and a generator), the shuffled rows are cut into groups of
    :data:`LENGTH_GROUP_BATCHES` batches, each group sorted by length into its batches,
    and the batches shuffled: on corpora of mixed lengths this cuts the padded steps a
    model computes on (a padding-masked model's outputs do not depend on them).

    Example:
        >>> [b.tolist() for b in batch_indices(5, 2)]
        [[0, 1], [2, 3], [4]]
    """
    if generator is None:
        order = np.arange(n)
    else:
        order = torch.randperm(n, generator=generator).numpy()
    if generator is None or lengths is None:
        return [order[start : start + batch_size] for start in range(0, n, batch_size)]
    batches = []
    group = LENGTH_GROUP_BATCHES * batch_size
    for start in range(0, n, group):
        rows = order[start : start + group]
        rows = rows[np.argsort(-lengths[rows], kind="stable")]
        batches += [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def random_crops(items: Sequence[np.ndarray], kind: str, length: int,
                 rng: np.random.Generator) -> list[np.ndarray]:
    """A random window of ``length`` steps along the time axis of every longer item.

    Shorter items are kept whole (the batch pads them and their lengths say so). One
    start is drawn per longer item from ``rng``, so a seeded rng gives the same crops.
    """
    axis = TIME_AXES[kind]
    if axis is None:
        return list(items)
    out = []
    for x in items:
        extra = x.shape[axis] - length
        if extra <= 0:
            out.append(x)
            continue
        start = int(rng.integers(0, extra + 1))
        out.append(np.take(x, np.arange(start, start + length), axis=axis))
    return out


@dataclass
class FeatureSet:
    """Features and integer class targets of one side of a split (train, val or test).

    Args:
        features: one array per utterance, or an ``(n, dim)`` array of vectors.
        targets: ``(n,)`` int64.
        kind: the input kind of the features (:data:`serkit.inputs.INPUT_KINDS`).
    """

    features: np.ndarray | list[np.ndarray]
    targets: np.ndarray
    kind: str = "vector"

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def is_sequence(self) -> bool:
        return self.kind != "vector"

    def lengths(self) -> np.ndarray | None:
        """Each item's number of time steps (None for vectors, which all have one)."""
        axis = TIME_AXES[self.kind]
        if axis is None:
            return None
        return np.array([x.shape[axis] for x in self.features], dtype=np.int64)

    def by_length(self) -> tuple[FeatureSet, np.ndarray]:
        """This set sorted by length (so that unshuffled batches need little padding), and
        the sorting order: ``result[order] = sorted_result`` puts outputs back in place."""
        lengths = self.lengths()
        order = np.argsort(lengths, kind="stable") if lengths is not None else np.arange(len(self))
        return self.subset(order), order

    def subset(self, index: Sequence[int]) -> FeatureSet:
        if isinstance(self.features, np.ndarray):
            return FeatureSet(self.features[index], self.targets[index], self.kind)
        return FeatureSet([self.features[i] for i in index], self.targets[index], self.kind)

    def batches(self, batch_size: int, *, generator: torch.Generator | None = None,
                crop: int | None = None, crop_rng: np.random.Generator | None = None,
                group_by_length: bool = False,
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]:
        """Yield ``(x, lengths, y)`` (see :func:`collate`); shuffled when a generator is given.

        ``crop`` cuts each item to a random window of that many time steps drawn from
        ``crop_rng`` (the per-epoch random crop of training). ``group_by_length`` puts
        items of similar lengths together in the shuffled batches (:func:`batch_indices`).
        """
        lengths = self.lengths() if group_by_length else None
        for index in batch_indices(len(self), batch_size, generator=generator, lengths=lengths):
            items = [self.features[i] for i in index]
            if crop is not None:
                items = random_crops(items, self.kind, crop, crop_rng)
            yield (*collate(items, self.kind), torch.from_numpy(self.targets[index]))
