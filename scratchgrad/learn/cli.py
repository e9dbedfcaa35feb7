"""The `scratchgrad learn` command (also `python -m scratchgrad.learn`).

    scratchgrad learn start [DIR]       write the exercises' stubs (default ./my-derivatives)
    scratchgrad learn check [EXERCISE]  check your work (all, or one: a name, a number, a file)
    scratchgrad learn list              the ladder, each exercise checked again, your streak
    scratchgrad learn hint EXERCISE     the derivation, one more step each time (--all: every step)
    scratchgrad learn solution EXERCISE scratchgrad's own rule and its formula

Run them anywhere inside the workspace (or beside it): like git finding .git, the commands
look for it in the current folder and each folder above; --dir names it explicitly.
"""
import argparse
import datetime
import os
import sys

from scratchgrad.formulas import lambda_body, pretty, rule_formulas
from scratchgrad.learn import checker, workspace
from scratchgrad.learn.capstone import Capstone
from scratchgrad.learn.catalog import ALL, resolve

MARKS = {"pass": "✔", "fail": "✘", "todo": "·"}
USAGE = ("usage: scratchgrad learn {start,check,list,hint,solution} ...\n\n"
         "scratchgrad's command line: `scratchgrad learn` is a ladder of derivatives to work out "
         "and have checked.\nRun `scratchgrad learn --help` for its commands.")


def main(argv=None, today=None, out=None):
    """`scratchgrad ...`: the package's console command; its one subcommand is `learn`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    out = out or sys.stdout
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE, file=out)
        return 0
    if not argv or argv[0] != "learn":
        print(USAGE, file=out)
        return 2
    return learn(argv[1:], today, out)


def learn(argv=None, today=None, out=None):
    """`scratchgrad learn ...`; returns the exit status (0 ok, 1 a check failed, 2 bad usage)."""
    out = out or sys.stdout
    today = today or datetime.date.today()
    parser = argparse.ArgumentParser(prog="scratchgrad learn", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n")[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="write the exercise stubs")
    start.add_argument("directory", nargs="?", default=None,
                       help=f"where (default: the workspace you are in, or ./{workspace.DEFAULT_DIR})")
    for name, text in [("check", "check your work"), ("list", "show the ladder, checked again"),
                       ("hint", "show the next step of a derivation"),
                       ("solution", "show scratchgrad's own rule")]:
        command = commands.add_parser(name, help=text)
        if name in ("check", "hint", "solution"):
            command.add_argument("exercise", nargs="?" if name == "check" else None,
                                 metavar="EXERCISE", help="a name (mul), a number (2) or a file (02_mul.py)")
        if name == "hint":
            command.add_argument("--all", action="store_true", help="every step at once")
        command.add_argument("--dir", default=None,
                             help="the workspace (default: found from the current folder)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return exit.code
    say = lambda text="": print(text, file=out)
    if getattr(args, "exercise", None) is not None:
        exercise = resolve(args.exercise)
        if exercise is None:
            say(f"no exercise {args.exercise!r}: give a name (mul), a number (2 of 1 to {len(ALL)}) "
                "or a file (02_mul.py); `scratchgrad learn list` shows them all")
            return 2
        args.exercise = exercise
    handler = {"start": _start, "check": _check, "list": _list, "hint": _hint,
               "solution": _solution}[args.command]
    return handler(args, today, say)


def _workspace(args):
    return args.dir if args.dir is not None else workspace.find()


def _progress(directory, say):
    progress = workspace.Progress(directory)
    if progress.damaged:
        say(f"! {progress.damaged}.\n  Your progress there is not read and will not be overwritten: "
            "repair the file (or move it away to start a new one).\n")
    return progress


def _start(args, today, say):
    directory = args.directory
    if directory is None:
        found = workspace.find()
        inside = found and os.path.commonpath([found, os.path.abspath(".")]) == found
        directory = found if inside else workspace.DEFAULT_DIR
    written, kept = workspace.start(directory)
    say(f"{len(written)} exercise files written to {directory}/"
        + (f"; kept your {len(kept)} existing ones" if kept else ""))
    say(f"Begin with {workspace.stub_path(directory, ALL[0])}, then run: "
        f"scratchgrad learn check {ALL[0].name}")
    return 0


def _check(args, today, say):
    directory = _workspace(args)
    if directory is None or not os.path.isdir(directory):
        where = f"at {directory}/" if directory else "here or in any folder above"
        say(f"no workspace {where}: run `scratchgrad learn start` first (it writes ./"
            f"{workspace.DEFAULT_DIR}/), or give its folder with --dir")
        return 2
    progress = _progress(directory, say)
    exercises = [args.exercise] if args.exercise else list(ALL)
    failed = False
    for exercise in exercises:
        path = workspace.stub_path(directory, exercise)
        if not os.path.exists(path):
            say(f"{MARKS['todo']} {exercise.name}: no file {os.path.basename(path)} "
                "(`scratchgrad learn start` writes it)")
            continue
        verdict = checker.check_file(exercise, path)
        failed |= verdict.status == "fail"
        new = verdict.passed and progress.record_pass(exercise.name, today)
        say(f"{MARKS[verdict.status]} {exercise.name}: {verdict.status}"
            + (" (new!)" if new else "") + f" — {verdict.message}")
    progress.save()
    streak = progress.streak(today)
    say(f"\n{len(progress.passed)} of {len(ALL)} passed; streak: {streak} day"
        f"{'s' if streak != 1 else ''}")
    return 1 if failed else 0


def _list(args, today, say):
    """The ladder, each exercise with a file checked again now: a ✔ is always current."""
    directory = _workspace(args)
    progress = _progress(directory, say) if directory and os.path.isdir(directory) else None
    passed = progress.passed if progress else {}
    done = 0
    for number, exercise in enumerate(ALL, 1):
        path = workspace.stub_path(directory, exercise) if progress else None
        status = checker.check_file(exercise, path).status if path and os.path.exists(path) else "todo"
        done += status == "pass"
        when = ""
        if exercise.name in passed:
            when = f"  (passed {passed[exercise.name]}" + (", fails now)" if status != "pass" else ")")
        say(f"{MARKS[status]} {number:2d} {exercise.name:15s} {exercise.title}{when}")
    streak = progress.streak(today) if progress else 0
    say(f"\n{done} of {len(ALL)} done; streak: {streak} day{'s' if streak != 1 else ''} "
        "in a row with a new exercise passed")
    return 0


def _hint(args, today, say):
    exercise = args.exercise
    directory = _workspace(args)
    progress = workspace.Progress(directory) if directory and os.path.isdir(directory) else None
    seen = progress.hints.get(exercise.name, 0) if progress else 0
    shown = min(len(exercise.hints) if args.all else seen + 1, len(exercise.hints))
    say(f"{exercise.name}: {exercise.maths}")
    for step, text in enumerate(exercise.hints[:shown], 1):
        say(f"  step {step}: {text}")
    if shown < len(exercise.hints):
        say(f"  ({len(exercise.hints) - shown} more: run the same command again)")
    if progress:
        progress.hints[exercise.name] = shown
        progress.save()
    return 0


def _solution(args, today, say):
    exercise = args.exercise
    say(f"{exercise.name}: {exercise.maths}")
    if isinstance(exercise, Capstone):
        say("  the reference answer (scratchgrad/learn/capstone.py):")
        for line in exercise.solution_lines():
            say(f"    {line}".rstrip())
        return 0
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
    if exercise.name in ("broadcast_add", "batched_matmul", "rnn_step"):
        say("  and the engine sums broadcast dimensions away in one place: "
            "core/engine.py: fit_gradient / sum_to")
    return 0
