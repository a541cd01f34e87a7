"""The report's front page and the README's results: what a reader sees first, computed from the run.

:mod:`colorlib.report` runs the notebooks; this module turns the run's ``run.json``,
``metrics.json`` and histories into the headline table, the colour verdict, the comparison with
the capstone and the index of the notebooks, as HTML (``index.html``) and Markdown
(``summary.md`` and the README's results section).
"""
import csv
import html
import json
import os
from pathlib import Path

from colorlib.atomic import write_file
from colorlib.capstone import CAPSTONE_SSIM, comparison_rows, hardware
from colorlib.chapters.ch01_data import source_of
from colorlib.chapters.ch05_scores import describe_shipped
from colorlib.markup import markdown_code
from colorlib.metrics import HUE_TOLERANCE, verdict_of
from colorlib.shipping import BASELINE, photos_colourfulness
from colorlib.study import BUDGET_FIGURE, STUDY_FILE, full_budget_markdown, study_table

# What each notebook teaches, one line each, for the front page's "start here" list.
LESSONS = {
    "01_data_and_lab": "where the photos come from, source by source, and how far the training photos' colours are "
                       "from the validation photos'; the train / validation split done right; one pixel converted "
                       "to Lab by hand, and the L*, a*, b* channels",
    "02_preprocessing": "contrast stretching and equalisation, and what each does to L*",
    "03_pretrain_generator": "why L1 and MSE grey the colours, the a*b* bins with their prior, rebalanced weights and "
                             "the annealed mean, one training step written plainly, then the generator pretrained",
    "04_train_gan": "the PatchGAN discriminator, one GAN step written plainly, and what the GAN adds to the generator "
                    "it started from, with paired intervals",
    "05_ssim_analysis": "why SSIM cannot see colour, the amount and the rightness of colour against grey, and the "
                        "colorizer shipped",
    "06_colorize_your_photos": "colorizing any photo at full resolution: colour from the model, lightness from "
                               "the photo",
    "07_what_makes_colour_appear": "what makes colour appear: the recipe's levers, each trained from scratch for the "
                                   "same budget and scored beside grey, and the L1 loss against the classification at "
                                   "the recipe's whole budget",
}


HEADLINE_METRICS = ("ssim", "ciede2000", "auc")


COLOUR_METRICS = ("ciede2000", "auc")  # where colour is measured: a generator must beat grey on both


VERSUS_GREY = {"better": "wins", "worse": "loses", "unclear": "ties"}  # a paired interval's verdict


GAN_FIGURE = "gray_fake_real.png"  # notebook 04: grey, the pretrained generator, the GAN, the truth


RESULTS_MARKERS = ("<!-- results: written by make all -->", "<!-- end of results -->")


FIGURES = (("comparison.png", "The first validation photos: grey input, the pretrained generator, the GAN "
                              "(the shipped one marked, or a row of its own when it paints with a chroma scale), "
                              "and the truth (notebook 05)"),
           ("before_after.png", "Photos the course never saw, colorized at full resolution by the shipped colorizer "
                                "(notebook 06)"))


def update_readme(readme, out_dir, run, metrics):
    """Rewrite a README's results section: the headline table and a figure, from the report."""
    readme, out_dir = Path(readme), Path(out_dir)
    start, end = RESULTS_MARKERS
    text = readme.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no results section: expected the lines {start} and {end}")
    folder = os.path.relpath(out_dir, readme.parent)
    section = [start, "", f"## Results of the last report run ({markdown_code(run['make_line'])})", "",
               headline_verdict(metrics), "",
               f"On {metrics['n_images']} validation photos at {metrics['size']} px, means with 95% intervals "
               "and each model's paired difference from the grey baseline (no colour at all):", "",
               *headline_rows(metrics), "", colour_verdict(metrics), "", *calibration_lines(metrics)]
    if metrics.get("shipped"):
        section += [describe_shipped(metrics), ""]
    for figure, caption in FIGURES:
        if (out_dir / figure).is_file():
            section += [f"![{caption}]({folder}/{figure})", ""]
    section += [f"The whole report: [{folder}/README.md]({folder}/README.md), with every notebook executed; as web "
                f"pages, [{folder}/index.html]({folder}/index.html).", "", end]
    before, rest = text.split(start, 1)
    write_file(readme, before + "\n".join(section) + rest.split(end, 1)[1])


