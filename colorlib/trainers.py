"""The two trainers :func:`colorlib.train.fit` runs: L1 (or classification) pretraining and pix2pix.

A trainer owns its networks and optimisers and knows how to take one step on a batch of
(L, ab); the loop that feeds it batches, schedules, checkpoints and resumes is
:func:`colorlib.train.fit`, and knows nothing of what it trains.
"""
import contextlib
import math

import torch
from torch import nn

from colorlib.distributed import unwrap
from colorlib.losses import GANLoss
from colorlib.models import at_output_stride
from colorlib.runtime import autocast


def micro_batches(tensors, n):
    """Split each tensor of a batch into n equal chunks along the batch: [(L1, ab1), ...]."""
    if len(tensors[0]) % n:
        raise ValueError(f"a batch of {len(tensors[0])} does not split into {n} micro-batches")
    return list(zip(*(t.chunk(n) for t in tensors)))


def sync_on_last(module, is_last):
    """Under DDP, skip the gradient all-reduce for all but the last micro-batch's backward."""
    if is_last or not hasattr(module, "no_sync"):
        return contextlib.nullcontext()
    return module.no_sync()


def adam(parameters, lr, betas=(0.9, 0.999)):
    """Adam, fused into one kernel per step on CUDA (on this course's CPUs the fused kernel measured slower).

    ``parameters`` are tensors or optimiser groups (dicts with ``"params"``).
    """
    parameters = list(parameters)
    first = parameters[0]["params"][0] if isinstance(parameters[0], dict) else parameters[0]
    return torch.optim.Adam(parameters, lr=lr, betas=betas, fused=first.device.type == "cuda")


def parameter_groups(module, lr, part=None, part_lr=None):
    """The module's parameters as optimiser groups: ``part``'s at ``part_lr``, the others at ``lr``."""
    if part is None or part_lr is None:
        return [{"params": list(module.parameters()), "lr": lr}]
    inside = {id(p) for p in part.parameters()}
    return [{"params": [p for p in module.parameters() if id(p) not in inside], "lr": lr},
            {"params": [p for p in module.parameters() if id(p) in inside], "lr": part_lr}]


SCHEDULES = ("constant", "one_cycle")


def one_cycle(progress, warmup=0.25, start_div=25.0, final_div=1e5):
    """The learning rate's share of its peak at a point of training, as fastai's fit_one_cycle.

    A cosine rise from peak / start_div to the peak over the first ``warmup`` share of the steps,
    then a cosine fall to peak / final_div: a high rate while it helps, a small one to settle.

    Parameters
    ----------
    progress : float
        Steps done over all steps, in [0, 1].
    """
    def cosine(start, end, t):
        return end + (start - end) * (1 + math.cos(math.pi * t)) / 2

    if progress < warmup:
        return cosine(1 / start_div, 1.0, progress / warmup)
    return cosine(1.0, 1 / final_div, min(1.0, (progress - warmup) / (1 - warmup)))


class Trainer:
    """What both trainers share: mixed precision, a gradient scaler, the schedule, their state."""

    def __init__(self, precision="fp32", micro_batches=1, device_type="cpu", schedule="constant"):
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule {schedule!r}; expected one of {SCHEDULES}")
        self.precision = precision
        self.micro_batches = micro_batches
        self.schedule = schedule
        # fp16 needs loss scaling against underflow; bf16 and fp32 do not (the scaler is a no-op).
        self.scaler = torch.amp.GradScaler(device_type, enabled=precision == "fp16")

    def backward(self, loss, module, is_last):
        with sync_on_last(module, is_last):
            self.scaler.scale(loss).backward()

    def step(self, optimizer):
        self.scaler.step(optimizer)

    def set_learning_rate(self, step, total_steps):
        """Set the optimisers' rates for a step from the schedule; a pure function of the step, so resumes repeat."""
        if self.schedule == "constant":
            return
        for optimizer in self.optimizers().values():
            for group in optimizer.param_groups:
                group["lr"] = group.setdefault("peak_lr", group["lr"]) * one_cycle(step / total_steps)

    def state_dict(self):
        state = {name: unwrap(module).state_dict() for name, module in self.modules().items()}
        state.update({name: opt.state_dict() for name, opt in self.optimizers().items()})
        state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state):
        for name, module in self.modules().items():
            unwrap(module).load_state_dict(state[name])
        for name, optimizer in self.optimizers().items():
            optimizer.load_state_dict(state[name])
        self.scaler.load_state_dict(state["scaler"])


