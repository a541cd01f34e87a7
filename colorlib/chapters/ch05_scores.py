"""Notebook 05, scoring the run: the takeaways, the results as Markdown tables, the example figures."""

from colorlib.evaluation import examples, generator_ab, photo_batches, run_generators
from colorlib.metrics import (COLOURED_CHROMA, HIGHER_IS_BETTER, HUE_TOLERANCE, METRIC_NAMES, ciede2000_jnd,
                              colourfulness_word, win_rates)
from colorlib.plots import show_comparison, show_ranked
from colorlib.shipping import BASELINE, COLOUR_SHARE, photos_colourfulness, shipped_generator
from colorlib.tables import mean_interval, metric_direction


def show_validation_examples(indices, split, config, generators, scores, model, train_ab_mean=None):
    """Chosen validation images: a model's colorization above the truth, titled with its scores.

    Parameters
    ----------
    indices : sequence of int
        Positions in ``split.val`` (e.g. from :func:`colorlib.metrics.extremes`).
    split, config
        The run's split and config (images are read at ``config.photo_size``).
    generators : dict
        As :func:`colorlib.evaluation.run_generators` returns them.
    scores : dict
        {model: {metric: per-image ndarray}} over ``split.val``.
    model : str
        Which prediction to show: a generator's name, "grey" or "mean_ab".
    train_ab_mean : sequence of 2 floats, optional
        Needed to show "mean_ab".
    """
    indices = [int(i) for i in indices]
    chosen = {metric: values[indices] for metric, values in scores[model].items()}
    if not indices:
        return show_ranked(None, None, None, [], chosen)
    wanted = {name: pair for name, pair in generators.items() if name == model}
    batch = examples([split.val[i] for i in indices], wanted, config.photo_size, train_ab_mean)
    return show_ranked(batch["L"], batch[model], batch["ab"], range(len(indices)), chosen, label=model)


def show_run_comparison(split, config, run_dir, n=6):
    """The run's first n validation photos: Gray / pretrained / GAN / shipped / Real, as far as the run has them.

    The photos are the first of the split, not chosen for the figure. Once notebook 05 has
    evaluated the run, the shipped generator (:func:`colorlib.shipping.shipped_row`) is named: a
    row of its own when it paints with a chroma scale, else "(shipped)" beside its row.
    """
    generators = run_generators(run_dir)
    batch = next(iter(photo_batches(split.val[:n], config.photo_size, n)))
    labels = {"pretrained": "pretrained, " + ("L1" if config.head == "regression" else "classification"),
              "gan": "GAN"}
    predictions = {labels[name]: generator_ab(generator, spec, batch["L"])
                   for name, (generator, spec) in generators.items()}
    shipped = shipped_generator(run_dir)
    if shipped and shipped[0] in generators:
        name, scale = shipped
        if scale == 1.0:  # a row above already shows it: name it rather than draw it twice
            predictions = {label + (" (shipped)" if label == labels[name] else ""): ab
                           for label, ab in predictions.items()}
        else:
            generator, spec = generators[name]
            predictions[f"shipped: {name} x {scale:g}"] = generator_ab(generator, spec.replace(chroma_scale=scale),
                                                                        batch["L"])
    return show_comparison(batch["L"], predictions, batch["ab"], n=n)


