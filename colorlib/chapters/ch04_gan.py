"""Notebook 04, training the GAN: its objective in maths, the PatchGAN's view, and the run's numbers in words, what it adds included."""
import matplotlib.pyplot as plt
import numpy as np
import torch

from colorlib.metrics import HIGHER_IS_BETTER, grey_ab, score_images, summarize_with_ci, verdict_of
from colorlib.tables import PAIRED_SCORES


def gan_objective_markdown(config):
    """The pix2pix objective as Markdown LaTeX, with the run's lambda and reconstruction term.

    The reconstruction term is ``config.gan_reconstruction``: "l1" (the capstone's) or
    "cross_entropy" (a classification head's own loss over the a*b* bins), each with its weight.

    Parameters
    ----------
    config : Config

    Returns
    -------
    str
        Markdown with two display equations and a sentence naming the terms.
    """
    reconstruction = config.gan_reconstruction
    weight = config.lambda_l1
    if reconstruction == "cross_entropy":
        weight = config.lambda_cross_entropy
        term = r"\mathrm{CE}\big(q(G(x)),\, q^*(y)\big)"
        words = "the cross-entropy between the generator's scores over the a\\*b\\* bins and the true bins"
    else:
        term = r"\lVert y - G(x) \rVert_1"
        words = "the L1 distance between the generated and the true a\\*b\\*"
    gan = "binary cross-entropy on logits" if config.gan_mode == "vanilla" else "mean squared error"
    return "\n".join([
        "With $x$ the L\\* channel, $y$ the true a\\*b\\*, $G$ the generator and $D$ the discriminator "
        f"(its verdicts compared with 1 for real and 0 for fake by {gan}, `gan_mode = \"{config.gan_mode}\"`):",
        "",
        r"$$\mathcal{L}_D = \tfrac{1}{2}\Big(\ell\big(D(x, y), 1\big) + \ell\big(D(x, G(x)), 0\big)\Big)$$",
        "",
        rf"$$\mathcal{{L}}_G = \ell\big(D(x, G(x)), 1\big) + \lambda\, {term}, \qquad \lambda = {weight:g}$$",
        "",
        f"The reconstruction term is {words} (`gan_reconstruction = \"{reconstruction}\"`). Both networks use "
        f"Adam at a learning rate of {config.gan_lr:g} with betas ({config.beta1:g}, {config.beta2:g}).",
    ])


def reconstruction_key(history):
    """The generator's reconstruction-loss key in a GAN history ("G_L1", "G_cross_entropy"), or None."""
    keys = [key for key in (history[-1] if history else {}) if key.startswith("G_") and key != "G_GAN"]
    return keys[0] if keys else None


def receptive_field(module):
    """The receptive field, in input pixels, of one output of a chain of convolutions.

    Every ``Conv2d`` in ``module.modules()`` order counts (square kernels and strides); other
    layers do not change the receptive field.

    Parameters
    ----------
    module : nn.Module

    Returns
    -------
    int
    """
    field, jump = 1, 1
    for layer in module.modules():
        if isinstance(layer, torch.nn.Conv2d):
            field += (layer.kernel_size[0] - 1) * jump
            jump *= layer.stride[0]
    return field


def describe_receptive_field(discriminator, size):
    """One sentence: the PatchGAN's receptive field against the training crop, computed."""
    field = receptive_field(discriminator)
    grid = discriminator(torch.zeros(1, 3, size, size)).shape[-1]
    if field >= size:
        meaning = (f"larger than the {size} x {size} training crops themselves: each verdict's patch is as wide "
                   "as the crop or wider, reaching into the padding beyond its edges, so here the verdicts overlap "
                   "heavily and judge large parts of the image rather than local texture")
    else:
        meaning = (f"{field / size:.0%} of the side of a {size} x {size} training crop: each verdict judges "
                   "a local patch, so the discriminator looks at texture and local colour")
    return (f"Each of the {grid} x {grid} verdicts sees a {field} x {field} px patch of its input, "
            f"{meaning}.")


def grey_ssim(batch):
    """The capstone's mean SSIM of the grey prediction (a*b* = 0) on a {"L", "ab"} batch."""
    return float(score_images(batch["L"], grey_ab(batch["ab"]), batch["ab"])["ssim"].mean())


def describe_val_ssim(history, grey, n_photos, capstone_ssim=0.87):
    """One sentence: the GAN's last validation SSIM beside the capstone's and grey's on the same photos."""
    if not history or "val_ssim" not in history[-1]:
        return "The history holds no validation SSIM."
    ssim = history[-1]["val_ssim"]
    return (f"After epoch {history[-1]['epoch']} the GAN's generator scores a capstone SSIM of {ssim:.3f} on "
            f"{n_photos} validation photos, against the capstone's published {capstone_ssim}. Predicting no "
            f"colour at all scores {grey:.3f} on the same photos: SSIM says little about colour "
            "(notebook 05 measures it).")


