"""Every method's recipe: the flags' defaults are the paper preset, every preset parses, a preset
and an override are recorded in the run's configuration, and docs/recipes.md is current."""

import json
import os

import pytest

from cvrl import train as cvrl_train
from scripts.recipe_tables import render
from tce import train as tce_train
from tclr_pretraining import train_gen_all_step as tclr_train
from videossl.recipes import parse_with_preset
from vtdl import train as vtdl_train

SCRIPTS = {"tclr": tclr_train, "cvrl": cvrl_train, "vtdl": vtdl_train, "tce": tce_train}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("method", sorted(SCRIPTS))
def test_flag_defaults_are_the_paper_values_and_every_preset_parses(method):
    script = SCRIPTS[method]
    args = parse_with_preset(script.build_parser(), script.RECIPE, [])
    for flag, value in script.RECIPE.paper_values().items():
        assert getattr(args, flag) == value, flag
    assert args.preset == "paper" and args.preset_overrides == {}
    for preset in script.RECIPE.presets:
        args = parse_with_preset(script.build_parser(), script.RECIPE, ["--preset", preset, "--lr", "0.123"])
        for flag, value in script.RECIPE.values(preset).items():
            assert getattr(args, flag) == (0.123 if flag == "lr" else value), (preset, flag)
        assert args.preset_overrides == {"lr": 0.123}


def test_published_values_named_in_the_issue_are_the_defaults():
    tclr, cvrl = tclr_train.RECIPE.values(), cvrl_train.RECIPE.values()
    vtdl, tce = vtdl_train.RECIPE.values(), tce_train.RECIPE.values()
    assert (cvrl["lr"], cvrl["batch_size"], cvrl["weight_decay"], cvrl["sync_bn"]) == (0.32, 1024, 1e-6, True)
    assert (vtdl["size"], vtdl["flip_prob"], vtdl["stride"]) == (224, 0.0, 4)
    assert (tce["negatives"], tce["size"], tce["bank_negatives"]) == ("mined", 224, 8192)
    assert (tclr["channel_order"], tclr["batch_size"], tclr["epochs"]) == ("bgr", 40, 1000)


def test_the_run_records_its_preset_and_overrides(tiny_synthetic, tmp_path):
    root, split_dir = tiny_synthetic
    assert (
        tclr_train.main(
            [
                "--preset",
                "demo",
                "--run_id",
                "r",
                "--out_dir",
                str(tmp_path),
                "--data_root",
                root,
                "--split_dir",
                split_dir,
                "--epochs",
                "1",
                "--batch_size",
                "2",
                "--num_workers",
                "0",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    config = json.load(open(tmp_path / "ss_saved_models" / "r" / "run_config.json"))
    assert config["preset"] == "demo" and config["size"] == 32 and config["input_mode"] == "residual"
    assert config["preset_overrides"] == {"epochs": 1, "batch_size": 2, "precision": "fp32"}


def test_docs_recipes_md_is_generated_from_the_recipes():
    with open(os.path.join(REPO, "docs", "recipes.md")) as f:
        assert f.read() == render(), "run: python scripts/recipe_tables.py"


def test_every_document_the_code_names_exists():
    # code and docs point to docs/*.md and README.md files of this repository, never to one outside it
    import glob
    import re

    named = set()
    for path in glob.glob(os.path.join(REPO, "**", "*.py"), recursive=True) + glob.glob(
        os.path.join(REPO, "docs", "*.md")
    ):
        if os.path.relpath(path, REPO).startswith((".venv", "data" + os.sep, "results" + os.sep)):
            continue
        with open(path) as f:
            text = f.read()
        named |= set(re.findall(r"\b(docs/[\w./-]+\.md|DESIGN\.md)", text))
    assert named and "docs/recipes.md" in named and "docs/design.md" in named
    assert [name for name in named if not os.path.isfile(os.path.join(REPO, name))] == []
