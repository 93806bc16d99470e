"""Evaluate a checkpoint on the SEVERE generalisation suite: one command, one table.

    python scripts/severe.py --saved_model PATH --data_root DATA [--suite domains,samples,granularity,tasks]
                             [--datasets ssv2,ntu60,...] [--name ROW] [--out_dir results/severe]
    python scripts/severe.py --saved_model PATH --tiny        # the synthetic stand-in, a minute on a CPU

Each selected setting finetunes the checkpoint with SEVERE's recipe for its dataset (finetune/train.py
--recipe severe; values and sources in docs/recipes.md) into <out_dir>/<name>/<setting>/. The
benchmark's columns: SS-v2 and Gym-99 (domains), UCF101 and Gym-99 with 1000 training videos
(samples), FX-S1 and UB-S1 (granularity), Charades multi-label mAP (tasks); --datasets also takes
ucf101, ntu60, diving48 and hmdb51 (full training sets). DATA holds one folder per dataset, named
ssv2, gym99 (also FX-S1's and UB-S1's), ucf101, charades, ntu60, diving48, hmdb51, each in the layout
its --dataset expects (docs/data.md); --root NAME=DIR points one elsewhere.

A finished setting is kept and an interrupted one resumes, so the command can be run again after a
stop; one run with other flags is refused. The table (<out_dir>/severe.md, severe.json; top-1 %,
Charades mAP %) has a row for every checkpoint evaluated into <out_dir> (a second checkpoint: the
same command with its --saved_model) and, marked "published", SEVERE++'s finetuning results of
Kinetics-400 R(2+1)D-18 checkpoints. Flags this script does not know (--device, --num_workers,
--precision, --arch, --skip_missing, ...) go to every finetuning run; give the same ones again when
resuming. Not implemented: SEVERE's UCF-RC column (UCFRep repetition counting), AVA detection.
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from finetune import train as finetune_train  # noqa: E402
from videossl.atomic import atomic_open  # noqa: E402
from videossl.cli import ArgumentParser, run_cli  # noqa: E402
from videossl.data.args import check_data_args, index_from_args  # noqa: E402
from videossl.data.severe_tiny import TINY_SETTINGS, make_tiny_suite  # noqa: E402
from videossl.errors import UserError  # noqa: E402
from videossl.eval.severe import (  # noqa: E402
    DATA_FOLDERS,
    FACTORS,
    PUBLISHED_SOURCE,
    SETTINGS,
    published_rows,
    read_result,
    render_table,
    select_settings,
)

# the tiny suite's scale: every setting in seconds on a CPU (a full-width R3D-18: about a minute in all)
TINY_FLAGS = ["--epochs", "2", "--batch_size", "4", "--frames", "8", "--stride", "1", "--size", "32"]
TINY_FLAGS += ["--num_clips", "2", "--test_crops", "1", "--num_workers", "0"]


def build_parser():
    parser = ArgumentParser(description=__doc__)
    parser.add_argument(
        "--saved_model", required=True, help="a checkpoint (ours or a release), torchvision:NAME or random"
    )
    parser.add_argument("--name", default=None, help="the checkpoint's row (default: its file name)")
    parser.add_argument("--data_root", default=None, help="one folder per dataset (see above)")
    parser.add_argument("--root", action="append", default=[], metavar="NAME=DIR", help="one dataset's folder")
    parser.add_argument(
        "--annotations",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="one dataset's annotation files, where they are not in its folder (or its annotations/)",
    )
    parser.add_argument("--suite", default=",".join(FACTORS), help="the factors whose columns to run")
    parser.add_argument("--datasets", default=None, help="the settings to run, by name (instead of --suite)")
    parser.add_argument("--tiny", action="store_true", help="the synthetic stand-in suite (written under --out_dir)")
    parser.add_argument("--out_dir", default=None, help="default: results/severe (--tiny: results/severe_tiny)")
    parser.add_argument("--no_published", action="store_true", help="leave SEVERE's published rows out")
    return parser


def split_list(text, known, flag):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UserError(f"{flag}: unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(known)}")
    return names


def chosen_settings(args):
    suite = TINY_SETTINGS if args.tiny else SETTINGS
    factors = split_list(args.suite, FACTORS, "--suite")
    names = split_list(args.datasets, [s.name for s in suite], "--datasets") if args.datasets else None
    return select_settings(suite, factors, names)


def folder_map(items, flag, names):
    """{name: DIR} from NAME=DIR items; a malformed item or an unknown name is one error."""
    mapping = {}
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or name not in names:
            raise UserError(f"{flag} {item!r}: expected NAME=DIR with NAME one of {', '.join(sorted(names))}")
        mapping[name] = folder
    return mapping


def data_flags(args, settings):
    """{setting name: its --data_root (and --split_dir) flags}."""
    if args.tiny:
        suite = make_tiny_suite(os.path.join(args.out_dir, "tiny_data"), [s.name for s in settings])
        return {s.name: ["--data_root", suite[s.name].data_root, "--split_dir", suite[s.name].split_dir]
                for s in settings}  # fmt: skip
    names = {DATA_FOLDERS.get(s.dataset, s.dataset) for s in SETTINGS}
    roots = folder_map(args.root, "--root", names)
    annotations = folder_map(args.annotations, "--annotations", names)
    flags = {}
    for s in settings:
        folder = DATA_FOLDERS.get(s.dataset, s.dataset)
        root = roots.get(folder) or (os.path.join(args.data_root, folder) if args.data_root else "")
        flags[s.name] = ["--data_root", root] + (["--split_dir", annotations[folder]] if folder in annotations else [])
    return flags


def finetune_argv(setting, folder, args, data, passed_on):
    argv = ["--saved_model", args.saved_model, "--recipe", "severe", "--dataset", setting.dataset, *data]
    argv += ["--out_dir", folder, "--run_id", setting.name]
    argv += ["--train_videos", str(setting.train_videos)] if setting.train_videos else []
    return argv + (TINY_FLAGS if args.tiny else []) + passed_on


def check_data(setting, argv):
    """Build the setting's training and test indexes (no probing): a missing folder, annotation
    file or video is one error before any setting trains."""
    args = finetune_train.build_parser(None).parse_args(argv)
    try:
        check_data_args(args, evaluation=True)
        for subset in ("train", "test"):
            index_from_args(args, subset, verify=False)
    except UserError as err:
        raise UserError(f"setting {setting.name}: {err}") from None


def row_name(args):
    """--name, else the checkpoint's file name, or its run's folder for a run's best.pt or last.pt."""
    if args.name:
        return args.name
    path = args.saved_model.rstrip("/")
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem in ("best", "last") or stem.startswith("checkpoint_epoch"):
        run = os.path.dirname(path)
        run = os.path.dirname(run) if os.path.basename(run) == "checkpoints" else run  # a finetuning run's
        stem = os.path.basename(run) or stem
    return stem.replace(":", "_") or args.saved_model


