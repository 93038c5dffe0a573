"""Counting attacks: how many of each were tried and how many got in (must be 0), for docs/security.md."""

from __future__ import annotations

from tests.faults.harness import record_figures


class AttackLog:
    def __init__(self, name: str) -> None:
        self.name = name
        self.attacks: dict[str, dict[str, int]] = {}

    def attempted(self, attack: str, accepted: bool) -> None:
        entry = self.attacks.setdefault(attack, {"tried": 0, "accepted": 0})
        entry["tried"] += 1
        entry["accepted"] += int(accepted)

    def record(self) -> None:
        """Write to test-artifacts/security.json under this module's name."""
        record_figures(self.name, {"attacks": self.attacks,
                                   "tried": sum(a["tried"] for a in self.attacks.values()),
                                   "accepted": sum(a["accepted"] for a in self.attacks.values())},
                       file="security.json")
