"""mkdocs hooks: the site's home page is the repository's README.md, and every tutorial chapter
(docs/tutorial/NN-*.md) is in the nav, in order, without being listed in mkdocs.yml.

The README lives at the repository root and links into docs/ (docs/tutorial/README.md); on the
site those pages sit at the root, so the hook drops the `docs/` from such links. Links to files
outside docs/ (examples/xor.py, LICENSE) have no page on the site: they become plain text.
"""
import re
from pathlib import Path

from mkdocs.structure.files import File

DOCS = Path(__file__).resolve().parent
README = DOCS.parent / "README.md"
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


def on_config(config):
    chapters = [f"tutorial/{p.name}" for p in sorted((DOCS / "tutorial").glob("[0-9][0-9]-*.md"))]
    for item in config["nav"]:
        if isinstance(item, dict) and "Tutorial" in item:
            item["Tutorial"] = [p for p in item["Tutorial"] if p not in chapters] + chapters
    return config