def claim_row(folder, saved_model):
    """The row's folder, refused when it holds another checkpoint's results."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "checkpoint.json")
    if os.path.exists(path):
        with open(path) as f:
            other = json.load(f)["saved_model"]
        if other != saved_model:
            raise UserError(f"{folder} holds the results of {other}; give this checkpoint another --name")
        return
    with atomic_open(path) as f:
        json.dump({"saved_model": saved_model}, f)


# flags that may change between a run and its resumption: the machine and where the data is, not
# what is trained (each with a value, then the switches)
OPERATIONAL = ("--device", "--num_workers", "--test_batch_size", "--cache_dir", "--video_backend", "--precision")
OPERATIONAL += ("--data_root", "--split_dir")
OPERATIONAL_SWITCHES = ("--skip_missing",)  # no value: a completed copy of the data needs it no more


def what_matters(argv):
    """``argv`` without the OPERATIONAL flags (and their values) and switches."""
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item in OPERATIONAL:
            skip = True
        elif item not in OPERATIONAL_SWITCHES and not item.startswith(tuple(f"{f}=" for f in OPERATIONAL)):
            kept.append(item)
    return kept


def run_setting(setting, folder, argv):
    """Finetune one setting into ``folder`` unless it finished with the same flags; resume an
    interrupted one."""
    record = os.path.join(folder, "severe_command.json")
    if os.path.exists(record):
        with open(record) as f:
            before = json.load(f)
        if what_matters(before) != what_matters(argv):
            raise UserError(
                f"{folder} was run with other flags ({' '.join(before)}); delete it, or choose another --out_dir"
            )
    if read_result(folder, setting.metric) is not None:
        print(f"{setting.name}: finished earlier ({folder})")
        return
    os.makedirs(folder, exist_ok=True)
    with atomic_open(record) as f:
        json.dump(argv, f)
    argv = list(argv)
    if os.path.isdir(os.path.join(folder, "checkpoints")) and os.listdir(os.path.join(folder, "checkpoints")):
        argv.append("--restart")
    print(f"{setting.name}: python finetune/train.py {' '.join(argv)}", flush=True)
    finetune_train.main(argv)


def collect(out_dir, settings):
    """{row: {setting: value}} of every checkpoint evaluated into ``out_dir``."""
    rows = {}
    for name in sorted(os.listdir(out_dir)):
        if os.path.isfile(os.path.join(out_dir, name, "checkpoint.json")):
            values = {s.name: read_result(os.path.join(out_dir, name, s.name), s.metric) for s in settings}
            rows[name] = {k: v for k, v in values.items() if v is not None}
    return rows


def write_summary(args, chosen):
    """The table over the suite's settings that were run now or hold a result."""
    suite = TINY_SETTINGS if args.tiny else SETTINGS
    measured = collect(args.out_dir, suite)
    settings = [s for s in suite if s in chosen or any(s.name in row for row in measured.values())]
    published = {} if args.tiny or args.no_published else published_rows()
    table = render_table(settings, measured, published)
    note = f"\n\nPublished rows: {PUBLISHED_SOURCE}; not re-measured here." if published else ""
    with atomic_open(os.path.join(args.out_dir, "severe.md")) as f:
        f.write(table + note + "\n")
    summary = {"columns": [s.__dict__ for s in settings], "measured": measured, "published": published}
    summary["published_source"] = PUBLISHED_SOURCE if published else None
    with atomic_open(os.path.join(args.out_dir, "severe.json")) as f:
        json.dump(summary, f, indent=1)
    print(table + note)
    print(f"table: {os.path.join(args.out_dir, 'severe.md')}")


def main(argv=None):
    args, passed_on = build_parser().parse_known_args(argv)
    args.out_dir = args.out_dir or os.path.join(ROOT, "results", "severe_tiny" if args.tiny else "severe")
    settings = chosen_settings(args)
    data = data_flags(args, settings)
    row = os.path.join(args.out_dir, row_name(args))
    commands = {s.name: finetune_argv(s, os.path.join(row, s.name), args, data[s.name], passed_on) for s in settings}
    for setting in settings:
        check_data(setting, commands[setting.name])
    claim_row(row, os.path.abspath(args.saved_model) if os.path.exists(args.saved_model) else args.saved_model)
    for setting in settings:
        run_setting(setting, os.path.join(row, setting.name), commands[setting.name])
    write_summary(args, settings)
    return 0


if __name__ == "__main__":
    run_cli(main)
