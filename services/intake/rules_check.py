"""`peerbridge intake rules [FILE]`: check a program's rule file before deploying it, and list its rules."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from .domain.rules import RuleFile, RulesError, load_rules


def listing(path: Path) -> list[str]:
    """One line per rule (section, id, on or off); RulesError when the file is not one intake would start with."""
    rules = load_rules(path)
    spec = RuleFile.model_validate(yaml.safe_load(Path(path).read_text()))
    sections = {"diagnoses": spec.diagnoses, "keywords": spec.keywords, "orders": spec.orders,
                "service_requests": spec.service_requests, "crisis.diagnoses": spec.crisis.diagnoses,
                "crisis.keywords": spec.crisis.keywords}
    lines = [f"program {rules.program}: {path}"]
    lines += [f"{name:<17} {rule.id:<36} {'on' if rule.enabled else 'off'}"
              for name, group in sections.items() for rule in group]
    return lines


def main(argv: list[str]) -> int:
    """Print the file's rules and exit 0, or the problem and exit 1."""
    if len(argv) > 1 or argv[:1] in (["-h"], ["--help"]):
        print("usage: peerbridge intake rules [FILE]  (default: INTAKE_RULES_FILE)", file=sys.stderr)
        return 2
    if argv:
        path = Path(argv[0])
    else:
        from .settings import IntakeSettings

        path = IntakeSettings().rules_file
    try:
        print("\n".join(listing(path)))
    except RulesError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return 1
    return 0
