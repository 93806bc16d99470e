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
import re
import sys
from argparse import Namespace
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

PAPER = "paper"


@dataclass(frozen=True)
class Release:
    """An authors' repository pinned at one commit; cited paths are relative to ``root`` in it.
    ``file_commits`` pins single files elsewhere, for a repository whose stored copies of those
    files come from other commits."""

    alias: str
    repo: str
    commit: str
    root: str = ""
    file_commits: dict[str, str] = field(default_factory=dict)

    def path_in_repo(self, path: str) -> str:
        return f"{self.root}/{path}" if self.root else path

    def commit_of(self, path: str) -> str:
        return self.file_commits.get(path, self.commit)

    def url(self, path: str, first: int, last: int) -> str:
        lines = f"L{first}" if first == last else f"L{first}-L{last}"
        return f"https://github.com/{self.repo}/blob/{self.commit_of(path)}/{self.path_in_repo(path)}#{lines}"


@dataclass(frozen=True)
class Reference:
    """``[alias:]path:first[-last] [(name, name)]``: lines of a release that hold the cited value;
    every name appears within those lines (scripts/check_recipe_sources.py verifies it)."""

    release: Release
    path: str
    first: int
    last: int
    names: tuple[str, ...]

    def markdown(self, show_alias: bool = False) -> str:
        lines = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        label = (f"{self.release.alias}:" if show_alias else "") + f"{self.path}:{lines}"
        names = f" ({', '.join(self.names)})" if self.names else ""
        return f"[{label}]({self.release.url(self.path, self.first, self.last)}){names}"


TF_MODELS = "tensorflow/models"
RELEASES = {
    r.alias: r
    for r in (
        Release("tclr", "DAVEISHAN/TCLR", "850efa942e2343837d36f9e5036311087b1b4c91"),
        Release(
            "vtdl",
            "FingerRec/Self-Supervised-Temporal-Discriminative-Representation-Learning-for-Video-Action-Recognition",
            "3f2b782b91809d44c9ad066965b7034eee4116b2",
        ),
        Release("tce", "csiro-robotics/TCE", "0da560c7c8616fc124dce0b5b35cd3ebae20bb81"),
        Release("coclr", "TengdaHan/CoCLR", "45f200e0b7c1c75ae1f230c1fabb04cac105ff30"),
        Release("severe", "fmthoker/SEVERE-BENCHMARK", "2f99365c446d2721261dc56d91c4fb469f042cbb"),
        # Model Garden: video_ssl's own files (cvrl) and the shared ones they use (garden)
        Release(
            "cvrl",
            TF_MODELS,
            "db1ad783fb5c1a2d3d9fa5c2ea4ce1f7d471cfe9",
            "official/projects/video_ssl",
            {
                "README.md": "0225b135a24a7c8901a64bdb9391c91289ca303c",
                "configs/experiments/cvrl_linear_eval_k600.yaml": "15762ae3a80ffeb47f73ebb8734ad54904e5b65e",
                "configs/video_ssl.py": "00d83f37e2de5852699ed339d0c51085ab065651",
                "dataloaders/video_ssl_input.py": "00b830c7ca641413f37e5147cf059c89f79b0e8e",
                "losses/losses.py": "0225b135a24a7c8901a64bdb9391c91289ca303c",
                "modeling/video_ssl_model.py": "00b830c7ca641413f37e5147cf059c89f79b0e8e",
                "ops/video_ssl_preprocess_ops.py": "0225b135a24a7c8901a64bdb9391c91289ca303c",
                "tasks/pretrain.py": "00b830c7ca641413f37e5147cf059c89f79b0e8e",
                "tasks/linear_eval.py": "00d83f37e2de5852699ed339d0c51085ab065651",
            },
        ),
        Release(
            "garden",
            TF_MODELS,
            "00b830c7ca641413f37e5147cf059c89f79b0e8e",
            "",
            {
                "official/modeling/optimization/configs/learning_rate_config.py": (
                    "00d83f37e2de5852699ed339d0c51085ab065651"
                ),
                "official/vision/configs/common.py": "00d83f37e2de5852699ed339d0c51085ab065651",
                "official/vision/dataloaders/video_input.py": "00d83f37e2de5852699ed339d0c51085ab065651",
                "official/vision/modeling/backbones/resnet_3d.py": "00d83f37e2de5852699ed339d0c51085ab065651",
                "official/vision/tasks/video_classification.py": "00d83f37e2de5852699ed339d0c51085ab065651",
            },
        ),
    )
}

REFERENCE = re.compile(
    r"(?:(?P<alias>[a-z]+):)?(?P<path>[\w./-]+\.[\w]+):(?P<first>\d+)(?:-(?P<last>\d+))?(?: \((?P<names>[^()]*)\))?"
)


def parse_references(source: str, releases: dict[str, Release], default: Optional[str]) -> list[Reference]:
    """The references of a setting's ``source`` ("; "-separated); ValueError for anything else."""
    refs = []
    for part in source.split("; "):
        m = REFERENCE.fullmatch(part)
        if m is None:
            raise ValueError(f"not a reference [alias:]path:line[-line] [(names)]: {part!r}")
        alias = m["alias"] or default
        if alias not in releases:
            raise ValueError(f"{part!r}: no release {alias!r} (known: {', '.join(sorted(releases))})")
        first, last = int(m["first"]), int(m["last"] or m["first"])
        if not 1 <= first <= last:
            raise ValueError(f"{part!r}: bad line range")
        names = tuple(n for n in (m["names"] or "").split(", ") if n)
        refs.append(Reference(releases[alias], m["path"], first, last, names))
    return refs


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
    release: Optional[str] = None  # the alias in RELEASES that sources without one refer to
    # the published number the paper preset is meant to reproduce (dataset, protocol, metric, value) and its source
    reproduces: str = ""
    reproduces_source: str = ""

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
