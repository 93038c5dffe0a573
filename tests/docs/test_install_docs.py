"""The install and operations guides are followed to the letter: every ``xiaoan`` command they show exists
with the options they give it, every repository path they name exists, and every file they copy from
``/opt/xiaoan/venv/share/xiaoan/`` is one the wheel installs there."""

from __future__ import annotations

import argparse
import glob
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from hub.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
GUIDES = [ROOT / "docs" / name for name in ("install-pi.md", "install-hub.md", "operations.md")]
SHARE = "/opt/xiaoan/venv/share/xiaoan/"


def shell_commands(text: str) -> list[str]:
    """The commands of the guide's ``sh`` blocks, continuation lines joined."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        commands += [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return commands


def xiaoan_invocations(command: str) -> list[list[str]]:
    """The arguments of each ``xiaoan`` run in one shell line (after ``…/bin/xiaoan`` or a bare ``xiaoan``)."""
    found = []
    for part in re.split(r"&&|\|\||;|\|", command.replace("'", " ").replace('"', " ")):
        words = shlex.split(part)
        for index, word in enumerate(words):
            # The program, not the user or group of the same name (useradd … xiaoan, -g xiaoan).
            if word.endswith("/bin/xiaoan") or (word == "xiaoan" and index == 0):
                found.append(words[index + 1:])
                break
    return found


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _needs_subcommand(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(a, argparse._SubParsersAction) and a.required for a in parser._actions)


def check_invocation(arguments: list[str]) -> list[str]:
    """Walk the parser tree along ``arguments``; the problems found (unknown subcommand or option)."""
    parser, path = build_parser(), ["xiaoan"]
    words = iter(arguments)
    for word in words:
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            action = next((a for a in parser._actions if name in a.option_strings), None)
            if action is None:
                return [f"{' '.join(path)}: no option {name}"]
            if isinstance(action, argparse._HelpAction):
                return []
            if action.nargs != 0 and "=" not in word:
                next(words, None)  # the option's value
            continue
        children = _subparsers(parser)
        if not children:
            continue  # a positional argument or an option's value
        if word not in children:
            return [f"{' '.join(path)}: no subcommand {word!r} (has {', '.join(sorted(children))})"]
        parser = children[word]
        path.append(word)
    return [f"{' '.join(path)}: needs a subcommand"] if _needs_subcommand(parser) else []


@pytest.mark.parametrize("guide", GUIDES, ids=[g.name for g in GUIDES])
def test_every_xiaoan_command_in_the_guide_exists(guide: Path) -> None:
    invocations = [args for command in shell_commands(guide.read_text(encoding="utf-8"))
                   for args in xiaoan_invocations(command)]
    assert invocations, f"{guide.name} shows no xiaoan command"
    problems = [f"xiaoan {' '.join(args)}: {problem}" for args in invocations for problem in check_invocation(args)]
    assert problems == []


def test_the_checker_notices_a_command_that_does_not_exist() -> None:
    assert check_invocation(["edge", "check-config", "--online", "/etc/xiaoan/edge.yaml"]) == []
    assert check_invocation(["--help"]) == []
    assert check_invocation(["edge", "check-conf", "x.yaml"])[0].startswith("xiaoan edge: no subcommand 'check-conf'")
    assert check_invocation(["provision", "--dir", "/etc/mosquitto/xiaoan"]) == [
        "xiaoan provision: needs a subcommand"]
    assert check_invocation(["backup", "--too", "/media"]) == ["xiaoan backup: no option --too"]
    assert check_invocation(["provision", "device", "canteen-1", "--site", "s", "--bogus"]) == [
        "xiaoan provision device: no option --bogus"]
    assert check_invocation(["backupp"])[0].startswith("xiaoan: no subcommand 'backupp'")


REPO_PATH = re.compile(r"(?<![\w/.-])((?:firmware-config|scripts|dashboards|docs|hub|edge|tests)/[\w./-]*\w)")


def repo_paths(text: str) -> set[str]:
    found = set(REPO_PATH.findall(text.replace(SHARE, " ")))
    found |= {target.removeprefix("../") for target in re.findall(r"\]\(([^)#:]+?)(?:#[^)]*)?\)", text)}
    return {path for path in found if "…" not in path and not path.startswith(("http", "/"))}


@pytest.mark.parametrize("guide", GUIDES, ids=[g.name for g in GUIDES])
def test_every_repository_path_the_guide_names_exists(guide: Path) -> None:
    paths = repo_paths(guide.read_text(encoding="utf-8"))
    missing = []
    for path in sorted(paths):
        where = ROOT / path if not path.endswith(".md") or "/" in path else guide.parent / path
        if not where.exists():
            missing.append(path)
    assert missing == []


def wheel_data_files() -> set[str]:
    """What the wheel installs under ``<venv>/share/xiaoan/``, from pyproject's data-files globs."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["data-files"]
    installed = set()
    for target, patterns in data.items():
        prefix = target.removeprefix("share/xiaoan/")
        for pattern in patterns:
            installed |= {f"{prefix}/{Path(match).name}" for match in glob.glob(str(ROOT / pattern))}
    return installed


@pytest.mark.parametrize("guide", GUIDES, ids=[g.name for g in GUIDES])
def test_every_file_copied_from_the_installed_share_is_in_the_wheel(guide: Path) -> None:
    named = set(re.findall(re.escape(SHARE) + r"([\w./-]*\w)", guide.read_text(encoding="utf-8")))
    installed = wheel_data_files()
    assert sorted(path for path in named if path not in installed and not (ROOT / path).is_dir()) == []