PRETRAIN_LOSSES = {"regression": "L1", "classification": "cross_entropy"}  # the name of each head's loss
RECONSTRUCTION_LOSSES = {"l1": "G_L1", "cross_entropy": "G_cross_entropy"}  # the GAN's meter for each


class L1Pretrainer(Trainer):
    """Pretrains the generator to predict ab from L with Adam (peak rate ``lr`` under a schedule).

    The loss is L1 on the predicted ab (the capstone's), or with ``loss="classification"`` the
    generator's own: called as ``generator(L, ab)`` it returns ``(ab, loss)`` (a classification
    head, :class:`colorlib.bins.BinnedColour`), through DDP's forward like any call.
    ``encoder_lr`` gives the parameters in ``encoder`` their own peak rate (fine-tuning
    ImageNet features more gently than the fresh decoder learns). ``loss_stride`` > 1 takes
    the classification loss at one pixel of each ``loss_stride`` x ``loss_stride`` block, at an
    offset drawn afresh each step, so that every pixel is trained on in turn.
    """

    def __init__(self, generator, lr=1e-4, precision="fp32", micro_batches=1, schedule="constant",
                 loss="regression", encoder=None, encoder_lr=None, loss_stride=1):
        device_type = next(generator.parameters()).device.type
        super().__init__(precision, micro_batches, device_type, schedule)
        self.generator = generator
        self.loss = loss
        self.loss_stride = loss_stride
        self.optimizer = adam(parameter_groups(generator, lr, encoder, encoder_lr), lr)
        self.criterion = nn.L1Loss()

    def modules(self):
        return {"generator": self.generator}

    def optimizers(self):
        return {"opt_G": self.optimizer}

    def train_step(self, L, ab):
        self.optimizer.zero_grad(set_to_none=True)
        chunks = micro_batches((L, ab), self.micro_batches)
        sample = None  # one offset for the whole batch: micro-batches still add up to its update
        if self.loss == "classification" and self.loss_stride > 1:
            sample = (*torch.randint(self.loss_stride, (2,)).tolist(), self.loss_stride)
        total = 0.0
        for i, (L_part, ab_part) in enumerate(chunks):
            with autocast(L.device, self.precision):
                if self.loss == "classification":
                    loss = self.generator(L_part, ab_part, decode=False, sample=sample)[1].float()
                else:
                    fake = self.generator(L_part)
            if self.loss != "classification":
                loss = self.criterion(fake.float(), ab_part)  # losses in fp32
            loss = loss / len(chunks)
            self.backward(loss, self.generator, i == len(chunks) - 1)
            total += loss.detach()
        self.step(self.optimizer)
        self.scaler.update()
        return {PRETRAIN_LOSSES[self.loss]: total}


