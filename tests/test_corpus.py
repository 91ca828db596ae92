"""The corpus of notebook 12: the rebuild script's normalisation (on an archive made
here), the committed file's checksum, where the data files are found, and the loaders'
errors on files that are not the corpus or the runs file. (tests/test_install.py checks
the data files of an installed copy.)"""

import gzip
import hashlib
import importlib.util
import io
import re
import tarfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import helpers
from helpers.corpus import (CORPUS_FILE, DATA_FOLDER, MAX_VOCAB_SIZE, NEXT_WORD_RUNS_FILE, UNK,
                            bigram_counts, build_vocabulary, read_next_word_runs, read_plays)
from helpers.validation import MEMORY_LIMIT_BYTES

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
    with pytest.raises(ValueError, match="at least one play"):
        bigram_counts({}, 3)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        bigram_counts({"one": ["a", "b"] * 500}, 3, validation_share=1.0)
    with pytest.raises(ValueError, match="distinct words"):
        bigram_counts({"one": ["a", "b"] * 500}, 10)


def test_the_runs_file_of_notebook_13_is_found_and_checked(tmp_path):
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


def test_a_checkout_reads_the_data_folder_at_the_repository_root():
    # Run from the checkout (an editable install, as in .venv): data/ stays where
    # data/README.md documents it. An installed wheel: tests/test_install.py.
    if Path(helpers.__file__).resolve().parent != ROOT / "helpers":
        pytest.skip(f"helpers is imported from {helpers.__file__}, not from this checkout")
    assert DATA_FOLDER == ROOT / "data"
    assert CORPUS_FILE == ROOT / "data" / "shakespeare-plays.txt.gz"
    assert NEXT_WORD_RUNS_FILE == ROOT / "data" / "next-word-runs.json"


def gzip_bytes(text: str) -> bytes:
    return gzip.compress(text.encode("ascii"), mtime=0)


GOOD = "one\ta b c\ntwo\td e f\n"


def flipped(data: bytes, at: int) -> bytes:
    """The same bytes but one, inverted."""
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


GZIP_HEADER = 10        # bytes before the compressed stream (no file name: gzip_bytes)


@pytest.mark.parametrize("name, content, message", [
    ("cut.txt.gz", lambda: CORPUS_FILE.read_bytes()[:100_000], "EOFError: .* truncated"),
    ("cut-header.txt.gz", lambda: gzip_bytes(GOOD)[:5], "EOFError: .* truncated"),
    # The first byte of the compressed stream (zlib.error), the checksum (BadGzipFile).
    ("damaged.txt.gz", lambda: flipped(gzip_bytes(GOOD * 50), GZIP_HEADER), "zlib.error: Error -3"),
    ("checksum.txt.gz", lambda: flipped(gzip_bytes(GOOD), -8), "CRC check failed"),
    ("plain.txt.gz", lambda: GOOD.encode("ascii"), "BadGzipFile: Not a gzipped file"),
    ("latin1.txt", lambda: "one\tcaf\u00e9 au lait\n".encode("latin-1"), "0xe9"),
    ("utf8.txt.gz", lambda: gzip.compress("one\tna\u00efve\n".encode("utf-8")), "not ASCII"),
    ("packed.txt", lambda: gzip_bytes(GOOD), "give it a .gz name"),
    ("twice.txt.gz", lambda: gzip_bytes(GOOD + "one\tg h\n"),
     r"line 3: the play 'one' appears a second time \(first on line 1\)"),
])
def test_a_file_that_is_not_the_corpus_is_refused_with_its_name(tmp_path, name, content,
                                                                  message):
    path = tmp_path / name
    path.write_bytes(content())
    with pytest.raises(ValueError, match=message) as caught:
        read_plays(path)
    assert str(path) in str(caught.value)
    assert "make corpus" in str(caught.value)           # and how to get a good one


