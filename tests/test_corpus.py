"""The corpus of notebook 12: the rebuild script's normalisation (on an archive made
here), the committed file's checksum, and the loaders' errors."""

import gzip
import hashlib
import importlib.util
import io
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from helpers.corpus import CORPUS_FILE, UNK, bigram_counts, build_vocabulary, read_plays

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_corpus", ROOT / "scripts" / "make_corpus.py")
make_corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_corpus)

PLAY = """THE TRAGEDY OF TESTING

by Nobody

PERSONS REPRESENTED.

Hamlet, a Prince.

ACT I.

SCENE I. A platform.

[Enter Hamlet and Horatio.]

Ham.
Who's there? O'er the hill,
I go.

Hor.
Nay, answer me.
[Exit.]

KING HENRY.
Once more unto the breach.
"""


def make_archive(folder: Path) -> Path:
    archive = folder / "fake.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in [("testing_gut.txt", PLAY), ("testing_gut_f.txt", PLAY),
                           ("sonnets_gut.txt", "ACT I.\nShall I compare thee"),
                           ("other_gut.txt", "ACT 1\n\nA.\nOne two.\n")]:
            data = text.encode("ascii")
            info = tarfile.TarInfo(make_corpus.TEXTS_FOLDER + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def test_normalisation_keeps_only_spoken_words(tmp_path):
    plays = make_corpus.plays_from_archive(make_archive(tmp_path))
    assert list(plays) == ["other_gut", "testing_gut"]     # no poems, no folio copies
    assert plays["testing_gut"] == ["who's", "there", "o'er", "the", "hill", "i", "go",
                                    "nay", "answer", "me", "once", "more", "unto", "the",
                                    "breach"]
    assert plays["other_gut"] == ["one", "two"]


def test_script_refuses_an_archive_with_another_checksum(tmp_path, capsys):
    status = make_corpus.main(["--archive", str(make_archive(tmp_path)),
                               "--output", str(tmp_path / "out.txt.gz")])
    assert status == 1
    assert "refusing" in capsys.readouterr().err
    assert not (tmp_path / "out.txt.gz").exists()


def test_written_corpus_is_byte_reproducible_and_readable(tmp_path):
    plays = make_corpus.plays_from_archive(make_archive(tmp_path))
    first, second = tmp_path / "a.txt.gz", tmp_path / "b.txt.gz"
    make_corpus.write_corpus(plays, first)
    make_corpus.write_corpus(plays, second)
    assert first.read_bytes() == second.read_bytes()
    assert read_plays(first) == plays


def test_committed_corpus_matches_the_checksum_its_readme_states():
    readme = (ROOT / "data" / "README.md").read_text()
    stated = re.search(r"this file: sha256 `([0-9a-f]{64})`", readme).group(1)
    assert hashlib.sha256(CORPUS_FILE.read_bytes()).hexdigest() == stated
    assert make_corpus.ARCHIVE_SHA256 in readme
    assert CORPUS_FILE.stat().st_size <= 2 * 10**6
    plays = read_plays()
    assert len(plays) == 37
    n_words = sum(len(w) for w in plays.values())
    assert f"{n_words:,} words" in readme


def test_missing_or_broken_corpus_says_how_to_rebuild(tmp_path):
    with pytest.raises(FileNotFoundError, match="make corpus"):
        read_plays(tmp_path / "nowhere.txt.gz")
    broken = tmp_path / "broken.txt.gz"
    with gzip.open(broken, "wt") as f:
        f.write("no tab on this line\n")
    with pytest.raises(ValueError, match="line 1"):
        read_plays(broken)
    empty = tmp_path / "empty.txt.gz"
    with gzip.open(empty, "wt") as f:
        f.write("a\t\n")
    with pytest.raises(ValueError, match="no words"):
        read_plays(empty)


def test_vocabulary_and_its_errors():
    vocabulary = build_vocabulary("b a b c b a d".split(), 3)
    assert vocabulary.words == ("b", "a", UNK)
    assert list(vocabulary.counts) == [3, 2, 2]
    assert list(vocabulary.encode(["a", "zzz", "b"])) == [1, 2, 0]
    tie = build_vocabulary(["y", "x"], 2)                  # ties: alphabetical
    assert tie.words == ("x", UNK)
    with pytest.raises(ValueError, match="only 4 distinct words; ask for at most 5"):
        build_vocabulary("b a b c b a d".split(), 6)


def test_bigram_counts_split_by_position_and_never_cross_plays():
    plays = {"one": ["a", "b"] * 500, "two": ["b", "c"] * 500}
    counts = bigram_counts(plays, 4, validation_share=0.1)
    words = counts.vocabulary.words
    a, b, c = (words.index(w) for w in "abc")
    assert counts.n_train_words == 1800 and counts.n_validation_words == 200
    assert counts.train.sum() == 1798                     # 899 pairs per play, none across
    assert counts.train[b, b] == 0 and counts.train[a, b] == 450 and counts.train[c, b] == 449
    assert counts.validation.sum() == 198
    assert np.all(counts.train[:, words.index(UNK)] == 0)


def test_tiny_corpus_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="too small"):
        bigram_counts({"one": ["a", "b", "c"] * 10}, 3)
    with pytest.raises(ValueError, match="non-empty dict"):
        bigram_counts({}, 3)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        bigram_counts({"one": ["a", "b"] * 500}, 3, validation_share=1.0)
    with pytest.raises(ValueError, match="distinct words"):
        bigram_counts({"one": ["a", "b"] * 500}, 10)


def test_the_runs_file_of_notebook_13_is_found_and_checked(tmp_path):
    from helpers.corpus import NEXT_WORD_RUNS_FILE, read_next_word_runs
    saved = read_next_word_runs()
    assert NEXT_WORD_RUNS_FILE.is_file() and {"setup", "tuning", "runs"} <= set(saved)
    with pytest.raises(FileNotFoundError, match="next_word_runs.py"):
        read_next_word_runs(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not the runs file"):
        read_next_word_runs(broken)
    partial = tmp_path / "partial.json"
    partial.write_text('{"setup": {}}', encoding="utf-8")
    with pytest.raises(ValueError, match="lacks"):
        read_next_word_runs(partial)
