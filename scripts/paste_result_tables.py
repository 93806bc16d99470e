"""Paste the result tables the scripts wrote into a document, between their markers.

    python scripts/paste_result_tables.py [--doc docs/benchmark.md]

Each block of the document between ``<!-- table: PATH -->`` and ``<!-- end table -->`` is replaced by
the tables (the Markdown from the first table on) of the file PATH, relative to the repository:
``results/demo/matrix.md`` (``make demo``) and ``results/matrix/demo/matrix.md``
(``scripts/run_matrix.py --seeds 0,1,2``). The file's title line, which names the scale and the
seeds, stays with the table. A missing results file is one clear error; nothing is half written.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from videossl.atomic import atomic_open  # noqa: E402
from videossl.cli import ArgumentParser, run_cli  # noqa: E402
from videossl.errors import UserError  # noqa: E402

BLOCK = re.compile(r"(<!-- table: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end table -->)", re.S)


def plain(line):
    """Headings of a results file as plain and bold lines (the document has its own headings)."""
    if line.startswith("## "):
        return f"**{line[3:]}**"
    if line.startswith("# "):
        return line[2:]
    return line


def table_text(path):
    if not os.path.isfile(path):
        raise UserError(f"{path}: not found; run the command that writes it first")
    with open(path) as f:
        return "\n".join(plain(line) for line in f.read().strip().splitlines()) + "\n"


def update(doc_text, root=ROOT):
    """``doc_text`` with every marked block replaced; (new text, [paths used])."""
    used = []

    def replace(match):
        path = match.group("path")
        used.append(path)
        return match.group(1) + table_text(os.path.join(root, path)) + match.group(4)

    return BLOCK.sub(replace, doc_text), used


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--doc", default=os.path.join(ROOT, "docs", "benchmark.md"), help="the document to update")
    args = parser.parse_args(argv)
    with open(args.doc) as f:
        text, used = update(f.read())
    if not used:
        raise UserError(f"{args.doc}: no '<!-- table: PATH -->' block")
    with atomic_open(args.doc) as f:
        f.write(text)
    print(f"{args.doc}: {len(used)} table block(s) from {', '.join(used)}")
    return 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
