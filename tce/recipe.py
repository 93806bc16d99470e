"""TCE's recipe (Knights et al., ICPR 2020), read from the release csiro-robotics/TCE (files below
are relative to that repository)."""

from videossl.recipes import Recipe, Setting, knn_monitor_setting

CONFIG = "config/default.py, config/pretrain_kinetics400miningr_finetune_UCF101_resnet18.yaml"
TRANSFORMS = "datasets/pretraining/__init__.py (PretrainTransforms)"

RECIPE = Recipe(
    "tce",
    [
        Setting(
            "backbone",
            "2D ResNet-18 (also 34, 50; the trunk 'resnet101' builds a ResNet-50) per frame",
            CONFIG + " (MODEL.TRUNK); utils/network_utils.py (get_backbone)",
            flag="arch",
            value="resnet18",
        ),
        Setting("backbone width", "1x", "network/resnet.py", flag="width", value=1.0),
        Setting(
            "positive",
            "a frame and the frame FRAME_PADDING later; the release's 0 makes it the same frame",
            CONFIG + " (TRAIN.PRETRAINING.FRAME_PADDING); datasets/pretraining/kinetics400.py",
            flag="frame_gap",
            value=1,
            difference="the next frame, as the paper describes (the authors confirmed 1 is meant)",
        ),
        Setting(
            "crop size",
            "224 x 224 (the frame scaled to 224 x 224; the 224 crop is then the whole frame)",
            CONFIG + " (SCALE_SIZE, CROP_SIZE)",
            flag="size",
            value=224,
        ),
        Setting(
            "augmentation",
            "one flip for anchor and positive (p 0.5); per frame: one channel copied into all "
            "three (p 0.5), colour jitter 0.5/0.5/0.5/0.25 in random order; then scale to 224 x 224 by nearest "
            "neighbour",
            "datasets/pretraining/__init__.py:17-27 (PretrainTransforms); datasets/pretraining/augmentation.py:21 "
            "(Scale, Image.NEAREST); at 0da560c7",
            project="tce/dataset.py: the same order, the colour on each frame at its own size, then PIL's "
            "nearest-neighbour scale (tests/test_tce.py)",
        ),
        Setting("horizontal flip probability", "0.5", TRANSFORMS, flag="flip_prob", value=0.5),
        Setting("input frames", "RGB frames", TRANSFORMS, flag="input_mode", value="rgb"),
        Setting(
            "input normalisation",
            "ImageNet mean/std",
            CONFIG + " (DATASET.PRETRAINING.MEAN, STD)",
            flag="standardize",
            value="none",
            project="ImageNet mean/std in the input contract, no per-clip standardisation (`--standardize none`)",
        ),
        Setting(
            "embedding head",
            "Linear 128, L2-normalised",
            "network/model.py (fc_contrastive, l2norm)",
            project="tce/model.py: the same",
        ),
        Setting(
            "rotation head",
            "(Linear 200, ReLU, BN) x 2, Linear 4; input: the anchor frame augmented again and "
            "rotated by k x 90 degrees",
            "network/model.py (fc_rotation_1-3, bn_rotation_1-2); " + TRANSFORMS,
            project="tce/model.py RotationHead, tce/dataset.py: the same",
        ),
        Setting(
            "rotation loss weight",
            "1",
            CONFIG + " (LOSS.PRETRAINING.ROTATION_WEIGHT)",
            flag="rotation_weight",
            value=1.0,
        ),
        Setting(
            "loss",
            "CMC's NCE against a memory bank (one slot per video, overwritten by the anchor), temperature "
            "0.07, Z fixed at the first batch",
            "loss/NCEAverage.py, loss/NCECriterion.py",
            flag="temperature",
            value=0.07,
        ),
        Setting(
            "negatives per anchor",
            "8192",
            CONFIG + " (LOSS.PRETRAINING.NCE.NEGATIVES)",
            flag="bank_negatives",
            value=8192,
        ),
        Setting(
            "negative mining",
            "mask entries with similarity >= a threshold, take the top-K of the rest, fill "
            "uniformly; threshold tl + (th - tl)(1 - exp(tr s / total)), tl -1, th 1, tr 5: below -1 throughout, "
            "so every entry is masked and random negatives ran",
            "pretrain.py (threshold); loss/NCEAverage.py (NCEAverageKineticsMining); " + CONFIG + " (MINING)",
            flag="negatives",
            value="mined",
            difference="exp(-tr s / total), the evident intent: the threshold rises from -1 to 0.987 and hard "
            "negatives are mined by cosine similarity (anchor @ bank.T); the own slot is never a negative. The "
            "release scores anchor @ memory_bank.view(feat_dim, -1) (loss/NCEAverage.py:122 at 0da560c7), a "
            "reshape that pairs anchors with scrambled columns, not bank entries. `--negatives release` runs "
            "the released formula and that reshape (almost all random negatives: what produced the published numbers)",
        ),
        Setting(
            "optimiser",
            "SGD, momentum 0.9, weight decay 1e-4",
            CONFIG + " (TRAIN.PRETRAINING)",
            flag="weight_decay",
            value=1e-4,
        ),
        Setting("learning rate", "0.03", CONFIG + " (TRAIN.PRETRAINING.LEARNING_RATE)", flag="lr", value=0.03),
        Setting("schedule", "x0.1 at epoch 25", CONFIG + " (DECAY_EPOCHS)", flag="milestones", value="25"),
        Setting(
            "BatchNorm batches",
            "the anchor, pair and rotated frames in three forward passes, each its own BatchNorm batch",
            "pretrain.py:71-73 (at 0da560c7)",
            project="tce/model.py forward_chunks: the same three passes (tests/test_memory.py)",
        ),
        Setting("batch", "100", CONFIG + " (TRAIN.PRETRAINING.BATCH_SIZE)", flag="batch_size", value=100),
        Setting("epochs", "50", CONFIG + " (TRAIN.PRETRAINING.EPOCHS)", flag="epochs", value=50),
        Setting(
            "precision",
            "fp32",
            "pretrain.py",
            flag="precision",
            value="auto",
            difference="bf16 only where verified against fp32 on the run's device",
        ),
        knn_monitor_setting("pretrain.py"),
    ],
    presets={
        # scripts/run_matrix.py: a tiny ResNet-18 on 32 px frames, each standardised (docs/benchmark.md).
        "demo": {
            "knn_every": 15,
            "width": 0.125,
            "size": 32,
            "batch_size": 32,
            "bank_negatives": 256,
            "standardize": "per_clip",
            "epochs": 30,
            "flip_prob": 0.0,
        }
    },
    release="tce",
)
