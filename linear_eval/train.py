"""Linear evaluation of any checkpoint: a frozen backbone and one linear layer.

    cd linear_eval && python train.py --saved_model PATH --linear [--dataset ucf101 --split 1]
    cd linear_eval && python train.py --saved_model PATH --linear --protocol paper [--update_bn_stats]
    cd linear_eval && python train.py --saved_model PATH          # without --linear: full finetuning

--protocol cached (default, fast): features of --num_clips evenly spaced clips per video (centre
crop, preprocessed as the checkpoint's input contract says) are extracted once and cached; a
linear layer is trained on the standardised per-clip features of the training videos.
--protocol paper: the linear layer is trained on randomly placed, augmented clips through the
frozen backbone (BatchNorm in eval mode unless --update_bn_stats), as the papers do; the same
code as finetune/train.py with the backbone frozen (see `--protocol paper --help`).
Both test every test video on --num_clips clips (x --test_crops), softmax averaged, and report
top-1, top-5 and mean per-class accuracy to linear_eval/results/<run_id>/results.json.
"""

import argparse
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from videossl.cli import non_negative_float, positive_float, positive_int, run_cli
from videossl.eval import finetune
from videossl.eval.common import (
    evaluate_setup,
    evaluation_parser,
    features_record,
    print_table,
    report_feature_times,
    write_results,
)
from videossl.eval.linear_probe import accuracies, predict_videos, train_linear_probe


def cached_protocol(argv):
    parser = evaluation_parser(__doc__)
    parser.add_argument("--linear", action="store_true", help="freeze the backbone (without it: full finetuning)")
    parser.add_argument(
        "--protocol",
        default="cached",
        choices=("cached", "paper"),
        help="cached: one linear layer on cached features; paper: on augmented clips through the frozen "
        "backbone (--protocol paper --help lists its flags)",
    )
    parser.add_argument("--epochs", type=positive_int, default=100)
    parser.add_argument("--lr", type=positive_float, default=1e-2)
    parser.add_argument("--weight_decay", type=non_negative_float, default=1e-4)
    args = parser.parse_args(argv)
    out_dir, contract, description, features = evaluate_setup(args, __file__)
    num_classes = len(features["train"]["class_names"])
    torch.manual_seed(args.seed)
    layer, mean, std = train_linear_probe(
        features["train"]["maps"],
        features["train"]["labels"],
        num_classes,
        epochs=args.epochs,
        lr=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
    )
    probabilities = predict_videos(layer, mean, std, features["test"]["maps"])
    metrics = accuracies(probabilities, features["test"]["labels"], num_classes)
    rows = [
        ("top-1", metrics["top1"]),
        ("top-5", metrics["top5"]),
        ("mean per-class", metrics["mean_class"]),
        ("test videos", len(probabilities)),
        ("predictions per video", features["test"]["maps"].shape[1]),
    ]
    report_feature_times(features)
    print_table(f"linear probe ({args.protocol}), {description['saved_model']}", rows)
    results = {
        "metrics": metrics,
        "protocol": args.protocol,
        **description,
        "dataset": args.dataset,
        "split": args.split,
        "num_clips": args.num_clips,
        "crops": args.test_crops,
        "contract": contract.to_dict(),
        **features_record(features),
    }
    print(f"results: {write_results(out_dir, results)}")
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    mode = argparse.ArgumentParser(add_help=False)
    mode.add_argument("--linear", action="store_true")
    mode.add_argument("--protocol", default="cached", choices=("cached", "paper"))
    known, rest = mode.parse_known_args(argv)
    asks_help = any(a in ("-h", "--help") for a in argv)
    if known.protocol == "cached" and (known.linear or asks_help):  # --help: the linear probe's flags
        return cached_protocol(argv)
    # The paper protocol, or full finetuning without --linear: the shared finetune driver.
    args = finetune.build_parser(__doc__).parse_args(rest + (["--linear"] if known.linear else []))
    return finetune.run_classification(args, __file__)


if __name__ == "__main__":
    sys.exit(run_cli(main))
