"""Data tests cannot skip silently: with SERKIT_REQUIRE_DATA a missing corpus fails the
test with the folders it looked in, and a test that reads a corpus must be marked ``data``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest

ROOT = Path(__file__).resolve().parents[1]


class FakeItem:
    """Stands in for the running pytest item: marked ``data`` or not."""

    nodeid = "tests/test_x.py::test_reads_emodb"

    def __init__(self, marked: bool):
        self.marked = marked

    def get_closest_marker(self, name):
        return object() if self.marked and name == "data" else None


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No corpora anywhere: the shared and local folders point at empty places."""
    monkeypatch.setattr(conftest, "SHARED_DATA", tmp_path / "shared")
    monkeypatch.setattr(conftest, "LOCAL_DATA", tmp_path / "local")
    monkeypatch.setitem(conftest._RUNNING, "item", FakeItem(marked=True))
    monkeypatch.delenv("SERKIT_REQUIRE_DATA", raising=False)
    return tmp_path


@pytest.mark.parametrize(("value", "expected"), [
    ("", set()), ("0", set()), ("no", set()),
    ("1", set(conftest.SHARED_CORPORA)), ("true", set(conftest.SHARED_CORPORA)),
    ("all", {"*"}), ("emodb, nemo", {"emodb", "nemo"}),
])
def test_required_corpora_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("SERKIT_REQUIRE_DATA", value)
    assert conftest.required_corpora() == expected


def test_a_missing_corpus_skips_naming_both_places(nowhere):
    with pytest.raises(pytest.skip.Exception) as info:
        conftest.corpus_root("emodb")
    assert str(nowhere / "shared" / "emodb") in str(info.value)
    assert str(nowhere / "local" / "emodb") in str(info.value)


def test_a_missing_required_corpus_fails_naming_where_it_looked(nowhere, monkeypatch):
    monkeypatch.setenv("SERKIT_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception) as info:
        conftest.corpus_root("emodb")
    message = str(info.value)
    assert str(nowhere / "shared" / "emodb") in message and "SERKIT_REQUIRE_DATA=1 requires it" in message
    # A corpus outside the shared set (ased lives in the checkout's data/) still skips.
    with pytest.raises(pytest.skip.Exception):
        conftest.corpus_root("ased")
    monkeypatch.setenv("SERKIT_REQUIRE_DATA", "all")
    with pytest.raises(pytest.fail.Exception):
        conftest.corpus_root("ased")


def test_the_shared_folder_comes_before_the_local_one(nowhere):
    (nowhere / "shared" / "emodb").mkdir(parents=True)
    (nowhere / "local" / "emodb").mkdir(parents=True)
    (nowhere / "local" / "ased").mkdir(parents=True)
    assert conftest.corpus_root("emodb") == nowhere / "shared" / "emodb"
    assert conftest.corpus_root("ased") == nowhere / "local" / "ased"


def test_a_test_reading_a_corpus_without_the_data_marker_fails(nowhere, monkeypatch):
    (nowhere / "shared" / "emodb").mkdir(parents=True)
    monkeypatch.setitem(conftest._RUNNING, "item", FakeItem(marked=False))
    with pytest.raises(pytest.fail.Exception, match=r"test_reads_emodb reads corpus 'emodb' but is not "
                                                    r"marked data: add @pytest\.mark\.data"):
        conftest.corpus_root("emodb")


def test_the_session_feature_cache_is_not_the_users():
    cache = Path(os.environ["SERKIT_CACHE"])
    assert Path.home() / ".cache" not in cache.parents
    from serkit.features.cache import default_cache_root

    assert default_cache_root() == cache


def test_data_tests_fail_with_the_missing_folder_when_data_is_required():
    """The command of the issue, on one data test file: red, naming the folder."""
    env = {**os.environ, "SERKIT_REQUIRE_DATA": "1", "SERKIT_DATA": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "data",
         "tests/test_corpora_data.py::test_real_corpus_counts"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "corpus 'emodb' not found at /nonexistent/emodb" in result.stdout
    assert "5 failed" in result.stdout and "skipped" not in result.stdout


def test_ci_requires_the_data_whenever_the_shared_folder_exists():
    script = (ROOT / ".ci" / "run").read_text()
    assert "SERKIT_REQUIRE_DATA=1" in script and "../shared/data" in script
