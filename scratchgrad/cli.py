"""The `scratchgrad` command (also `python -m scratchgrad`).

    scratchgrad run [--anomaly] [--trace-first-backward] SCRIPT [ARGS...]
                                    run a PyTorch program with `import torch` meaning scratchgrad
    scratchgrad learn ...           the derivatives course (see `scratchgrad learn --help`)
"""
import argparse
import os
import runpy
import sys
import traceback

USAGE = ("usage: scratchgrad {run,learn} ...\n\n"
         "  scratchgrad run SCRIPT [ARGS...]   run a PyTorch program with torch meaning scratchgrad\n"
         "  scratchgrad learn ...              a ladder of derivatives to work out and have checked\n"
         "\nRun `scratchgrad run --help` or `scratchgrad learn --help` for their options.")


def main(argv=None):
    """Dispatch to a subcommand; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["learn"]:
        from scratchgrad.learn.cli import learn
        return learn(argv[1:])
    if argv[:1] == ["run"]:
        return run(argv[1:])
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    print(USAGE, file=sys.stderr)
    return 2


def run(argv):
    """`scratchgrad run [options] SCRIPT [ARGS...]`: the script's exit status (1 if it raised)."""
    parser = argparse.ArgumentParser(
        prog="scratchgrad run",
        description="Run a PyTorch program with `import torch` resolving to scratchgrad "
                    "(in this process only). Missing APIs fail naming torch.<name>.")
    parser.add_argument("--anomaly", action="store_true",
                        help="run under sg.detect_anomaly(): stop at the first NaN or inf")
    parser.add_argument("--trace-first-backward", action="store_true",
                        help="print sg.viz.trace's step-by-step account of the first backward")
    parser.add_argument("script", help="the Python file to run as __main__")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its command-line arguments")
    try:
        options = parser.parse_args(argv)
    except SystemExit as exit:
        return exit.code
    if not os.path.isfile(options.script):
        print(f"scratchgrad run: no such file: {options.script}", file=sys.stderr)
        return 2
    try:
        run_script(options.script, options.args, anomaly=options.anomaly,
                   trace_first_backward=options.trace_first_backward)
    except SystemExit as exit:
        return _exit_status(exit.code)
    except BaseException:  # noqa: BLE001 (the program's own error: its traceback, not ours)
        kind, error, tb = sys.exc_info()
        traceback.print_exception(kind, error, _from_script(tb, options.script))
        return 130 if kind is KeyboardInterrupt else 1
    return 0


def run_script(script, args=(), *, anomaly=False, trace_first_backward=False):
    """Run a file as __main__ with sys.argv = [script, *args] and torch meaning scratchgrad."""
    import scratchgrad as sg
    from scratchgrad.torch_alias import as_torch

    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        with as_torch(), _maybe(anomaly, sg.detect_anomaly), \
                _maybe(trace_first_backward, _trace_first_backward):
            runpy.run_path(script, run_name="__main__")
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


class _maybe:
    """The context manager make() if wanted, else nothing."""

    def __init__(self, wanted, make):
        self.context = make() if wanted else None

    def __enter__(self):
        return self.context.__enter__() if self.context is not None else None

    def __exit__(self, *exc):
        return self.context.__exit__(*exc) if self.context is not None else False


class _trace_first_backward:
    """Wrap Tensor.backward so that its first call runs inside sg.viz.trace()."""

    def __enter__(self):
        from scratchgrad import viz
        from scratchgrad.core.tensor import Tensor

        original = self.original = Tensor.backward

        def backward(tensor, *args, **kwargs):
            Tensor.backward = original  # only the first
            with viz.trace():
                return original(tensor, *args, **kwargs)

        Tensor.backward = backward
        return self

    def __exit__(self, *exc):
        from scratchgrad.core.tensor import Tensor
        Tensor.backward = self.original
        return False


def _exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"), as Python itself does
    return 1


def _from_script(tb, script):
    """The traceback from the script's first frame on (runpy's and ours are noise)."""
    start = tb
    target = os.path.abspath(script)
    while start is not None:
        if os.path.abspath(start.tb_frame.f_code.co_filename) == target:
            return start
        start = start.tb_next
    return tb


if __name__ == "__main__":
    sys.exit(main())
