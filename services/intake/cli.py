"""Intake's own operator commands, which `peerbridge intake ...` routes here."""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """peerbridge intake replay ... | rules [FILE]"""
    if argv[:1] == ["replay"]:
        from .replay import main as replay

        return replay(argv[1:])
    if argv[:1] == ["rules"]:
        from .rules_check import main as rules

        return rules(argv[1:])
    print("usage: peerbridge intake replay --id ID | --status error|rejected\n"
          "       peerbridge intake rules [FILE]", file=sys.stderr)
    return 2
