"""`python -m scratchgrad.learn ...` is `scratchgrad learn ...`."""
import sys

from scratchgrad.learn.cli import learn

sys.exit(learn())