def describe_shipped(metrics, share=COLOUR_SHARE):
    """One Markdown paragraph: which row the run ships, by what rule, and how its colour compares with the photos'."""
    row = metrics.get("shipped")
    if row is None:
        return "No generator was scored, so none is shipped."
    summary = metrics["summary"][row]
    truth = photos_colourfulness(metrics["summary"])
    colour = summary["colourfulness"]["mean"]
    rule = (f"the most colourful generator row that beats grey on AuC, does not lose to it on CIEDE2000 "
            f"(95% paired intervals) and keeps at least {share:.0%} of the photos' colourfulness; rows whose "
            "colourfulness ties (its paired interval holds zero) go by stage: the GAN before the pretrained "
            "generator, a plain row before a calibrated one")
    verdict = "meets that rule" if metrics.get("shipped_meets_rule") else (
        "is the most colourful row that does not lose to grey on AuC: **no row meets the rule in this run**")
    return (f"The run ships **{row}**, chosen as {rule}. It {verdict}. Its colourfulness is {colour:.1f}, "
            f"{colour / truth:.0%} of the validation photos' own ({truth:.1f}); its CIEDE2000 is "
            f"{summary['ciede2000']['mean']:.2f} against grey's "
            f"{metrics['summary'][BASELINE]['ciede2000']['mean']:.2f} "
            f"({summary['ciede2000']['difference']:+.2f} [{summary['ciede2000']['difference_low']:+.2f}, "
            f"{summary['ciede2000']['difference_high']:+.2f}]) and its AuC {summary['auc']['mean']:.3f} against "
            f"{metrics['summary'][BASELINE]['auc']['mean']:.3f} ({summary['auc']['difference']:+.3f} "
            f"[{summary['auc']['difference_low']:+.3f}, {summary['auc']['difference_high']:+.3f}]).")


def takeaways(metrics, scores, share=COLOUR_SHARE):
    """Three Markdown bullets from a run's numbers: what ships and why, how it compares with grey, its colour.

    Parameters
    ----------
    metrics : dict
        What ``metrics.json`` holds (:func:`colorlib.evaluation.write_evaluation`).
    scores : dict
        {model: {metric: per-image ndarray}}, the scores it summarises.
    share : float
        The shipping rule's share of the photos' colourfulness.

    Returns
    -------
    str
        Markdown.
    """
    row = metrics.get("shipped")
    if row is None:
        return "- No generator was scored, so none is shipped."
    summary, grey = metrics["summary"][row], metrics["summary"][BASELINE]
    rates = win_rates({BASELINE: scores[BASELINE], row: scores[row]})[row]
    truth, colour = photos_colourfulness(metrics["summary"]), summary["colourfulness"]["mean"]
    meets = ("it is the most colourful row that beats grey on AuC, does not lose to it on CIEDE2000 and keeps "
             f"at least {share:.0%} of the photos' colourfulness" if metrics.get("shipped_meets_rule") else
             "**no row meets the shipping rule**; it is the most colourful that does not lose to grey on AuC")
    ciede, auc = summary["ciede2000"], summary["auc"]
    return "\n".join([
        f"- **{row}** ships: {meets}.",
        f"- Against grey (no colour at all), its CIEDE2000 is {ciede['mean']:.2f} against "
        f"{grey['ciede2000']['mean']:.2f}, "
        f"{ciede['difference']:+.2f} [{ciede['difference_low']:+.2f}, {ciede['difference_high']:+.2f}] "
        f"({ciede2000_jnd(ciede['difference'])}; {_verdict_words(ciede)}), lower on {rates['ciede2000']:.0%} of the "
        f"photos; its AuC is {auc['mean']:.3f} against {grey['auc']['mean']:.3f}, {auc['difference']:+.3f} "
        f"[{auc['difference_low']:+.3f}, {auc['difference_high']:+.3f}] ({_verdict_words(auc)}), higher on "
        f"{rates['auc']:.0%} of them.",
        f"- Amount of colour: its colourfulness is {colour:.1f} ({colourfulness_word(colour)}), {colour / truth:.0%} "
        f"of the validation photos' own {truth:.1f} ({colourfulness_word(truth)})." + right_hue_sentence(summary),
    ])


def right_hue_sentence(row):
    """" Right colour: it paints 59% of the photos' clearly coloured pixels within 30 degrees of their hue."
    (empty for a summary from before the metric)."""
    if "right_hue" not in row:
        return ""
    hue = row["right_hue"]
    return (f" Right colour: it paints {hue['mean']:.0%} [{hue['low']:.0%}, {hue['high']:.0%}] of the photos' clearly "
            f"coloured pixels (chroma {COLOURED_CHROMA:.0f} or more) with a visible colour within {HUE_TOLERANCE:.0f} "
            "degrees of their true hue; grey paints none.")


