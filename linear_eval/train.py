"""Linear evaluation of any checkpoint: a frozen backbone and one linear layer.

    cd linear_eval && python train.py --saved_model PATH --linear [--dataset ucf101 --split 1]

--protocol cached (the one built so far): features of --num_clips evenly spaced clips per video
(centre crop, preprocessed as the checkpoint's input contract says) are extracted once and cached;
a linear layer is trained on the standardised per-clip features of the training videos; a test
video's prediction is the softmax averaged over its clips (x --test_crops). Reports top-1, top-5
and mean per-class accuracy; writes results.json to linear_eval/results/<run_id>/ or --out_dir.
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from videossl.cli import run_cli
from videossl.errors import UserError
from videossl.eval.common import (
    evaluate_setup, evaluation_parser, print_table, report_feature_times, write_results,
)
from videossl.eval.linear_probe import accuracies, predict_videos, train_linear_probe


def main(argv=None):
    parser = evaluation_parser(__doc__)
    parser.add_argument("--linear", action="store_true", help="freeze the backbone (without it: full finetuning)")
    parser.add_argument("--protocol", default="cached", choices=("cached",),
                        help="cached: train on cached clip features (the paper protocol on augmented clips is "
                             "not built yet)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--weight_decay", type=float, default=1e-4)
    args = parser.parse_args(argv)
    if not args.linear:
        raise UserError("full finetuning (train.py without --linear) is not built yet; pass --linear")
    out_dir, contract, description, features = evaluate_setup(args, __file__)
    num_classes = len(features["train"]["class_names"])
    torch.manual_seed(args.seed)
    layer, mean, std = train_linear_probe(features["train"]["maps"], features["train"]["labels"], num_classes,
                                          epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay, seed=args.seed)
    probabilities = predict_videos(layer, mean, std, features["test"]["maps"])
    metrics = accuracies(probabilities, features["test"]["labels"], num_classes)
    rows = [("top-1", metrics["top1"]), ("top-5", metrics["top5"]), ("mean per-class", metrics["mean_class"]),
            ("test videos", len(probabilities)), ("predictions per video",
                                                 features["test"]["maps"].shape[1])]
    report_feature_times(features)
    print_table(f"linear probe ({args.protocol}), {description['saved_model']}", rows)
    results = {"metrics": metrics, "protocol": args.protocol, **description, "dataset": args.dataset,
               "split": args.split, "num_clips": args.num_clips, "crops": args.test_crops,
               "contract": contract.to_dict(), "feature_seconds": {s: f["seconds"] for s, f in features.items()}}
    print(f"results: {write_results(out_dir, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
