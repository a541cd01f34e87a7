import platform
import subprocess
import sys

import pytest
import torch

from colorlib.checkpoints import load_checkpoint, save_checkpoint
from colorlib.discriminator import PatchDiscriminator
from colorlib.models import build_generator
from colorlib.runtime import keep_freed_memory, seed_everything
from colorlib.train import EpochSampler, LossMeters, check_finite
from colorlib.trainers import ColorizationGAN, L1Pretrainer, micro_batches


def fixed_batch(n=4, size=64):
    torch.manual_seed(0)
    L = torch.rand(n, 1, size, size) * 2 - 1
    ab = torch.stack([L[:, 0] * 0.3, -L[:, 0] * 0.2], dim=1)  # colour that depends on L
    return L, ab


def new_generator():
    torch.manual_seed(0)
    return build_generator(64, imagenet_weights="never", verbose=False)[0]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_pretraining_steps_lower_the_L1_loss(precision):
    L, ab = fixed_batch(n=2, size=16)  # tiny: bf16 is emulated on CPUs without bf16 units, 20x slower than fp32
    torch.manual_seed(0)
    # The capstone's rate: at 1e-3 the batch norms' statistics of two photos made the loss overshoot
    # (up to 9x its first value on other seeds) and bf16 sometimes reached NaN.
    trainer = L1Pretrainer(build_generator(16, imagenet_weights="never", verbose=False)[0], lr=1e-4,
                           precision=precision)
    losses = [float(trainer.train_step(L, ab)["L1"]) for _ in range(4)]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.75 * losses[0]


def test_gan_step_trains_both_networks():
    L, ab = fixed_batch()
    generator, discriminator = new_generator(), PatchDiscriminator()
    before_g = [p.detach().clone() for p in generator.parameters()]
    before_d = [p.detach().clone() for p in discriminator.parameters()]
    gan = ColorizationGAN(generator, discriminator)
    losses = gan.train_step(L, ab)
    assert set(losses) == {"D_fake", "D_real", "D", "G_GAN", "G_L1", "G"}
    assert all(torch.isfinite(v) for v in losses.values())
    torch.testing.assert_close(losses["G"], losses["G_GAN"] + losses["G_L1"])
    torch.testing.assert_close(losses["D"], (losses["D_fake"] + losses["D_real"]) / 2)
    assert any(not torch.equal(a, b) for a, b in zip(before_g, generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, discriminator.parameters()))


def test_generator_step_leaves_the_discriminator_alone():
    L, ab = fixed_batch()
    gan = ColorizationGAN(new_generator(), PatchDiscriminator())
    after_d_step = {}
    d_step = gan.opt_D.step

    def step_and_snapshot():
        d_step()
        for name, p in gan.discriminator.named_parameters():
            after_d_step[name] = (p.detach().clone(), p.grad.clone())

    gan.opt_D.step = step_and_snapshot
    gan.train_step(L, ab)
    assert after_d_step
    for name, p in gan.discriminator.named_parameters():
        weights, grad = after_d_step[name]
        assert torch.equal(p, weights), name
        assert torch.equal(p.grad, grad), name  # G's loss added no gradient to D


def test_gan_l1_term_is_weighted_by_lambda():
    L, ab = fixed_batch()
    gan = ColorizationGAN(new_generator(), PatchDiscriminator(), lambda_l1=100.0)
    with torch.no_grad():
        expected = (gan.generator(L) - ab).abs().mean() * 100
    torch.testing.assert_close(gan.train_step(L, ab)["G_L1"], expected, rtol=1e-4, atol=1e-4)


def test_non_finite_loss_names_epoch_and_step():
    with pytest.raises(FloatingPointError, match="G_L1 is nan at epoch 3, step 7"):
        check_finite({"G": torch.tensor(1.0), "G_L1": torch.tensor(float("nan"))}, 3, 7)


def test_loss_meters_weight_by_batch_size():
    meters = LossMeters()
    meters.update({"L1": 1.0}, 3)
    meters.update({"L1": 3.0}, 1)
    assert meters.means() == {"L1": 1.5}


