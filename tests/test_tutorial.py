"""The tutorial runs as written: every chapter of docs/tutorial/, one test each.

A chapter's ```python blocks run in order in one shared namespace (later blocks use earlier
definitions), in a temporary working directory, with the chapter's own line numbers, so a
traceback points at the line of the .md file. A ```text block that directly follows a python
block is what that block prints: it is compared exactly (trailing spaces aside, and ignoring
the line numbers in `chapter.md:LINE` sites, which move whenever the prose above them changes).

Markers, both invisible when the Markdown is rendered:
- ```python no-run: shown but not run (prefer ```sh for shell commands).
- <!-- tutorial: requires sg.nn.Conv2d sklearn -->: skip the chapter, saying why, unless each
  name exists (a dotted path under `sg`, or an importable module).

    python tests/test_tutorial.py --update [CHAPTER.md ...]

rewrites each output block with what its code prints now (write an empty ```text block after a
python block to have it filled); read the diff before committing it.
"""
import contextlib
import difflib
import importlib
import importlib.util
import io
import linecache
import os
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import FENCE, normalized

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial"
CHAPTERS = sorted(TUTORIAL.glob("[0-9][0-9]-*.md"))

REQUIRES = re.compile(r"<!--\s*tutorial:\s*requires\s+(.*?)\s*-->")


@dataclass
class Block:
    code: str
    line: int                      # the chapter's line number of the code's first line
    output: str | None = None      # what it should print, when the chapter shows it
    output_span: tuple | None = None


def parse(text):
    """The chapter's runnable python blocks, each with the output block that follows it."""
    fences = list(FENCE.finditer(text))
    blocks = []
    for i, fence in enumerate(fences):
        language, flag, body = fence.groups()
        if language != "python" or flag == "no-run":
            continue
        block = Block(body, text.count("\n", 0, fence.start(3)) + 1)
        after = fences[i + 1] if i + 1 < len(fences) else None
        if after and after.group(1) == "text" and not text[fence.end():after.start()].strip():
            block.output, block.output_span = after.group(3), after.span(3)
        blocks.append(block)
    return blocks


def missing_requirements(text):
    """The names the chapter requires that this checkout lacks."""
    names = [name for match in REQUIRES.finditer(text) for name in match.group(1).split()]
    return [name for name in names if not _available(name)]


def _available(name):
    if name.startswith("sg."):
        obj = importlib.import_module("scratchgrad")
        for part in name.split(".")[1:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return importlib.util.find_spec(name) is not None


def run_chapter(path):
    """Run every block; yield (number, block, what it printed). Raises on the first error."""
    text = path.read_text(encoding="utf-8")
    # Tracebacks and scratchgrad's "made at file:line" sites quote the chapter's own lines.
    linecache.cache[path.name] = (len(text), None, text.splitlines(keepends=True), path.name)
    namespace = {"__name__": "__tutorial__"}
    for number, block in enumerate(parse(text), 1):
        code = "\n" * (block.line - 1) + block.code
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, path.name, "exec"), namespace)  # noqa: S102  (our own docs)
        except Exception as error:
            trace = traceback.format_exception(type(error), error, error.__traceback__.tb_next)
            raise BlockError(f"{path.name}, block {number} (line {block.line}) raised "
                             f"{type(error).__name__}:\n{''.join(trace)}") from error
        yield number, block, printed.getvalue()


class BlockError(Exception):
    """A tutorial block failed; the message names the chapter, the block and its line."""


@pytest.mark.parametrize("path", CHAPTERS, ids=[path.name for path in CHAPTERS])
def test_chapter_runs_and_prints_what_it_shows(path, tmp_path, monkeypatch):
    missing = missing_requirements(path.read_text(encoding="utf-8"))
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(missing)}, which this checkout doesn't have")
    monkeypatch.chdir(tmp_path)
    try:
        for number, block, printed in run_chapter(path):
            if block.output is None:
                continue
            expected, got = normalized(block.output), normalized(printed)
            if expected != got:
                diff = "\n".join(difflib.unified_diff(expected.splitlines(), got.splitlines(),
                                                      "shown in the chapter", "printed now",
                                                      lineterm=""))
                pytest.fail(f"{path.name}, block {number} (line {block.line}) printed something "
                            f"other than the output shown after it:\n{diff}", pytrace=False)
    except BlockError as error:
        pytest.fail(str(error), pytrace=False)


def test_index_lists_every_chapter_and_the_readme_links_to_it():
    index = (TUTORIAL / "README.md").read_text(encoding="utf-8")
    linked = re.findall(r"\]\(([0-9][0-9]-[\w-]+\.md)\)", index)
    assert sorted(set(linked)) == [path.name for path in CHAPTERS]
    readme = (TUTORIAL.parent.parent / "README.md").read_text(encoding="utf-8")
    assert "(docs/tutorial/README.md)" in readme


def test_parse_finds_outputs_and_skips_no_run():
    text = ("```python\nprint(1)\n```\n\n```text\n1\n```\n\nprose\n\n```text\nnot an output\n```\n"
            "```python no-run\nraise SystemExit\n```\n```python\nx = 2\n```\n")
    blocks = parse(text)
    assert [(b.code, b.line, b.output) for b in blocks] == [("print(1)\n", 2, "1\n"),
                                                            ("x = 2\n", 18, None)]
    assert missing_requirements("<!-- tutorial: requires sg.nn.Linear sg.nn.NoSuchLayer -->") == [
        "sg.nn.NoSuchLayer"]


def update(paths):
    """Rewrite each chapter's output blocks with what its code prints now."""
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if missing_requirements(text):
            print(f"{path.name}: skipped, needs {', '.join(missing_requirements(text))}")
            continue
        for _ in range(3):  # again while new outputs move the chapter lines that outputs quote
            before, text = text, _with_outputs_now(path, text)
            path.write_text(text, encoding="utf-8")
            if text == before:
                break
        print(f"{path.name}: output blocks written")


def _with_outputs_now(path, text):
    """The chapter with each output block replaced by what its code prints now."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as workdir:
        os.chdir(workdir)  # as in the test (contextlib.chdir needs Python 3.11)
        try:
            replacements = [(block.output_span, printed.rstrip() + "\n" if printed.strip() else "")
                            for _, block, printed in run_chapter(path) if block.output_span]
        finally:
            os.chdir(cwd)
    for (start, end), printed in reversed(replacements):
        text = text[:start] + printed + text[end:]
    return text


if __name__ == "__main__":
    sys.path.insert(0, str(TUTORIAL.parent.parent))
    if sys.argv[1:2] != ["--update"]:
        sys.exit(__doc__)
    update([TUTORIAL / name for name in sys.argv[2:]] or CHAPTERS)
