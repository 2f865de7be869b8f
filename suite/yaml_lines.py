"""Load a suite's YAML into plain data while remembering the line of every value.

``decode_text(data, source)`` turns a suite file's bytes into text, refusing files over
1 MiB, binary files and bytes that are not UTF-8. ``load_with_lines(text, source)`` returns
``(data, lines)`` where ``lines`` maps a path such as ``workloads[0].grid.pattern[2]`` to its
1-based line, so config errors can point at the line. A suite is plain data, so the tokens
are screened before composing: anchors and aliases (alias bombs), explicit tags
(``!!python/object``) and nesting past ``MAX_DEPTH`` (the composer recurses once per level)
are refused. Every problem becomes one ``UserError`` naming the file and line.
"""

from __future__ import annotations

from typing import Any

import yaml

from suite.errors import UserError

MAX_BYTES = 1 << 20   # real suites are a few KiB; pure-Python YAML takes seconds per MiB
MAX_DEPTH = 64        # real suites nest 5 levels; the composer recurses 2 frames per level
_OPENS = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
          yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSES = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def decode_text(data: bytes, source: str) -> str:
    """The UTF-8 text of a suite file's bytes; a UserError saying where it is not text."""
    if len(data) > MAX_BYTES:
        raise UserError(f"{source}: file larger than 1 MiB; allowed: a suite is at most 1 MiB")
    nul = data.find(b"\0")
    if nul >= 0:
        raise UserError(f"{source}:{_line_at(data, nul)}: a binary file (NUL byte at offset "
                        f"{nul}); allowed: UTF-8 YAML text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{source}:{_line_at(data, exc.start)}: not UTF-8 text (byte "
                        f"0x{data[exc.start]:02x} at offset {exc.start}); allowed: UTF-8 "
                        "YAML text") from None


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def load_with_lines(text: str, source: str) -> tuple[Any, dict[str, int]]:
    if len(text) > MAX_BYTES:
        raise UserError(f"{source}: file larger than 1 MiB; allowed: a suite is at most 1 MiB")
    try:
        _screen(text, source)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _malformed(exc, text, source) from None
    if node is None:
        return None, {}
    plain = _Plain(source)
    try:
        return plain.convert(node, ""), plain.lines
    finally:
        plain.loader.dispose()


def _screen(text: str, source: str) -> None:
    """Refuse, at its line, the first token a plain-data suite has no use for.

    Runs on the token stream, which is flat, so 100000 ``[`` stop after 65 tokens instead
    of overflowing the recursive composer; an alias bomb stops at its first anchor.
    """
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPENS):
            depth += 1
            if depth > MAX_DEPTH:
                raise _refused(source, text, token, f"nesting deeper than {MAX_DEPTH} levels; "
                                                    f"allowed: at most {MAX_DEPTH}")
        elif isinstance(token, _CLOSES):
            depth -= 1
        elif isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
            raise _refused(source, text, token, "anchors and aliases are not allowed: got {}; "
                                                "allowed: each value written out")
        elif isinstance(token, yaml.TagToken):
            raise _refused(source, text, token, "YAML tags are not allowed: got {}; "
                                                "allowed: plain values (quote a string)")


def _refused(source: str, text: str, token: yaml.Token, message: str) -> UserError:
    snippet = text[token.start_mark.index:token.end_mark.index]
    snippet = snippet if len(snippet) <= 40 else snippet[:37] + "..."
    return UserError(f"{source}:{token.start_mark.line + 1}: {message.format(repr(snippet))}")


def _malformed(exc: yaml.YAMLError, text: str, source: str) -> UserError:
    if isinstance(exc, yaml.reader.ReaderError):  # a control character: no mark, a position
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return UserError(f"{source}:{line}: not YAML text: control character #x{code:04x} "
                         f"at offset {exc.position}; allowed: printable UTF-8 text")
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}" if mark else source
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start:  # where the unclosed thing began, often the real mistake
        problem += f" ({context} at line {start.line + 1})"
    return UserError(f"{where}: malformed YAML: {problem}")


class _Plain:
    """Turns a node tree into dicts, lists and scalars, recording the line of each path."""

    def __init__(self, source: str):
        self.source = source
        self.lines: dict[str, int] = {}
        self.loader = yaml.SafeLoader("")  # one constructor for every scalar: big files stay fast

    def convert(self, node: yaml.Node, path: str) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise UserError(f"{self.source}:{line}: {path or 'the suite'}: a list or "
                                "mapping used as a key; allowed: a plain name")
            key = key_node.value
            child = f"{path}.{key}" if path else str(key)
            if key in out:
                raise UserError(f"{self.source}:{line}: {child}: duplicate key")
            out[key] = self.convert(value_node, child)
        return out

    def scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError):  # 2024-13-45, 0x_, 5000 digits
            kind = node.tag.rsplit(":", 1)[-1]
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            raise UserError(f"{self.source}:{node.start_mark.line + 1}: {path}: got "
                            f"{shown!r}; allowed: a valid {kind} (or quote it as a "
                            "string)") from None


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path`` or of its nearest parent that has one."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("")
