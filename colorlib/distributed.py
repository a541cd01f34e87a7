"""Running on several processes (``torchrun``): which process this is, and DDP wrapping.

Without ``torchrun`` everything here describes a single process and changes nothing.
"""
import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self):
        """The process that logs and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self):
        return self.world_size > 1


def init_processes(device_type="cpu"):
    """Join the process group that ``torchrun`` describes in the environment, if any.

    Uses NCCL between GPUs (with gloo beside it for CPU tensors) and gloo otherwise; returns a
    single :class:`Processes` when the script was not started by ``torchrun`` (or another
    launcher setting ``WORLD_SIZE``).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Processes()
    if not torch_dist.is_initialized():
        if device_type == "cuda":  # one GPU per process, before NCCL picks one for every process
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        # NCCL moves CUDA tensors only; gloo carries the small CPU ones (loss means, stop flags).
        torch_dist.init_process_group("cpu:gloo,cuda:nccl" if device_type == "cuda" else "gloo")
    return current_processes()


def current_processes():
    """The :class:`Processes` of an already initialised process group (a single one if none)."""
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return Processes()
    return Processes(torch_dist.get_rank(), torch_dist.get_world_size(),
                     int(os.environ.get("LOCAL_RANK", torch_dist.get_rank())))


def wrap(module, processes, device):
    """Wrap a module in DistributedDataParallel when there are several processes."""
    if not processes.distributed:
        return module
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(module):
    """The plain module inside a DistributedDataParallel wrapper (or the module itself)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def average(values, processes):
    """Average a {name: float} dict over the processes (identity for one process)."""
    if not processes.distributed:
        return values
    names = list(values)
    tensor = torch.tensor([float(values[name]) for name in names], dtype=torch.float64)
    torch_dist.all_reduce(tensor)
    return {name: float(v) / processes.world_size for name, v in zip(names, tensor)}


def any_process(flag, processes):
    """Whether ``flag`` is true in any of the processes (``flag`` itself for one process).

    Every process must call it at the same point: it waits for all of them.
    """
    if not processes.distributed:
        return flag
    tensor = torch.tensor([int(flag)])
    torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.MAX)
    return bool(tensor.item())


def barrier(processes):
    """Wait until every process gets here (nothing to wait for with one process)."""
    if processes.distributed:
        torch_dist.barrier()


def shutdown(processes):
    """Leave the process group at the end of a torchrun job."""
    if processes.distributed and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
