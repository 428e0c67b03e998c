"""One training on N processes with torch DistributedDataParallel (``--nproc N`` or torchrun).

Rank 0 is the process that runs the command (``serkit run``, ``search``, ``release``): it
reads the config, loads the data, makes the splits and writes every file of the run
folder, exactly as a one-process run does. The other ranks ("followers") run nothing but
fits: when rank 0 enters :func:`serkit.training.fit.fit`, it sends them the fit's inputs
(the freshly initialised model, the training and validation sides, the loss, the
settings, the checkpoint path) and every rank trains together:

* each batch of the config's ``batch_size`` is drawn as in one process (the same seed and
  shuffle on every rank) and split between the ranks, rank r taking rows r, r+N, ...; each
  rank's loss is weighted by its share of the batch, so the gradients DDP averages are the
  batch's mean gradient: the config's batch size and learning rate mean what they mean
  on one process;
* training and validation loss and accuracy are summed over ranks (validation split the
  same way), so every rank records the same history and takes the same early-stopping and
  checkpoint decision;
* only rank 0 writes training_state.pt (with every rank's torch RNG state, gathered), and
  every rank resumes from it.

Backends: gloo on CPU, nccl when ``training.device`` is ``cuda`` (rank r on GPU r of its
node). The followers are spawned here with ``--nproc N``; under torchrun (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT set) every process runs the command and
those of rank > 0 become followers.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from serkit.batching import FeatureSet, batch_indices, collate, random_crops
from serkit.errors import ConfigError

#: How long followers wait for rank 0's next fit (it may extract features for hours).
FOLLOWER_PATIENCE = datetime.timedelta(days=7)


@dataclass
class Shard:
    """This process's place in the group: its rank, the group's size, the request channel."""

    rank: int
    world: int
    requests: Any  # a gloo process group for fit requests (nccl cannot carry objects well)
    device_ids: list[int] | None = None

    @property
    def writer(self) -> bool:
        return self.rank == 0


#: Set while this process is part of a group (module state: one group per process).
_SHARD: Shard | None = None


def current() -> Shard | None:
    """The group this process trains in, or None for an ordinary one-process fit."""
    return _SHARD


# --- starting and stopping the group -------------------------------------------------------

def run_as_ranks(body: Callable[[], Any], *, nproc: int = 1, device: str = "cpu") -> Any:
    """``body()`` on rank 0 of a group of ``nproc`` processes (or torchrun's); on any other
    rank, serve rank 0's fits until it is done. Returns body's value (None on followers)."""
    if nproc < 1:
        raise ConfigError(f"--nproc {nproc}: give the number of processes for one training, 1 or more")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # started by torchrun
        if nproc > 1:
            raise ConfigError("--nproc with torchrun: torchrun already started WORLD_SIZE processes; "
                              "leave out --nproc")
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        _join(rank, world, local, device, init_method="env://")
        # If rank 0 fails, torchrun stops the other ranks.
        return _lead(body, on_failure=lambda: None) if rank == 0 else _follow()
    if nproc == 1:
        return body()
    _check_devices(nproc, device)
    return _spawn_and_lead(body, nproc, device)


def _check_devices(nproc: int, device: str) -> None:
    """One GPU per rank: say so before any process starts, rather than fail in each."""
    if not str(device).startswith("cuda"):
        return
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if nproc > available:
        fix = (f"pass --nproc {available} or fewer" if available else
               "train on the CPU cores instead (--set training.device=cpu)")
        raise ConfigError(f"--nproc {nproc} with training.device {device!r} needs one GPU per process, "
                          f"and {available} are visible; {fix}")


def _spawn_and_lead(body, nproc: int, device: str) -> Any:
    import torch.multiprocessing as mp

    address = f"tcp://127.0.0.1:{_free_port()}"
    context = mp.get_context("spawn")  # fork is unsafe once torch runs threads
    followers = [context.Process(target=_follower_main, daemon=True,
                                 args=(rank, nproc, device, address, os.getpid()))
                 for rank in range(1, nproc)]
    for process in followers:
        process.start()
    def kill_followers() -> None:
        # They may be waiting in a collective rank 0 will never join; they hold nothing
        # worth keeping (rank 0 writes every file).
        for process in followers:
            process.kill()

    try:
        _join(0, nproc, 0, device, init_method=address)
        return _lead(body, on_failure=kill_followers)
    except BaseException:
        kill_followers()
        raise
    finally:
        for process in followers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()


def _follower_main(rank: int, world: int, device: str, address: str, parent: int) -> None:
    from serkit.workers import die_with_parent

    die_with_parent(parent)  # never outlive rank 0, even after kill -9
    try:
        _join(rank, world, rank, device, init_method=address)
        _follow()
    except KeyboardInterrupt:  # Ctrl-C reaches every process of the terminal: rank 0 reports it
        pass


def _join(rank: int, world: int, local_rank: int, device: str, *, init_method: str) -> None:
    global _SHARD
    cuda = str(device).startswith("cuda")
    if cuda:
        torch.cuda.set_device(local_rank)  # so that "cuda" means this rank's GPU
    dist.init_process_group("nccl" if cuda else "gloo", init_method=init_method, rank=rank, world_size=world)
    requests = dist.new_group(backend="gloo", timeout=FOLLOWER_PATIENCE)
    _SHARD = Shard(rank, world, requests, [local_rank] if cuda else None)


def _lead(body, *, on_failure: Callable[[], None]) -> Any:
    """Rank 0: run the command; then tell the followers there is nothing more to fit (or
    stop them with ``on_failure`` if it failed: they may be inside a fit)."""
    global _SHARD
    try:
        result = body()
        _send(None)
        return result
    except BaseException:
        on_failure()
        raise
    finally:
        _SHARD = None
        dist.destroy_process_group()


def _follow() -> None:
    """Rank > 0: run each fit rank 0 sends, until it sends None."""
    global _SHARD
    from serkit.training.seeding import seed_everything

    try:
        while (request := _receive()) is not None:
            torch.set_num_threads(request.pop("threads"))
            seed_everything(request["seed"])
            # A torch RNG stream of its own: this rank's dropout masks differ from rank 0's.
            torch.manual_seed(request["seed"] * 1_000_003 + _SHARD.rank)
            run = request.pop("run")  # fit itself, sent by name (this module is below fit)
            run(**request, progress=False)
    finally:
        _SHARD = None
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- what fit calls ------------------------------------------------------------------------

def announce(shard: Shard | None, run: Callable, **request) -> None:
    """Rank 0: send a fit's inputs to the followers, who then call ``run(**request)`` too."""
    if shard is not None and shard.writer:
        _send({**request, "run": run, "threads": torch.get_num_threads()})


def _send(request) -> None:
    if _SHARD is not None and _SHARD.writer:
        dist.broadcast_object_list([request], src=0, group=_SHARD.requests)


def _receive():
    box = [None]
    dist.broadcast_object_list(box, src=0, group=_SHARD.requests)
    return box[0]


def wrap(shard: Shard | None, model: torch.nn.Module) -> torch.nn.Module:
    """The module to train with: DDP around ``model`` in a group, ``model`` itself otherwise."""
    if shard is None:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=shard.device_ids)