def headline_cells(metrics):
    """The headline table as cells: each model's mean [95% CI] per metric, and its difference from grey.

    The last column is the colour a model paints, as a share of the validation photos' own
    colourfulness: the scores above reward a greyer painting, so the table shows what it paints.
    """
    colour = "colourfulness" in metrics["summary"]["grey"]  # metrics.json of older runs lack it
    truth = photos_colourfulness(metrics["summary"]) if colour else None
    header = ["model"] + [f"{name} ({'higher' if metrics['higher_is_better'][name] else 'lower'} is better)"
                          for name in HEADLINE_METRICS]
    header += [f"colourfulness (the photos': {truth:.1f})"] if colour else []
    rows = []
    for model, values in metrics["summary"].items():
        cells = [model]
        for name in HEADLINE_METRICS:
            row = values[name]
            cell = f"{row['mean']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"
            if "difference" in row:
                low, high = row["difference_low"], row["difference_high"]
                cell += f"<br>vs grey {row['difference']:+.3f} [{low:+.3f}, {high:+.3f}]"
                cell += "<br>**beats grey**" if row["beats_baseline"] else ""
            cells.append(cell)
        if colour:
            painted = values["colourfulness"]["mean"]
            cells.append(f"{painted:.1f} ({painted / truth:.0%})" if truth > 0 else f"{painted:.1f}")
        rows.append(cells)
    return header, rows


def colour_verdict(metrics):
    """One sentence: does a generator beat the grey baseline where colour is measured?

    A generator counts when the 95% paired-bootstrap interval of its difference from grey
    excludes zero on the better side for every one of :data:`COLOUR_METRICS`.
    """
    models = [m for m in metrics["summary"] if m not in ("grey", "mean_ab")]
    if not models:
        return "No generator was scored."
    beats = {m: [name for name in COLOUR_METRICS if metrics["summary"][m][name]["beats_baseline"]] for m in models}
    winners = [m for m in models if len(beats[m]) == len(COLOUR_METRICS)]
    named = " and ".join(COLOUR_METRICS)
    if winners:
        verb = "beats" if len(winners) == 1 else "beat"
        return f"Where colour is measured, {' and '.join(winners)} {verb} grey on both {named} (95% paired intervals)."
    said = "; ".join(f"{m} on {' and '.join(beats[m]) or 'neither'}" for m in models)
    return (f"Where colour is measured, no generator beats grey on both {named} (95% paired intervals): "
            f"{said}. The course's target for this profile is not met by this run.")


def calibration_lines(metrics):
    """Markdown lines saying what the ``_calibrated`` rows are, when the run has them."""
    calibration = metrics.get("calibration")
    if not calibration:
        return []
    chosen = ", ".join(f"{name} {scale:g}" for name, scale in calibration["chosen"].items())
    return [f"A `_calibrated` row is its generator with its a\\*b\\* scaled towards grey by one chroma "
            f"scale, scored out of sample: each photo with the scale that gave the lowest mean CIEDE2000 on "
            f"the other photos ({calibration['folds']}-fold cross-fitting). Fitted on all of them: {chosen}. "
            "Its intervals take each photo's scale as given, and the scale moves a little from fold to fold.", ""]


def headline_rows(metrics):
    """The headline table as Markdown lines."""
    header, rows = headline_cells(metrics)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(cells) + " |" for cells in rows]


def headline_html(metrics):
    """The headline table as an HTML table (cards on a narrow screen: :func:`cards_table`)."""
    header, rows = headline_cells(metrics)
    return cards_table(header, [[cell.replace("**", "") for cell in cells] for cells in rows])


def cards_table(header, rows):
    """An HTML table whose cells carry their column's name, so that a narrow screen shows each row as a card.

    The cells are HTML already; the header is plain text. The front page's style lays a
    ``table.cards`` out as a card per row below 40em, each value under its column's name, so
    that no column is hidden off the side of a phone.
    """
    def label(name):
        return html.escape(html.unescape(name), quote=True)

    head = "<tr>" + "".join(f"<th>{html.escape(html.unescape(name), quote=False)}</th>" for name in header) + "</tr>"
    body = "".join("<tr>" + "".join(f'<td data-label="{label(name)}">{cell}</td>' for name, cell in zip(header, cells))
                   + "</tr>" for cells in rows)
    return f'<table class="cards">{head}{body}</table>'


