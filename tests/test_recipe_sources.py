"""Every recipe row cites file and lines of the authors' release at a pinned commit, and the
checker catches a citation whose lines do not hold what it names."""

import os
import re
import subprocess

import pytest

from scripts import check_recipe_sources as checker
from videossl.recipes import RELEASES, Recipe, Release, Setting, parse_references

MIRRORS = "/work/.mirror"  # this workplace's copies of the releases (absent elsewhere: that test skips)


def test_every_row_cites_lines_at_a_pinned_commit():
    assert all(re.fullmatch(r"[0-9a-f]{40}", r.commit) for r in RELEASES.values())
    for recipe in checker.RECIPES:
        for setting in recipe.settings:
            refs = parse_references(setting.source, RELEASES, recipe.release)
            assert refs, f"{recipe.method} / {setting.element}"
        if recipe.release:  # a method: the published number its paper preset is meant to reproduce
            assert recipe.reproduces and parse_references(recipe.reproduces_source, RELEASES, recipe.release)


def test_a_source_that_is_not_a_reference_is_refused():
    for bad in ("train.py", "train.py (lr)", "train.py:0", "train.py:9-3", "nope:train.py:3", "a.py:3, b.py:4"):
        with pytest.raises(ValueError):
            parse_references(bad, RELEASES, "tclr")
    ref = parse_references("coclr:eval/main.py:3-5 (window=False, mode='test')", RELEASES, "tclr")[0]
    assert (ref.release.alias, ref.path, ref.first, ref.last, ref.names) == (
        "coclr",
        "eval/main.py",
        3,
        5,
        ("window=False", "mode='test'"),
    )
    assert ref.markdown().startswith("[eval/main.py:3-5](https://github.com/TengdaHan/CoCLR/blob/45f200e0")


def git(*args, cwd):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def test_the_checker_reads_the_pinned_commit_not_the_newest(tmp_path, monkeypatch):
    repo = tmp_path / "release"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    (repo / "params.py").write_text("batch_size = 40\nlearning_rate = 1e-3\n")
    git("add", ".", cwd=repo)
    git("commit", "-qm", "one", cwd=repo)
    pinned = git("rev-parse", "HEAD", cwd=repo).strip()
    (repo / "params.py").write_text("learning_rate = 1e-4\n")  # a later commit moves and changes the value
    git("commit", "-qam", "two", cwd=repo)
    monkeypatch.setitem(RELEASES, "toy", Release("toy", "someone/toy", pinned))
    rows = [
        Setting("lr", "1e-3", "params.py:2 (learning_rate = 1e-3)"),
        Setting("batch", "40", "params.py:2 (batch_size = 40)"),  # the wrong line
        Setting("epochs", "9", "params.py:7"),  # past the end
        Setting("other", "x", "missing.py:1"),
    ]
    counts, failures = checker.check({"toy": str(repo)}, [Recipe("toy", rows, release="toy")])
    assert counts["toy", "ok"] == 1 and counts["toy", "failed"] == 3
    assert "'batch_size = 40' not in lines 2-2" in failures[0]
    assert "has 2 lines" in failures[1] and "missing.py is not at commit" in failures[2]
    counts, _ = checker.check({}, [Recipe("toy", rows[:1], release="toy")])
    assert counts["toy", "not checked"] == 1


@pytest.mark.skipif(not os.path.isdir(MIRRORS), reason="no local copies of the releases")
def test_every_citation_holds_in_the_local_copies_of_the_releases():
    clones = {}
    for alias, release in RELEASES.items():
        path = os.path.join(MIRRORS, release.repo.replace("/", "+"), "repo")
        if os.path.isdir(path):
            clones[alias] = path
    counts, failures = checker.check(clones)
    assert not failures
    assert sum(n for (alias, outcome), n in counts.items() if outcome == "ok") > 300