def batches(shard: Shard | None, data: FeatureSet, batch_size: int, *, generator, crop=None,
            crop_rng=None, group_by_length: bool = False,
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, float]]:
    """``(x, lengths, y, weight)``: this rank's rows of each training batch, and the weight
    that makes the ranks' mean losses average to the batch's mean loss (1 in one process).

    The batch order and the crop windows are drawn exactly as
    :meth:`FeatureSet.batches` draws them, from the same generators on every rank.
    """
    if shard is None:
        for x, lengths, y in data.batches(batch_size, generator=generator, crop=crop, crop_rng=crop_rng,
                                          group_by_length=group_by_length):
            yield x, lengths, y, 1.0
        return
    lengths = data.lengths() if group_by_length else None
    for index in batch_indices(len(data), batch_size, generator=generator, lengths=lengths):
        items = [data.features[i] for i in index]
        if crop is not None:
            items = random_crops(items, data.kind, crop, crop_rng)
        mine = _my_rows(shard, len(index))
        # A batch smaller than the group still gives every rank a row (DDP needs every
        # rank's gradients); a borrowed row weighs nothing.
        weight = len(mine) * shard.world / len(index) if len(mine) else 0.0
        rows = mine if len(mine) else np.array([0])
        yield (*collate([items[i] for i in rows], data.kind), torch.from_numpy(data.targets[index][rows]), weight)


def _my_rows(shard: Shard, n: int) -> np.ndarray:
    return np.arange(shard.rank, n, shard.world)


def validation_part(shard: Shard | None, data: FeatureSet) -> FeatureSet:
    """This rank's share of the validation side (all of it in one process)."""
    return data if shard is None else data.subset(_my_rows(shard, len(data)))


def summed(shard: Shard | None, *values: float) -> tuple[float, ...]:
    """``values`` summed over the ranks (as they are in one process)."""
    if shard is None:
        return values
    device = torch.device("cuda") if shard.device_ids else torch.device("cpu")
    total = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return tuple(total.cpu().tolist())


def gathered_rng(shard: Shard | None) -> list[torch.Tensor] | None:
    """Every rank's torch RNG state, in rank order (each rank draws its own dropout masks)."""
    if shard is None:
        return None
    states = [None] * shard.world
    dist.all_gather_object(states, torch.get_rng_state(), group=shard.requests)
    return states
