"""Grammar check of the Swift sources (no Swift compiler exists on Linux CI here).

Parses each file with tree-sitter-swift and fails on ERROR or MISSING nodes.
It checks syntax only: names and types are not resolved.
Usage: python3 check_syntax.py FILE.swift...
"""
import sys

import tree_sitter_swift
from tree_sitter import Language, Parser


def problems(node, path):
    if node.is_error or node.is_missing:
        row, col = node.start_point
        kind = "missing " + node.type if node.is_missing else "syntax error"
        yield f"{path}:{row + 1}:{col + 1}: {kind}"
    for child in node.children:
        yield from problems(child, path)


def main(paths):
    parser = Parser(Language(tree_sitter_swift.language()))
    found = []
    for path in paths:
        with open(path, "rb") as f:
            tree = parser.parse(f.read())
        found.extend(problems(tree.root_node, path))
    for line in found:
        print(line)
    print(f"{len(paths)} Swift files, {len(found)} problems")
    return 1 if found or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
