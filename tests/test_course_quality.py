"""What a reader meets: every figure shown at most 850 CSS px wide with alt text, printed
lines that fit the column, and the prose budgets of every notebook
(scripts/course_quality.py says why and how each is measured)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import course_quality as quality  # noqa: E402


@pytest.mark.parametrize("path", quality.NOTEBOOKS, ids=lambda p: p.name)
def test_what_a_reader_meets(path):
    assert quality.problems(path) == []


def test_the_counts_follow_the_stated_rules():
    # LaTeX, code spans and link targets are not prose; spelled numbers count.
    text = quality.markdown_text({"cells": [{"cell_type": "markdown", "source": [
        "Twenty times $p = 0.001$ and `lr = 0.05` in [02](02-plain-sgd.ipynb): 3.2% of 96."]}]})
    assert quality.count_numbers(text) == 4     # twenty, 02 (link text), 3.2, 96; not the target
    assert quality.count_words(text) == 5     # Twenty, times, and, in, of: no LaTeX or code


def test_a_wide_figure_or_a_long_line_is_caught(tmp_path):
    import base64
    import json
    import struct
    import zlib

    def png(width):
        def chunk(kind, data):
            return (struct.pack(">I", len(data)) + kind + data
                    + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
        header = struct.pack(">IIBBBBB", width, 1, 8, 0, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(b"\x00" + b"\x00" * width)) + chunk(b"IEND", b""))

    image = base64.b64encode(png(1200)).decode()
    nb = {"cells": [{"cell_type": "code", "source": [], "outputs": [
        {"output_type": "display_data", "data": {"image/png": image}, "metadata": {}},
        {"output_type": "stream", "name": "stdout", "text": ["x" * 120 + "\n"]}]}],
          "metadata": {}}
    path = tmp_path / "99-test.ipynb"
    path.write_text(json.dumps(nb))
    found = quality.problems(path)
    assert any("1200 px wide" in p for p in found)
    assert any("without alt text" in p for p in found)
    assert any("120 characters" in p for p in found)
