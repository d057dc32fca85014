"""Fails (exit 1) naming every Python module longer than the limit under the given folders.

Usage: python scripts/check_module_size.py [--max 400] FOLDER...
A module that long has more than one job (STYLE.md): split it by what it does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def oversized(folders: list[Path], limit: int) -> list[tuple[Path, int]]:
    """(module, line count) for every .py file under `folders` with more than `limit` lines."""
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                found.append((path, lines))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--max", type=int, default=400, help="most lines a module may have")
    args = parser.parse_args(argv)
    found = oversized(args.folders, args.max)
    for path, lines in found:
        print(f"{path}: {lines} lines (at most {args.max})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
