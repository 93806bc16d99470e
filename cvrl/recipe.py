"""CVRL's recipe (Qian et al., CVPR 2021), read from the release in tensorflow/models
``official/projects/video_ssl`` (files below are relative to that folder)."""

from videossl.recipes import Recipe, Setting, knn_monitor_setting

PRETRAIN_YAML = "configs/experiments/cvrl_pretrain_k600_200ep.yaml"

# The learning rate is given for this global batch; other batches scale it linearly.
REFERENCE_BATCH = 1024

RECIPE = Recipe(
    "cvrl",
    [
        Setting(
            "backbone",
            "ResNet3D-50 slow-only (stem 5x7x7 temporal stride 2; temporal kernels 3 in res4-res5 only)",
            PRETRAIN_YAML + " (backbone.resnet_3d)",
            flag="arch",
            value="r3d_50",
        ),
        Setting(
            "backbone padding and BatchNorm",
            "TensorFlow 'SAME' padding (at stride 2 on an even size the extra "
            "zero goes after); BatchNorm epsilon 1e-5, Keras momentum 0.9",
            "official/vision/modeling/backbones/resnet_3d.py, layers/nn_blocks_3d.py; official/vision/configs/"
            "video_classification.py (the kinetics experiments' norm_activation)",
            project="`r3d_50` pads as TensorFlow does (Conv3dSame, MaxPool3dSame); PyTorch's BatchNorm3d defaults "
            "are the same statistics; tests/test_cvrl_tensorflow.py (pytest -m slow) compares with Model Garden",
        ),
        Setting("frames per clip", "16", PRETRAIN_YAML + " (train_data.feature_shape)", flag="frames", value=16),
        Setting("temporal stride", "2", PRETRAIN_YAML + " (train_data.temporal_stride)", flag="stride", value=2),
        Setting("crop size", "224", PRETRAIN_YAML + " (train_data.feature_shape)", flag="size", value=224),
        Setting(
            "clip pair sampler",
            "two clips; start gap drawn by the inverse CDF of density (1 - gap/D), D = N - 30 "
            "for 16 frames at stride 2; first start uniform in [0, D - gap); order shuffled; a video of at most 30 "
            "frames gets two independent starts and loops",
            "ops/video_ssl_preprocess_ops.py (sample_ssl_sequence)",
            project="cvrl/sampling.py: the same density and ranges",
        ),
        Setting(
            "augmentation",
            "per clip: random resized crop (area 0.3-1, aspect 0.5-2), flip p 0.5, colour jitter "
            "p 0.8 (brightness x[0.2, 1.8], contrast, saturation 0.8, hue 0.2, random order, clipped to [0, 1] after "
            "each, the contrast mean over the whole clip), greyscale p 0.2, blur sigma 0.1-2 with kernel height/10 "
            "(clip 1 always, clip 2 p 0.1), solarise clip 2 p 0.2",
            "ops/video_ssl_preprocess_ops.py (random_color_jitter_3d, random_blur_3d, random_solarization), "
            "dataloaders/video_ssl_input.py",
            project="cvrl/augmentation.py: the same operations and probabilities",
        ),
        Setting("horizontal flip probability", "0.5", "ops/video_ssl_preprocess_ops.py", flag="flip_prob", value=0.5),
        Setting("backbone width", "1x", PRETRAIN_YAML, flag="width", value=1.0),
        Setting(
            "input frames",
            "RGB frames (not differences)",
            "dataloaders/video_ssl_input.py",
            flag="input_mode",
            value="rgb",
        ),
        Setting(
            "input normalisation",
            "values in [0, 1], no mean/std",
            "dataloaders/video_ssl_input.py",
            flag="standardize",
            value="none",
        ),
        Setting(
            "projection head",
            "3 x (Dense 2048, BN, ReLU), Dense 128; the loss L2-normalises it",
            "modeling/video_ssl_model.py; configs/video_ssl.py (hidden_dim 2048, hidden_layer_num 3, projection_dim "
            "128, SSLLosses.normalize_hidden)",
            flag="head_hidden",
            value=2048,
        ),
        Setting(
            "head BatchNorm",
            "Keras momentum 0.997, epsilon 1e-5",
            "configs/video_ssl.py (hidden_norm_activation)",
            project="PyTorch's BatchNorm1d (momentum 0.1, epsilon 1e-5)",
            difference="only the running statistics differ, and the head is never run in eval mode",
        ),
        Setting(
            "loss",
            "NT-Xent, temperature 0.1, negatives from every replica (2N - 2 per anchor)",
            "losses/losses.py (contrastive_loss)",
            flag="temperature",
            value=0.1,
        ),
        Setting(
            "loss reduction",
            "loss_a + loss_b, each the mean over its N anchors",
            "losses/losses.py",
            project="cvrl/losses.py: 2 x the NT-Xent mean over 2N anchors (equal)",
        ),
        Setting(
            "optimiser",
            "SGD, momentum 0.9, no Nesterov",
            PRETRAIN_YAML + " (optimizer.sgd)",
            flag="optimizer",
            value="sgd",
        ),
        Setting(
            "learning rate",
            f"0.32 at global batch {REFERENCE_BATCH} (scaled as 0.32 x batch / {REFERENCE_BATCH})",
            PRETRAIN_YAML + " (learning_rate.cosine.initial_learning_rate, global_batch_size)",
            flag="lr",
            value=0.32,
        ),
        Setting(
            "schedule",
            "cosine to 0 over all 71488 steps from step 0; linear warm-up from 0 over the first 1787 steps (5 of 200 "
            "epochs) to the cosine's value at step 1787 (0.9985 of the peak), where it hands over",
            PRETRAIN_YAML + " (warmup.linear.warmup_steps, decay_steps); Model Garden "
            "official/modeling/optimization/lr_schedule.py LinearWarmup, CosineDecayWithOffset (offset 0) at 00b830c7",
            flag="warmup_epochs",
            value=5,
        ),
        Setting(
            "weight decay",
            "1e-6 as l2_loss = sum(w^2)/2 on kernels only (not BN, not biases)",
            PRETRAIN_YAML + " (losses.l2_weight_decay); tasks/pretrain.py",
            flag="weight_decay",
            value=1e-6,
        ),
        Setting(
            "global batch",
            str(REFERENCE_BATCH),
            PRETRAIN_YAML + " (train_data.global_batch_size)",
            flag="batch_size",
            value=REFERENCE_BATCH,
        ),
        Setting(
            "epochs",
            "200 (71488 steps on Kinetics-600); 800 for the longer release",
            PRETRAIN_YAML,
            flag="epochs",
            value=200,
        ),
        Setting(
            "BatchNorm across replicas",
            "SyncBN on",
            PRETRAIN_YAML + " (norm_activation.use_sync_bn)",
            flag="sync_bn",
            value=True,
        ),
        Setting(
            "precision",
            "bfloat16 on TPU",
            PRETRAIN_YAML + " (runtime.mixed_precision_dtype)",
            flag="precision",
            value="auto",
            difference="bf16 is used only where it is verified against fp32 on the run's device",
        ),
        knn_monitor_setting("tasks/pretrain.py"),
    ],
    presets={
        # make demo / scripts/run_matrix.py: a tiny R3D-18 on 32 px clips of frame differences (docs/benchmark.md).
        # lr 0.64 x 16 / 1024 = 0.01 with the summed loss: the step size of the earlier demo recipe
        # (0.32 x 16 / 256 with half the loss).
        "demo": {
            "knn_every": 15,
            "arch": "r3d_18",
            "size": 32,
            "frames": 8,
            "head_hidden": 256,
            "lr": 0.64,
            "batch_size": 16,
            "epochs": 60,
            "flip_prob": 0.0,
            "width": 0.125,
            "input_mode": "residual",
            "standardize": "per_clip",
        }
    },
    release="cvrl",
)
