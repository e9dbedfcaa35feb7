"""`python -m scratchgrad ...` is the `scratchgrad` command."""
import sys

from scratchgrad.cli import main

sys.exit(main())
