"""Summaries as text: a mean with its interval, a metric's label and direction, plain-text tables.

The command line prints these (``python -m colorlib evaluate``) and the notebooks' Markdown
(:mod:`colorlib.chapters.ch05_scores`) is built from the same pieces, so the two never disagree
on how a number is written.
"""
from colorlib.metrics import HIGHER_IS_BETTER

# The scores two generators are weighed on side by side, amount of colour first, then its
# rightness: (metric, label, digits). Notebook 04 weighs the GAN so, notebook 07 the full-budget levers.
PAIRED_SCORES = (("colourfulness", "colourfulness (amount of colour)", 1),
                 ("right_hue", "right hue (share of coloured pixels)", 3),
                 ("ciede2000", "CIEDE2000 (lower is better)", 2), ("auc", "AuC (higher is better)", 3))


def format_table(summary, digits=4):
    """A plain-text table of {row: {column: value}}."""
    cells = {name: {column: f"{value:.{digits}f}" for column, value in row.items()}
             for name, row in summary.items()}
    return text_table(cells)


def text_table(cells):
    """Right-aligned columns of {row: {column: text}}, each as wide as its widest entry."""
    columns = list(next(iter(cells.values())))
    widths = {c: 2 + max(len(c), *(len(row[c]) for row in cells.values())) for c in columns}
    name_width = max(len(name) for name in cells) + 2
    lines = [" " * name_width + "".join(f"{c:>{widths[c]}}" for c in columns)]
    for name, row in cells.items():
        lines.append(f"{name:<{name_width}}" + "".join(f"{row[c]:>{widths[c]}}" for c in columns))
    return "\n".join(lines)


def format_ci_table(summary, baseline="grey", digits=3):
    """A plain-text table of :func:`colorlib.metrics.summarize_with_ci`'s output, cells "mean [low, high]".

    One row per metric, saying which way it improves; one column per model, then one per model
    other than the baseline: "<model> - <baseline>", its paired difference from the baseline,
    starred where it beats the baseline.
    """
    others = [model for model in summary if model != baseline]
    cells = {}
    for metric in summary[baseline]:
        row = {model: mean_interval(summary[model][metric], digits) for model in summary}
        for model in others:
            star = " *" if summary[model][metric]["beats_baseline"] else ""
            row[f"{model} - {baseline}"] = difference_interval(summary[model][metric], digits) + star
        cells[metric_label(metric)] = row
    note = f"* the interval excludes zero on the better side: beats {baseline}"
    return text_table(cells) + "\n" + note


def format_means_table(summary, baseline="grey", digits=3):
    """A plain-text table of each model's mean per metric, without intervals or verdicts (too few photos for them)."""
    return format_table({metric_label(metric): {model: summary[model][metric]["mean"] for model in summary}
                         for metric in summary[baseline]}, digits)


def metric_label(metric):
    """The metric's name with the way it improves, e.g. "auc (higher is better)"."""
    return f"{metric} ({metric_direction(metric)})" if metric_direction(metric) else metric


def metric_direction(metric):
    """"higher is better", "lower is better", or None for a metric without a direction."""
    higher = HIGHER_IS_BETTER.get(metric)
    return None if higher is None else f"{'higher' if higher else 'lower'} is better"


def mean_interval(row, digits):
    """A summary row's mean and interval: "0.898 [0.890, 0.905]"."""
    return interval_text(row["mean"], row["low"], row["high"], digits)


def difference_interval(row, digits):
    """A summary row's paired difference from the baseline and its interval."""
    return interval_text(row["difference"], row["difference_low"], row["difference_high"], digits)


def interval_text(mean, low, high, digits):
    """"mean [low, high]" with ``digits`` decimals."""
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
