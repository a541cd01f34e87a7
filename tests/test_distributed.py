"""Two processes under DistributedDataParallel (gloo, CPU) train as one process would."""
import os
import socket

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from colorlib.config import get_config
from colorlib.dataset import LabTensorDataset
from colorlib.distributed import Processes, wrap
from colorlib.lab import quantise_lab
from colorlib.discriminator import PatchDiscriminator
from colorlib.models import build_generator
from colorlib.runtime import seed_everything
from colorlib.train import StageCheckpoint, check_finite, fit
from colorlib.trainers import ColorizationGAN

# Validation items (no random flips): the only randomness left is the seeded shuffle. 64 px, not
# less: the encoder trains with batch norm, and at 32 px its last ones normalise 1 x 1 positions of
# a part's 2 photos, which gives +-1 whatever they are; their gradients are then rounding noise,
# which Adam's first steps turn into moves of the full rate that differ from run to run (53% of
# the distance training moved the generator, against 9% at 64 px).
CONFIG = get_config("smoke", size=64, batch_size=4, seed=3, channels_last=False, progress=False)
DEVICE = torch.device("cpu")


def photos():
    generator = torch.Generator().manual_seed(0)
    L = torch.rand(8, 1, CONFIG.size, CONFIG.size, generator=generator) * 2 - 1
    return LabTensorDataset(quantise_lab(torch.cat([L, 0.3 * L, -0.2 * L.flip(-1)], dim=1)), "val")


def train(processes, checkpoint, micro_batches=1):
    seed_everything(CONFIG.seed)
    generator = wrap(build_generator(CONFIG.size, imagenet_weights="never", verbose=False)[0], processes, DEVICE)
    discriminator = wrap(PatchDiscriminator(), processes, DEVICE)
    gan = ColorizationGAN(generator, discriminator, micro_batches=micro_batches)
    history = fit(gan, photos(), 2, CONFIG, DEVICE, StageCheckpoint(checkpoint, "gan"), processes,
                  log=lambda line: None, keep_step_losses=True)
    return gan.state_dict(), history


def worker(rank, port, folder):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch_dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    try:
        state, history = train(Processes(rank, 2, rank), os.path.join(folder, "ddp.pt"))
        torch.save({"state": state, "history": history}, os.path.join(folder, f"rank{rank}.pt"))
    finally:
        torch_dist.destroy_process_group()


def nan_worker(rank, port, folder):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch_dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        check_finite({"G_L1": torch.tensor(1.0)}, 1, 1, Processes(rank, 2, rank))  # finite everywhere
        loss = torch.tensor(float("nan") if rank == 1 else 0.5)
        try:
            check_finite({"G_L1": loss}, 1, 2, Processes(rank, 2, rank))
        except FloatingPointError as error:
            with open(os.path.join(folder, f"rank{rank}.txt"), "w") as file:
                file.write(str(error))
    finally:
        torch_dist.destroy_process_group()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    ddp, other = (torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in (0, 1))
    # One process, the same global batch of 4, split in the two parts the two processes held.
    state, history = train(Processes(), tmp_path / "single.pt", micro_batches=2)
    # The first step, before any update, computes the same thing: the same photos in the same
    # parts, the same batch-norm statistics, the same losses (a step's loss in one process is
    # the mean of the parts', each process keeps its own part's).
    for loss in ("D_fake", "D_real"):
        ours = history[0]["step_losses"][loss][0]
        theirs = (ddp["history"][0]["step_losses"][loss][0] + other["history"][0]["step_losses"][loss][0]) / 2
        assert abs(ours - theirs) <= 1e-5 * abs(ours), loss
    # After it, the two sum the parts' gradients in another order (gloo's all-reduce against
    # accumulation), and Adam's first steps move each weight by about lr * sign(gradient): a
    # gradient that rounds to the other side of zero moves its weight the other way. How many
    # do depends on the CPU's kernels: one machine image measured 4e-4 relative on an epoch's
    # mean loss, another 1e-6. A wrong update (a missed all-reduce, batch-norm over the whole
    # batch) shows at percents.
    for ours, theirs in zip(history, ddp["history"]):
        for loss in ("D_fake", "D_real", "G_GAN", "G_L1"):
            assert abs(ours[loss] - theirs[loss]) <= 3e-3 * abs(ours[loss]), (ours["epoch"], loss)
    # The same weights, up to those sign flips: no weight more than a few lr apart, and the two
    # runs' weights far closer to each other than to where training started. How close depends on
    # the machine again: 2% (discriminator) and 12% (generator) of the distance training moved
    # them on one image; batch norm over the whole batch instead of each part gave 74% and 76%.
    steps, lr = len(history) * 2, CONFIG.gan_lr
    start = initial_state()
    for name in ("generator", "discriminator"):
        keys = [k for k, v in state[name].items() if is_weight(k, v)]
        ours, theirs, initial = (torch.cat([weights[name][k].flatten() for k in keys])
                                 for weights in (state, ddp["state"], start))
        differences = (ours - theirs).abs()
        assert differences.max() <= 2 * steps * lr, name
        assert differences.norm() < 0.3 * (ours - initial).norm(), name
    assert (tmp_path / "ddp.pt").is_file()  # written by rank 0 alone


def initial_state():
    """The networks' weights before training, as :func:`train` builds them."""
    seed_everything(CONFIG.seed)
    generator = build_generator(CONFIG.size, imagenet_weights="never", verbose=False)[0]
    return {"generator": generator.state_dict(), "discriminator": PatchDiscriminator().state_dict()}


def is_weight(key, value):
    # Batch-norm buffers differ by design: DDP keeps rank 0's, one process updates them per part.
    return value.dtype.is_floating_point and "running" not in key


@pytest.mark.slow
def test_a_nan_in_one_process_stops_every_process_at_the_same_step(tmp_path):
    # A process left running would hang at its next all-reduce, waiting for the one that stopped.
    mp.spawn(nan_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    assert (tmp_path / "rank1.txt").read_text() == "loss G_L1 is nan at epoch 1, step 2"
    assert (tmp_path / "rank0.txt").read_text() == "a loss is not finite in another training process at epoch 1, step 2"