def summary_page(run, metrics, out_dir):
    """report/README.md: the headline table, key figures, the data, and how to reproduce the run."""
    command = run["make_line"]
    lines = ["# Report: automatic image colorization", "",
             f"Written by {markdown_code(command)} {written_in(run, out_dir)} "
             f"({run['environment']['cpu_count']} CPUs, torch {run['environment']['torch']}, "
             f"{'GPU ' + run['environment']['cuda'] if run['environment']['cuda'] else 'no GPU'}).", ""]
    if metrics:
        lines += [headline_verdict(metrics), "", f"The generator's encoder and its starting weights: {encoder_text(run)}.", ""]
        lines += [f"## Validation results ({metrics['n_images']} photos at {metrics['size']} px)", "",
                  "Means with 95% bootstrap intervals; for each model, its paired difference from the grey "
                  "baseline (no colour at all) with a 95% paired-bootstrap interval. SSIM is the capstone's "
                  "(the capstone published 0.87).", "", *headline_rows(metrics), "", colour_verdict(metrics), "",
                  *calibration_lines(metrics),
                  "All metrics and the conclusions drawn from them: [notebook 05](05_ssim_analysis.ipynb); "
                  "every number: [metrics.json](metrics.json), [per_image.csv](per_image.csv).", ""]
    if metrics and metrics.get("shipped"):
        lines += [describe_shipped(metrics), ""]
    for figure, caption in FIGURES:
        if (Path(out_dir) / figure).is_file():
            lines += [f"![{caption}]({figure})", "", f"*{caption}.*", ""]
    if (Path(out_dir) / STUDY_FILE).is_file():
        study = json.loads((Path(out_dir) / STUDY_FILE).read_text())
        lines += ["## What makes colour appear (notebook 07)", "",
                  f"Each lever trained from scratch for {study['images']:,} training images, scored on the same "
                  f"{study['n_val']} validation photos at {study['size']} px; differences from grey with 95% paired "
                  "intervals, bold where they exclude zero on the better side.", "", study_table(study), "",
                  *([f"The other loss at the recipe's whole budget, beside the run's pretrained generator:", "",
                     full_budget_markdown(study), ""] if study.get("full_budget") else []),
                  "The run's recipe at several budgets, the largest the run's own pretrained generator:", "",
                  study_table(study, "budget"), ""]
        if (Path(out_dir) / BUDGET_FIGURE).is_file():
            lines += [f"![The budget curve]({BUDGET_FIGURE})", ""]
        lines += ["What the study supports, and what it does not: [notebook 07](07_what_makes_colour_appear.ipynb).", ""]
    if run["data"]:
        data = run["data"]
        excluded = ", ".join(f"{n} {reason}" for reason, n in data["excluded"].items()) or "none"
        extra = data.get("extra_train")
        extra_text = (f" Extra training photos: {extra['found']} found, {extra['kept']} kept; excluded: "
                      + (", ".join(f"{n} {r}" for r, n in extra["excluded"].items()) or "none") + ".") if extra else ""
        lines += ["## Data", "", f"Source: {data['source']} ({data['reason']}). {data['found']} images found, "
                  f"{data['kept']} kept; excluded: {excluded}.{extra_text} {data['train']} training and "
                  f"{data['val']} validation photos (validation from the source only); names and hashes in "
                  "[data_manifest.csv](data_manifest.csv).", ""]
    lines += ["## Notebooks and wall time", "", "| notebook | wall time |", "| --- | --- |"]
    lines += [f"| [{name}]({name}.ipynb) | {seconds / 60:.1f} min |" for name, seconds in run["wall_time_s"].items()]
    lines += ["", "Environment and parameters: [run.json](run.json). The same run as web pages: [index.html](index.html).", ""]
    return "\n".join(lines)


