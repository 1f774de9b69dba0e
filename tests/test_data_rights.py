"""Data rights: the repository holds no firm's real registration. A registry is the bureau's own
data; tests build theirs from tests/fixtures/registry_fixture.py at run time."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from features.registry import uscc_valid

ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")
# Serials the tests construct on purpose; no issuing authority gives these out.
CONSTRUCTED = ("00000000", "MA000000")
TEXT = {".py", ".csv", ".md", ".yaml", ".yml", ".json", ".txt", ".html", ".ipynb", ".tsv"}


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
        ).stdout.decode()
        paths = [ROOT / p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file but venvs
        skip = {".venv", "var", ".git", "node_modules"}
        paths = [p for p in ROOT.rglob("*") if not skip & set(p.relative_to(ROOT).parts)]
    return [p for p in paths if p.suffix.lower() in TEXT and p.is_file()]


def test_repository_holds_no_valid_credit_code_of_a_real_firm() -> None:
    found = []
    for path in tracked_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in CODE.finditer(text.upper()):
            code = m.group()
            if uscc_valid(code) and code[8:16] not in CONSTRUCTED:
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line} {code}")
    assert not found, (
        "real-looking registrations committed (use the generated fixture):\n" + "\n".join(found)
    )


def test_the_scan_finds_a_valid_code_when_one_is_there() -> None:
    from features.registry import uscc_check_char

    body = "9113010212345678A"
    code = body + uscc_check_char(body)
    assert CODE.search(f"名称,{code},地址") and uscc_valid(code)
    assert code[8:16] not in CONSTRUCTED
