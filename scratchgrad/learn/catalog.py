"""Every exercise, the ladder's rungs and then the capstone, and finding one from what a learner
types: its name, an old name, its number (`3`) or its file (`03_sub.py`, my-derivatives/03_sub.py)."""
import os
import re

from scratchgrad.learn.capstone import CAPSTONE
from scratchgrad.learn.ladder import EXERCISES, OLD_NAMES

ALL = EXERCISES + CAPSTONE
BY_NAME = {e.name: e for e in ALL}


def resolve(text):
    """The exercise text names, or None."""
    text = os.path.basename(str(text).strip().rstrip("/"))
    text = text.removesuffix(".py")
    if text.isdigit():
        number = int(text)
        return ALL[number - 1] if 1 <= number <= len(ALL) else None
    numbered = re.fullmatch(r"(\d+)_(\w+)", text)
    if numbered:
        exercise = resolve(numbered.group(2))
        return exercise if exercise is not None and ALL.index(exercise) + 1 == int(numbered.group(1)) else None
    return BY_NAME.get(OLD_NAMES.get(text, text))
