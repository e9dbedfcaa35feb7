"""Learn backprop by building it: a ladder of derivatives to derive on paper, write in NumPy,
and have checked against finite differences (`scratchgrad learn`, see cli.py)."""
from scratchgrad.learn.ladder import BY_NAME, EXERCISES

__all__ = ["BY_NAME", "EXERCISES"]
