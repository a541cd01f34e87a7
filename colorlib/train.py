"""Training: L1 pretraining of the generator, then the pix2pix conditional GAN.

Loops report one line per epoch and return a per-epoch history (plain dicts, saved as JSON).
"""
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

from colorlib.losses import GANLoss
from colorlib.runtime import autocast

GAN_LOSSES = ("D_fake", "D_real", "D", "G_GAN", "G_L1", "G")


class LossMeters:
    """Running means of named losses, weighted by batch size."""

    def __init__(self):
        self.sums = defaultdict(float)
        self.counts = defaultdict(int)

    def update(self, losses, n):
        for name, value in losses.items():
            self.sums[name] += float(value) * n
            self.counts[name] += n

    def means(self):
        return {name: self.sums[name] / self.counts[name] for name in self.sums}


def to_device(batch, device, channels_last=False):
    """Move an {"L", "ab"} batch to the device, in channels_last layout if asked."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    non_blocking = device.type == "cuda"
    return tuple(
        batch[key].to(device, non_blocking=non_blocking).contiguous(memory_format=memory_format)
        for key in ("L", "ab")
    )


def check_finite(losses, epoch, step):
    """Stop the run, naming where, as soon as a loss is NaN or infinite."""
    for name, value in losses.items():
        if not torch.isfinite(torch.as_tensor(value)):
            raise FloatingPointError(f"loss {name} is {float(value)} at epoch {epoch}, step {step}")


class L1Pretrainer:
    """Pretrains the generator to predict ab from L with an L1 loss and Adam."""

    def __init__(self, generator, lr=1e-4, precision="fp32"):
        self.generator = generator
        self.precision = precision
        self.optimizer = torch.optim.Adam(generator.parameters(), lr=lr)
        self.criterion = nn.L1Loss()

    def train_step(self, L, ab):
        device = L.device
        with autocast(device, self.precision):
            fake = self.generator(L)
        loss = self.criterion(fake.float(), ab)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"L1": loss.detach()}


class ColorizationGAN:
    """pix2pix for colorization: a generator G(L) -> ab judged by a PatchGAN on (L, ab).

    Parameters
    ----------
    generator, discriminator : nn.Module
    lr : float
        Adam learning rate for both networks.
    betas : tuple of float
    lambda_l1 : float
        Weight of the L1 term in the generator's loss.
    gan_mode : {"vanilla", "lsgan"}
    precision : {"fp32", "bf16"}
    """

    def __init__(self, generator, discriminator, lr=2e-4, betas=(0.5, 0.999), lambda_l1=100.0,
                 gan_mode="vanilla", precision="fp32"):
        self.generator = generator
        self.discriminator = discriminator
        self.lambda_l1 = lambda_l1
        self.precision = precision
        device = next(generator.parameters()).device
        self.gan_loss = GANLoss(gan_mode).to(device)
        self.l1 = nn.L1Loss()
        self.opt_G = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
        self.opt_D = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)

    def train_step(self, L, ab):
        """One discriminator step, then one generator step; returns the six losses."""
        with autocast(L.device, self.precision):
            fake_ab = self.generator(L)
        fake = torch.cat([L, fake_ab.to(L.dtype)], dim=1)
        real = torch.cat([L, ab], dim=1)
        losses = self._discriminator_step(fake.detach(), real)
        losses.update(self._generator_step(fake, fake_ab, ab))
        return losses

    def _discriminator_step(self, fake, real):
        self.discriminator.requires_grad_(True)
        with autocast(fake.device, self.precision):
            d_fake = self.gan_loss(self.discriminator(fake), real=False)
            d_real = self.gan_loss(self.discriminator(real), real=True)
        d_loss = (d_fake + d_real) * 0.5
        self.opt_D.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_D.step()
        return {"D_fake": d_fake.detach(), "D_real": d_real.detach(), "D": d_loss.detach()}

    def _generator_step(self, fake, fake_ab, ab):
        self.discriminator.requires_grad_(False)  # G's loss must not train D
        with autocast(fake.device, self.precision):
            g_gan = self.gan_loss(self.discriminator(fake), real=True)
        g_l1 = self.l1(fake_ab.float(), ab) * self.lambda_l1
        g_loss = g_gan + g_l1
        self.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_G.step()
        return {"G_GAN": g_gan.detach(), "G_L1": g_l1.detach(), "G": g_loss.detach()}

    def state_dict(self):
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
        }


def run_epochs(trainer, loader, epochs, device, channels_last=False, on_epoch_end=None,
               on_step=None, log=print):
    """Train for some epochs, returning one {"epoch", losses..., "images_per_s"} dict per epoch.

    Parameters
    ----------
    trainer : L1Pretrainer or ColorizationGAN
        Anything with ``train_step(L, ab) -> dict of losses``.
    loader : DataLoader of {"L", "ab"} batches
    epochs : int
    device : torch.device
    channels_last : bool
    on_epoch_end : callable(epoch) -> dict, optional
        Extra values (validation scores) added to the epoch's record.
    on_step : callable(step, L, ab), optional
        Called after every step, e.g. to show Gray / Fake / Real every N steps.
    log : callable(str)
    """
    history = []
    step = 0
    for epoch in range(1, epochs + 1):
        meters, seen, start = LossMeters(), 0, time.perf_counter()
        for batch in loader:
            L, ab = to_device(batch, device, channels_last)
            losses = trainer.train_step(L, ab)
            step += 1
            check_finite(losses, epoch, step)
            meters.update(losses, len(L))
            seen += len(L)
            if on_step is not None:
                on_step(step, L, ab)
        record = {"epoch": epoch, **meters.means(), "images_per_s": seen / (time.perf_counter() - start)}
        if on_epoch_end is not None:
            record.update(on_epoch_end(epoch))
        history.append(record)
        log(format_record(record, epochs))
    return history


def format_record(record, epochs):
    """One summary line for an epoch's record."""
    values = "  ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "images_per_s"))
    return f"epoch {record['epoch']}/{epochs}  {values}  ({record['images_per_s']:.1f} img/s)"


def save_json(path, data):
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def load_json(path):
    return json.loads(Path(path).read_text())


def save_checkpoint(path, **state):
    """Save state_dicts and plain data atomically, so a crash keeps the last good file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, map_location="cpu"):
    """Load a checkpoint written by :func:`save_checkpoint` (plain data only, weights_only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)
