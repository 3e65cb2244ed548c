"""`python -m engine ...`, the same command line as `digit-lab ...`: see `engine/cli/`."""

import sys

from engine.cli import main

sys.exit(main(prog="python -m engine"))
