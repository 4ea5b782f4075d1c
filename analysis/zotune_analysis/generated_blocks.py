"""Regenerate the generated tables of a Markdown page (docs/RESULTS.md) from the collected runs.

A generated block is

    <!-- generated: paper_table.py experiments/results/bszo-5c-smollm2.csv --table bszo-5c-smollm2 -->
    ...the table paper_table.py printed...
    <!-- end of generated -->

The line names paper_table.py's arguments (paths relative to the repository root). `update`
runs each block's command and rewrites the block; `--check` only compares and fails on the
first difference, so a table in the docs is always the tool's output on the committed results,
never numbers typed in by hand.

    python3 analysis/update_results.py docs/RESULTS.md            # rewrite the blocks
    python3 analysis/update_results.py --check docs/RESULTS.md    # a test: every block current
    python3 analysis/update_results.py ingest OUT/NAME_collect.csv --runs OUT/NAME_runs.tar.xz \\
        --into experiments/results/NAME                             # a session's runs in (results_ingest.py)
"""

import argparse
import difflib
import io
import os
import re
import shlex
import sys
from contextlib import redirect_stderr, redirect_stdout

from . import paper_table

BLOCK = re.compile(r"^<!-- generated: paper_table\.py (?P<args>.+?) -->\n(?P<body>.*?)^<!-- end of generated -->$",
                   re.MULTILINE | re.DOTALL)


class BlockError(Exception):
    pass


def render(args_text, root):
    """paper_table.py's Markdown for one block's arguments, run from the repository root."""
    args = shlex.split(args_text)
    if "--markdown" in args or "--plot" in args:
        raise BlockError(f"generated: paper_table.py {args_text}: the block's command prints the table; "
                         f"name no --markdown or --plot")
    cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(root)
        with redirect_stdout(out), redirect_stderr(err):
            rc = paper_table.main(args)
    finally:
        os.chdir(cwd)
    if rc != 0:
        raise BlockError(f"generated: paper_table.py {args_text}: failed: {err.getvalue().strip()}")
    return out.getvalue()


def update(text, root):
    """(new text, [(args, old body, new body)] of the blocks that changed)."""
    changed = []

    def one(m):
        body = render(m.group("args"), root)
        if body != m.group("body"):
            changed.append((m.group("args"), m.group("body"), body))
        return f"<!-- generated: paper_table.py {m.group('args')} -->\n{body}<!-- end of generated -->"

    return BLOCK.sub(one, text), changed


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ingest"]:  # a grid's finished runs into experiments/results/NAME (results_ingest.py)
        from .results_ingest import main as ingest_main
        return ingest_main(argv[1:])
    p = argparse.ArgumentParser(prog="update_results", description=__doc__.splitlines()[0],
                                epilog="update_results ingest COLLECT --into experiments/results/NAME [--runs TAR] "
                                       "[--logs]: a grid's finished runs into the results (ingest -h)")
    p.add_argument("page", help="the Markdown page (docs/RESULTS.md)")
    p.add_argument("--check", action="store_true", help="compare only; exit 1 if a block is not current")
    p.add_argument("--root", help="the repository root the blocks' paths are relative to (default: the page's ../)")
    a = p.parse_args(argv)
    root = a.root or os.path.dirname(os.path.dirname(os.path.abspath(a.page)))
    try:
        with open(a.page) as f:
            text = f.read()
        blocks = len(BLOCK.findall(text))
        new_text, changed = update(text, root)
    except (OSError, BlockError) as e:
        print(f"update_results: error: {e}", file=sys.stderr)
        return 1
    for args, old, new in changed:
        print(f"{a.page}: block `paper_table.py {args}` {'differs' if a.check else 'rewritten'}:")
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "page", "generated", n=1))
    if a.check:
        print(f"{a.page}: {blocks} generated block(s), {len(changed)} not current")
        return 1 if changed else 0
    if changed:
        with open(a.page, "w") as f:
            f.write(new_text)
    print(f"{a.page}: {blocks} generated block(s), {len(changed)} rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
