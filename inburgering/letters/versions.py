"""Letter templates are versioned and immutable once used.

A letter is stored as its template's name, the version of the template set and its data,
and rendered when it is sent or read again: a letter of 2023 renders the same in 2027.
The version is the content hash of the whole template set (`templates/*.j2`: a letter's
template, its layout and the macros it imports), so any change to any template is a new
version. Every version that letters may name is kept under `archive/<version>/`, byte for
byte; `python -m inburgering.letters.versions` archives the current set (a test fails while
the current set is not archived, and when an archived set differs from its name).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
ARCHIVE = HERE / "archive"


def set_version(directory: Path) -> str:
    """The content hash of a template set: every `*.j2` file's name and bytes."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.j2")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@lru_cache(maxsize=1)
def current_version() -> str:
    return set_version(TEMPLATES)


def is_archived(version: str) -> bool:
    return (ARCHIVE / version / "_layout.html.j2").is_file()


def archived(version: str) -> Path:
    path = ARCHIVE / version
    if not is_archived(version):
        raise LookupError(f"letter templates of version {version!r} are not in the archive "
                          f"({path}); archive every set that letters were written with")
    return path


def archive_current() -> Path:
    """Copy the current set into the archive, once; an archived set is never changed."""
    version = current_version()
    target = ARCHIVE / version
    if not target.exists():
        target.mkdir(parents=True)
        for path in TEMPLATES.glob("*.j2"):
            shutil.copy2(path, target / path.name)
    return target


if __name__ == "__main__":
    print(f"archived {archive_current().relative_to(HERE.parent.parent)}", file=sys.stdout)
