import numpy as np
import pytest
import torch
from torch import nn

from colorlib.discriminator import PatchDiscriminator
from colorlib.losses import GANLoss
from colorlib.models import (
    GeneratorSpec,
    build_generator,
    count_parameters,
    describe_layers,
    encoder_of,
)
from colorlib.runtime import seed_everything


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return build_generator(64, imagenet_weights="never", verbose=False)


def test_generator_maps_L_to_ab(generator):
    net, weights = generator
    assert weights == "random"
    out = net(torch.randn(2, 1, 64, 64))
    assert out.shape == (2, 2, 64, 64)


def test_generator_body_is_a_one_channel_resnet18(generator):
    net, _ = generator
    first_conv = net.layers[0][0]
    assert isinstance(first_conv, nn.Conv2d) and first_conv.in_channels == 1
    assert 30e6 < count_parameters(net) < 32e6


def test_generator_says_which_weights(capsys):
    build_generator(64, imagenet_weights="never")
    assert "RANDOM weights" in capsys.readouterr().out


def test_required_imagenet_weights_fail_clearly(monkeypatch):
    monkeypatch.setattr("colorlib.models.imagenet_weights_available", lambda download=True: False)
    with pytest.raises(RuntimeError, match="ImageNet weights are required"):
        build_generator(64, imagenet_weights="required", verbose=False)
    with pytest.raises(ValueError, match="imagenet_weights"):
        build_generator(64, imagenet_weights="yes")


def test_discriminator_gives_a_30x30_grid_on_256px():
    out = PatchDiscriminator()(torch.randn(1, 3, 256, 256))
    assert out.shape == (1, 1, 30, 30)


def test_discriminator_patches_see_70x70_pixels():
    disc = PatchDiscriminator().eval()
    image = torch.randn(1, 3, 128, 128, requires_grad=True)
    out = disc(image)
    out[0, 0, 5, 5].backward()
    rows = image.grad.abs().sum(dim=(0, 1, 3)).nonzero()
    cols = image.grad.abs().sum(dim=(0, 1, 2)).nonzero()
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70


def test_describe_layers_totals_the_parameters():
    text = describe_layers(PatchDiscriminator().model)
    assert text.splitlines()[-1].split()[-1] == f"{count_parameters(PatchDiscriminator()):,}"


@pytest.mark.parametrize("mode", ["vanilla", "lsgan"])
def test_gan_loss_targets(mode):
    loss = GANLoss(mode)
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.0]])
    real, fake = loss(logits, real=True), loss(logits, real=False)
    if mode == "vanilla":
        expected_real = nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        expected_fake = nn.functional.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
    else:
        expected_real = ((logits - 1) ** 2).mean()
        expected_fake = (logits ** 2).mean()
    torch.testing.assert_close(real, expected_real)
    torch.testing.assert_close(fake, expected_fake)
    assert loss.target(logits, True).shape == logits.shape


def test_gan_loss_is_low_when_the_logits_are_right():
    loss = GANLoss("vanilla")
    confident = torch.full((1, 1, 4, 4), 10.0)
    assert loss(confident, real=True) < 1e-3 < loss(confident, real=False)


def test_unknown_gan_mode_is_refused():
    with pytest.raises(ValueError, match="wgan"):
        GANLoss("wgan")


def test_a_new_generator_is_wholly_in_training_mode():
    # DynamicUnet's dummy forward leaves the encoder in eval mode; training must not start so.
    generator, _ = build_generator(32, "never", verbose=False)
    assert all(module.training for module in generator.modules())


def test_a_generator_spec_holds_plain_checked_values():
    spec = GeneratorSpec(np.int64(64), temperature=np.float32(0.5))  # numpy numbers, as a Config may hold
    assert type(spec.size) is int and type(spec.temperature) is float and spec.asdict()["size"] == 64
    assert spec.replace(chroma_scale=0.5).chroma_scale == 0.5 and spec.chroma_scale == 1.0  # frozen: a copy
    for bad, why in [({"size": True}, "generator size True"), ({"size": 0}, "generator size 0"),
                     ({"temperature": 0.0}, "temperature 0.0"), ({"temperature": float("nan")}, "temperature nan"),
                     ({"freeze_encoder_bn": "false"}, "freeze_encoder_bn 'false'"),
                     ({"encoder": "vgg16"}, "encoder 'vgg16'")]:
        with pytest.raises(ValueError, match=why):
            GeneratorSpec(**{"size": 64, **bad})