def describe_gan_budget(config, split, capstone_epochs=(30, 70)):
    """One sentence: how many epochs, photos and steps the GAN trains on, from the config and the split."""
    photos = min(config.gan_photos, len(split.train)) if config.gan_photos else len(split.train)
    batch = min(config.gan_batch_size or config.batch_size, photos)
    steps = config.gan_epochs * (photos // batch)
    return (f"This run trains the GAN for **{config.gan_epochs} epoch{'s' if config.gan_epochs != 1 else ''}** "
            f"on **{photos:,} photos** at {config.size} px in batches of {batch}: **{steps:,} steps**, after "
            f"{config.pretrain_epochs} pretraining epoch{'s' if config.pretrain_epochs != 1 else ''}; the capstone "
            f"trained {capstone_epochs[0]} + {capstone_epochs[1]} epochs at 256 px.")


def describe_gan_balance(history):
    """Sentences on the last epoch's losses: does D beat chance (log 2), how much of G is reconstruction."""
    if not history:
        return "The history is empty."
    last, chance = history[-1], float(np.log(2))
    key = reconstruction_key(history)
    d = last["D"]
    judge = ("tells real from generated better than chance" if d < chance else
             "does no better than chance")
    lines = [f"In epoch {last['epoch']} the discriminator's loss is {d:.3f} against the {chance:.3f} (log 2) "
             f"of a discriminator that cannot tell: it {judge}."]
    if key and "G_GAN" in last:
        lines.append(f"The generator's GAN term is {last['G_GAN']:.3f} and its reconstruction term ({key}, "
                     f"already times lambda) {last[key]:.3f}: reconstruction is "
                     f"{last[key] / (last[key] + last['G_GAN']):.0%} of the generator's loss.")
    return " ".join(lines)


def plot_gan_losses(history, window=20):
    """The GAN's losses, in three panels: the discriminator's (D_*), the generator's GAN term, and the rest of its loss.

    The generator's GAN term (about log 2) has a panel of its own: beside its weighted
    reconstruction term (tens) it would be a flat line at the bottom. Per step when the history
    keeps ``step_losses`` (each step faint, its running mean over ``window`` steps solid, epoch
    boundaries dotted); otherwise per-epoch curves, or one bar per loss for a single epoch. The
    dashed line is log 2, the loss of a discriminator that cannot tell (logit 0), for the D_*
    losses and G_GAN alike.
    """
    chance = float(np.log(2))
    generator = [k for k in history[-1] if k.startswith("G_") or k == "G"]
    groups = {"discriminator losses": [k for k in history[-1] if k.startswith("D")],
              "generator's GAN term": [k for k in generator if k == "G_GAN"],
              "generator's reconstruction and total": [k for k in generator if k != "G_GAN"]}
    per_step = all("step_losses" in record for record in history)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    epochs = [record["epoch"] for record in history]
    colours = {"discriminator losses": "tab:blue", "generator's GAN term": "tab:orange"}
    for ax, (title, keys) in zip(axes, groups.items()):
        adversarial = title in colours
        if per_step:
            _plot_steps(ax, history, keys, window)
        elif len(history) > 1:
            for key in keys:
                ax.plot(epochs, [record[key] for record in history], marker="o", label=key)
            ax.set_xticks(epochs)
            ax.set_xlabel("epoch")
            ax.legend()
        else:
            values = [history[-1][key] for key in keys]
            bars = ax.bar(keys, values, color=colours.get(title, "tab:green"))
            ax.bar_label(bars, fmt="%.3f")
            ax.set_xlabel(f"mean over epoch {epochs[0]}")
            ax.set_ylim(0, 1.15 * max(*values, chance if adversarial else 0))  # room for the labels (and log 2)
        if adversarial:
            ax.axhline(chance, color="grey", linestyle="--", linewidth=1)
            ax.annotate("log 2: cannot tell", (0.02, chance), xycoords=("axes fraction", "data"),
                        xytext=(0, 3), textcoords="offset points", color="grey", fontsize=9)
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _plot_steps(ax, history, keys, window):
    """Every step's loss (faint) and its trailing running mean (solid), steps counted over epochs."""
    for index, key in enumerate(keys):
        values = np.concatenate([record["step_losses"][key] for record in history])
        steps = np.arange(1, len(values) + 1)
        colour = f"C{index}"
        ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.8)
        width = min(window, len(values))
        running = np.convolve(values, np.ones(width), "valid") / width
        ax.plot(steps[width - 1:], running, color=colour, label=f"{key} (mean of {width} steps)")
    ends = np.cumsum([len(record["step_losses"][keys[0]]) for record in history])[:-1]
    for end in ends:
        ax.axvline(end + 0.5, color="0.6", linestyle=":", linewidth=1)
    ax.set_xlabel("step")
    ax.legend(fontsize=8)


VERDICT_WORDS = {"better": "beats grey", "worse": "loses to grey", "unclear": "cannot be told apart from grey"}
VERDICT_RANK = {"better": 2, "unclear": 1, "worse": 0}