class ColorizationGAN(Trainer):
    """pix2pix for colorization: a generator G(L) -> ab judged by a PatchGAN on (L, ab).

    Parameters
    ----------
    generator, discriminator : nn.Module
        Plain or wrapped in DistributedDataParallel.
    lr : float
        Adam learning rate for both networks.
    betas : tuple of float
    lambda_l1 : float
        Weight of the reconstruction term in the generator's loss (the capstone's L1: 100);
        its meter is ``G_L1`` or ``G_cross_entropy``, already weighted.
    gan_mode : {"vanilla", "lsgan"}
    precision : {"fp32", "bf16", "fp16"}
    micro_batches : int
        Split each batch into this many parts, accumulating gradients: the same update as
        that many processes each holding one part (batch-norm statistics per part).
    reconstruction : {"l1", "cross_entropy"}
        The generator's term that keeps it close to the truth: pix2pix's L1 on ab, or the
        generator's own loss, ``generator(L, ab) -> (ab, loss)`` (the classification loss of a
        :class:`colorlib.bins.BinnedColour`, which L1 would pull back towards grey).
    output_stride : int
        The generator's (:func:`colorlib.models.cut_decoder`): the discriminator sees the true
        ab at that resolution too (:func:`colorlib.models.at_output_stride`), so that it judges
        colour, not sharpness.
    encoder : nn.Module, optional
        A part of the generator (its pretrained encoder) trained at ``encoder_lr`` instead of
        ``lr``, as in pretraining: the features keep what ImageNet taught them.
    encoder_lr : float, optional
    """

    def __init__(self, generator, discriminator, lr=2e-4, betas=(0.5, 0.999), lambda_l1=100.0,
                 gan_mode="vanilla", precision="fp32", micro_batches=1, reconstruction="l1", output_stride=1,
                 encoder=None, encoder_lr=None):
        device = next(generator.parameters()).device
        super().__init__(precision, micro_batches, device.type)
        self.generator = generator
        self.discriminator = discriminator
        self.lambda_l1 = lambda_l1
        if reconstruction not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction must be one of {sorted(RECONSTRUCTION_LOSSES)}, got {reconstruction!r}")
        self.reconstruction = reconstruction
        self.output_stride = output_stride
        self.gan_loss = GANLoss(gan_mode).to(device)
        self.l1 = nn.L1Loss()
        self.opt_G = adam(parameter_groups(generator, lr, encoder, encoder_lr), lr, betas)
        self.opt_D = adam(discriminator.parameters(), lr, betas)

    def modules(self):
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self):
        return {"opt_G": self.opt_G, "opt_D": self.opt_D}

    def train_step(self, L, ab):
        """One discriminator step, then one generator step; returns the six losses."""
        chunks = micro_batches((L, ab), self.micro_batches)
        fakes, own_losses = [], []
        for L_part, ab_part in chunks:
            with autocast(L.device, self.precision):
                if self.reconstruction == "cross_entropy":
                    fake, own = self.generator(L_part, ab_part)
                    own_losses.append(own.float())
                else:
                    fake = self.generator(L_part)
            fakes.append(fake.float())
        losses = self._discriminator_step(chunks, fakes)
        losses.update(self._generator_step(chunks, fakes, own_losses))
        self.scaler.update()
        return losses

    def _discriminator_step(self, chunks, fakes):
        self.discriminator.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        d_fake = d_real = 0.0
        for i, ((L, ab), fake_ab) in enumerate(zip(chunks, fakes)):
            last = i == len(chunks) - 1
            # One forward per backward: DDP expects it, and each call sees one batch as pix2pix.
            with autocast(L.device, self.precision):
                fake_loss = self.gan_loss(self.discriminator(torch.cat([L, fake_ab.detach()], 1)), real=False)
            self.backward(fake_loss * 0.5 / len(chunks), self.discriminator, is_last=False)
            real_ab = at_output_stride(ab, self.output_stride)
            with autocast(L.device, self.precision):
                real_loss = self.gan_loss(self.discriminator(torch.cat([L, real_ab], 1)), real=True)
            self.backward(real_loss * 0.5 / len(chunks), self.discriminator, is_last=last)
            d_fake += fake_loss.detach() / len(chunks)
            d_real += real_loss.detach() / len(chunks)
        self.step(self.opt_D)
        return {"D_fake": d_fake, "D_real": d_real, "D": (d_fake + d_real) * 0.5}

    def _generator_step(self, chunks, fakes, own_losses=()):
        # G's loss must not train D; the plain module is called so DDP expects no D gradients.
        discriminator = unwrap(self.discriminator).requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        g_gan = g_rec = 0.0
        for i, ((L, ab), fake_ab) in enumerate(zip(chunks, fakes)):
            with autocast(L.device, self.precision):
                gan = self.gan_loss(discriminator(torch.cat([L, fake_ab], 1)), real=True)
            rec = own_losses[i] if own_losses else self.l1(fake_ab, ab)
            rec = rec * self.lambda_l1
            self.backward((gan + rec) / len(chunks), self.generator, is_last=i == len(chunks) - 1)
            g_gan += gan.detach() / len(chunks)
            g_rec += rec.detach() / len(chunks)
        self.step(self.opt_G)
        return {"G_GAN": g_gan, RECONSTRUCTION_LOSSES[self.reconstruction]: g_rec, "G": g_gan + g_rec}
