"""Load YAML into plain data while remembering the line of every value.

``load_with_lines(text, source)`` returns ``(data, lines)`` where ``lines`` maps a path such
as ``workloads[0].grid.pattern[2]`` to its 1-based line, so config errors can point at the
line. Malformed YAML becomes a ``UserError`` naming the file, line and problem.
"""

from __future__ import annotations

from typing import Any

import yaml

from suite.errors import UserError


def load_with_lines(text: str, source: str) -> tuple[Any, dict[str, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start:  # where the unclosed thing began, often the real mistake
            problem += f" ({context} at line {start.line + 1})"
        raise UserError(f"{where}: malformed YAML: {problem}") from None
    lines: dict[str, int] = {}
    if node is None:
        return None, lines
    return _convert(node, "", lines, source), lines


def _convert(node: yaml.Node, path: str, lines: dict[str, int], source: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            child = f"{path}.{key}" if path else str(key)
            if key in out:
                raise UserError(f"{source}:{key_node.start_mark.line + 1}: {child}: "
                                "duplicate key")
            out[key] = _convert(value_node, child, lines, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, f"{path}[{i}]", lines, source)
                for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path`` or of its nearest parent that has one."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("")
