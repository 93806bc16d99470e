"""Each method's published recipe as data: one list of settings, each with the release's value and
the file it comes from, and named presets over it.

A ``Setting`` is one row of the method's conformance table (``docs/recipes.md``, generated from
these lists by ``scripts/recipe_tables.py``). A setting held by a command-line flag carries the
``paper`` preset's value, which becomes the flag's default; any other setting (a sampler, a head,
a loss reduction) states what the project does in ``project``. A non-empty ``difference`` says why
the project deliberately departs from the release.

``--preset NAME`` selects a preset (``paper``, the default, or e.g. ``demo``, the CPU recipe of
``make demo``); single flags still override single values. The resolved recipe (preset and the
flags that differ from it) is printed at the start of a run and stored in ``run_config.json`` and
in every checkpoint's config.
"""

import argparse
import sys
from argparse import Namespace
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

PAPER = "paper"


@dataclass(frozen=True)
class Setting:
    element: str
    published: str
    source: str
    flag: Optional[str] = None
    value: Any = None
    project: Optional[str] = None
    difference: str = ""

    def project_text(self) -> str:
        if self.flag is None or self.project:
            return self.project or self.published
        return f"`--{self.flag} {format_value(self.value)}`"

    def status(self) -> str:
        return f"deliberate difference: {self.difference}" if self.difference else "same"


@dataclass
class Recipe:
    method: str
    settings: list[Setting]
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {flag: value} over the paper values

    def __post_init__(self):
        self.presets = {PAPER: {}, **self.presets}
        flags = self.paper_values()
        for name, values in self.presets.items():
            unknown = sorted(set(values) - set(flags))
            if unknown:
                raise ValueError(f"{self.method} preset {name!r} sets flags the recipe does not hold: {unknown}")

    def paper_values(self) -> dict[str, Any]:
        return {s.flag: s.value for s in self.settings if s.flag is not None}

    def values(self, preset: str = PAPER) -> dict[str, Any]:
        return {**self.paper_values(), **self.presets[preset]}


def knn_monitor_setting(source: str) -> Setting:
    """The recipe row of the online kNN monitor, which no release has (``source``: its training script)."""
    return Setting(
        "online kNN monitor (--knn_every epochs)",
        "none: the release evaluates after pretraining",
        source,
        flag="knn_every",
        value=0,
    )


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


def add_preset_arg(parser: argparse.ArgumentParser, recipe: Recipe) -> None:
    """``--preset`` and the paper values as the flags' defaults, named in their ``--help`` (every
    flag of the recipe must have been added)."""
    parser.add_argument(
        "--preset",
        default=PAPER,
        choices=sorted(recipe.presets),
        help="a named recipe: paper (the authors' release, docs/recipes.md) or a small CPU preset; single "
        "flags override single values. The defaults --help shows are the chosen preset's "
        "(--preset demo --help shows demo's)",
    )
    parser.set_defaults(**recipe.paper_values())


def parse_with_preset(
    parser: argparse.ArgumentParser, recipe: Recipe, argv: Optional[Sequence[str]] = None
) -> argparse.Namespace:
    """Add ``--preset`` to the complete ``parser`` and parse ``argv`` with the chosen preset's
    values as defaults. ``args.preset_overrides`` holds the recipe flags whose value differs from
    the preset (given on the command line)."""
    add_preset_arg(parser, recipe)
    argv = list(sys.argv[1:] if argv is None else argv)
    # --help waits for the full parse below, so that it shows the chosen preset's defaults
    known, _ = parser.parse_known_args([a for a in argv if a not in ("-h", "--help")])
    preset = recipe.values(known.preset)
    parser.set_defaults(**preset)
    args = parser.parse_args(argv)
    args.preset_overrides = {k: getattr(args, k) for k, v in preset.items() if getattr(args, k) != v}
    return args


def describe(recipe: Recipe, args: Namespace) -> str:
    """One line: the recipe a run uses."""
    overrides = ", ".join(f"--{k} {format_value(v)}" for k, v in sorted(args.preset_overrides.items()))
    return f"recipe: {recipe.method} preset '{args.preset}' (docs/recipes.md)" + (
        f", overridden: {overrides}" if overrides else ", no overrides"
    )


def preset_argv(recipe: Recipe, preset: str) -> list[str]:
    """The flags that a preset sets, as a command line (for documentation and tests)."""
    argv = []
    for key, value in recipe.presets[preset].items():
        if isinstance(value, bool):
            argv.append(f"--{key}" if value else f"--no-{key}")
        else:
            argv += [f"--{key}", str(value)]
    return argv
