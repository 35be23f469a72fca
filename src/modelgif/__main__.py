"""`python -m modelgif` runs the command line."""

import sys

from modelgif.cli import main

sys.exit(main())