def test_the_corpus_path_must_be_a_file_name(tmp_path):
    with pytest.raises(TypeError, match="path must be a file name .* got 3"):
        read_plays(3)
    with pytest.raises(ValueError, match="path must name the corpus file, got the folder"):
        read_plays(tmp_path)
    with pytest.raises(TypeError, match="path must be a file name"):
        read_next_word_runs(b"runs.json")
    assert read_plays(str(CORPUS_FILE)) == read_plays()     # a str is a file name too


@pytest.mark.parametrize("content, message", [
    (lambda: NEXT_WORD_RUNS_FILE.read_bytes()[:1000], "truncated or not JSON"),
    (lambda: b"", "truncated or not JSON"),
    (lambda: '{"setup": "caf\u00e9"}'.encode("latin-1"), "truncated or not JSON"),
    (lambda: b"[1, 2, 3]", "holds a JSON list, not an object"),
    (lambda: b"42", "holds a JSON int, not an object"),
])
def test_a_file_that_is_not_the_runs_file_is_refused_with_its_name(tmp_path, content,
                                                                    message):
    path = tmp_path / "runs.json"
    path.write_bytes(content())
    with pytest.raises(ValueError, match=message) as caught:
        read_next_word_runs(path)
    assert str(path) in str(caught.value) and "next_word_runs.py" in str(caught.value)


class Untouched(dict):
    """plays that fail the test if bigram_counts looks at a single play."""

    def items(self):
        raise AssertionError("bigram_counts looked at the plays before refusing")

    values = keys = __iter__ = items


def test_a_vocabulary_too_large_for_memory_is_refused_before_any_work():
    plays = Untouched(one=["a", "b"] * 500)
    with pytest.raises(ValueError, match=r"vocab_size=20,000\).* about 8\.9 GiB .* at most "
                                         f"{MAX_VOCAB_SIZE:,}"):
        bigram_counts(plays, 20_000)
    assert 3 * 8 * MAX_VOCAB_SIZE ** 2 <= MEMORY_LIMIT_BYTES < 3 * 8 * (MAX_VOCAB_SIZE + 1) ** 2
    with pytest.raises(ValueError, match="vocab_size must be a whole number >= 2, got 1"):
        bigram_counts(plays, 1)


@pytest.mark.parametrize("vocab_size", [2.0, 256.5, True, "256", None])
def test_a_vocabulary_size_that_is_not_a_whole_number_is_refused(vocab_size):
    with pytest.raises(TypeError, match=r"vocab_size must be a whole number >= 2, got"):
        bigram_counts(Untouched(one=["a"]), vocab_size)


def test_the_memory_estimate_covers_what_bigram_counts_uses():
    # The bound above rests on this estimate (three vocab_size^2 tables of 8 bytes); the
    # word lists add a little on top.
    plays = read_plays()
    vocab_size = 2000
    tracemalloc.start()
    try:
        bigram_counts(plays, vocab_size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = 3 * 8 * vocab_size ** 2
    assert 0.9 * estimate <= peak <= 1.15 * estimate, (peak, estimate)


@pytest.mark.parametrize("plays, error, message", [
    ([["a", "b"]], TypeError, r"plays must be a dict \{play: list of words\}"),
    ({"one": "a b c"}, TypeError, r"plays\['one'\] must be a list of words"),
    ({"one": ["a", 2, "c"]}, TypeError, r"plays\['one'\] must hold only words .* holds 2"),
    ({1: ["a", "b"]}, TypeError, "plays' keys must be play names .* got 1"),
])
def test_plays_of_the_wrong_kind_are_refused(plays, error, message):
    with pytest.raises(error, match=message):
        bigram_counts(plays, 3)


def test_words_given_as_one_string_are_refused():
    with pytest.raises(TypeError, match="words must be a list of words"):
        build_vocabulary("the cat", 2)
    with pytest.raises(TypeError, match="words must hold only words .* holds 3"):
        build_vocabulary(["a", 3], 2)
    vocabulary = build_vocabulary(["a", "b", "a"], 2)
    with pytest.raises(TypeError, match=r"single string 'ab'; write \['ab'\]"):
        vocabulary.encode("ab")
