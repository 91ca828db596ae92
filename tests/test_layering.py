"""What is shared between the helpers' modules is public: no module imports, or reaches
into, another module's private (underscore) names."""

import ast
from pathlib import Path

import pytest

HELPERS = sorted((Path(__file__).resolve().parents[1] / "helpers").glob("*.py"))


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: p.name)
def test_no_private_names_cross_a_module_boundary(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {p.stem for p in HELPERS}
    imported_modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            assert not (node.module or "").startswith("_"), f"imports private module {node.module}"
            for alias in node.names:
                assert not alias.name.startswith("_"), f"imports {node.module}.{alias.name}"
                if alias.name in modules:
                    imported_modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in imported_modules and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            raise AssertionError(f"uses {node.value.id}.{node.attr}, a private name of "
                                 f"another module")


def test_the_repository_stands_on_its_own():
    root = Path(__file__).resolve().parents[1]
    tracked = [p for p in root.rglob("*") if p.is_file() and p.suffix in {".py", ".md", ".ipynb",
                                                                          ".toml", ".yml", ".cfg"}
               and not any(part.startswith(".") or part in {"build", "__pycache__"}
                           for part in p.relative_to(root).parts)]
    needle = "../" + "shared"          # spelled in two parts so this file does not match
    offenders = [str(p.relative_to(root)) for p in tracked
                 if needle in p.read_text(encoding="utf-8", errors="ignore")]
    assert offenders == [], f"users do not have the developers' {needle} folder: {offenders}"


def test_helpers_ask_for_one_blas_thread_unless_the_user_chose():
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    probe = "import os, helpers; print(os.environ['OPENBLAS_NUM_THREADS'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env, text=True,
                         capture_output=True, check=True).stdout.strip()
    assert out == "1"
    env["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env, text=True,
                         capture_output=True, check=True).stdout.strip()
    assert out == "2"
