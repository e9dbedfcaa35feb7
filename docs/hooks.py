"""mkdocs hook: the site's home page is the repository's README.md.

The README lives at the repository root and links into docs/ (docs/tutorial/README.md); on the
site those pages sit at the root, so the hook drops the `docs/` from such links. Links to files
outside docs/ (examples/xor.py, LICENSE) have no page on the site: they become plain text.
"""
import re
from pathlib import Path

from mkdocs.structure.files import File

README = Path(__file__).resolve().parent.parent / "README.md"
LINK = re.compile(r"\[([^\]]+)\]\((?!https?://|#)([^)]+)\)")


def site_markdown(text):
    """README.md as the site's index.md."""
    def relink(match):
        label, target = match.groups()
        if target.startswith("docs/"):
            return f"[{label}]({target[len('docs/'):]})"
        return label
    return LINK.sub(relink, text)


def on_files(files, config):
    files.append(File.generated(config, "index.md",
                                content=site_markdown(README.read_text(encoding="utf-8"))))
    return files
