"""Load a YAML file into a pydantic model, with errors that name the file, line and key.

An installer editing a config on a Pi at a school gate needs "devices/gate.yaml:14:
sources.0.pin: Input should be a valid integer", not a traceback. YAML nodes keep
their line numbers, so each key path is mapped to the line that wrote it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
KeyPath = tuple[str | int, ...]


class ConfigError(ValueError):
    """A config that must not be used; the message lists every problem with file:line: key."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"invalid config {path}:\n  " + "\n  ".join(problems))


def _line_map(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            _line_map(value_node, (*path, key), lines)
            # The key's own line, not the value's (a nested mapping starts on the next line).
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), lines)


def _nearest_line(loc: KeyPath, lines: dict[KeyPath, int]) -> int | None:
    # A missing key has no line of its own: point at the mapping that should hold it.
    for end in range(len(loc), -1, -1):
        found = lines.get(loc[:end])
        if found is not None:
            return found
    return None


def load_yaml(path: Path) -> tuple[Any, dict[KeyPath, int]]:
    """Parse a YAML file, returning the data and a key-path → line map."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(path, [f"cannot read: {error.strerror}"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(path, [f"{where}: not valid YAML: {getattr(error, 'problem', error)}"]) from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _line_map(node, (), lines)
    return data, lines


def validate(model: type[ModelT], data: Any, path: Path, lines: dict[KeyPath, int]) -> ModelT:
    """Validate parsed data, translating pydantic errors into file:line: key messages."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as error:
        problems = [problem(path, lines, tuple(item["loc"]), item["msg"]) for item in error.errors()]
        raise ConfigError(path, problems) from None


def problem(path: Path, lines: dict[KeyPath, int], loc: KeyPath, message: str) -> str:
    """One problem as ``file:line: dotted.key: message`` (the line of the key, or of its nearest parent)."""
    line = _nearest_line(loc, lines)
    where = f"{path}:{line}" if line is not None else str(path)
    return f"{where}: {'.'.join(str(p) for p in loc) or '(top level)'}: {message}"


def load_model(model: type[ModelT], path: Path) -> ModelT:
    """Read, parse and validate a YAML config file."""
    data, lines = load_yaml(path)
    return validate(model, data, path, lines)
