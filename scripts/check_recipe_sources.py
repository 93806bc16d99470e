"""Check every source line that docs/recipes.md cites against clones of the authors' repositories.

    python scripts/check_recipe_sources.py --clone tclr=~/src/TCLR --clone tce=~/src/TCE ...

Each recipe row cites ``path:line[-line] (names)`` at the commit pinned in videossl/recipes.py
(RELEASES). For every release given a clone (a working copy or a bare repository that holds the
pinned commit), this reads the file at that commit and checks that the lines exist and that each
name appears within them. Releases without a clone are counted as not checked. Exit 1 when a
citation fails.
"""

import os
import subprocess
import sys
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from cvrl.recipe import RECIPE as CVRL  # noqa: E402
from tce.recipe import RECIPE as TCE  # noqa: E402
from tclr_pretraining.recipe import RECIPE as TCLR  # noqa: E402
from videossl.cli import ArgumentParser  # noqa: E402
from videossl.eval.conformance import EVALUATION  # noqa: E402
from videossl.eval.severe import SEVERE_RECIPE  # noqa: E402
from videossl.recipes import RELEASES, parse_references  # noqa: E402
from vtdl.recipe import RECIPE as VTDL  # noqa: E402

RECIPES = (TCLR, CVRL, VTDL, TCE, EVALUATION, SEVERE_RECIPE)


def clone_arg(text):
    alias, sep, path = text.partition("=")
    if not sep or alias not in RELEASES:
        raise ValueError(f"expected ALIAS=DIR with ALIAS one of {', '.join(RELEASES)}")
    return alias, os.path.expanduser(path)


clone_arg.__name__ = "ALIAS=DIR"


def file_at_commit(clone, commit, path):
    """The file's lines at ``commit``, or None when the clone does not hold it."""
    result = subprocess.run(["git", "-C", clone, "show", f"{commit}:{path}"], capture_output=True)
    if result.returncode != 0:
        return None
    return result.stdout.decode("utf-8", "replace").splitlines()


def check_reference(ref, clone, cache):
    """'' when the cited lines exist and hold every name, else why not."""
    release = ref.release
    key = (clone, release.commit_of(ref.path), release.path_in_repo(ref.path))
    if key not in cache:
        cache[key] = file_at_commit(*key)
    lines = cache[key]
    if lines is None:
        return f"{key[2]} is not at commit {key[1][:12]} in {clone}"
    if ref.last > len(lines):
        return f"{key[2]} has {len(lines)} lines"
    text = "\n".join(lines[ref.first - 1 : ref.last])
    missing = [n for n in ref.names if n not in text]
    if missing:
        return f"{', '.join(map(repr, missing))} not in lines {ref.first}-{ref.last}: {text.strip()[:160]!r}"
    return ""


def check(clones, recipes=RECIPES):
    """(counts per (alias, outcome), failure lines)."""
    counts, failures, cache = Counter(), [], {}
    for recipe in recipes:
        sources = [(s.element, s.source) for s in recipe.settings]
        if recipe.reproduces_source:
            sources.append(("the published number", recipe.reproduces_source))
        for element, source in sources:
            try:
                refs = parse_references(source, RELEASES, recipe.release)
            except ValueError as e:
                counts[recipe.release or "evaluation", "failed"] += 1
                failures.append(f"{recipe.method} / {element}: {e}")
                continue
            for ref in refs:
                alias = ref.release.alias
                if alias not in clones:
                    counts[alias, "not checked"] += 1
                    continue
                why = check_reference(ref, clones[alias], cache)
                counts[alias, "failed" if why else "ok"] += 1
                if why:
                    failures.append(f"{recipe.method} / {element}: {alias}:{ref.path}:{ref.first} -- {why}")
    return counts, failures


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument(
        "--clone", type=clone_arg, action="append", default=[], help="a release's clone, e.g. tclr=~/src/TCLR"
    )
    parser.add_argument(
        "--recipe", choices=[r.method for r in RECIPES], action="append", help="check only these (default: all)"
    )
    args = parser.parse_args(argv)
    recipes = [r for r in RECIPES if not args.recipe or r.method in args.recipe]
    counts, failures = check(dict(args.clone), recipes)
    print("| release | pinned commit | ok | failed | not checked |")
    print("|---|---|---|---|---|")
    for alias, release in [*RELEASES.items(), ("evaluation", None)]:
        row = [counts[alias, outcome] for outcome in ("ok", "failed", "not checked")]
        if any(row):
            name, commit = (f"{alias} ({release.repo})", release.commit[:12]) if release else (alias, "")
            print(f"| {name} | {commit} | " + " | ".join(map(str, row)) + " |")
    for line in failures:
        print("FAILED", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
