"""``run-suite fetch`` and ``run-suite perplexity`` read like a terminal session."""

import pytest

from suite.cli import main
from suite.data import text
from suite.data.commands import suite_artifacts
from suite.data.tiny import write_tiny_gguf, write_tiny_plays

NO_DATA_SUITE = """name: plain
workloads:
  - family: spmm
    grid: {shape: [[8, 8]], pattern: ["2:4"]}
systems:
  - {device: cpu, kernel: dense}
"""


def test_the_quick_suite_needs_smollm2_and_the_plays():
    assert suite_artifacts("quick") == ["smollm2", "plays"]


def test_fetch_for_a_suite_without_real_data_says_so(tmp_path, capsys):
    suite = tmp_path / "plain.yaml"
    suite.write_text(NO_DATA_SUITE)
    assert main(["fetch", "--suite", str(suite)]) == 0
    assert capsys.readouterr().out.strip() == f"suite {suite} needs no fetched data"


def test_fetch_of_an_unknown_artifact_exits_2_with_one_line(capsys):
    assert main(["fetch", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "run-suite: error: unknown artifact 'nope'; allowed: smollm2, splade-tiny, plays"


def test_perplexity_prints_the_value_and_the_tokens_counted(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPARSECAP_CACHE", str(tmp_path / "cache"))
    folder = write_tiny_plays(tmp_path / "plays")
    monkeypatch.setattr(text, "plays_folder", lambda: folder)
    model = tmp_path / "tiny.gguf"
    write_tiny_gguf(model)
    assert main(["perplexity", "--model", str(model), "--context", "64",
                 "--max-tokens", "150"]) == 0
    out = capsys.readouterr().out
    assert f"{model} on evaluation (hamlet, macbeth): perplexity " in out
    assert "over 150 scored tokens in 3 windows of 64" in out


@pytest.mark.parametrize("args", [["--context", "1"], ["--max-tokens", "0"]])
def test_perplexity_rejects_bad_windows(args, capsys):
    assert main(["perplexity", *args]) == 2
    assert "--context: at least 2" in capsys.readouterr().err
