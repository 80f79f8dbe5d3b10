"""Write docs/cli.md from the ``buildingminds`` argument parser, so it cannot drift.

python scripts/cli_reference.py          # rewrite docs/cli.md
python scripts/cli_reference.py --check  # exit 1 when docs/cli.md is out of date
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def render() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal's width
    from buildingminds_async.cli._main import build_parser

    parser = build_parser()
    parser.prog = "buildingminds"
    parts = [
        "# Command line reference\n",
        "Generated from the argument parser by `scripts/cli_reference.py` (a test fails when",
        "this page is out of date). `buildingminds COMMAND --help` prints the same.\n",
        "```text",
        parser.format_help().rstrip(),
        "```\n",
    ]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        if name == "sandbox":
            continue  # its own parser: buildingminds sandbox --help
        parts += [f"## buildingminds {name}\n", "```text", sub.format_help().rstrip(), "```\n"]
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        return 0 if DOC.read_text(encoding="utf-8") == text else 1
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
