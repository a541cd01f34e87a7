"""Which of a run's scored rows colorizes new photos, and with what chroma scale.

A row of ``metrics.json`` is a generator as it predicts, or with its chroma calibrated
(``<name>_calibrated``). The rule (:func:`shipped_row`) ships the most colourful row that is
honest about its colour; notebook 06 and the ``colorize`` command use what it chose.
"""
from pathlib import Path

from colorlib.checkpoints import METRICS_FILE, RUN_CHECKPOINTS, load_json
from colorlib.statistics import paired_bootstrap_ci

BASELINE = "grey"
CALIBRATED = "_calibrated"  # suffix of a generator's row with its chroma calibrated (evaluate_calibrated)


COLOUR_SHARE = 0.5  # a shipped colorizer keeps at least this share of the photos' own colourfulness


def preference(name):
    """A row's rank when rows tie on colour (lower first): the later stage, then the plain row.

    The GAN is the last stage, trained from the pretrained generator to paint more; a plain row
    paints as it was trained, with no scale fitted on the very photos it is judged on.
    """
    stages = list(RUN_CHECKPOINTS)[::-1]
    return stages.index(name.removesuffix(CALIBRATED)), name.endswith(CALIBRATED)


def shipped_row(metrics, share=COLOUR_SHARE, scores=None):
    """The generator row to colorize new photos with: the most colourful that is honest about it.

    A row qualifies when it beats grey on AuC (its 95% paired interval above zero), does not
    lose to grey on CIEDE2000 (its interval not above zero) and keeps at least ``share`` of the
    photos' own mean colourfulness. Colourfulness then decides because CIEDE2000 and L1
    reward greyness: painting fainter lowers both, and a rule that minimised them would ship a
    nearly grey colorizer. Without a qualifying row, the most colourful row that does not lose
    to grey on AuC; then the plain pretrained row.

    With the per-photo ``scores``, colour decides only where it is measured: a qualifying row
    preferred by :func:`preference` (the GAN before the pretrained generator, a plain row before
    a calibrated one) is shipped in place of a more colourful one when the 95% paired interval of
    their colourfulness holds zero. So a rerun on another CPU, whose numbers move inside their
    intervals, ships the same row.

    Parameters
    ----------
    metrics : dict
        What ``metrics.json`` holds (:func:`colorlib.evaluation.write_evaluation`).
    share : float
    scores : dict, optional
        {row: {metric: per-image ndarray}}, the scores ``metrics`` summarises.

    Returns
    -------
    (str, bool) or None
        The row's name in ``metrics["summary"]`` and whether it meets the rule; None when no
        generator was scored.
    """
    summary = metrics["summary"]
    rows = [name for name in summary if name.removesuffix(CALIBRATED) in RUN_CHECKPOINTS
            and not (name.endswith(CALIBRATED) and chosen_scale(metrics, name) <= 0)]
    if not rows:
        return None
    truth = photos_colourfulness(summary)

    def verdicts(name):
        auc, ciede = summary[name]["auc"], summary[name]["ciede2000"]
        return auc["difference_low"] > 0, ciede["difference_low"] <= 0, auc["difference_high"] >= 0

    def colour(name):
        return summary[name]["colourfulness"]["mean"]

    qualified = [n for n in rows if verdicts(n)[0] and verdicts(n)[1] and colour(n) >= share * truth]
    if qualified:
        best = max(qualified, key=colour)
        if scores is not None:
            best = min((n for n in qualified if n == best or colour_tie(scores, best, n)), key=preference)
        return best, True
    fair = [n for n in rows if verdicts(n)[2]]
    return (max(fair, key=colour) if fair else rows[0]), False


def colour_tie(scores, first, second):
    """Whether two rows' colourfulness differ by less than the 95% paired interval can tell apart from zero."""
    _, low, high = paired_bootstrap_ci(scores[first]["colourfulness"], scores[second]["colourfulness"])
    return low <= 0 <= high


def photos_colourfulness(summary):
    """The validation photos' own mean colourfulness, from any row: prediction minus its gap."""
    row = summary[BASELINE]
    return row["colourfulness"]["mean"] - row["colourfulness_gap"]["mean"]


def chosen_scale(metrics, row):
    """The chroma scale a row paints with: 1 for a plain row, the calibrated scale fitted on all images else."""
    if not row.endswith(CALIBRATED):
        return 1.0
    return float(((metrics.get("calibration") or {}).get("chosen") or {}).get(row.removesuffix(CALIBRATED), 0.0))


def shipped_generator(run_dir):
    """The run's shipped generator (:func:`shipped_row`) as (name, chroma scale), or None before notebook 05."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return None
    metrics = load_json(path)
    row = metrics.get("shipped") or (shipped_row(metrics) or [None])[0]
    if row is None:
        return None
    return row.removesuffix(CALIBRATED), chosen_scale(metrics, row)