def training_time(out_dir):
    """The seconds the run spent training, from the histories beside the report, and what they cover.

    A run resumed from finished checkpoints does not train again, so its notebooks' wall time
    does not say what training cost; the histories keep each epoch's time.

    Returns
    -------
    seconds : float or None
        None when no history beside the report records its epochs' time.
    what : str or None
        e.g. "pretraining, from the run's histories".
    """
    from colorlib.stages import training_seconds

    parts = {}
    for label, name in (("pretraining", "pretrain_history.json"), ("GAN", "gan_history.json")):
        path = Path(out_dir) / name
        seconds = training_seconds(json.loads(path.read_text())) if path.is_file() else None
        if seconds is not None:
            parts[label] = seconds
    if not parts:
        return None, None
    return sum(parts.values()), " + ".join(parts) + ", from the run's histories"


def capstone_rows(run, out_dir=None):
    """This run beside the capstone (:func:`colorlib.capstone.comparison_rows`), from run.json.

    The training time is :func:`training_time` from the histories in ``out_dir`` when they record
    it, else the wall time of notebooks 03 and 04, where the generator and the GAN train.
    """
    from colorlib.config import get_config

    parameters = run["parameters"]
    config = get_config(parameters["profile"], data=parameters.get("data"), **parameters.get("overrides", {}))
    env, data, wall = run["environment"], run.get("data") or {}, run["wall_time_s"]
    seconds, what = training_time(out_dir) if out_dir is not None else (None, None)
    if seconds is None:
        training = [name for name in ("03_pretrain_generator", "04_train_gan") if name in wall]
        seconds = sum(wall[name] for name in training) if training else None
        what = "notebooks " + " and ".join(name[:2] for name in training)
    sources = training_sources(out_dir, data.get("source", "")) if out_dir is not None else None
    return comparison_rows(config, data.get("train", 0), data.get("val", 0), env.get("weights"),
                           hardware(env.get("cuda"), env.get("cpu_count")), seconds, what, sources)


def encoder_text(run):
    """The run's encoder and starting weights in words, e.g. "EfficientNet-Lite0, ImageNet weights"."""
    return next(mine for aspect, _, mine in capstone_rows(run) if aspect == "encoder and starting weights")


def written_in(run, out_dir):
    """How long the run that wrote the report took, and its training where the histories say it."""
    text = f"in {sum(run['wall_time_s'].values()) / 60:.1f} minutes"
    seconds, what = training_time(out_dir) if out_dir is not None else (None, None)
    if seconds is not None:
        text += (f" (training: {seconds / 60:.1f} minutes of {what}; a run resumed from finished "
                 "checkpoints does not train again)")
    return text


def capstone_html(rows):
    """The rows of :func:`capstone_rows` as an HTML table."""
    body = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(c)}</td><td>{html.escape(o)}</td></tr>"
                   for a, c, o in rows)
    return f"<table><tr><th></th><th>the capstone</th><th>this run</th></tr>{body}</table>"


def headline_verdict(metrics):
    """Two or three sentences a reader can repeat: what the shipped colorizer does against grey, what does not work.

    Computed from ``metrics.json``: the shipped row's colour and its colour scores against grey,
    the most colourful generator row when it is another one, and grey's own SSIM beside the
    capstone's published score.
    """
    summary = metrics["summary"]
    grey = summary[BASELINE]
    ssim = (f"Grey itself scores an SSIM of {grey['ssim']['mean']:.3f}, against the capstone's published "
            f"{CAPSTONE_SSIM}: SSIM barely sees colour, so the course judges colour by CIEDE2000 and AuC "
            "(95% paired intervals decide each verdict).")
    if "colourfulness" not in grey:  # metrics.json of older runs
        return ssim
    truth = photos_colourfulness(summary)

    def against_grey(row, names):  # "ties on CIEDE2000 (10.97 vs 11.31) and wins on AuC (...)"
        parts = [f"{VERSUS_GREY[verdict_of(metric, row[metric])]} on {name} ({row[metric]['mean']:.{digits}f} vs "
                 f"{grey[metric]['mean']:.{digits}f})" for metric, (name, digits) in names.items()]
        return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]

    colour_scores = {"ciede2000": ("CIEDE2000", 2), "auc": ("AuC", 3)}
    sentences = []
    shipped = metrics.get("shipped")
    if shipped:
        row = summary[shipped]
        sentences.append(f"The colorizer this run ships, {shipped}, paints {row['colourfulness']['mean'] / truth:.0%} "
                         f"of the validation photos' own colour{right_hue_words(row)}; against grey (no colour at "
                         f"all), it {against_grey(row, colour_scores)}.")
    generators = [m for m in summary if m not in (BASELINE, "mean_ab")]
    if generators:
        vivid = max(generators, key=lambda m: summary[m]["colourfulness"]["mean"])
        if vivid != shipped:
            row = summary[vivid]
            sentences.append(f"The most colourful model, {vivid}, paints {row['colourfulness']['mean'] / truth:.0%}"
                             f"{right_hue_words(row)}; "
                             f"against grey it {against_grey(row, {**colour_scores, 'ssim': ('SSIM', 3)})}.")
    return " ".join(sentences + [ssim])


