"""The learner's workspace: one stub file per exercise, and a small progress file.

    my-derivatives/
        01_add.py ... 19_max.py     backward functions to fill in (never overwritten)
        progress.json               what passed on which day, and how many hints were shown

Progress stays on the learner's disk: no network, no account.
"""
import datetime
import json
import os

from scratchgrad.learn.ladder import EXERCISES

DEFAULT_DIR = "my-derivatives"
PROGRESS = "progress.json"


def stub_name(exercise):
    return f"{EXERCISES.index(exercise) + 1:02d}_{exercise.name}.py"


def stub_path(directory, exercise):
    return os.path.join(directory, stub_name(exercise))


def stub_text(exercise):
    """The file a learner fills in: the maths in the docstring, the forward, a backward to write."""
    number = EXERCISES.index(exercise) + 1
    shapes = "; ".join(", ".join(f"{n} {tuple(s)}" for n, s in zip(exercise.inputs, case))
                       for case in exercise.cases)
    wrt = ", ".join(f"grad_{n}" for n in exercise.wrt)
    returns = f"({wrt})" if len(exercise.wrt) > 1 else wrt
    others = [n for n in exercise.inputs if n not in exercise.wrt]
    constants = (f"\n    {', '.join(others)} {'is a constant' if len(others) == 1 else 'are constants'}: "
                 "no gradient for it." if others else "")
    maths = "\n".join(line.rstrip() for line in exercise.maths.splitlines())
    return f'''"""Exercise {number} of {len(EXERCISES)}: {exercise.name} ({exercise.title})

{maths}

Shapes checked: {shapes}.

Write backward below (NumPy arrays in, NumPy arrays out), then run
    scratchgrad learn check {exercise.name}
Stuck? `scratchgrad learn hint {exercise.name}` shows the derivation one step at a time.
"""
import numpy as np


{exercise.forward_source}

def backward(g, out, {", ".join(exercise.inputs)}):
    """Return {returns}: the gradient of the loss L with respect to {" and ".join(exercise.wrt)}.

    g is ∂L/∂out (it has out's shape), out is forward's result, and the inputs are as given to
    forward. Each gradient must have the shape of its input.{constants}
    """
    raise NotImplementedError("derive it on paper first, then write it here")
'''


def start(directory=DEFAULT_DIR):
    """Write every stub that doesn't exist yet; returns (written, kept) file names."""
    os.makedirs(directory, exist_ok=True)
    written, kept = [], []
    for exercise in EXERCISES:
        path = stub_path(directory, exercise)
        if os.path.exists(path):
            kept.append(os.path.basename(path))
            continue
        with open(path, "x", encoding="utf-8") as f:  # "x": never replace a learner's file
            f.write(stub_text(exercise))
        written.append(os.path.basename(path))
    return written, kept


# ---------------------------------------------------------------- progress and the streak

class Progress:
    """passed: {exercise: first day it passed (ISO date)}; hints: {exercise: steps shown}."""

    def __init__(self, directory):
        self.path = os.path.join(directory, PROGRESS)
        data = {}
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                try:
                    data = json.load(f)
                except json.JSONDecodeError:
                    data = {}  # a damaged progress file starts over rather than stopping the learner
        self.passed = dict(data.get("passed", {}))
        self.hints = dict(data.get("hints", {}))

    def save(self):
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump({"passed": self.passed, "hints": self.hints}, f, indent=2, sort_keys=True)

    def record_pass(self, name, today):
        """Note a pass; True if it is new (the first time this exercise passed)."""
        if name in self.passed:
            return False
        self.passed[name] = today.isoformat()
        return True

    def streak(self, today):
        """Consecutive days, ending today or yesterday, on which a new exercise passed."""
        days = {datetime.date.fromisoformat(d) for d in self.passed.values()}
        day = today if today in days else today - datetime.timedelta(days=1)
        count = 0
        while day in days:
            count += 1
            day -= datetime.timedelta(days=1)
        return count
