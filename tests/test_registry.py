"""The registry as a plug-in author meets it: entry points, broken plug-ins, duplicates,
subcommands and device kinds that say for themselves whether they can run here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from suite import plugins, registry
from suite.errors import UserError
from tests.test_cli import assert_lines, run_cli

PLUGINS = "tests.toy_family"


def warnings_about(stderr: str, *modules: str) -> list[str]:
    """The warning lines naming these plug-ins (others may be mid-edit in a work tree)."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines()
            if any(f"plug-in {m} " in line for m in modules)]


def write_module(folder: Path, name: str, text: str) -> Path:
    path = folder / (name.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def fake_distribution(folder: Path, entries: dict[str, str]) -> None:
    """An installed package, as importlib.metadata sees it, declaring these plug-ins."""
    info = folder / "labplugins_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: labplugins-dist\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[sparsecap.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))


def test_a_broken_entry_point_is_one_warning_and_every_command_still_works(tmp_path):
    fake_distribution(tmp_path, {"broken": "no_such_package_xyz"})
    warning = ("run-suite: warning: plug-in no_such_package_xyz failed to import: "
               "ModuleNotFoundError: No module named 'no_such_package_xyz'")
    listing = run_cli("--list", path=(tmp_path,))
    assert listing.returncode == 0
    assert warnings_about(listing.stderr, "no_such_package_xyz") == [warning]
    assert_lines(listing.stdout, ["family spmm*", "family toy*"])
    report = run_cli("report", str(tmp_path / "no-run"), path=(tmp_path,))
    assert report.returncode == 2
    assert warnings_about(report.stderr, "no_such_package_xyz") == [warning]
    assert_lines(report.stderr, ["run-suite: error: *no records.jsonl here*"])


def test_a_plugin_module_that_fails_to_import_is_reported_on_every_command(tmp_path):
    write_module(tmp_path, "lab_licensed", 'raise RuntimeError("needs a licence server")\n')
    plugins = f"{PLUGINS},lab_licensed,no_such_module_xyz"
    for args in (["--list"], ["--help"], ["simulate", "--help"]):
        result = run_cli(*args, plugins=plugins, path=(tmp_path,))
        assert result.returncode == 0, result.stderr
        assert warnings_about(result.stderr, "lab_licensed", "no_such_module_xyz") == [
            "run-suite: warning: plug-in lab_licensed failed to import: "
            "RuntimeError: needs a licence server",
            "run-suite: warning: plug-in no_such_module_xyz failed to import: "
            "ModuleNotFoundError: No module named 'no_such_module_xyz'"]


def test_an_entry_point_package_loads_its_direct_children(tmp_path):
    fake_distribution(tmp_path, {"lab": "labplugins"})
    write_module(tmp_path, "labplugins.__init__", '"""A lab\'s kernels."""\n')
    write_module(tmp_path, "labplugins.toy_kernels", """
        from suite.registry import register_kernel
        from suite.workload import Prepared

        @register_kernel("toy", "lab-fast", device="cpu", description="the lab's own")
        def lab_fast(instance, inputs, ctx):
            return Prepared(run=lambda x: x * 2.0)
        """)
    write_module(tmp_path, "labplugins._scratch", 'raise RuntimeError("never imported")\n')
    result = run_cli("--list", path=(tmp_path,))
    assert result.returncode == 0
    assert warnings_about(result.stderr, "labplugins", "labplugins._scratch") == []
    assert_lines(result.stdout, ["*lab-fast*cpu*yes*the lab's own*"])


def test_a_kernel_registered_twice_is_one_line_naming_both_modules(tmp_path):
    for name in ("lab_a", "lab_b"):
        write_module(tmp_path, name, """
            from suite.registry import register_kernel

            @register_kernel("toy", "twin", device="cpu")
            def twin(instance, inputs, ctx):
                raise NotImplementedError
            """)
    result = run_cli("--list", plugins=f"{PLUGINS},lab_a,lab_b", path=(tmp_path,))
    assert result.returncode == 0
    assert warnings_about(result.stderr, "lab_a", "lab_b") == [(
        "run-suite: warning: plug-in lab_b failed to import: ValueError: kernel toy/twin on "
        "cpu registered twice: first by lab_a, again by lab_b")]


def test_a_registered_command_is_listed_in_help_and_dispatched(tmp_path):
    write_module(tmp_path, "lab_hello", """
        from suite.registry import register_command

        def add_arguments(parser):
            parser.add_argument("--name", required=True)

        def run(args):
            print(f"hello {args.name}")
            return 0

        register_command("hello", add_arguments, run, help="say hello")
        """)
    plugins = f"{PLUGINS},lab_hello"
    helped = run_cli("--help", plugins=plugins, path=(tmp_path,))
    assert_lines(helped.stdout, ["  hello *say hello", "  report *", "  simulate *"])
    said = run_cli("hello", "--name", "Ada", plugins=plugins, path=(tmp_path,))
    assert said.returncode == 0 and said.stdout == "hello Ada\n"
    wrong = run_cli("hello", plugins=plugins, path=(tmp_path,))
    assert wrong.returncode == 2
    assert_lines(wrong.stderr, ["run-suite hello: error: the following arguments are "
                                "required: --name"])


def test_device_kinds_state_their_availability_without_being_built(tmp_path):
    write_module(tmp_path, "lab_devices", """
        from suite.registry import register_device_kind, register_kernel

        def never_built(arg):
            raise AssertionError("--list must not build a device")

        register_device_kind("fpga", never_built, "an FPGA card",
                             unavailable=lambda: "no FPGA attached")
        register_device_kind("abacus", never_built, "beads on wires")

        @register_kernel("toy", "dense", device="fpga", description="on the card")
        def on_card(instance, inputs, ctx):
            raise NotImplementedError

        @register_kernel("toy", "dense", device="abacus", description="by hand")
        def by_hand(instance, inputs, ctx):
            raise NotImplementedError
        """)
    result = run_cli("--list", plugins=f"{PLUGINS},lab_devices", path=(tmp_path,))
    assert result.returncode == 0
    assert warnings_about(result.stderr, "lab_devices") == []
    assert_lines(result.stdout, ["    fpga: an FPGA card  unavailable: no FPGA attached",
                                 "    abacus: beads on wires", "    sim: simulated *",
                                 "*dense*fpga*no: no FPGA attached*on the card*",
                                 "*dense*abacus*yes*by hand*"])
    assert "abacus: beads on wires  unavailable" not in result.stdout


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registry as if no plug-in had loaded yet; what a test registers is undone."""
    registry.load_plugins()
    for name in ("_FAMILIES", "_KERNELS", "_DEVICE_KINDS", "_COMMANDS"):
        monkeypatch.setattr(registry, name, dict(getattr(registry, name)))
    monkeypatch.setattr(plugins, "_BROKEN", {})
    monkeypatch.setattr(plugins, "_loaded", False)
    return registry


class FakeEntryPoint:
    def __init__(self, name: str, value: str, error: Exception | None = None):
        self.name, self.value, self.group, self.error = name, value, "sparsecap.plugins", error

    def load(self):
        if self.error:
            raise self.error
        import importlib
        return importlib.import_module(self.value)


def test_an_entry_point_that_fails_to_load_costs_only_itself(fresh_registry, monkeypatch):
    asked = []

    def entry_points(group):
        asked.append(group)
        return [FakeEntryPoint("lab", "lab.kernels", ImportError("libfoo.so: cannot open")),
                FakeEntryPoint("workloads", "suite.workloads")]

    monkeypatch.setattr(plugins, "entry_points", entry_points)
    assert "spmm" in registry.families()
    assert asked == ["sparsecap.plugins"]
    assert registry.broken_plugins() == {"lab.kernels": "ImportError: libfoo.so: cannot open"}
    with pytest.raises(UserError, match=r"unknown family 'nope'.*lab\.kernels: ImportError"):
        registry.get_family("nope")


def test_no_declared_plugins_says_to_install_the_project(fresh_registry, monkeypatch):
    monkeypatch.setattr(plugins, "entry_points", lambda group: [])
    assert registry.broken_plugins() == {
        "entry points sparsecap.plugins": "none declared; install the project (pip install -e .)"}


def test_commands_and_device_kinds_registered_twice_name_both_modules(fresh_registry):
    def run(args):
        return 0

    with pytest.raises(ValueError, match=r"command 'report' registered twice: first by "
                                         r"suite\.cli, again by tests\.test_registry"):
        registry.register_command("report", lambda parser: None, run, help="again")
    with pytest.raises(ValueError, match="command name 'Bad Name'; allowed: lower-case"):
        registry.register_command("Bad Name", lambda parser: None, run, help="")
    with pytest.raises(ValueError, match=r"device kind 'cpu' registered twice: first by "
                                         r"suite\.devices, again by tests\.test_registry"):
        registry.register_device_kind("cpu", run)


def test_an_availability_check_that_raises_is_a_reason_not_a_crash(fresh_registry):
    def broken_driver():
        raise OSError("driver mismatch\nsecond line")

    registry.register_device_kind("flaky", lambda arg: None, "flaky", unavailable=broken_driver)
    assert registry.device_unavailable("flaky") == ("availability check failed: "
                                                    "OSError: driver mismatch")
    assert registry.device_unavailable("warp") == (
        "device kind 'warp' is not registered (no plug-in provides it)")


def test_an_unknown_device_lists_how_each_kind_is_named(fresh_registry):
    registry.register_device_kind("sim2", lambda arg: None, usage="sim2:<hw-config>")
    with pytest.raises(UserError, match=r"unknown device 'tpu'; allowed: cpu, cuda, .*"
                                        r"sim2:<hw-config>, torch-cuda"):
        registry.make_device("tpu")
