"""Learn backprop by building it: a ladder of derivatives to derive on paper, write in NumPy,
and have checked against finite differences, then a capstone, a whole network's backward by hand
checked against autograd (`scratchgrad learn`, see cli.py)."""
from scratchgrad.learn.catalog import ALL, BY_NAME
from scratchgrad.learn.ladder import EXERCISES

__all__ = ["ALL", "BY_NAME", "EXERCISES"]
