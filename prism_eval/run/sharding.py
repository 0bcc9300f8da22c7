"""Data parallel runs: this process's place among ``accelerate launch`` processes and its users."""
from __future__ import annotations

import os
from typing import Iterable

from ..datasets_io import UserInput, iter_users, raise_user_facing

__all__ = ["Processes", "shard", "iterate"]


class Processes:
    """This process's place among ``accelerate launch`` processes (one process without it)."""

    def __init__(self):
        self.state = None
        self.num, self.index, self.local_index = 1, 0, 0
        if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:  # accelerate launch / torchrun
            import torch
            from accelerate import PartialState
            cpu = (os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
                   or not torch.cuda.is_available())  # processes on a CPU-only machine: gloo
            self.state = PartialState(cpu=cpu)
            self.num, self.index = self.state.num_processes, self.state.process_index
            self.local_index = self.state.local_process_index

    @property
    def main(self) -> bool:
        return self.index == 0

    def barrier(self) -> None:
        if self.state is not None and self.num > 1:
            self.state.wait_for_everyone()


def _is_dataset(dataset) -> bool:
    import sys
    mod = sys.modules.get("datasets")  # never imported here just to find out
    return mod is not None and isinstance(dataset, mod.Dataset)


def shard(dataset, procs: Processes, limit: int | None, done: set) -> tuple[list[int] | None, int | None]:
    """(positions this process runs, their count) for a Dataset; (None, None) for an iterable one."""
    if _is_dataset(dataset):
        n = len(dataset) if limit is None else min(limit, len(dataset))
        ids = dataset.select_columns(["user_id"])[:n]["user_id"] if n else []
        mine = [i for i in range(n) if i % procs.num == procs.index and ids[i] not in done]
        return mine, len(mine)
    return None, None


def iterate(dataset, positions: list[int] | None, limit: int | None, done: set,
            procs: Processes, images: dict | None = None) -> Iterable[UserInput]:
    """This process's users; a dataset that fails to read stops the run with one clear line.
    ``images``: the dataset's image counts; when it holds any image, a referenced image it lacks
    is recorded as dropped on its user."""
    absent = bool(images) and (images.get("found", 0) + images.get("unreadable", 0)) > 0
    if positions is not None:
        source = iter_users(dataset, positions, absent_dropped=absent)
    else:
        source = iter_users(dataset, stop=limit, absent_dropped=absent, keep=lambda pos, user_id: (
            pos % procs.num == procs.index and str(user_id) not in done))
    while True:
        try:
            user = next(source)
        except StopIteration:
            return
        except Exception as exc:
            raise_user_facing(exc, "cannot read the dataset")
        yield user