def test_checkpoints_round_trip_and_refuse_missing_files(tmp_path):
    generator = new_generator()
    save_checkpoint(tmp_path / "g.pt", generator=generator.state_dict(), config={"size": 64})
    state = load_checkpoint(tmp_path / "g.pt")
    assert state["config"] == {"size": 64}
    for key, value in generator.state_dict().items():
        assert torch.equal(state["generator"][key], value)
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_checkpoint(tmp_path / "nothing.pt")


@pytest.mark.slow
def test_micro_batches_give_the_same_update_without_batch_norm_effects():
    L, ab = fixed_batch()
    whole, parts = new_generator().eval(), new_generator().eval()  # eval: no per-part statistics
    one = L1Pretrainer(whole, lr=1e-3)
    two = L1Pretrainer(parts, lr=1e-3, micro_batches=2)
    loss_one, loss_two = one.train_step(L, ab)["L1"], two.train_step(L, ab)["L1"]
    torch.testing.assert_close(loss_one, loss_two, rtol=1e-5, atol=1e-6)
    for a, b in zip(whole.parameters(), parts.parameters()):
        # Compare the gradients the step used: Adam's first step is about lr * sign(gradient),
        # which would magnify float-rounding differences in near-zero gradients.
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-3, atol=1e-7)
    with pytest.raises(ValueError, match="does not split into 3"):
        micro_batches((L, ab), 3)


def test_epoch_sampler_is_seeded_split_and_resumable():
    sampler = EpochSampler(10, batch_size=2, seed=1)
    sampler.set_epoch(1)
    first = list(sampler)
    assert len(first) == 10 and sorted(first) == list(range(10))
    assert list(sampler) == first
    sampler.set_epoch(2)
    assert list(sampler) != first
    sampler.set_epoch(1, skip_batches=2)
    assert list(sampler) == first[4:] and len(sampler) == 6
    ranks = [EpochSampler(10, 2, 1, rank, 2) for rank in (0, 1)]
    for r in ranks:
        r.set_epoch(1)
    assert list(ranks[0]) == first[0:2] + first[4:6]  # two global batches of 4: parts 0 and 1
    assert list(ranks[1]) == first[2:4] + first[6:8]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator setting is glibc's")
def test_freed_memory_is_kept_where_glibc_allows_it():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # idempotent: fit calls it on every CPU run


def test_seeding_asks_torch_for_deterministic_algorithms_that_warn_where_there_are_none():
    torch.use_deterministic_algorithms(False)
    seed_everything(0)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()


def test_a_process_that_seeds_and_loads_the_stages_does_not_import_fastai_or_torchs_compiler():
    # Each notebook kernel starts this way: fastai comes with the first generator built, and
    # torch's compiler (which colorlib never uses) not at all; they took 9 s of its start.
    code = ("import sys; import colorlib.stages; from colorlib.runtime import seed_everything; seed_everything(0); "
            "print(sorted(m for m in ('fastai', 'torch._inductor', 'torchvision.models') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_gan_can_keep_the_classification_loss_instead_of_l1():
    L, ab = fixed_batch()
    torch.manual_seed(0)
    generator = build_generator(64, "never", False, head="classification")[0]
    gan = ColorizationGAN(generator, PatchDiscriminator(), lambda_l1=2.0, reconstruction="cross_entropy")
    with torch.no_grad():
        fake, expected = generator(L, ab)
        torch.testing.assert_close(fake, generator(L))  # the same colours as the plain call
        expected = expected * 2.0
    losses = gan.train_step(L, ab)
    assert "G_L1" not in losses
    torch.testing.assert_close(losses["G_cross_entropy"], expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(losses["G"], losses["G_GAN"] + losses["G_cross_entropy"])


def test_gan_refuses_an_unknown_reconstruction():
    with pytest.raises(ValueError, match="reconstruction must be one of"):
        ColorizationGAN(new_generator(), PatchDiscriminator(), reconstruction="l2")
