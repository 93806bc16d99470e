"""TCLR's recipe (Dave et al., CVIU 2022), read from the release DAVEISHAN/TCLR (files below are
relative to that repository)."""

from videossl.recipes import Recipe, Setting, knn_monitor_setting

PARAMS = "tclr_pretraining/parameters.py"
TRAIN = "tclr_pretraining/train_gen_all_step.py"
LOADER = "tclr_pretraining/dl_tclr.py"

RECIPE = Recipe(
    "tclr",
    [
        Setting(
            "backbone",
            "R3D-18, layer4 without temporal stride (temporal dilation 2): 16 frames -> 4 steps",
            "tclr_pretraining/r3d.py, tclr_pretraining/model.py",
            flag="arch",
            value="r3d_18",
        ),
        Setting(
            "R(2+1)D-18 variant",
            "torchvision's r2plus1d_18 with layer4[0].conv1[0] replaced by the same full 3x3x3 "
            "convolution (dilation 2 in time, spatial stride 2) and a (1, 2, 2)-strided shortcut; inferred from the "
            "loader that strictly loads the released file (its own definition is not in the repository)",
            "nn_retrieval/model.py (build_rpd_encoder_ret); linear_eval/model.py imports a missing dilated_r2plus1d",
            project="`--arch r2plus1d_18`: the same shapes (test_backbones.py); the released file itself could not "
            "be downloaded here to confirm them",
        ),
        Setting("backbone width", "1x", "tclr_pretraining/r3d.py", flag="width", value=1.0),
        Setting(
            "frames per clip",
            "16 (global: 16 at stride 4 over the 64-frame window; local: 4 x 16 consecutive)",
            PARAMS + " (num_frames, sr_ratio)",
            flag="frames",
            value=16,
        ),
        Setting("local clips per window", "4", TRAIN + " (dense_clip0-3)", flag="num_local", value=4),
        Setting(
            "window sampler",
            "start uniform in [0, N - 64); global clip = every 4th frame of the window",
            LOADER,
            project="tclr_pretraining/sampling.py: the same",
        ),
        Setting("crop size", "112", PARAMS + " (reso_h, reso_w)", flag="size", value=112),
        Setting(
            "augmentation",
            "per clip: square crop U(0.6, 1) x short side, colour ops (contrast p .25, hue p .3, "
            "saturation p .3, brightness p .3, factors 0.75-1.25), greyscale+gamma p .175 or channel zeroed p .125, "
            "erase 9-18 px p .5",
            LOADER,
            project="tclr_pretraining/augmentation.py: the same",
        ),
        Setting("horizontal flip probability", "0.5", LOADER, flag="flip_prob", value=0.5),
        Setting(
            "channel order",
            "BGR (OpenCV frames, not converted)",
            LOADER + '; README ("trained on BGR")',
            flag="channel_order",
            value="bgr",
        ),
        Setting("input frames", "RGB frames (not differences)", LOADER, flag="input_mode", value="rgb"),
        Setting(
            "input normalisation",
            "values in [0, 1], no mean/std",
            LOADER + " (to_tensor)",
            flag="standardize",
            value="none",
        ),
        Setting(
            "projection head",
            "Linear 512-512, BN, ReLU, Linear 512-128 (no bias), BN, L2-normalise",
            "tclr_pretraining/mlp.py",
            project="tclr_pretraining/model.py: the same",
        ),
        Setting("temperature", "0.1", PARAMS, flag="temperature", value=0.1),
        Setting(
            "loss terms",
            "instance global + instance local (56 pairs / 4) + local-local + global-local, plain sum",
            TRAIN + " (loss = loss_ic2 + loss_ic1 + loss_local_local + loss_global_local)",
            project="tclr_pretraining/losses.py: the same (`--loss_weights` empty: every weight 1)",
        ),
        Setting(
            "local-local reduction",
            "NT-Xent of 4 clips per video (mean over 8 anchors), summed over the batch",
            TRAIN + " (for loop over the batch)",
            project="summed over the whole batch; under DDP the local sum x the number of processes, because DDP "
            "averages gradients (test_ddp_losses.py)",
        ),
        Setting("optimiser", "Adam, weight decay 1e-9", TRAIN + ", " + PARAMS, flag="weight_decay", value=1e-9),
        Setting("learning rate", "1e-3", PARAMS + " (learning_rate)", flag="lr", value=1e-3),
        Setting(
            "warm-up",
            "lr factors 0.01, 0.05, 0.1, 0.5, 1 over the first 5 epochs",
            PARAMS + " (warmup_array)",
            flag="warmup",
            value="0.01,0.05,0.1,0.5,1",
        ),
        Setting(
            "plateau",
            "lr / 10 after 9 epochs without a new best training loss",
            PARAMS + " (scheduler_patience)",
            flag="patience",
            value=9,
        ),
        Setting("batch", "40 videos (400 clips)", PARAMS + " (batch_size)", flag="batch_size", value=40),
        Setting(
            "epochs",
            "1000 (the loop's bound; the run is stopped by hand, best.pt kept by training loss)",
            PARAMS + " (num_epochs)",
            flag="epochs",
            value=1000,
        ),
        Setting(
            "precision",
            "fp16 autocast with GradScaler",
            TRAIN + " (autocast, scaler)",
            flag="precision",
            value="auto",
            difference="bf16 or fp16 only where verified against fp32 on the run's device",
        ),
        knn_monitor_setting(TRAIN),
    ],
    presets={
        # make demo: a tiny R3D-18 on 32 px clips of frame differences, 8-frame clips and 2 local clips so
        # that the 16-frame window fits the 32-frame synthetic videos; no flips (mirror-image classes).
        "demo": {
            "knn_every": 5,
            "width": 0.125,
            "size": 32,
            "frames": 8,
            "num_local": 2,
            "input_mode": "residual",
            "standardize": "per_clip",
            "batch_size": 8,
            "epochs": 30,
            "flip_prob": 0.0,
        }
    },
    release="tclr",
)
