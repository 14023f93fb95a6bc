"""What one drill reports: its name, whether it held, and the numbers that show it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Outcome:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name:<20} {self.detail}"
