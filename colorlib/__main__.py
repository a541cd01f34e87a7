import sys

from colorlib.cli import main

if __name__ == "__main__":  # spawned processes (make bench) import this module without running the command
    sys.exit(main())
