"""The learner's workspace: one stub file per exercise, and a small progress file.

    my-derivatives/
        01_add.py ... 23_rnn_step.py   backward functions to fill in (never overwritten)
        24_mlp_by_hand.py, 25_mlp_fused.py   the capstone: a whole network's backward
        progress.json                  what passed on which day, and how many hints were shown

The workspace is found from any directory inside it, the way git finds .git: the commands look
in the current directory, then in each parent, for a progress.json (or, in a workspace made
before there was one, an 01_add.py), and also for a my-derivatives/ folder beside each.
Progress stays on the learner's disk: no network, no account.
"""
import datetime
import json
import os

from scratchgrad.learn.ladder import OLD_NAMES

DEFAULT_DIR = "my-derivatives"
PROGRESS = "progress.json"
MARKERS = (PROGRESS, "01_add.py")


def _ladder():
    from scratchgrad.learn.catalog import ALL  # the ladder and the capstone
    return ALL


def number(exercise):
    return _ladder().index(exercise) + 1


def stub_name(exercise):
    return f"{number(exercise):02d}_{exercise.name}.py"


def stub_path(directory, exercise):
    """The learner's file for exercise: its own name, or the name it had before a rename."""
    path = os.path.join(directory, stub_name(exercise))
    for old in getattr(exercise, "old_names", ()):
        legacy = os.path.join(directory, f"{number(exercise):02d}_{old}.py")
        if not os.path.exists(path) and os.path.exists(legacy):
            return legacy
    return path


def is_workspace(directory):
    return any(os.path.isfile(os.path.join(directory, marker)) for marker in MARKERS)


def find(start="."):
    """The workspace that start is in (or that sits beside it or one of its parents), or None."""
    directory = os.path.abspath(start)
    while True:
        for candidate in (directory, os.path.join(directory, DEFAULT_DIR)):
            if is_workspace(candidate):
                return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def stub_text(exercise):
    if hasattr(exercise, "stub_text"):  # the capstone writes its own
        return exercise.stub_text(number(exercise), len(_ladder()))
    """The file a learner fills in: the maths in the docstring, the forward, a backward to write."""
    shapes = "; ".join(", ".join(f"{n} {tuple(s)}" for n, s in zip(exercise.inputs, case))
                       for case in exercise.cases)
    wrt = ", ".join(f"grad_{n}" for n in exercise.wrt)
    returns = f"({wrt})" if len(exercise.wrt) > 1 else wrt
    others = [n for n in exercise.inputs if n not in exercise.wrt]
    constants = (f"\n    {', '.join(others)} {'is a constant' if len(others) == 1 else 'are constants'}: "
                 "no gradient for it." if others else "")
    maths = "\n".join(line.rstrip() for line in exercise.maths.splitlines())
    return f'''"""Exercise {number(exercise)} of {len(_ladder())}: {exercise.name} ({exercise.title})

{maths}

Shapes checked: {shapes}.

Write backward below (NumPy arrays in, NumPy arrays out), then run
    scratchgrad learn check {exercise.name}
Stuck? `scratchgrad learn hint {exercise.name}` shows the derivation one step at a time.
"""
import numpy as np


{exercise.forward_source}

def backward(g, out, {", ".join(exercise.inputs)}):
    """Return {returns}: the gradient of the loss L with respect to {_listed(exercise.wrt)}.

    g is ∂L/∂out (it has out's shape), out is forward's result, and the inputs are as given to
    forward. Each gradient must have the shape of its input.{constants}
    """
    raise NotImplementedError("derive it on paper first, then write it here")
'''


def _listed(names):
    """a, b and c"""
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


def start(directory=DEFAULT_DIR):
    """Write every stub that doesn't exist yet, and an empty progress file (which marks the
    workspace); returns (written, kept) file names."""
    os.makedirs(directory, exist_ok=True)
    written, kept = [], []
    for exercise in _ladder():
        path = stub_path(directory, exercise)
        if os.path.exists(path):
            kept.append(os.path.basename(path))
            continue
        with open(path, "x", encoding="utf-8") as f:  # "x": never replace a learner's file
            f.write(stub_text(exercise))
        written.append(os.path.basename(path))
    progress = Progress(directory)
    if not progress.damaged and not os.path.exists(progress.path):
        progress.save()
    return written, kept


# ---------------------------------------------------------------- progress and the streak

class Progress:
    """passed: {exercise: first day it passed (ISO date)}; hints: {exercise: steps shown}.

    A damaged file is never overwritten: `damaged` says what is wrong with it, the commands
    report it, and save() leaves the file alone until the learner has repaired or moved it.
    Progress under an exercise's old name counts for its new one."""

    def __init__(self, directory):
        self.path = os.path.join(directory, PROGRESS)
        self.damaged = None
        self.passed, self.hints = {}, {}
        if os.path.exists(self.path):
            try:
                with open(self.path, encoding="utf-8") as f:
                    data = json.load(f)
                if not isinstance(data, dict):
                    raise TypeError(f"expected a JSON object, found {type(data).__name__}")
                passed, hints = dict(data.get("passed", {})), dict(data.get("hints", {}))
                for day in passed.values():
                    datetime.date.fromisoformat(day)
            except (OSError, ValueError, TypeError, AttributeError) as exc:  # JSONDecodeError too
                self.damaged = f"{self.path} is damaged ({type(exc).__name__}: {exc})"
            else:
                self.passed = {OLD_NAMES.get(k, k): v for k, v in passed.items()}
                self.hints = {OLD_NAMES.get(k, k): v for k, v in hints.items()}

    def save(self):
        """Write the file; False (and nothing written) if the file on disk is damaged."""
        if self.damaged:
            return False
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump({"passed": self.passed, "hints": self.hints}, f, indent=2, sort_keys=True)
        return True

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
