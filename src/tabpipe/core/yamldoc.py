"""YAML files read with the line of every key, so a problem can be reported where it is.

``params.yaml`` and the data contract are files people edit by hand; a misspelled key
must be an error that says which line. PyYAML builds a node tree with marks (line and
column) before it builds Python values; :func:`load` keeps both: the values, and a map from
each key path (``("train", "linear", "C")``, list items by position) to its line. A key
given twice in one mapping is an error naming both lines: PyYAML would silently keep the
last one, which turns a pasted block into a lost setting.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Key = str | int
MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlFileError(Exception):
    """The file cannot be read as YAML, or gives a key twice; the message has the line."""


@dataclass(frozen=True)
class Document:
    """A YAML file's values and the line (1-based) of each key path in it."""

    path: Path
    data: Any
    lines: dict[tuple[Key, ...], int] = field(default_factory=dict)

    def line(self, loc: Sequence[Any]) -> int | None:
        """The line of the longest prefix of ``loc`` that the file spells out."""
        parts = tuple(loc)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return None

    def where(self, loc: Sequence[Any]) -> str:
        """``path:line`` for a key path (just ``path`` if the file has no such key)."""
        line = self.line(loc)
        return f"{self.path}:{line}" if line else str(self.path)


def _key_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    value = loader.construct_object(node, deep=True)
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: tuple[Key, ...],
    lines: dict[tuple[Key, ...], int],
    problems: list[str],
    source: Path,
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = _key_value(loader, key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                shown = ".".join(str(p) for p in (*path, key))
                problems.append(
                    f"{source}:{line}: {shown!r} is given twice (first on line {seen[key]}); "
                    "YAML keeps only the last one: remove or merge one of them"
                )
                continue
            seen[key] = line
            lines[(*path, key)] = line
            _walk(loader, value_node, (*path, key), lines, problems, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(loader, item, (*path, index), lines, problems, source)


def parse(text: str, source: Path) -> Document:
    """The document in ``text`` (read from ``source``, named in messages)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[tuple[Key, ...], int] = {}
        problems: list[str] = []
        if node is not None:
            _walk(loader, node, (), lines, problems, source)
        if problems:
            raise YamlFileError("\n".join(problems))
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else str(source)
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlFileError(f"{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise YamlFileError(f"{source}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return Document(source, data, lines)


def load(path: Path) -> Document:
    """Read ``path``; a missing, unreadable or malformed file is a YamlFileError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlFileError(f"{path}: not found") from None
    except UnicodeDecodeError as exc:
        raise YamlFileError(f"{path}: not UTF-8 text (byte {exc.start + 1})") from None
    except OSError as exc:
        raise YamlFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    return parse(text, path)


def suggestion(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or nothing."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
