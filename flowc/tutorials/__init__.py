"""flowc's own tutorials, shipped inside the package: ``flowc tutorials list | info | pull``.

Each numbered folder here (``00-helloworld``, ...) holds a README with the commands to type and
the output to expect, and the flow files it uses. They are package data, read through
:mod:`importlib.resources`, so they work from an installed wheel as from a checkout. Every
tutorial runs offline on the local datastore: its data is generated or bundled.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

DEFAULT_DIR = "flowc-tutorials"


class TutorialError(Exception):
    """A tutorial that does not exist, or a folder pull would overwrite."""


@dataclass(frozen=True)
class Tutorial:
    number: int
    name: str  # the folder's name, e.g. 00-helloworld
    title: str  # the README's first heading
    summary: str  # the README's first paragraph
    files: tuple[str, ...]


def _root() -> Traversable:
    return resources.files(__name__)


def tutorials() -> list[Tutorial]:
    """Every tutorial, in order."""
    out = []
    for entry in sorted(_root().iterdir(), key=lambda e: e.name):
        head = entry.name.split("-", 1)[0]
        if not (entry.is_dir() and head.isdigit() and "-" in entry.name):
            continue
        readme = entry.joinpath("README.md").read_text(encoding="utf-8")
        title, summary = _heading(readme)
        files = tuple(sorted(f.name for f in entry.iterdir() if f.is_file()))
        out.append(Tutorial(int(head), entry.name, title, summary, files))
    return out


def _heading(readme: str) -> tuple[str, str]:
    lines = readme.splitlines()
    title = next((ln.lstrip("# ").strip() for ln in lines if ln.startswith("# ")), "")
    paragraph: list[str] = []
    for ln in lines[1:]:
        if ln.strip():
            paragraph.append(ln.strip())
        elif paragraph:
            break
    return title, " ".join(paragraph)


def find(which: str) -> Tutorial:
    """A tutorial by number (``3``, ``03``) or folder name (``03-resume``, ``resume``)."""
    found = tutorials()
    for t in found:
        if which.isdigit() and int(which) == t.number:
            return t
        if which in (t.name, t.name.split("-", 1)[1]):
            return t
    names = ", ".join(t.name for t in found)
    raise TutorialError(f"no tutorial {which!r}; the tutorials are {names} (flowc tutorials list)")


def readme(t: Tutorial) -> str:
    return _root().joinpath(t.name, "README.md").read_text(encoding="utf-8")


def pull(dest: str = DEFAULT_DIR, force: bool = False, which: Tutorial | None = None) -> list[str]:
    """Copy the tutorials (or one) into ``dest``; refuse to overwrite without ``force``.
    Returns the folders written."""
    chosen = [which] if which is not None else tutorials()
    targets = [os.path.join(dest, t.name) for t in chosen]
    existing = [p for p in targets if os.path.exists(p)]
    if existing and not force:
        raise TutorialError(
            f"{existing[0]} already exists; pass --force to overwrite it with a fresh copy"
        )
    for t, target in zip(chosen, targets, strict=True):
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.makedirs(target)
        for name in t.files:
            data = _root().joinpath(t.name, name).read_bytes()
            with open(os.path.join(target, name), "wb") as f:
                f.write(data)
    return targets
