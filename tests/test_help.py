"""Every command answers --help with its flags and their defaults, and writes nothing."""

import importlib
import os

import pytest

from videossl.cli import run_cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = [
    "tclr_pretraining.train_gen_all_step",
    "cvrl.train",
    "vtdl.train",
    "tce.train",
    "linear_eval.train",
    "finetune.train",
    "nn_retrieval.complete_retrieval",
    "tsne.make_tsne",
    "tsne.make_tsne_from_embedding",
    "scripts.check_dataset",
    "scripts.prepare_dataset",
    "scripts.prepare_videos",
    "scripts.make_synthetic",
    "scripts.inspect_checkpoint",
    "scripts.recipe_tables",
    "scripts.paste_result_tables",
    "scripts.run_matrix",
    "scripts.severe",
    "scripts.demo",
    "scripts.bench.bench_demo",
    "scripts.bench.bench_knn_monitor",
    "scripts.bench.bench_loader",
    "scripts.bench.bench_memory",
    "scripts.bench.bench_train_step",
]
SKIPPED_DIRS = {".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache"}


def tree_state():
    state = {}
    for folder, subfolders, names in os.walk(REPO):
        subfolders[:] = [s for s in subfolders if s not in SKIPPED_DIRS]
        for name in names:
            path = os.path.join(folder, name)
            stat = os.stat(path)
            state[path] = (stat.st_mtime_ns, stat.st_size)
    return state


@pytest.mark.parametrize("module", COMMANDS)
def test_help_shows_the_flags_and_writes_nothing(module, capsys):
    main = importlib.import_module(module).main
    before = tree_state()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, ["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and out.startswith("usage:")
    assert tree_state() == before


@pytest.mark.parametrize(
    "module, shown",
    [
        ("tclr_pretraining.train_gen_all_step", ["--epochs EPOCHS", "default: 1000", "--data_root DATA_ROOT"]),
        ("linear_eval.train", ["--protocol {cached,paper}", "--clip_starts", "--crop_fraction", "--feature_cache"]),
        ("finetune.train", ["--eval_every EVAL_EVERY", "(default: the recipe's, 5 for most)", "--train_videos"]),
        ("nn_retrieval.complete_retrieval", ["--num_clips NUM_CLIPS", "(default: 10)"]),
    ],
)
def test_help_lists_what_users_look_for(module, shown, capsys):
    with pytest.raises(SystemExit):
        run_cli(importlib.import_module(module).main, ["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in shown:
        assert text in out


def test_the_demo_preset_help_shows_the_demo_defaults(capsys):
    from tclr_pretraining import train_gen_all_step

    with pytest.raises(SystemExit):
        run_cli(train_gen_all_step.main, ["--preset", "demo", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "--epochs EPOCHS default: 30" in out
        and "--width WIDTH channel multiplier (0.125 for a tiny CPU model) (default: 0.125)" in out
    )
