"""VTDL's recipe (Wang et al., 2020), read from the release
FingerRec/Self-Supervised-Temporal-Discriminative-Representation-Learning-for-Video-Action-Recognition
(files below are relative to its ``src/``)."""

from videossl.recipes import Recipe, Setting, knn_monitor_setting

TRAIN = "train_temporal_dis.py"
DATA = "data/dataset.py (get_moco_items, _sample_indices)"
AUG = "data/config.py (augmentation_config)"
SCRIPTS = "scripts/TemporalDis/ucf101.sh, hmdb51.sh"

RECIPE = Recipe(
    "vtdl",
    [
        Setting(
            "backbone",
            "I3D (also R3D-18 of 3D-ResNets-PyTorch, R(2+1)D)",
            TRAIN + " (--arch i3d)",
            flag="arch",
            value="i3d",
        ),
        Setting("backbone width", "1x", "model/i3d.py", flag="width", value=1.0),
        Setting(
            "I3D padding and names",
            "'SAME' as k - s zeros per dimension, the odd one after; max-pooling in ceil "
            "mode; modules conv3d_1a_7x7 ... mixed_5c with conv3d/batch3d units",
            "model/i3d.py (get_padding_shape, Unit3Dpy, MaxPool3dTFPadding, I3D)",
            project="`i3d` pads and names its modules so (the release loads as it is; tests/test_releases.py); "
            "the R3D release is `--arch r3d_18_hara` (model/r3d.py), not torchvision's r3d_18",
        ),
        Setting("frames per clip", "16", TRAIN + " (args.data_length = 16)", flag="frames", value=16),
        Setting("temporal stride", "4", TRAIN + " (args.stride = 4)", flag="stride", value=4),
        Setting(
            "anchor and temporal negative",
            "both start uniformly in [0, max(N - 128, 0)]; a negative less than 2 "
            "frames from the anchor moves N // 3 later (mod N); the positive is the anchor's frames",
            DATA,
            project="vtdl/sampling.py: the same",
        ),
        Setting(
            "crop size",
            "224 (resize short side 256, random crop 224)",
            TRAIN + " (args.spatial_size = 224), " + AUG,
            flag="size",
            value=224,
        ),
        Setting(
            "augmentation",
            "rotation +-10 deg, resize 256, random crop 224, colour jitter (0.5, 0.5, 0.25, 0.5) "
            "of which one operation takes effect (each is applied to the original frame, the last one kept)",
            AUG + "; TC/video_transformations/video_transform_PIL_or_np.py (ColorJitter)",
            project="vtdl/augmentation.py: the same, one jitter operation per clip",
        ),
        Setting(
            "horizontal flip probability", "0 (RandomHorizontalFlip commented out)", AUG, flag="flip_prob", value=0.0
        ),
        Setting("input frames", "RGB frames (not differences)", AUG, flag="input_mode", value="rgb"),
        Setting(
            "input normalisation",
            "ImageNet mean/std",
            AUG + " (Normalize)",
            flag="standardize",
            value="none",
            project="ImageNet mean/std in the input contract, no per-clip standardisation (`--standardize none`)",
        ),
        Setting(
            "temporal consistent augmentation",
            "lambda = 0.1 x U[0, 1) per batch, one random frame mixed into every frame of the anchor",
            TRAIN + " (pos_aug)",
            flag="tca_max",
            value=0.1,
        ),
        Setting(
            "query/key encoders",
            "momentum key encoder 0.999, parameters only (its BatchNorm layers in training mode keep their own "
            "statistics)",
            TRAIN + " (--alpha; moment_update, lines 184-187, and set_bn_train, lines 413-419, at 3f2b782b)",
            flag="momentum_encoder",
            value=0.999,
        ),
        Setting(
            "projection head",
            "pooled features, Linear to 128, L2-normalised",
            "model/i3d.py (with_classifier=False)",
            project="vtdl/model.py: the same",
        ),
        Setting(
            "loss",
            "cross-entropy over [q.k, q.queue, q.n] / 0.07, target 0",
            "NCE/NCEAverage.py (MemoryMoCo), " + TRAIN + " (--nce_t, --softmax)",
            flag="temperature",
            value=0.07,
        ),
        Setting(
            "queue",
            "5000 keys for UCF101, 3569 for HMDB51",
            SCRIPTS + " (--nce_k)",
            flag="queue_size",
            value=None,
            project="`--queue_size` by dataset: 5000 (UCF101), 3569 (HMDB51)",
        ),
        Setting(
            "optimiser",
            "SGD, momentum 0.9, weight decay 1e-4",
            TRAIN + " (--momentum, --weight_decay)",
            flag="weight_decay",
            value=1e-4,
        ),
        Setting("learning rate", "0.003", TRAIN + " (--learning_rate)", flag="lr", value=0.003),
        Setting(
            "schedule",
            "x0.1 at epochs 120, 160, 200",
            TRAIN + " (--lr_decay_epochs)",
            flag="milestones",
            value="120,160,200",
        ),
        Setting(
            "batch", "8 (UCF101); the HMDB51 script uses 16", SCRIPTS + " (--batch_size)", flag="batch_size", value=8
        ),
        Setting("epochs", "240", TRAIN + " (--epochs)", flag="epochs", value=240),
        Setting(
            "the checkpoints the published finetuning starts from",
            "ckpt_epoch_45 (UCF101) and ckpt_epoch_48 (HMDB51), before the first lr decay at 120: the release's "
            "finetuning commands load them (82.3 / 52.9 come from these, not from epoch 240)",
            "readme.md:109 (HMDB51), readme.md:131 (UCF101) at 3f2b782b",
            flag="keep_epochs",
            value=(45, 48),
            project="`--keep_epochs 45,48`: checkpoint_epoch0045.pt and checkpoint_epoch0048.pt are kept; "
            "finetune from them to compare with the published numbers",
        ),
        Setting(
            "precision",
            "fp32 (apex only with --amp, not in the scripts)",
            TRAIN + ", " + SCRIPTS,
            flag="precision",
            value="auto",
            difference="bf16 only where verified against fp32 on the run's device",
        ),
        knn_monitor_setting(TRAIN),
    ],
    presets={
        # scripts/run_matrix.py: a tiny R3D-18 on 32 px clips of frame differences (docs/benchmark.md).
        "demo": {
            "knn_every": 10,
            "arch": "r3d_18",
            "width": 0.125,
            "size": 32,
            "frames": 8,
            "stride": 2,
            "lr": 0.03,
            "batch_size": 16,
            "queue_size": 256,
            "epochs": 20,
            "input_mode": "residual",
            "standardize": "per_clip",
        }
    },
    release="vtdl",
)