def test_a_spec_builds_the_network_its_weights_fit():
    spec = GeneratorSpec(32, freeze_encoder_bn=True)
    seed_everything(0)
    generator = spec.build()
    assert generator.eval()(torch.zeros(1, 1, 32, 32)).shape == (1, 2, 32, 32)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder_of(generator).modules())  # frozen norms


def test_a_decoder_cut_at_a_quarter_predicts_colour_there_and_paints_the_whole_input():
    torch.manual_seed(0)
    generator, _ = build_generator(64, "never", False, head="classification", output_stride=4)
    L = torch.randn(2, 1, 64, 64)
    assert generator.scores(L).shape[-2:] == (16, 16)  # colour where colour lives
    ab = generator(L)
    assert ab.shape == (2, 2, 64, 64)  # upsampled onto the whole of L
    loss = generator.loss(L, 0.2 * torch.randn(2, 2, 64, 64))  # true ab averaged to the scores' side
    assert torch.isfinite(loss)
    regression, _ = build_generator(64, "never", False, output_stride=4)
    assert regression(L).shape == (2, 2, 64, 64)


def test_an_output_stride_travels_in_the_spec_and_rebuilds_the_same_network():
    spec = GeneratorSpec(64, head="classification", output_stride=4)
    generator = spec.build()
    rebuilt = GeneratorSpec(**spec.asdict()).build()
    rebuilt.load_state_dict(generator.state_dict())
    assert GeneratorSpec(64).output_stride == 1  # a checkpoint saved before the field is a full U-Net
    with pytest.raises(ValueError, match="output_stride"):
        GeneratorSpec(64, output_stride=3)


def test_the_discriminator_sees_true_colour_at_the_generators_resolution():
    from colorlib.models import at_output_stride

    ab = torch.zeros(1, 2, 8, 8)
    ab[..., ::2, ::2] = 1.0  # detail finer than a 4 x 4 block
    assert torch.allclose(at_output_stride(ab, 4), torch.full_like(ab, 0.25))
    assert at_output_stride(ab, 1) is ab


@pytest.mark.parametrize("encoder", ["resnet18", "efficientnet_lite0"])
def test_the_lean_head_reads_four_stages_and_scores_colour_at_a_quarter_of_the_side(encoder):
    from colorlib.heads import LeanColourNet

    torch.manual_seed(0)
    generator, _ = build_generator(64, "never", False, encoder, "classification", output_stride=4, decoder="lean")
    net = generator.net
    assert isinstance(net, LeanColourNet) and len(net.taps) == 4
    strides = [64 // x.shape[-1] for x in net.features(torch.zeros(1, 1, 64, 64))]
    assert strides == [4, 8, 16, 32]
    L = torch.randn(2, 1, 64, 64)
    assert generator.scores(L).shape[-2:] == (16, 16)
    assert generator(L).shape == (2, 2, 64, 64)
    assert not net.out.weight.any()  # starts at the prior's colours
    assert encoder_of(generator) is net.encoder


def test_the_decoder_travels_in_the_spec_and_rebuilds_the_same_network():
    spec = GeneratorSpec(64, "efficientnet_lite0", "classification", freeze_encoder_bn=True, output_stride=4,
                         decoder="lean")
    generator = spec.build()
    rebuilt = GeneratorSpec(**spec.asdict()).build()
    rebuilt.load_state_dict(generator.state_dict())  # strict: the same tensors by name and shape
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder_of(rebuilt).modules())
    assert GeneratorSpec(64).decoder == "unet"  # a checkpoint saved before the field is a U-Net
    with pytest.raises(ValueError, match="decoder"):
        GeneratorSpec(64, decoder="lean")  # the lean head predicts at a quarter: output_stride 4
    with pytest.raises(ValueError, match="decoder"):
        GeneratorSpec(64, output_stride=4, decoder="fpn")
