"""Intake's own operator commands, which `peerbridge intake ...` routes here."""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """peerbridge intake replay ..."""
    if argv[:1] == ["replay"]:
        from .replay import main as replay

        return replay(argv[1:])
    print("usage: peerbridge intake replay --id ID | --status error|rejected", file=sys.stderr)
    return 2
