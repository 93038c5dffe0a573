"""Reading an edge's YAML config: the settings model and every source's own keys, checked together.

Its own module because it needs both the settings (``edge.config``) and the source
registry (``edge.sources``), which itself imports the settings.
"""

from __future__ import annotations

from pathlib import Path

from edge.config import EdgeSettings
from edge.sources import check_source_options
from edge.yamlconfig import ConfigError, load_yaml, problem, validate


def load_edge_settings(path: Path) -> EdgeSettings:
    """Load and validate an edge config, including each source's own keys.

    Raises ConfigError listing every problem as ``file:line: key: message``.
    """
    data, lines = load_yaml(path)
    settings = validate(EdgeSettings, data, path, lines)
    problems: list[str] = []
    seen: set[str] = set()
    for index, source in enumerate(settings.sources):
        problems += [problem(path, lines, ("sources", index, *key), message)
                     for message, key in check_source_options(source)]
        if source.sensor:
            if source.sensor in seen:
                problems.append(problem(path, lines, ("sources", index, "sensor"),
                                        f"duplicate sensor id {source.sensor!r}"))
            seen.add(source.sensor)
    if problems:
        raise ConfigError(path, problems)
    return settings
