"""bench/corpora.py: the benchmarks' word-level corpora from WikiExtractor files, on a tiny made-up
data root (the real token counts are checked by running it: see its docstring)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "corpora.py"


@pytest.fixture(scope="module")
def corpora():
    spec = importlib.util.spec_from_file_location("bench_corpora", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tokens_split_punctuation_keep_inner_marks_and_case(corpora, tmp_path):
    path = tmp_path / "wiki_00.gz"
    lines = [
        '<doc id="1" url="u" title="T">',
        "T",
        "",
        "  Don't split U.S. non-hierarchical 3.5, (but) a_b -- x.  ",
        "</doc>",
    ]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    assert list(corpora.tokenised_lines([path])) == [
        "T",
        "Don't split U.S . non-hierarchical 3.5 , ( but ) a _ b - - x .",
    ]


def test_leading_lines_stop_at_the_line_that_reaches_the_count(corpora):
    lines = ["a b", "c d e", "f", "g h"]
    assert list(corpora.leading_lines(lines, 5)) == ["a b", "c d e"]
    assert list(corpora.leading_lines(lines, 6)) == ["a b", "c d e", "f"]


def test_builds_the_three_files_from_a_data_root(tmp_path):
    folder = tmp_path / "data" / "wikipedia_en" / "AA"
    folder.mkdir(parents=True)
    for i in range(50):
        text = f'<doc id="{i}" url="u" title="t">\nfile {i}, line one.\n</doc>\n'
        (folder / f"wiki_{i:02d}.gz").write_bytes(gzip.compress(text.encode()))
    out = tmp_path / "corpora"
    cmd = [sys.executable, str(SCRIPT), "--data_dir", str(tmp_path / "data"), "--out", str(out)]
    stats = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert (out / "wiki_en_valid.txt").read_text() == "file 49 , line one .\n"
    assert stats["wiki_en_train.txt"] == {**stats["wiki_en_train.txt"], "lines": 49, "tokens": 49 * 6}
    assert (out / "wiki_en_2m.txt").read_text() == (out / "wiki_en_train.txt").read_text()  # < 2M tokens


def test_a_missing_data_root_is_one_line_and_exit_2(tmp_path):
    cmd = [sys.executable, str(SCRIPT), "--data_dir", str(tmp_path), "--out", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "wikipedia_en/AA/wiki_00.gz" in proc.stderr
    assert not (tmp_path / "out").exists()
