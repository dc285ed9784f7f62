# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The links between the pages of docs/ resolve: the file exists and so does the heading.

Anchors are GitHub's: the heading in lower case, punctuation other than '-' and '_' removed,
spaces turned into '-'. A link to a file galaxy.yml leaves out of the artifact (docs/dev) is
checked in a checkout and skipped in a copy of the shipped files, where it cannot exist.
"""

from __future__ import annotations

import re
import fnmatch
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML reads galaxy.yml's build_ignore")

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def slug(heading: str) -> str:
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} +(.+?) *#*$", text, flags=re.MULTILINE)}


def _not_shipped(path: Path, root: Path) -> bool:
    """Left out of the collection artifact by galaxy.yml's build_ignore (docs/dev, examples, ...)."""
    galaxy = root / "galaxy.yml"
    if not galaxy.exists():
        return False
    patterns = (yaml.safe_load(galaxy.read_text(encoding="utf-8")) or {}).get("build_ignore") or []
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    return any(fnmatch.fnmatch("/".join(parts[:i]), pattern)
               for i in range(1, len(parts) + 1) for pattern in patterns)


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    text = CODE_SPAN.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue  # http:, https:, mailto:
        file_part, _sep, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists() and _not_shipped(dest, root):
            continue  # a copy of the shipped files (ansible-test) lacks it; the checkout has it
        if not dest.exists():
            broken.append("%s: %s (no such file)" % (page.relative_to(root), target))
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append("%s: %s (no such heading)" % (page.relative_to(root), target))
    return broken


def test_links_between_pages_resolve():
    pages = sorted(DOCS.rglob("*.md"))
    assert len(pages) >= 10
    broken = [b for page in pages for b in broken_links(page)]
    assert not broken, "\n".join(broken)


def test_every_page_is_reachable_from_the_index():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = {(DOCS / target.partition("#")[0]).resolve() for target in LINK.findall(index)}
    unlisted = [str(p.relative_to(ROOT)) for p in sorted(DOCS.rglob("*.md"))
                if p.name != "README.md" and p.resolve() not in linked and p.name != "crds.md"]
    assert not unlisted, "pages the index does not list: %s" % unlisted


def test_slug_matches_github_for_punctuated_headings():
    assert slug("BGPPeer metallb.io/v1beta2 (storage)") == "bgppeer-metallbiov1beta2-storage"
    assert slug("Planned stop: GRACEFUL_SHUTDOWN") == "planned-stop-graceful_shutdown"
    assert slug("What is announced, and when") == "what-is-announced-and-when"


def test_a_broken_link_is_reported(tmp_path):
    page = tmp_path / "a.md"
    (tmp_path / "b.md").write_text("# Only heading\n", encoding="utf-8")
    page.write_text("[x](b.md#only-heading) [y](b.md#missing) [z](c.md)\n", encoding="utf-8")
    assert broken_links(page, root=tmp_path) == ["a.md: b.md#missing (no such heading)",
                                                 "a.md: c.md (no such file)"]