def _verdict_words(row):
    if row["beats_baseline"]:
        return "better than grey: the 95% paired interval excludes zero"
    if row["difference_low"] <= 0 <= row["difference_high"]:
        return "not told apart from grey: the 95% paired interval holds zero"
    return "worse than grey: the 95% paired interval excludes zero"


def results_markdown(summary, metrics=("ssim", "ciede2000", "auc", "right_hue", "colourfulness"), baseline="grey",
                     photos_colourfulness=None, digits=3):
    """A Markdown table of :func:`colorlib.metrics.summarize_with_ci`'s output: a row per model, a column per metric.

    Each cell is "mean [low, high]"; a model's cell adds its paired difference from the baseline,
    in bold with "beats grey" where that interval excludes zero on the better side.
    Colourfulness cells carry Hasler and Suesstrunk's word for the value. A metric the summary
    does not hold (``right_hue`` in runs older than it) is left out.

    Parameters
    ----------
    summary : dict
    metrics : sequence of str
    baseline : str
    photos_colourfulness : float, optional
        The photos' own mean colourfulness, added as a last row for comparison.
    digits : int

    Returns
    -------
    str
        Markdown.
    """
    metrics = [metric for metric in metrics if all(metric in rows for rows in summary.values())]
    header = ["model"] + [METRIC_NAMES.get(metric, metric) + (f" ({way})" if (way := metric_direction(metric)) else "")
                          for metric in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for model, rows in summary.items():
        cells = [model]
        for metric in metrics:
            row = rows[metric]
            cell = mean_interval(row, digits)
            if metric == "colourfulness":
                cell = f"{row['mean']:.1f} [{row['low']:.1f}, {row['high']:.1f}], {colourfulness_word(row['mean'])}"
            elif model != baseline and HIGHER_IS_BETTER.get(metric) is not None:
                difference = f"vs {baseline} {row['difference']:+.{digits}f} " \
                             f"[{row['difference_low']:+.{digits}f}, {row['difference_high']:+.{digits}f}]"
                cell += f"<br>**{difference}, beats {baseline}**" if row["beats_baseline"] else f"<br>{difference}"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    if photos_colourfulness is not None and "colourfulness" in metrics:
        cells = ["the photos themselves"] + [
            f"{photos_colourfulness:.1f}, {colourfulness_word(photos_colourfulness)}" if metric == "colourfulness"
            else "" for metric in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def differences_markdown(summary, scores, baseline="grey", metrics=("ciede2000", "auc", "right_hue"), digits=3):
    """A Markdown table of each model's paired difference from the baseline and its win rate.

    Parameters
    ----------
    summary : dict
        The output of :func:`colorlib.metrics.summarize_with_ci`.
    scores : dict
        {model: {metric: per-image ndarray}}, the scores it summarises.
    baseline : str
    metrics : sequence of str
        Metrics with a direction; CIEDE2000 differences are also given in just-noticeable differences.
    digits : int

    Returns
    -------
    str
        Markdown: per metric, "model minus baseline [interval]" and the share of photos it wins.
    """
    metrics = [metric for metric in metrics if metric in scores[baseline]]  # right_hue: not in older runs
    rates = win_rates(scores, baseline, metrics)
    header = ["model"]
    for metric in metrics:
        header += [f"{METRIC_NAMES.get(metric, metric)} minus {baseline} ({metric_direction(metric)})",
                   f"photos where it beats {baseline} on {METRIC_NAMES.get(metric, metric)}"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for model in rates:
        cells = [model]
        for metric in metrics:
            row = summary[model][metric]
            cell = (f"{row['difference']:+.{digits}f} [{row['difference_low']:+.{digits}f}, "
                    f"{row['difference_high']:+.{digits}f}]")
            cell = f"**{cell}**" if row["beats_baseline"] else cell
            if metric == "ciede2000":
                cell += f"<br>({ciede2000_jnd(row['difference'])})"
            cells += [cell, f"{rates[model][metric]:.0%}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
