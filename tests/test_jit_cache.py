"""The numba cache of a kernel package is keyed by every file of its folder, not one file."""

import os

from kernels import jit_cache


def test_a_sibling_edit_changes_the_folder_stamp(tmp_path):
    (tmp_path / "loops.py").write_text("def f():\n    return helper()\n")
    helper = tmp_path / "helpers.py"
    helper.write_text("def helper():\n    return 1\n")
    before = jit_cache.package_stamp(str(tmp_path))
    helper.write_text("def helper():\n    return 2\n")
    os.utime(helper, ns=(1, 10**18))  # a different mtime even on a coarse clock
    assert jit_cache.package_stamp(str(tmp_path)) != before


def test_only_installed_folders_get_the_folder_stamp(tmp_path):
    outside = tmp_path / "elsewhere.py"
    outside.write_text("")
    assert jit_cache.locator_class().from_function(lambda: None, str(outside)) is None
    inside = tmp_path / "loops.py"
    inside.write_text("")
    jit_cache.install(str(inside))
    try:
        locator = jit_cache.locator_class().from_function(lambda: None, str(inside))
        assert locator is not None
        assert locator.get_source_stamp() == jit_cache.package_stamp(str(tmp_path))
    finally:
        jit_cache.FOLDERS.discard(str(tmp_path))


def test_the_kernel_packages_that_share_helpers_are_installed():
    import kernels.attention.cpu_tiles  # noqa: F401
    import kernels.retrieval.seismic_search  # noqa: F401
    import kernels.spmm.tiled  # noqa: F401
    here = os.path.dirname(os.path.abspath(jit_cache.__file__))
    folders = {os.path.join(here, name) for name in ("attention", "retrieval", "spmm")}
    assert folders <= jit_cache.FOLDERS
