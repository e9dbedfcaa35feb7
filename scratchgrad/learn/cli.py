"""The `scratchgrad learn` command (also `python -m scratchgrad.learn`).

    scratchgrad learn start [DIR]       write the exercises' stubs (default ./my-derivatives)
    scratchgrad learn check [NAME]      check your backward functions (all, or one)
    scratchgrad learn list              the ladder, what is done, and your streak
    scratchgrad learn hint NAME         the derivation, one more step each time (--all: every step)
    scratchgrad learn solution NAME     scratchgrad's own rule and its formula
"""
import argparse
import datetime
import os
import sys

from scratchgrad.formulas import lambda_body, pretty, rule_formulas
from scratchgrad.learn import checker, workspace
from scratchgrad.learn.ladder import BY_NAME, EXERCISES

MARKS = {"pass": "✔", "fail": "✘", "todo": "·"}


def main(argv=None, today=None, out=None):
    """`scratchgrad ...`: the package's console command; its one subcommand is `learn`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] != "learn":
        print("usage: scratchgrad learn {start,check,list,hint,solution} ...  (see --help)",
              file=out or sys.stdout)
        return 2
    return learn(argv[1:], today, out)


def learn(argv=None, today=None, out=None):
    """`scratchgrad learn ...`; returns the exit status (0 ok, 1 a check failed, 2 bad usage)."""
    out = out or sys.stdout
    today = today or datetime.date.today()
    parser = argparse.ArgumentParser(prog="scratchgrad learn", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="write the exercise stubs")
    start.add_argument("directory", nargs="?", default=workspace.DEFAULT_DIR)
    for name, text in [("check", "check your backward functions"), ("list", "show the ladder"),
                       ("hint", "show the next step of a derivation"),
                       ("solution", "show scratchgrad's own rule")]:
        command = commands.add_parser(name, help=text)
        if name in ("check", "hint", "solution"):
            command.add_argument("name", nargs="?" if name == "check" else None,
                                 choices=list(BY_NAME), metavar="NAME")
        if name == "hint":
            command.add_argument("--all", action="store_true", help="every step at once")
        command.add_argument("--dir", default=workspace.DEFAULT_DIR, help="the workspace")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return exit.code
    handler = {"start": _start, "check": _check, "list": _list, "hint": _hint,
               "solution": _solution}[args.command]
    return handler(args, today, lambda text="": print(text, file=out))


def _start(args, today, say):
    written, kept = workspace.start(args.directory)
    say(f"{len(written)} exercise files written to {args.directory}/"
        + (f"; kept your {len(kept)} existing ones" if kept else ""))
    say(f"Begin with {workspace.stub_path(args.directory, EXERCISES[0])}, then run: "
        f"scratchgrad learn check {EXERCISES[0].name}")
    return 0


def _check(args, today, say):
    if not os.path.isdir(args.dir):
        say(f"no workspace at {args.dir}/: run `scratchgrad learn start` first")
        return 2
    progress = workspace.Progress(args.dir)
    exercises = [BY_NAME[args.name]] if args.name else list(EXERCISES)
    failed = False
    for exercise in exercises:
        path = workspace.stub_path(args.dir, exercise)
        if not os.path.exists(path):
            say(f"{MARKS['todo']} {exercise.name}: no file {os.path.basename(path)} "
                "(`scratchgrad learn start` writes it)")
            continue
        try:
            verdict = checker.check(exercise, checker.load_backward(path), path)
        except checker.Mistake as problem:
            verdict = checker.Verdict(exercise.name, "fail", str(problem))
        failed |= verdict.status == "fail"
        new = verdict.passed and progress.record_pass(exercise.name, today)
        say(f"{MARKS[verdict.status]} {exercise.name}: {verdict.status}"
            + (" (new!)" if new else "") + f" — {verdict.message}")
    progress.save()
    streak = progress.streak(today)
    say(f"\n{len(progress.passed)} of {len(EXERCISES)} passed; streak: {streak} day"
        f"{'s' if streak != 1 else ''}")
    return 1 if failed else 0


def _list(args, today, say):
    progress = workspace.Progress(args.dir) if os.path.isdir(args.dir) else None
    passed = progress.passed if progress else {}
    for number, exercise in enumerate(EXERCISES, 1):
        mark = MARKS["pass"] if exercise.name in passed else MARKS["todo"]
        when = f"  (passed {passed[exercise.name]})" if exercise.name in passed else ""
        say(f"{mark} {number:2d} {exercise.name:15s} {exercise.title}{when}")
    streak = progress.streak(today) if progress else 0
    say(f"\n{len(passed)} of {len(EXERCISES)} done; streak: {streak} day{'s' if streak != 1 else ''} "
        "in a row with a new exercise passed")
    return 0


def _hint(args, today, say):
    exercise = BY_NAME[args.name]
    progress = workspace.Progress(args.dir) if os.path.isdir(args.dir) else None
    shown = len(exercise.hints) if args.all else (progress.hints.get(args.name, 0) if progress else 0) + 1
    shown = min(shown, len(exercise.hints))
    say(f"{exercise.name}: {exercise.maths}")
    for step, text in enumerate(exercise.hints[:shown], 1):
        say(f"  step {step}: {text}")
    if shown < len(exercise.hints):
        say(f"  ({len(exercise.hints) - shown} more: run the same command again)")
    if progress:
        progress.hints[args.name] = shown
        progress.save()
    return 0


def _solution(args, today, say):
    exercise = BY_NAME[args.name]
    say(f"{exercise.name}: {exercise.maths}")
    body = lambda_body(exercise.solution)
    say(f"  backward(g, out, {', '.join(exercise.inputs)}) = {pretty(body)}")
    op = exercise.primitive
    if op is None:
        say("  scratchgrad has no rule of its own for this: it is a composite of primitives "
            "(see scratchgrad/ops/), and backward chains their rules.")
        return 0
    say(f"  scratchgrad's own rule (primitive `{op.name}` in scratchgrad/primitives.py; the same "
        "text sg.viz.trace prints):")
    for line in rule_formulas(op):
        say(f"    {line}")
    if exercise.name in ("sum", "batched_matmul"):
        say("  and the engine sums broadcast dimensions away in one place: "
            "autograd.fit_gradient / sum_to")
    return 0
