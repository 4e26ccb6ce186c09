"""`python -m spectrumgen` runs the command line."""

import sys

from spectrumgen.cli import main

sys.exit(main())
