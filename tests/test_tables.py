from helpers import make_table


def test_text_form_is_aligned():
    table = make_table(["token", "w"], [["the", "1.0048"], ["thalweg", "0.1406"]])
    assert str(table).splitlines() == [
        "token         w",
        "-------  ------",
        "the      1.0048",
        "thalweg  0.1406",
    ]


def test_markdown_form_escapes_pipes():
    table = make_table(["token", "SGD |w-1|"], [["the", "0.0048"]])
    lines = table._repr_markdown_().splitlines()
    assert lines[0] == "| token | SGD \\|w-1\\| |"
    assert lines[1] == "| :-- | --: |"
    assert lines[2] == "| the | 0.0048 |"
    # every line has exactly as many cell separators as the header
    assert len({line.replace("\\|", "").count("|") for line in lines}) == 1
