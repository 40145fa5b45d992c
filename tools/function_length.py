"""Fail when a function is longer than a reader can hold at once.

A function over ``MAX_LINES`` lines (decorators excluded, its docstring included) is a row of steps
that wants names: split it into the named stages it already performs. ``make lint`` runs this on
``src``; ruff's ``C901`` limits branching, this limits length.

Usage: ``python tools/function_length.py src`` prints each long function on one line, exit 1.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_LINES = 60


def long_functions(root: Path, limit: int = MAX_LINES) -> list[tuple[Path, int, str, int]]:
    """(file, line, name, length) of every function under ``root`` longer than ``limit`` lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append((path, node.lineno, node.name, length))
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/function_length.py DIR", file=sys.stderr)
        return 2
    found = long_functions(Path(argv[0]))
    for path, line, name, length in found:
        print(f"{path}:{line}: {name} is {length} lines (at most {MAX_LINES})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
