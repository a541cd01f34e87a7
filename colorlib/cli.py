"""Command line: ``python -m colorlib {report,train,evaluate,colorize,bench} ...`` (or ``colorlib ...``)."""
import argparse
import json
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="colorlib", description="Automatic image colorization course.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_report_parser(commands)
    add_train_parser(commands)
    add_evaluate_parser(commands)
    add_colorize_parser(commands)
    add_bench_parser(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError, RuntimeError, FloatingPointError, MemoryError) as error:
        print(f"error: {error or type(error).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: {args.interrupted}", file=sys.stderr)
        return 130


def add_profile_arguments(parser, default_profile):
    parser.add_argument("--profile", default=default_profile, help=f"smoke, cpu or paper (default: {default_profile})")
    parser.add_argument("--data", default="", help="auto, coco_sample, samples or a folder (default: the profile's)")
    parser.add_argument("--run-dir", default=None,
                        help="run folder (default: runs/PROFILE, or runs/PROFILE-HASH when data or overrides "
                             "make it another run)")
    parser.add_argument("--overrides", default="", help='config fields to change, e.g. "size=96 gan_epochs=3"')


def add_report_parser(commands):
    report = commands.add_parser("report", help="run the notebooks in order into a report folder")
    add_profile_arguments(report, "cpu")
    report.add_argument("--out", default="report", help="report folder (default: report)")
    report.add_argument("--notebooks", default="notebooks", help="folder of the source notebooks")
    report.add_argument("--readme", default=None, help="a README whose results section is rewritten from the run")
    report.set_defaults(run=run_report, interrupted="the last checkpoint is kept; run the same command again to resume")


def default_run_dir(args):
    """The run folder of a command: ``--run-dir``, else ``runs/<name>`` (:func:`colorlib.stages.run_name`)."""
    from colorlib import stages
    from colorlib.config import get_config, parse_overrides

    if args.run_dir:
        return args.run_dir
    config = get_config(args.profile, data=args.data or None, **parse_overrides(args.overrides))
    run_dir = str(stages.run_folder(args.profile, config=config, root="runs"))
    print(f"run folder: {run_dir}", file=sys.stderr)
    return run_dir


def run_report(args):
    from colorlib.config import parse_overrides
    from colorlib.report import NotebookFailed, build_report

    try:
        build_report(args.profile, args.out, default_run_dir(args), data=args.data or None,
                     notebooks_dir=args.notebooks, overrides=parse_overrides(args.overrides), readme=args.readme)
    except NotebookFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def add_train_parser(commands):
    train = commands.add_parser(
        "train", help="split, pretrain and train the GAN without notebooks (works under torchrun)")
    add_profile_arguments(train, "smoke")
    train.set_defaults(run=run_train, interrupted="the last checkpoint is kept; run the same command again to resume")


def run_train(args):
    from colorlib import stages
    from colorlib.config import get_config, parse_overrides

    config = get_config(args.profile, data=args.data or None, **parse_overrides(args.overrides))
    run_dir = default_run_dir(args)
    from colorlib.distributed import current_processes, shutdown

    stages.train_everything(config, run_dir)
    shutdown(current_processes())
    return 0


def add_evaluate_parser(commands):
    evaluate = commands.add_parser(
        "evaluate", help="score a checkpoint and the baselines; write metrics.json and per_image.csv")
    evaluate.add_argument("--checkpoint", required=True,
                          help="a training checkpoint (e.g. runs/cpu/gan.pt) or a generator export")
    evaluate.add_argument("--data", default=None, help="images to score (default: the run's validation split)")
    evaluate.add_argument("--out", default="evaluation", help="output folder (default: evaluation)")
    evaluate.add_argument("--size", type=square_side, default=None,
                          help="image size, 32 to 2048 pixels (default: the training size)")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--max-memory", type=memory_size, default=None,
                          help="memory scoring may use, e.g. 2G or 500M; a --size that would need more is refused "
                               "before any image is read (default: the memory the machine has available)")
    evaluate.set_defaults(run=run_evaluate, interrupted="no scores were written")