def describe_what_gan_adds(summary, photos_colourfulness):
    """Sentences answering "what the GAN adds": its colour and its scores beside the pretrained generator's and grey's.

    Parameters
    ----------
    summary : dict
        :func:`colorlib.metrics.summarize_with_ci` of grey, "pretrained" and "gan" on the same photos.
    photos_colourfulness : float
        The photos' own mean colourfulness.

    Returns
    -------
    str
        Markdown.
    """
    if "gan" not in summary or "pretrained" not in summary:
        return "The run has no GAN generator to set beside the pretrained one."
    gan, pretrained = summary["gan"], summary["pretrained"]
    colour = (f"The GAN's generator paints a colourfulness of **{gan['colourfulness']['mean']:.1f}**, against "
              f"{pretrained['colourfulness']['mean']:.1f} for the pretrained generator it started from (the photos' own: "
              f"{photos_colourfulness:.1f}; grey's: 0).")
    verdicts, better, worse = [], [], []
    for metric, name in (("ciede2000", "CIEDE2000"), ("auc", "AuC"), ("ssim", "the capstone's SSIM")):
        verdict = {model: verdict_of(metric, summary[model][metric]) for model in ("gan", "pretrained")}
        said = {model: VERDICT_WORDS[word] for model, word in verdict.items()}
        verdicts.append(f"on {name} the GAN {said['gan']} ({gan[metric]['difference']:+.3f} "
                        f"[{gan[metric]['difference_low']:+.3f}, {gan[metric]['difference_high']:+.3f}]), "
                        f"the pretrained generator {said['pretrained']} ({pretrained[metric]['difference']:+.3f})")
        rank = {model: VERDICT_RANK[word] for model, word in verdict.items()}
        (better if rank["gan"] > rank["pretrained"] else worse if rank["gan"] < rank["pretrained"] else []).append(name)
    return (colour + " Against grey, with 95% paired intervals: " + "; ".join(verdicts) + ". "
            + gan_in_one_line(gan["colourfulness"]["mean"] - pretrained["colourfulness"]["mean"],
                              photos_colourfulness, better, worse))


def gan_in_one_line(added_colour, photos_colourfulness, better, worse):
    """The answer in one sentence: the colour the GAN added, and the scores on which its verdict moved."""
    if abs(added_colour) < 0.05 * photos_colourfulness:  # within a twentieth of the photos' colour
        colour = f"about as much colour as the pretrained generator ({added_colour:+.1f})"
    else:
        colour = f"{'more' if added_colour > 0 else 'less'} colour than the pretrained generator ({added_colour:+.1f})"
    moved = ([f"a better verdict against grey on {' and '.join(better)}"] if better else []) + (
        [f"a worse {'one' if better else 'verdict against grey'} on {' and '.join(worse)}"] if worse else [])
    return (f"**In one line: the GAN paints {colour}, with "
            + (", and ".join(moved) if moved else "the same verdicts against grey on every score") + ".**")




def gan_against_pretrained_markdown(scores, history):
    """The GAN weighed against the generator it started from: paired intervals and what it cost.

    Parameters
    ----------
    scores : dict
        {"pretrained", "gan": {metric: per-image ndarray}} on the same validation photos
        (:func:`colorlib.evaluation.evaluate_generators`).
    history : list of dict
        The GAN's history (:func:`colorlib.stages.train_gan`): its steps and seconds.

    Returns
    -------
    str
        Markdown: a row per score with both means and the GAN minus the pretrained generator,
        a 95% paired bootstrap interval and its verdict, then the steps and minutes.
    """
    if "gan" not in scores or "pretrained" not in scores:
        return "The run has no GAN generator to set beside the pretrained one."
    summary = summarize_with_ci({"pretrained": scores["pretrained"], "gan": scores["gan"]}, baseline="pretrained")
    lines = ["| score | pretrained | GAN | GAN minus pretrained [95% paired] | verdict |", "|" + " --- |" * 5]
    for metric, name, digits in PAIRED_SCORES:
        if metric not in summary["gan"]:
            continue
        gan, pretrained = summary["gan"][metric], summary["pretrained"][metric]
        lines.append(f"| {name} | {pretrained['mean']:.{digits}f} | {gan['mean']:.{digits}f} | "
                     f"{gan['difference']:+.{digits}f} [{gan['difference_low']:+.{digits}f}, "
                     f"{gan['difference_high']:+.{digits}f}] | {paired_verdict(metric, gan)} |")
    steps = gan_steps(history)
    seconds = sum(record.get("seconds", 0) for record in history)
    cost = (f"The GAN trained **{steps:,} steps** in **{seconds / 60:.1f} minutes** "
            f"({history[-1].get('images_per_s', float('nan')):.1f} images a second in its last epoch), "
            "every photo scored by both generators.")
    return "\n".join(lines) + "\n\n" + cost


def paired_verdict(metric, row):
    """A GAN-minus-pretrained interval in words; colourfulness, which has no better side, as more or less."""
    if row["difference_low"] <= 0 <= row["difference_high"]:
        return "a tie: the interval holds zero"
    if HIGHER_IS_BETTER.get(metric) is None:
        return "the GAN paints more" if row["difference_low"] > 0 else "the GAN paints less"
    return f"the GAN is {verdict_of(metric, row)}"


def gan_steps(history):
    """The GAN's training steps, counted from the losses its history keeps for every step."""
    return sum(len(record.get("step_losses", {}).get("D", ())) for record in history)
