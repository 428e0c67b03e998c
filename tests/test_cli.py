"""The command line: listing, checking corpora, reports, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import pytest

from serkit.cli import main
from tests.conftest import corpus_root, write_tone


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m serkit.cli ARGS`` from an empty folder: what it prints does not depend on
    where the checkout is or what lies in the working directory (mutmut runs the tests from
    a copy of it)."""
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run([sys.executable, "-m", "serkit.cli", *args], capture_output=True, text=True,
                              cwd=cwd)


def test_corpora_lists_every_loader(capsys):
    assert main(["corpora"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names[:5] == ["emodb", "ravdess", "tess", "savee", "casia"]
    assert {"iemocap", "esd", "cremad", "emovo", "folder", "csv"} <= set(names)


def test_check_a_folder_tree_as_json(tmp_path, capsys):
    for label in ("angry", "sad"):
        for n in range(3):
            write_tone(tmp_path / label / f"{n}.wav", seconds=0.2, rate=22_050)
    assert main(["corpora", "check", "folder", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["utterances"] == 6
    assert summary["labels"] == {"anger": 3, "sadness": 3}
    assert summary["sample_rates"] == {"22050": 6}


@pytest.mark.parametrize(
    "args, message",
    [
        (["corpora", "check", "emodb", "/no/such/folder"], "does not exist"),
        (["corpora", "check", "emodbb", "/tmp"], "unknown corpus 'emodbb'. Did you mean 'emodb'?"),
        (["report", "/no/such/run"], "/no/such/run"),
        (["run", "/no/such/config.yaml"], "not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_without_traceback(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("serkit: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.data
def test_check_all_on_the_shared_data_reports_published_counts():
    root = corpus_root("emodb").parent
    result = run_cli("corpora", "check", "all", str(root), "--json")
    assert result.returncode == 0, result.stderr
    summaries = json.loads(result.stdout)
    expected = {"emodb": (535, 10), "ravdess": (1440, 24), "tess": (2798, 2), "savee": (480, 4), "casia": (1200, 4)}
    for name, (utterances, speakers) in expected.items():
        if name in summaries:
            assert (summaries[name]["utterances"], summaries[name]["speakers"]) == (utterances, speakers)
