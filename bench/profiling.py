"""Summarise py-spy's raw (collapsed) stacks: where the hub's CPU goes, by thread and function."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass
class Profile:
    samples: int
    threads: Counter[str]
    self_time: Counter[str]
    inclusive: Counter[str]

    def lines(self, top: int = 15) -> list[str]:
        out = [f"py-spy: {self.samples} non-idle samples"]
        out.append("  by thread: " + ", ".join(f"{name} {n / self.samples:.0%}"
                                                for name, n in self.threads.most_common(6)))
        out.append("  self time (leaf frames):")
        out += [f"    {n / self.samples:6.1%}  {name}" for name, n in self.self_time.most_common(top)]
        out.append("  inclusive (frame anywhere on the stack), hub/edge code:")
        ours = [(name, n) for name, n in self.inclusive.most_common()
                if "(hub/" in name or "(edge/" in name or "/hub/" in name][:top]
        out += [f"    {n / self.samples:6.1%}  {name}" for name, n in ours]
        return out


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = "/" + path.split("/main/", 1)[-1] if "/main/" in path else path
    return f"{match['func']} ({path})"


def summarise(raw: Path) -> Profile:
    threads: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        thread = "?"
        if frames and frames[0].startswith("process"):
            frames = frames[1:]
        if frames and frames[0].startswith("thread"):
            head = frames.pop(0)
            thread = head.split(": ", 1)[1] if ": " in head else head
        threads[thread] += count
        if frames:
            self_time[_short(frames[-1])] += count
        for name in {_short(f) for f in frames}:
            inclusive[name] += count
    return Profile(max(samples, 1), threads, self_time, inclusive)
