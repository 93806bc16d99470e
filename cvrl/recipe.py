"""CVRL's recipe (Qian et al., CVPR 2021), read from the release in tensorflow/models
``official/projects/video_ssl`` (files below are relative to that folder)."""

from videossl.recipes import Recipe, Setting, knn_monitor_setting

PRETRAIN_YAML = "configs/experiments/cvrl_pretrain_k600_200ep.yaml"
CONFIG = "configs/video_ssl.py"
INPUT = "dataloaders/video_ssl_input.py"
OPS = "ops/video_ssl_preprocess_ops.py"
MODEL = "modeling/video_ssl_model.py"
LOSSES = "losses/losses.py"
# Model Garden files shared by every vision project
KINETICS = "garden:official/vision/configs/video_classification.py"
RESNET_3D = "garden:official/vision/modeling/backbones/resnet_3d.py"
OPS_3D = "garden:official/vision/ops/preprocess_ops_3d.py"
LR_SCHEDULE = "garden:official/modeling/optimization/lr_schedule.py"

# The learning rate is given for this global batch; other batches scale it linearly.
REFERENCE_BATCH = 1024

RECIPE = Recipe(
    "cvrl",
    [
        Setting(
            "backbone",
            "ResNet3D-50 slow-only (stem 5x7x7 temporal stride 2; temporal kernels 3 in res4-res5 only)",
            f"{PRETRAIN_YAML}:14-26 (temporal_kernel_sizes, - 1, temporal_strides: 1); "
            f"{PRETRAIN_YAML}:27-41 (- 3, temporal_strides: 1); "
            f"{PRETRAIN_YAML}:42-45 (model_id: 50, stem_conv_temporal_kernel_size: 5, "
            "stem_conv_temporal_stride: 2, stem_pool_temporal_stride: 1); "
            f"{RESNET_3D}:222-225 (filters=64, kernel_size=[self._stem_conv_temporal_kernel_size, "
            "strides=[self._stem_conv_temporal_stride)",
            flag="arch",
            value="r3d_50",
        ),
        Setting(
            "backbone padding and BatchNorm",
            "TensorFlow 'SAME' padding (at stride 2 on an even size the extra "
            "zero goes after); BatchNorm epsilon 1e-5, Keras momentum 0.9",
            f"{RESNET_3D}:222-227 (layers.Conv3D, padding='same'); "
            f"{RESNET_3D}:180-183 (layers.MaxPool3D, padding='same'); "
            "garden:official/vision/modeling/layers/nn_blocks_3d.py:180-184 (self._spatial_conv, padding='same'); "
            f"{KINETICS}:300-310 (video_classification_kinetics600, norm_momentum=0.9, norm_epsilon=1e-5); "
            f"{CONFIG}:115-117 (video_classification_kinetics600, task.override)",
            project="`r3d_50` pads as TensorFlow does (Conv3dSame, MaxPool3dSame); PyTorch's BatchNorm3d defaults "
            "are the same statistics; tests/test_cvrl_tensorflow.py (pytest -m slow) compares with Model Garden",
        ),
        Setting("frames per clip", "16", f"{PRETRAIN_YAML}:48-49 (feature_shape, - 16)", flag="frames", value=16),
        Setting("temporal stride", "2", f"{PRETRAIN_YAML}:53 (temporal_stride: 2)", flag="stride", value=2),
        Setting("crop size", "224", f"{PRETRAIN_YAML}:48-51 (feature_shape, - 224)", flag="size", value=224),
        Setting(
            "clip pair sampler",
            "two clips; start gap drawn by the inverse CDF of density (1 - gap/D), D = N - 30 "
            "for 16 frames at stride 2; first start uniform in [0, D - gap); order shuffled; a video of at most 30 "
            "frames gets two independent starts and loops",
            f"{INPUT}:77-80 (sample_ssl_sequence); "
            f"{OPS}:336-348 (tf.greater, lambda: sequence_length, def cdf, power=1.0); "
            f"{OPS}:350-363 (u = tf.random.uniform, tf.while_loop, delta = tf.cast); "
            f"{OPS}:367-375 (choice_1 = tf.cond, max_offset - delta); "
            f"{OPS}:376-385 (choice_2 = tf.cond, lambda: choice_1 + delta, tf.random.shuffle); "
            f"{OPS}:303-307 (Repeats sequence until num_steps are available in total, tf.tile)",
            project="cvrl/sampling.py: the same density and ranges",
        ),
        Setting(
            "augmentation",
            "per clip: random resized crop (area 0.3-1, aspect 0.5-2), flip p 0.5, colour jitter "
            "p 0.8 (brightness x[0.2, 1.8], contrast, saturation 0.8, hue 0.2, random order, clipped to [0, 1] after "
            "each, the contrast mean over the whole clip), greyscale p 0.2, blur sigma 0.1-2 with kernel height/10 "
            "(clip 1 always, clip 2 p 0.1), solarise clip 2 p 0.2",
            f"{INPUT}:101-108 (random_crop_resize, 0.5, 0.3, random_flip_left_right); "
            f"{INPUT}:134-144 (random_color_jitter_3d, random_blur, 1.0, 0.1, random_solarization); "
            f"{OPS}:194-205 (p=0.8, to_grayscale, p=0.2, num_frames*width); "
            f"{OPS}:78-81 (brightness = 0.8 * strength, saturation = 0.8 * strength, hue = 0.2 * strength); "
            f"{OPS}:32-36 (1.0 - max_delta, 1.0 + max_delta); "
            f"{OPS}:177-180 (tf.random.shuffle, tf.clip_by_value); "
            f"{OPS}:260-265 (0.1, 2.0, height//10); "
            f"{OPS}:40-45 (p=0.2, tf.greater_equal)",
            project="cvrl/augmentation.py: the same operations and probabilities",
        ),
        Setting(
            "horizontal flip probability",
            "0.5",
            f"{INPUT}:105-108 (random_flip_left_right); {OPS_3D}:360 (probability of 50%); "
            f"{OPS_3D}:370-379 (maxval=2, tf.equal, flip_left_right)",
            flag="flip_prob",
            value=0.5,
        ),
        Setting(
            "backbone width",
            "1x",
            f"README.md:48-50 (R3D-50, 1x, r3d_1x_k600_800ep); {RESNET_3D}:29-34 (RESNET_SPECS, 'bottleneck3d')",
            flag="width",
            value=1.0,
        ),
        Setting(
            "input frames",
            "RGB frames (not differences)",
            f"{INPUT}:96-97 (decode_jpeg); README.md:37 (unlabeled RGB videos)",
            flag="input_mode",
            value="rgb",
        ),
        Setting(
            "input normalisation",
            "values in [0, 1], no mean/std",
            f"{INPUT}:121-127 (normalize_image, zero_centering_image); "
            f"{KINETICS}:53 (zero_centering_image: bool = False); {OPS_3D}:397-401 (frames / 255.0)",
            flag="standardize",
            value="none",
        ),
        Setting(
            "projection head",
            "3 x (Dense 2048, BN, ReLU), Dense 128; the loss L2-normalises it",
            f"{MODEL}:114-128 (Dense, BatchNormalization, get_activation, projection_dim); "
            f"{CONFIG}:43-45 (hidden_dim: int = 2048, hidden_layer_num: int = 3, projection_dim: int = 128); "
            "garden:official/vision/configs/common.py:114-115 (activation: str = 'relu'); "
            f"{CONFIG}:52 (normalize_hidden: bool = True); {LOSSES}:47-49 (tf.math.l2_normalize)",
            flag="head_hidden",
            value=2048,
        ),
        Setting(
            "head BatchNorm",
            "Keras momentum 0.997, epsilon 1e-5",
            f"{CONFIG}:46-47 (norm_momentum=0.997, norm_epsilon=1.0e-05); "
            f"{MODEL}:117-124 (SyncBatchNormalization, BatchNormalization)",
            project="PyTorch's BatchNorm1d (momentum 0.1, epsilon 1e-5)",
            difference="only the running statistics differ, and the head is never run in eval mode",
        ),
        Setting(
            "loss",
            "NT-Xent, temperature 0.1, negatives from every replica (2N - 2 per anchor)",
            f"{LOSSES}:59-67 (tpu_cross_replica_concat, enlarged_batch_size); "
            f"{LOSSES}:69-80 (large_num, / temperature, softmax_cross_entropy_with_logits); "
            f"{CONFIG}:53 (temperature: float = 0.1)",
            flag="temperature",
            value=0.1,
        ),
        Setting(
            "loss reduction",
            "loss_a + loss_b, each the mean over its N anchors",
            f"{LOSSES}:76-80 (tf.reduce_mean, loss = loss_a + loss_b)",
            project="cvrl/losses.py: 2 x the NT-Xent mean over 2N anchors (equal)",
        ),
        Setting(
            "optimiser",
            "SGD, momentum 0.9, no Nesterov",
            f"{PRETRAIN_YAML}:65-67 (sgd:, nesterov: false); {KINETICS}:184-190 ('type': 'sgd', 'momentum': 0.9)",
            flag="optimizer",
            value="sgd",
        ),
        Setting(
            "gradient across replicas",
            "the loss is not divided by the number of replicas R, while the optimizer sums the replicas' gradients "
            "(Model Garden's classification task divides for that reason): a step on R replicas takes R x the "
            "gradient of the mean loss, the l2 term included, which for SGD with momentum equals R x the learning "
            "rate. The release's configs do not give R (a TPU run's replica count is set at launch)",
            "tasks/pretrain.py:134 (num_replicas = tf.distribute.get_strategy); "
            "tasks/pretrain.py:148-149 (loss = all_losses, scaled_loss = loss); "
            "tasks/pretrain.py:158 (grads = tape.gradient); "
            "garden:official/vision/tasks/video_classification.py:296-298 (allreduce performs sum, "
            "scaled_loss = loss / num_replicas)",
            project="the gradient of the mean loss on any number of processes (as R = 1); a published run on R "
            "replicas is `--lr` 0.32 x R (exact for SGD with momentum)",
            difference="the replica count of the published runs is not in the release, so the gradient does not "
            "depend on the number of processes and the --lr equivalent is named instead",
        ),
        Setting(
            "learning rate",
            f"0.32 at global batch {REFERENCE_BATCH} (scaled as 0.32 x batch / {REFERENCE_BATCH})",
            f"{PRETRAIN_YAML}:61-63 (cosine:, initial_learning_rate: 0.32); "
            f"{PRETRAIN_YAML}:54 (global_batch_size: 1024)",
            flag="lr",
            value=0.32,
        ),
        Setting(
            "schedule",
            "cosine to 0 over all 71488 steps from step 0; linear warm-up from 0 over the first 1787 steps (5 of 200 "
            "epochs) to the cosine's value at step 1787 (0.9985 of the peak), where it hands over",
            f"{PRETRAIN_YAML}:61-71 (decay_steps: 71488, warmup_steps: 1787, train_steps: 71488); "
            f"{KINETICS}:198-203 ('warmup_learning_rate': 0); "
            f"{LR_SCHEDULE}:88-89 (CosineDecayWithOffset, tf.keras.experimental.CosineDecay); "
            "garden:official/modeling/optimization/configs/learning_rate_config.py:133-137 "
            "(alpha: float = 0.0, offset: int = 0); "
            f"{LR_SCHEDULE}:124-126 (self._final_warmup_lr = after_warmup_lr_sched); "
            f"{LR_SCHEDULE}:134-146 (linear_warmup_lr, global_step < self._warmup_steps, after_warmup_lr)",
            flag="warmup_epochs",
            value=5,
        ),
        Setting(
            "weight decay",
            "1e-6 as l2_loss = sum(w^2)/2 on kernels only (not BN, not biases)",
            f"{PRETRAIN_YAML}:57-58 (l2_weight_decay: 0.000001); "
            f"{LOSSES}:82-88 (tf.nn.l2_loss, 'kernel' in v.name, total_loss); "
            "tasks/pretrain.py:88-91 (self.task_config.losses.l2_weight_decay); "
            "tasks/pretrain.py:44-48 (factory_3d.build_model, model_config=self.task_config.model)",
            flag="weight_decay",
            value=1e-6,
        ),
        Setting(
            "global batch",
            str(REFERENCE_BATCH),
            f"{PRETRAIN_YAML}:54 (global_batch_size: 1024)",
            flag="batch_size",
            value=REFERENCE_BATCH,
        ),
        Setting(
            "epochs",
            "200 (71488 steps on Kinetics-600); 800 for the longer release",
            f"{PRETRAIN_YAML}:71 (train_steps: 71488); {KINETICS}:89 (num_examples=366016); "
            "README.md:49-50 (800, r3d_1x_k600_800ep)",
            flag="epochs",
            value=200,
        ),
        Setting(
            "BatchNorm across replicas",
            "SyncBN on",
            f"{PRETRAIN_YAML}:7-10 (norm_activation:, hidden_norm_activation:, use_sync_bn: true)",
            flag="sync_bn",
            value=True,
        ),
        Setting(
            "precision",
            "bfloat16 on TPU",
            f"{PRETRAIN_YAML}:1-3 (distribution_strategy: 'tpu', mixed_precision_dtype: 'bfloat16')",
            flag="precision",
            value="auto",
            difference="bf16 is used only where it is verified against fp32 on the run's device",
        ),
        knn_monitor_setting("tasks/pretrain.py:171-182 (def validation_step, raise NotImplementedError)"),
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
    reproduces="R3D-50 pretrained 200 epochs on Kinetics-400 (`--dataset kinetics`), linear evaluation on "
    "Kinetics-400: top-1 63.8 (`linear_eval/train.py --linear --protocol paper --recipe linear_cvrl`); the release's "
    "config is the Kinetics-600 one, whose 200-epoch number is not in its table",
    reproduces_source="README.md:45-48 (K400 Linear Eval., Kinetics-400, 200, 63.8%)",
)
