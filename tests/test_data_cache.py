"""Derived arrays are built once per key and code version, then read back from disk."""

import numpy as np
import pytest

from suite.data import cache


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSECAP_CACHE", str(tmp_path))


def counting_build(calls, value=1.0):
    def build():
        calls.append(value)
        return {"a": np.full((2, 3), value, np.float32), "b": np.arange(4)}
    return build


def test_a_second_call_reads_what_the_first_built():
    calls = []
    first = cache.derived("demo", {"x": 1}, counting_build(calls))
    second = cache.derived("demo", {"x": 1}, counting_build(calls))
    assert calls == [1.0]
    np.testing.assert_array_equal(first["a"], second["a"])
    assert second["b"].dtype == np.int64
    assert cache.derived_path("demo", {"x": 1}).with_suffix(".json").exists()


def test_another_key_or_code_version_builds_again(monkeypatch):
    calls = []
    cache.derived("demo", {"x": 1}, counting_build(calls))
    cache.derived("demo", {"x": 2}, counting_build(calls, 2.0))
    monkeypatch.setattr(cache, "CODE_VERSION", "data-next")
    cache.derived("demo", {"x": 1}, counting_build(calls, 3.0))
    assert calls == [1.0, 2.0, 3.0]


def test_a_torn_file_is_rebuilt():
    path = cache.derived_path("demo", {"x": 1})
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    calls = []
    assert cache.derived("demo", {"x": 1}, counting_build(calls))["a"].shape == (2, 3)
    assert calls == [1.0]


def test_folder_bytes_counts_files(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 10)
    assert cache.folder_bytes(tmp_path) >= 10
    assert cache.folder_bytes(tmp_path / "missing") == 0
