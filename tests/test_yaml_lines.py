"""YAML loading: plain data with a line for every path, and one clear line for anything a
suite has no use for (non-UTF-8 bytes, alias bombs, deep nesting, tags) — quickly."""

from __future__ import annotations

import time

import pytest

from suite.errors import UserError
from suite.yaml_lines import MAX_BYTES, decode_text, line_of, load_with_lines

BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{x}: &{x} [{', '.join(['*' + p] * 9)}]\n" for p, x in zip("abcdefgh", "bcdefghi", strict=True))


def error_of(text: str) -> str:
    with pytest.raises(UserError) as info:
        load_with_lines(text, "s.yaml")
    return str(info.value)


def quick_error_of(text: str) -> str:
    started = time.perf_counter()
    message = error_of(text)
    assert time.perf_counter() - started < 1.0
    return message


def test_values_keep_their_lines():
    data, lines = load_with_lines("name: x\nworkloads:\n  - family: toy\n    grid: {size: [4, 5]}\n",
                                  "s.yaml")
    assert data == {"name": "x", "workloads": [{"family": "toy", "grid": {"size": [4, 5]}}]}
    assert lines["workloads[0].grid.size[1]"] == 4
    assert line_of(lines, "workloads[0].grid.colour") == 4  # nearest parent


def decode_error_of(data: bytes) -> str:
    with pytest.raises(UserError) as info:
        decode_text(data, "s.yaml")
    return str(info.value)


def test_latin1_bytes_are_not_utf8_and_the_line_is_named():
    assert decode_error_of("name: x\nd: caf\xe9\n".encode("latin-1")) == (
        "s.yaml:2: not UTF-8 text (byte 0xe9 at offset 14); allowed: UTF-8 YAML text")


def test_a_binary_file_is_refused_at_its_first_nul():
    assert decode_error_of(b"\x7fELF\x02\x01\x01\x00") == (
        "s.yaml:1: a binary file (NUL byte at offset 7); allowed: UTF-8 YAML text")


def test_a_file_over_one_mib_is_refused():
    assert decode_error_of(b"#" * (MAX_BYTES + 1)) == (
        "s.yaml: file larger than 1 MiB; allowed: a suite is at most 1 MiB")


def test_utf8_text_decodes():
    assert decode_text("name: café\n".encode(), "s.yaml") == "name: café\n"


def test_an_alias_bomb_is_refused_at_its_first_anchor_quickly():
    assert quick_error_of(BILLION_LAUGHS) == ("s.yaml:1: anchors and aliases are not allowed: "
                                              "got '&a'; allowed: each value written out")


def test_an_alias_is_refused_at_its_line():
    assert error_of("name: x\nsystems: *s\n").startswith(
        "s.yaml:2: anchors and aliases are not allowed: got '*s'")


def test_deep_flow_nesting_is_refused_before_composing():
    assert quick_error_of("[" * 100_000) == ("s.yaml:1: nesting deeper than 64 levels; "
                                             "allowed: at most 64")


def test_deep_block_nesting_is_refused_at_the_line_past_the_limit():
    text = "".join(" " * (2 * i) + "- a:\n" for i in range(700))
    assert quick_error_of(text).startswith("s.yaml:64: nesting deeper than 64 levels")


def test_nesting_within_the_limit_loads():
    data, _ = load_with_lines("[" * 64 + "]" * 64, "s.yaml")
    assert data is not None


@pytest.mark.parametrize("tag", ["!!python/object:os.system", "!foo", "!!binary",
                                 "!<tag:yaml.org,2002:str>", "!!str"])
def test_explicit_tags_are_refused(tag):
    assert error_of(f"name: x\nkernel: {tag} aGk=\n") == (
        f"s.yaml:2: YAML tags are not allowed: got {tag!r}; allowed: plain values "
        "(quote a string)")


def test_a_control_character_is_not_yaml_text():
    assert error_of("name: x\nkernel: a\x07b\n") == (
        "s.yaml:2: not YAML text: control character #x0007 at offset 17; "
        "allowed: printable UTF-8 text")


def test_a_list_as_a_key_is_refused():
    assert error_of("name: x\nsystems: {[a]: 1}\n") == (
        "s.yaml:2: systems: a list or mapping used as a key; allowed: a plain name")


def test_an_impossible_date_is_a_user_error():
    assert error_of("name: x\nwhen: 2024-13-45\n") == (
        "s.yaml:2: when: got '2024-13-45'; allowed: a valid timestamp (or quote it as a string)")


def test_duplicate_keys_are_refused():
    assert error_of("name: x\nname: y\n") == "s.yaml:2: name: duplicate key"
