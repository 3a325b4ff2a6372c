"""Reading the assignment config file: safe YAML loading, where each value is written, and
problems reported by line.

The file is written by org admins and read back to them in a check run, so every problem names
the line and column it is on, all problems are reported at once, and a hostile or broken file
(alias bombs, deep nesting, forbidden characters) fails with a sentence rather than a traceback
or an exhausted worker. What the values mean is validated in `assignment`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast

import yaml
from pydantic_core import ErrorDetails
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_CONFIG_BYTES = 1_000_000
MAX_NODES = 100_000  # values after alias expansion: stops "billion laughs" before validation
MAX_DEPTH = 32

Loc = tuple[str | int, ...]  # a key/index path into the document, as pydantic reports it


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in the config file; line and column are 1-based, None for whole-file problems."""

    line: int | None
    column: int | None
    location: str  # e.g. "assignments[1].rubric[0].points"; "" when the problem is not at a key
    message: str

    @property
    def text(self) -> str:
        return f"{self.location} {self.message}" if self.location else self.message

    def __str__(self) -> str:
        where = "" if self.line is None else f"line {self.line}, column {self.column}: "
        return where + self.text


class AssignmentConfigError(ValueError):
    """The config is unusable: `str()` is one sentence for the check run, `.problems` lists all."""

    def __init__(self, source: str, problems: Iterable[ConfigProblem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.column or 0))
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        if not self.problems:
            return f"{self.source} is invalid."
        first, more = self.problems[0], len(self.problems) - 1
        where = self.source
        if first.line is not None:
            where += f", line {first.line}, column {first.column}"
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        return f"{where}: {first.text.rstrip('.')}{tail}."


# --------------------------------------------------------------------------- YAML


class _LimitError(yaml.MarkedYAMLError):
    """The document is valid YAML but too large or deep to handle safely."""


class _Loader(yaml.SafeLoader):
    """Safe loading that refuses deep nesting and self-referencing aliases while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open: list[str | None] = []  # anchors of the nodes being composed

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: yaml.NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise _LimitError(
                    problem=f"alias *{event.anchor} refers to a node that contains it",
                    problem_mark=cast(Mark, event.start_mark),
                )
            return super().compose_node(parent, index)
        if len(self._open) >= MAX_DEPTH:
            raise _LimitError(
                problem=f"nests deeper than {MAX_DEPTH} levels",
                problem_mark=cast(Mark, event.start_mark),
            )
        self._open.append(event.anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.pop()


_MERGE = "tag:yaml.org,2002:merge"


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(root: Node) -> None:
    """Count values as validation will see them (aliases expanded), without expanding them."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (size, height)

    def visit(node: Node, depth: int) -> tuple[int, int]:
        known = memo.get(id(node))
        if known is None:
            if depth > MAX_DEPTH:
                raise _LimitError(
                    problem=f"nests deeper than {MAX_DEPTH} levels once aliases are expanded",
                    problem_mark=node.start_mark,
                )
            size, height = 1, 1
            for child in _children(node):
                child_size, child_height = visit(child, depth + 1)
                size, height = size + child_size, max(height, child_height + 1)
                if size > MAX_NODES:
                    raise _LimitError(
                        problem=f"expands to more than {MAX_NODES:,} values; check its aliases",
                        problem_mark=node.start_mark,
                    )
            known = memo[id(node)] = (size, height)
        if depth + known[1] - 1 > MAX_DEPTH:
            raise _LimitError(
                problem=f"nests deeper than {MAX_DEPTH} levels once aliases are expanded",
                problem_mark=node.start_mark,
            )
        return known

    visit(root, 1)


