#!/usr/bin/env python3
"""Check that the user documentation is true to the repository and the CLI.

Reads docs/*.md, README.md and ARCHITECTURE.md (when present) and checks:

  a) every relative link resolves to a file in the repository (and a `#anchor`
     into a Markdown file names one of its headings), and every repository path
     written in backticks (`orchestrator/src/ticks.rs`, `examples/*/workflow.yaml`)
     exists;
  b) every ```yaml block right after a `<!-- workflow -->` comment is a whole
     workflow that `deckle validate` accepts (after `<!-- workflow: invalid -->`,
     one it refuses with exit 2); notebooks a block names are stubbed next to it;
  c) every subcommand `deckle --help` lists (and every subcommand of those) has
     a section in docs/cli.md, and every long option of its `--help` is named in
     that section.

The binary is $DECKLE_BIN, else target/debug/deckle. Exits 1 listing every
problem, 0 when there is none.

Usage: scripts/check_docs.py [--root DIR]
"""

from __future__ import annotations

import argparse
import glob
import json
import keyword
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`]+)`")
PATHLIKE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./*-]*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
MARKER = re.compile(r"^\s*<!--\s*workflow(?::\s*(invalid))?\s*-->\s*$")
NOTEBOOK_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*\.ipynb")
STUB_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "parameters",
            "metadata": {"tags": ["parameters"]},
            "outputs": [],
            "source": ["x = 1"],
        }
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


class Doc:
    """One Markdown file, split into prose lines and fenced blocks."""

    def __init__(self, path: Path, root: Path):
        self.path = path
        self.rel = path.relative_to(root).as_posix()
        self.lines = path.read_text(encoding="utf-8").splitlines()
        # (line number, text) outside fences; (start line, info string, body, marker) per fence.
        self.prose: list[tuple[int, str]] = []
        self.blocks: list[tuple[int, str, str, str | None]] = []
        fence, start, info, body, marker = None, 0, "", [], None
        pending_marker: str | None = None
        for n, line in enumerate(self.lines, 1):
            m = FENCE.match(line)
            if fence is None:
                if m:
                    fence, start, info, body = m.group(1), n, line.strip()[3:].strip(), []
                    marker, pending_marker = pending_marker, None
                    continue
                self.prose.append((n, line))
                mk = MARKER.match(line)
                if mk:
                    pending_marker = "invalid" if mk.group(1) else "valid"
                elif line.strip():
                    pending_marker = None
            elif m and line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                self.blocks.append((start, info, "\n".join(body) + "\n", marker))
                fence = None
            else:
                body.append(line)
        if fence is not None:
            self.blocks.append((start, info, "\n".join(body) + "\n", marker))

    def anchors(self) -> set[str]:
        """GitHub's heading ids: lower case, punctuation dropped, spaces to `-`, repeats numbered."""
        seen: dict[str, int] = {}
        out = set()
        for _, line in self.prose:
            m = HEADING.match(line)
            if not m:
                continue
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(2))
            slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
        return out

    def sections(self) -> list[tuple[int, str, str]]:
        """(level, heading text, the text up to the next heading of the same or a higher level)."""
        heads = [(i, len(m.group(1)), m.group(2)) for i, (_, line) in enumerate(self.prose) if (m := HEADING.match(line))]
        out = []
        for k, (i, level, text) in enumerate(heads):
            end = next((j for j, lv, _ in heads[k + 1 :] if lv <= level), len(self.prose))
            out.append((level, text, "\n".join(line for _, line in self.prose[i:end])))
        return out


def repo_entries(root: Path) -> set[str]:
    """Top-level names of the repository's files (tracked or new, not ignored)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard"],
            capture_output=True, text=True, check=True,
        ).stdout
        return {line.split("/", 1)[0] for line in out.splitlines() if line}
    except (OSError, subprocess.CalledProcessError):
        return {p.name for p in root.iterdir() if p.name not in {".git", "target", ".venv"}}


def check_links_and_paths(docs: list[Doc], root: Path, problems: list[str]) -> tuple[int, int]:
    entries = repo_entries(root)
    by_path = {d.path.resolve(): d for d in docs}
    links = paths = 0
    for doc in docs:
        for n, line in doc.prose:
            without_code = CODE_SPAN.sub("", line)
            for m in LINK.finditer(without_code):
                target = m.group(1) or m.group(2)
                if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                    continue  # http:, https:, mailto:
                links += 1
                file_part, _, anchor = target.partition("#")
                dest = (doc.path.parent / file_part).resolve() if file_part else doc.path.resolve()
                if root.resolve() not in dest.parents and dest != root.resolve():
                    problems.append(f"{doc.rel}:{n}: link `{target}` points outside the repository")
                    continue
                if not dest.exists():
                    problems.append(f"{doc.rel}:{n}: link `{target}`: {dest.relative_to(root.resolve())} does not exist")
                    continue
                if anchor and dest.suffix == ".md":
                    target_doc = by_path.get(dest) or Doc(dest, root)
                    if anchor not in target_doc.anchors():
                        problems.append(f"{doc.rel}:{n}: link `{target}`: no heading `#{anchor}` in {target_doc.rel}")
            for m in CODE_SPAN.finditer(line):
                text = re.sub(r":\d+(:\d+)?$", "", m.group(1).strip())
                if not PATHLIKE.match(text) or text.split("/", 1)[0] not in entries:
                    continue
                paths += 1
                found = glob.glob(str(root / text)) if "*" in text else [str(root / text)] if (root / text).exists() else []
                if not found:
                    problems.append(f"{doc.rel}:{n}: path `{text}` does not exist in the repository")
    return links, paths


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def stub_notebook(block: str) -> dict:
    """A notebook for a workflow example: its parameters cell declares every name the
    block could pass as a node param, and a cell assigns every name it could declare
    as an output (validation checks both against the notebook)."""
    names = set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*:", block))
    for listed in re.findall(r"outputs:\s*\[([^\]]*)\]", block):
        names.update(n.strip() for n in listed.split(",") if n.strip())
    names = sorted(n for n in names if n.isidentifier() and not keyword.iskeyword(n))
    nb = json.loads(json.dumps(STUB_NOTEBOOK))
    nb["cells"][0]["source"] = ["x = 1\n"] + [f"{n} = None\n" for n in names]
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "outputs", "metadata": {}, "outputs": [],
                        "source": [f"{n} = {n}\n" for n in names]})
    return nb


def check_workflows(docs: list[Doc], deckle: str, problems: list[str]) -> int:
    checked = 0
    for doc in docs:
        for start, info, body, marker in doc.blocks:
            if marker is None:
                continue
            where = f"{doc.rel}:{start}"
            if info.split()[:1] != ["yaml"]:
                problems.append(f"{where}: a `<!-- workflow -->` comment must be followed by a ```yaml block")
                continue
            checked += 1
            with tempfile.TemporaryDirectory(prefix="deckle-docs-") as tmp:
                for ref in sorted(set(NOTEBOOK_REF.findall(body))):
                    nb = Path(tmp) / ref
                    if ".." in Path(ref).parts or nb.exists():
                        continue
                    nb.parent.mkdir(parents=True, exist_ok=True)
                    nb.write_text(json.dumps(stub_notebook(body)), encoding="utf-8")
                wf = Path(tmp) / "workflow.yaml"
                wf.write_text(body, encoding="utf-8")
                r = run([deckle, "validate", str(wf)])
                said = (r.stderr or r.stdout).strip().replace(str(wf), "workflow.yaml")
                if marker == "valid" and r.returncode != 0:
                    problems.append(f"{where}: workflow example does not validate (exit {r.returncode}):\n    " + said.replace("\n", "\n    "))
                elif marker == "invalid" and r.returncode != 2:
                    problems.append(f"{where}: example marked invalid, but `deckle validate` exited {r.returncode} (expected 2)")
    return checked


def commands(help_text: str) -> list[str]:
    """The subcommands a clap `--help` lists, `help` left out."""
    out, inside = [], False
    for line in help_text.splitlines():
        if line.strip() == "Commands:":
            inside = True
        elif inside and not line.strip():
            break
        elif inside and (m := re.match(r"^\s{2}(\S+)", line)) and m.group(1) != "help":
            out.append(m.group(1))
    return out


def long_options(help_text: str) -> list[str]:
    """`--long` options of a clap `--help`, `--help` left out (aliases in brackets too)."""
    out = []
    for line in help_text.splitlines():
        m = re.match(r"^\s+(?:-\w,\s+)?(--[A-Za-z][\w-]*)", line)
        if m and m.group(1) != "--help" and m.group(1) not in out:
            out.append(m.group(1))
    return out


def check_cli(cli: Doc | None, deckle: str, problems: list[str]) -> int:
    top = run([deckle, "--help"])
    if top.returncode != 0:
        problems.append(f"`{deckle} --help` exited {top.returncode}: {top.stderr.strip()}")
        return 0
    if cli is None:
        problems.append("docs/cli.md does not exist")
        return 0
    sections = cli.sections()
    for opt in long_options(top.stdout):
        if opt not in "\n".join(line for _, line in cli.prose):
            problems.append(f"docs/cli.md: `deckle {opt}` is not described")
    todo = [[c] for c in commands(top.stdout)]
    count = 0
    while todo:
        cmd = todo.pop(0)
        name = "deckle " + " ".join(cmd)
        count += 1
        section = next((body for _, head, body in sections if re.search(rf"(^|[`\s]){re.escape(name)}($|[`\s])", head)), None)
        if section is None:
            problems.append(f"docs/cli.md: no section for `{name}` (a heading naming it)")
            continue
        h = run([deckle, *cmd, "--help"])
        for opt in long_options(h.stdout):
            if not re.search(rf"{re.escape(opt)}(?![\w-])", section):
                problems.append(f"docs/cli.md: `{name}` option `{opt}` is not in its section")
        todo.extend([*cmd, sub] for sub in commands(h.stdout))
    return count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    root = ap.parse_args().root.resolve()
    names = sorted((root / "docs").glob("*.md")) + [root / n for n in ("README.md", "ARCHITECTURE.md") if (root / n).exists()]
    docs = [Doc(p, root) for p in names]
    problems: list[str] = []
    links, paths = check_links_and_paths(docs, root, problems)
    deckle = os.environ.get("DECKLE_BIN") or str(root / "target" / "debug" / "deckle")
    workflows = commands_checked = 0
    if not os.access(deckle, os.X_OK):
        problems.append(f"no deckle binary at {deckle}: build it (cargo build --bin deckle) or set DECKLE_BIN")
    else:
        workflows = check_workflows(docs, deckle, problems)
        cli = next((d for d in docs if d.rel == "docs/cli.md"), None)
        commands_checked = check_cli(cli, deckle, problems)
    if problems:
        print(f"check_docs: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"check_docs: ok ({len(docs)} files, {links} links, {paths} paths, {workflows} workflows, {commands_checked} commands)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