def run_evaluate(args):
    from colorlib.evaluate_checkpoint import evaluate_command

    evaluate_command(args.checkpoint, args.data, args.out, args.size, device=args.device, max_memory=args.max_memory)
    return 0


def add_colorize_parser(commands):
    colorize = commands.add_parser(
        "colorize", help="colorize photos at full resolution with a trained generator",
        description="Colorize image files and folders: one output per input, same name and format.")
    colorize.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, or folders of images")
    colorize.add_argument("-o", "--out", required=True, help="folder for the colorized images (made if needed)")
    colorize.add_argument("--checkpoint", required=True,
                          help="a training checkpoint (gan.pt, generator_pretrained.pt) or a generator export")
    colorize.add_argument("--size", type=square_side, default=None,
                          help="side of the square the colours are predicted at, 32 to 2048 pixels "
                               "(default: the training size)")
    colorize.add_argument("--overwrite", action="store_true",
                          help="replace files already in the output folder (inputs and links are never written over)")
    colorize.add_argument("--max-memory", type=memory_size, default=None,
                          help="memory colorize may use, e.g. 2G or 500M; a photo that would need more is refused "
                               "before decoding (default: the memory the machine has available)")
    colorize.add_argument("--chroma-scale", type=float, default=None,
                          help="scale of the predicted a*b*: below 1 paints fainter colours (default: the "
                               "export's calibrated scale, 1 for a training checkpoint)")
    colorize.set_defaults(run=run_colorize,
                          interrupted="each photo written before it is whole and kept; none is half-written")


def square_side(text):
    """argparse type of --size: a whole number of pixels, 32 (the encoder halves it five times) to 2048."""
    from colorlib.models import MAX_SIZE

    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 32 <= value <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of pixels from 32 to {MAX_SIZE}; "
                                         "leave --size out for the training size")
    return value


def positive_int(text):
    """argparse type of a count that must be at least 1 (a batch size, a number of steps)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of 1 or more")
    return value


def memory_size(text):
    """argparse type of --max-memory: bytes, or a number with K, M, G or T (powers of 1024)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    number, unit = text.strip().upper().rstrip("B"), ""
    if number and number[-1] in units:
        number, unit = number[:-1], number[-1]
    try:
        value = float(number) * units[unit]
    except ValueError:
        value = 0
    if not 1 <= value < float("inf"):  # 0.5 would round to 0 bytes
        raise argparse.ArgumentTypeError(f"{text!r}: expected a memory size of at least 1 byte, e.g. 2G or 500M")
    return int(value)


def run_colorize(args):
    from colorlib.batch import run_colorize

    return run_colorize(args)


def add_bench_parser(commands):
    bench = commands.add_parser(
        "bench", help="time the data path, training steps and evaluation, plain vs colorlib, and colorize")
    bench.add_argument("--data", default="samples", help="photos to time on (default: samples)")
    bench.add_argument("--size", type=square_side, default=128)
    bench.add_argument("--batch-size", type=positive_int, default=16)
    bench.add_argument("--steps", type=positive_int, default=12, help="timed training steps per configuration")
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    bench.set_defaults(run=run_bench, interrupted="the benchmark stopped")


def run_bench(args):
    from colorlib import bench
    from colorlib.bench import bench_ssim

    results = {"machine": bench.bench_machine(),
               "data": bench.bench_data(args.data, args.size, batch_size=args.batch_size),
               **bench.bench_training(args.data, args.size, args.batch_size, args.steps),
               "decoders": bench.bench_decoders(args.size, args.batch_size),
               "ssim": bench_ssim(size=args.size), "colorize": bench.bench_colorize()}
    print(json.dumps(results, indent=2) if args.json else bench.format_results(results))
    return 0 if results["quality"]["passed"] else 1
