"""Command line: ``python -m colorlib report ...`` (and ``colorlib report ...``)."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="colorlib", description="Automatic image colorization course.")
    commands = parser.add_subparsers(dest="command", required=True)

    report = commands.add_parser("report", help="run the notebooks in order into a report folder")
    report.add_argument("--profile", default="cpu", help="smoke, cpu or paper (default: cpu)")
    report.add_argument("--data", default="", help="auto, coco_sample, samples or a folder (default: the profile's)")
    report.add_argument("--run-dir", default=None, help="run folder (default: runs/PROFILE)")
    report.add_argument("--out", default="report", help="report folder (default: report)")
    report.add_argument("--notebooks", default="notebooks", help="folder of the source notebooks")

    args = parser.parse_args(argv)
    if args.command == "report":
        from colorlib.report import NotebookFailed, build_report

        try:
            build_report(args.profile, args.out, args.run_dir or f"runs/{args.profile}",
                         data=args.data or None, notebooks_dir=args.notebooks)
        except NotebookFailed as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0
