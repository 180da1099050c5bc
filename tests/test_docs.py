"""The documentation holds together: every link and anchor between pages resolves, every page is
reachable from the README, every command a how-to tells you to run exists with the options it uses,
and no passage is written twice (one place per topic)."""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path

import pytest

from pipelines.cli import build_parser
from pipelines.offline import REPO_ROOT
from pipelines.runbook import documented_commands

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _ids(pages):
    return [str(p.relative_to(REPO_ROOT)) for p in pages]


def _prose(text: str) -> str:
    """The page without its code blocks (a link or heading inside one is not one)."""
    return re.sub(r"```.*?```", "", text, flags=re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation but hyphens and underscores dropped,
    spaces to hyphens (github/cmark-gfm's extension and the rendering GitHub documents)."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _prose(page.read_text()), flags=re.MULTILINE):
        base = slug(heading)
        n = seen.get(base, 0)
        found.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return frozenset(found)


def links(page: Path) -> list[str]:
    return [t for t in LINK.findall(_prose(page.read_text())) if not re.match(r"[a-z]+:", t)]


def test_slugs_are_githubs():
    # examples of GitHub's rendering of this repository's own headings
    assert slug("Promotion: code and settings, pull request, merge, deploy") == (
        "promotion-code-and-settings-pull-request-merge-deploy"
    )
    assert slug("What the first `pulumi up` creates, in order") == "what-the-first-pulumi-up-creates-in-order"
    assert slug("Cost: what each stack costs, idle and at its ceilings") == (
        "cost-what-each-stack-costs-idle-and-at-its-ceilings"
    )


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading with that anchor in {file.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_link_and_anchor_resolves(page):
    assert broken_links(page) == []


def test_a_broken_link_or_anchor_is_caught(tmp_path):
    (tmp_path / "a.md").write_text(
        "# A\n\n## Two words\n\n[ok](#two-words) [file](b.md) [gone](c.md) [bad](b.md#nope)\n"
    )
    (tmp_path / "b.md").write_text("# B\n\n```text\n## Not a heading\n```\n[code](#not-a-heading)\n")
    assert broken_links(tmp_path / "a.md") == ["c.md: no such file", "b.md#nope: no heading with that anchor in b.md"]
    assert broken_links(tmp_path / "b.md") == ["#not-a-heading: no heading with that anchor in b.md"]


def test_every_page_is_reachable_from_the_readme():
    seen, todo = set(), [REPO_ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        for target in links(page):
            file = (page.parent / target.partition("#")[0]).resolve() if target.partition("#")[0] else page
            if file.suffix == ".md" and file.exists():
                todo.append(file)
    assert sorted(_ids(set(PAGES) - seen)) == []


@cache
def make_targets() -> frozenset[str]:
    return frozenset(re.findall(r"^([a-z][\w-]*):", (REPO_ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def _commands(line: str) -> list[list[str]]:
    """The commands of a shell line: its pipeline and `&&` parts and any `$(...)` inside."""
    inner = re.findall(r"\$\(([^()]*)\)", line)
    outer = re.sub(r"\$\([^()]*\)", "X", line)
    found = []
    for part in [*re.split(r"\|\||&&|\||;", outer), *inner]:
        words = shlex.split(part.split(" #", 1)[0], comments=False)
        if words:
            found.append(words)
    return found


def check_command(words: list[str]) -> str | None:
    """Why a documented command would not run as written, or None."""
    program = words[0]
    if program == "make":
        targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
        missing = [t for t in targets if t not in make_targets()]
        return f"make has no target {missing}" if missing else None
    if program in ("mlplatform", ".venv/bin/mlplatform"):
        try:
            build_parser().parse_args(words[1:])
        except SystemExit as exit_:
            return f"`{shlex.join(words)}` is not a valid mlplatform command" if exit_.code else None
        return None
    if program == "kubectl" and "-k" in words:
        kustomization = REPO_ROOT / words[words.index("-k") + 1]
        return None if (kustomization / "kustomization.yaml").is_file() else f"{kustomization} has no kustomization"
    return None


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_documented_command_exists(page, capsys):
    problems = []
    for line in documented_commands(page.read_text()):
        for words in _commands(line):
            problem = check_command(words)
            if problem:
                problems.append(problem)
    capsys.readouterr()  # argparse's usage messages
    assert problems == []


def test_a_wrong_command_is_caught():
    assert check_command(["make", "plna"]) == "make has no target ['plna']"
    assert check_command(["mlplatform", "promote", "dev", "staging", "--dryrun"]) is not None
    assert check_command([".venv/bin/mlplatform", "plan", "prod", "--json", "plan.json"]) is None
    assert [w[0] for w in _commands("x=$(mlplatform release dev --deployed) && make plan | tee")] == [
        "x=X",
        "make",
        "tee",
        "mlplatform",
    ]


def _paragraphs(page: Path) -> list[str]:
    """Prose paragraphs and list items long enough to be a passage (tables, code and headings aside)."""
    out = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*]|\d+\.) )", _prose(page.read_text())):
        text = " ".join(block.split())
        if len(text) >= 160 and not text.startswith(("|", "#", "<!--")):
            out.append(text)
    return out


def written_twice(pages: list[Path]) -> list[str]:
    where: dict[str, str] = {}
    twice = []
    for page in pages:
        for text in _paragraphs(page):
            if text in where and where[text] != page.name:
                twice.append(f"{page.name} and {where[text]}: {text[:80]}...")
            where.setdefault(text, page.name)
    return twice


def test_no_passage_is_written_twice():
    assert written_twice(PAGES) == []


def test_a_passage_written_twice_is_caught(tmp_path):
    passage = "A passage long enough to count, " * 6
    (tmp_path / "a.md").write_text(f"# A\n\n{passage}\n\nshort\n")
    (tmp_path / "b.md").write_text(f"# B\n\nshort\n\n{passage.replace(' ', chr(10), 3)}\n")
    assert len(written_twice([tmp_path / "a.md", tmp_path / "b.md"])) == 1