def right_hue_words(row):
    """", and 31% of their clearly coloured pixels in about the right hue" (empty for runs before the metric)."""
    if "right_hue" not in row:
        return ""
    return (f", and {row['right_hue']['mean']:.0%} of their clearly coloured pixels in about the right hue "
            f"(within {HUE_TOLERANCE:.0f} degrees; grey paints none)")


def training_sources(out_dir, main_source):
    """Training photos by the folder they came from, from the report's data manifest; None without one."""
    path = Path(out_dir) / "data_manifest.csv"
    if not path.is_file():
        return None
    counts = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            if row["split"] == "train":
                source = source_of(row["file"], main_source)
                counts[source] = counts.get(source, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def index_page(run, metrics=None, out_dir=None):
    """The report's front page: the verdict and a figure first, then where to start, then the tables and the machine."""
    lessons = "\n".join(
        f'<li><a href="{name}.html">{name[:2]} · {html.escape(name[3:].replace("_", " "))}</a>: '
        f'{html.escape(LESSONS.get(name, ""))}</li>' for name in run["wall_time_s"])
    figures = {figure: caption for figure, caption in FIGURES
               if out_dir is not None and (Path(out_dir) / figure).is_file()}

    def figure_html(figure, kind="figure"):
        caption = html.escape(figures[figure])
        return f'<figure class="{kind}"><img src="{figure}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'

    verdict = results = ""
    if metrics:
        verdict = f'<p class="verdict">{html.escape(headline_verdict(metrics))}</p>'
        shipped = metrics.get("shipped")
        results = (f"<h2>Validation results ({metrics['n_images']} photos at {metrics['size']} px)</h2>"
                   f"<p>Means with 95% intervals, and each model's paired difference from grey (no colour at "
                   f"all). {html.escape(colour_verdict(metrics))}"
                   + (f" {html.escape(describe_shipped(metrics).replace('**', ''))}" if shipped else "")
                   + f'</p><div class="wide">{headline_html(metrics)}</div>'
                   '<p>Details: <a href="05_ssim_analysis.html">05 · SSIM analysis</a>.'
                   + (' The GAN beside the pretrained generator it started from, on the first validation photos: '
                      f'<a href="{GAN_FIGURE}">{GAN_FIGURE}</a> (<a href="04_train_gan.html">04 · Training the GAN</a>).'
                      if out_dir is not None and (Path(out_dir) / GAN_FIGURE).is_file() else "") + "</p>")
    first, *others = list(figures) or [None]
    study = ""
    if out_dir is not None and (Path(out_dir) / STUDY_FILE).is_file():
        record = json.loads((Path(out_dir) / STUDY_FILE).read_text())
        levers = markdown_table_html(study_table(record))
        if record.get("full_budget"):
            table, cost = full_budget_markdown(record).split("\n\n", 1)
            levers += ("<p>The other loss at the recipe's whole budget, beside the run's pretrained generator "
                       f"(95% paired intervals):</p>{markdown_table_html(table)}<p>{html.escape(cost)}</p>")
        curve = (f'<figure><img src="{BUDGET_FIGURE}" alt="The budget curve"><figcaption>The run\'s recipe at '
                 f"{len(record.get('budget', []))} budgets, the largest the run's own pretrained generator"
                 "</figcaption></figure>") if (Path(out_dir) / BUDGET_FIGURE).is_file() else ""
        study = (f'<h2>What makes colour appear (<a href="07_what_makes_colour_appear.html">notebook 07</a>)</h2>'
                 f"<p>Each lever trained from scratch for {record['images']:,} training images and scored beside "
                 f"grey on the same {record['n_val']} validation photos (differences from grey with 95% paired "
                 f"intervals, bold where they exclude zero on the better side):</p>{levers}{curve}"
                 '<p>What the study supports, and what it does not: <a href="07_what_makes_colour_appear.html">'
                 "07 · What makes colour appear</a>.</p>")
    times = "".join(f"<tr><td>{html.escape(name)}</td><td>{seconds / 60:.1f} min</td></tr>"
                    for name, seconds in run["wall_time_s"].items())
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Automatic image colorization: a reproducible course</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.45}}
td,th{{padding:.25em .8em;vertical-align:top;text-align:left}}table{{border-collapse:collapse}}
tr:nth-child(even){{background:#f4f4f4}}img{{max-width:100%;height:auto}}figure{{margin:1.5em 0}}
figcaption{{font-style:italic;color:#444}}.wide{{overflow-x:auto}}code{{overflow-wrap:anywhere}}
.hero{{width:min(100vw - 2em, 1500px);margin-left:calc(50% - min(50vw - 1em, 750px))}}
.hero img{{display:block;margin:auto;max-height:95vh}}.hero figcaption{{max-width:58em;margin:.3em auto}}
.verdict{{font-size:1.15em;border-left:4px solid #c60;padding:.2em 0 .2em .8em}}
ol li{{margin:.35em 0}}
@media (max-width:40em){{body{{margin:1em auto;padding:0 .6em}}
figure,.hero{{width:calc(100% + 1.2em);margin-left:-.6em}}figure img{{width:100%;object-fit:contain}}
figcaption{{padding:0 .6em}}
table.cards,table.cards tbody,table.cards tr,table.cards td{{display:block}}table.cards tr:first-child{{display:none}}
table.cards tr{{margin:0 0 .8em;border:1px solid #ddd;background:none}}table.cards td:first-child{{font-weight:bold}}
table.cards td[data-label]:not(:first-child)::before{{content:attr(data-label);display:block;font-size:.85em;color:#555}}}}
</style>
</head><body>
<h1>Automatic image colorization: a reproducible course</h1>
<p>Give a network the lightness of a photo and let it paint in the colours. This course builds, step by step,
a colorizer from a published capstone: the Lab colour space (predict a*b* from L*), a U-Net generator
pretrained on its own, then a pix2pix conditional GAN, every model scored beside the baseline that
paints no colour at all (grey).</p>
{verdict}
{figure_html(first, "hero") if first else ""}
<h2>Start here</h2>
<p>Read the notebooks in order; each builds its key idea in a few cells on real photos, then lets the
library <code>colorlib</code> do it at full size.</p>
<ol>
{lessons}
</ol>
{results}
{"".join(figure_html(figure) for figure in others)}
<h2>This run and the capstone</h2>
<p>The capstone's recipe as it published it, beside what this run did (notebook 03 explains each change).</p>
<div class="wide">{capstone_html(capstone_rows(run, out_dir))}</div>
{study}
<h2>How this page was made</h2>
<p>Every number and figure above was computed by the run that wrote this page:
<code>{html.escape(run["make_line"])}</code>, {html.escape(written_in(run, out_dir))}.</p>
<div class="wide"><table><tr><th>notebook</th><th>wall time</th></tr>{times}</table></div>
<p>The machine, the software versions and every parameter: <a href="run.json">run.json</a>.</p>
</body></html>
"""


def markdown_table_html(markdown):
    """A Markdown pipe table (header, rule, rows) as an HTML table, its **bold** kept."""
    def cells(line):
        return [html.escape(cell.strip()) for cell in line.strip().strip("|").split("|")]

    def bold(cell):
        parts = cell.split("**")
        return "".join(f"<b>{part}</b>" if i % 2 else part for i, part in enumerate(parts))

    header, _, *rows = [line for line in markdown.splitlines() if line.strip()]
    return cards_table(cells(header), [[bold(cell) for cell in cells(row)] for row in rows])
