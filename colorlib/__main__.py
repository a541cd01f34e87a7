import sys

from colorlib.cli import main

sys.exit(main())