def _walk(root: Node) -> tuple[dict[Loc, Mark], list[ConfigProblem]]:
    """Map each key/index path to where it is written, and find keys written twice (PyYAML keeps
    the last silently). Keys merged in with `<<` never override positions of explicit keys."""
    positions: dict[Loc, Mark] = {(): root.start_mark}
    problems: list[ConfigProblem] = []
    checked: set[int] = set()
    stack: list[tuple[Loc, Node, bool]] = [((), root, False)]
    while stack:
        path, node, merged = stack.pop()

        def place(loc: Loc, mark: Mark, merged: bool = merged) -> None:
            if merged:
                positions.setdefault(loc, mark)
            else:
                positions[loc] = mark

        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                place((*path, index), item.start_mark)
                stack.append(((*path, index), item, merged))
        elif isinstance(node, MappingNode):
            seen: dict[tuple[str, str], Mark] = {}
            for key, value in node.value:
                if key.tag == _MERGE:
                    sources = value.value if isinstance(value, SequenceNode) else [value]
                    stack.extend((path, source, True) for source in sources)
                    continue
                if not isinstance(key, ScalarNode):
                    continue
                loc = (*path, str(key.value))
                first = seen.get((key.tag, key.value))
                if first is not None and id(node) not in checked:
                    twice = (
                        f"is written twice (first on line {first.line + 1}); YAML keeps the last"
                    )
                    problems.append(problem_at(loc, key.start_mark, twice))
                seen[(key.tag, key.value)] = key.start_mark
                place(loc, key.start_mark)
                stack.append((loc, value, merged))
            checked.add(id(node))
    return positions, problems


def _fatal(
    source: str, line: int | None, column: int | None, message: str
) -> AssignmentConfigError:
    return AssignmentConfigError(source, [ConfigProblem(line, column, "", message)])


def load_yaml(text: str, source: str) -> tuple[object, dict[Loc, Mark], list[ConfigProblem]]:
    """The document as plain data, where each key and item is written, and the keys written twice;
    raise AssignmentConfigError for what cannot be loaded at all (size, syntax, limits)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_CONFIG_BYTES:
        raise _fatal(
            source, None, None, f"the file is {size:,} bytes; the limit is {MAX_CONFIG_BYTES:,}"
        )
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        if root is None:
            raise _fatal(source, 1, 1, "the file is empty; it should define 'assignments:'")
        _check_expansion(root)
        positions, problems = _walk(root)
        return loader.construct_document(root), positions, problems
    except yaml.MarkedYAMLError as exc:
        message = exc.problem or "invalid YAML"
        if not isinstance(exc, _LimitError):
            message = "invalid YAML: " + ", ".join(filter(None, [exc.context, exc.problem]))
        mark = exc.problem_mark or exc.context_mark
        raise AssignmentConfigError(source, [problem_at((), mark, message)]) from exc
    except yaml.reader.ReaderError as exc:  # a character YAML forbids, found before parsing
        at = int(exc.position)
        line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        char = f"#x{int(exc.character):04x}"
        raise _fatal(source, line, column, f"invalid YAML: {exc.reason} ({char})") from exc
    finally:
        if loader is not None:
            loader.dispose()


# --------------------------------------------------------------------------- problems


def _loc_text(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def problem_at(loc: Loc, mark: Mark | None, message: str) -> ConfigProblem:
    if mark is None:
        return ConfigProblem(None, None, _loc_text(loc), message)
    return ConfigProblem(mark.line + 1, mark.column + 1, _loc_text(loc), message)


def nearest_mark(positions: dict[Loc, Mark], loc: Loc) -> Mark | None:
    """Where `loc` is written, else its closest written parent (a missing key has no line)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in positions:
            return positions[loc[:end]]
    return None


def _show(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, date):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= 50 else text[:47] + "..."


def validation_message(error: ErrorDetails, known_keys: Sequence[str]) -> str:
    """One sentence for a pydantic error, in the words of someone editing YAML, not Python."""
    kind, value = error["type"], error["input"]
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(str(error["loc"][-1]), known_keys, n=1)
        return "is not a known key" + (f" (did you mean {hint[0]!r}?)" if hint else "")
    if kind == "missing":
        return "is required but missing"
    if kind == "timezone_aware":
        return f"needs a time and a timezone like 2026-12-01T18:00:00+01:00, got {_show(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"should be a mapping of keys to values, got {_show(value)}"
    if kind in ("tuple_type", "list_type"):
        return f"should be a list, got {_show(value)}"
    if kind == "string_type":
        return f"should be text (quote it), got {_show(value)}"
    if kind == "int_type":
        return f"should be a whole number, got {_show(value)}"
    if kind == "bool_type":
        return f"should be true or false, got {_show(value)}"
    if kind in ("too_short", "string_too_short"):
        return "should not be empty"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "duplicate_id":
        return error["msg"]
    return f"{error['msg'].removeprefix('Input ')}, got {_show(value)}"
