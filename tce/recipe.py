"""TCE's recipe (Knights et al., ICPR 2020), read from the release csiro-robotics/TCE (files below
are relative to that repository)."""

from videossl.recipes import Recipe, Setting, knn_monitor_setting

DEFAULT = "config/default.py"
YAML = "config/pretrain_kinetics400miningr_finetune_UCF101_resnet18.yaml"
TRANSFORMS = "datasets/pretraining/__init__.py"
AUGMENTATION = "datasets/pretraining/augmentation.py"
KINETICS = "datasets/pretraining/kinetics400.py"

RECIPE = Recipe(
    "tce",
    [
        Setting(
            "backbone",
            "2D ResNet-18 (also 34, 50; the trunk 'resnet101' builds a ResNet-50) per frame",
            f"{DEFAULT}:55 (_C.MODEL.TRUNK = 'resnet18'); {YAML}:15 (TRUNK: 'resnet18'); "
            "utils/network_utils.py:3-18 (if trunk == 'resnet18':, backbone = resnet18, backbone = resnet34, "
            "backbone = resnet50, elif trunk == 'resnet101':); network/model.py:22-23 (get_backbone, "
            "nn.AdaptiveAvgPool2d); network/resnet.py:99 (nn.Conv2d, kernel_size=7)",
            flag="arch",
            value="resnet18",
        ),
        Setting(
            "backbone width",
            "1x",
            "utils/network_utils.py:5 (backbone = resnet18); network/resnet.py:96-104 (width=1, self.base = int, "
            "64 * width)",
            flag="width",
            value=1.0,
        ),
        Setting(
            "positive",
            "a frame and the frame FRAME_PADDING later; the release's 0 makes it the same frame",
            f"{DEFAULT}:99 (_C.TRAIN.PRETRAINING.FRAME_PADDING = 0); {YAML}:43 (FRAME_PADDING: 0); "
            f"{KINETICS}:25-32 (anchor_idx = np.random.randint, pair_idx = anchor_idx + self.frame_padding, "
            "pair_idx = anchor_idx - self.frame_padding)",
            flag="frame_gap",
            value=1,
            difference="the next frame, as the paper describes (the authors confirmed 1 is meant)",
        ),
        Setting(
            "crop size",
            "224 x 224 (the frame scaled to 224 x 224; the 224 crop is then the whole frame)",
            f"{DEFAULT}:40-41 (TRANSFORMATIONS.CROP_SIZE, TRANSFORMATIONS.SCALE_SIZE, 224,224); "
            f"{YAML}:5-6 (CROP_SIZE:, SCALE_SIZE:, 224,224); {TRANSFORMS}:26-27 (Scale, size=scale_size, "
            f"RandomCrop, size=crop_size); {AUGMENTATION}:112-113 (if w == tw and h == th:, return imgmap)",
            flag="size",
            value=224,
        ),
        Setting(
            "augmentation",
            "one flip for anchor and positive (p 0.5); per frame: one channel copied into all "
            "three (p 0.5), colour jitter 0.5/0.5/0.5/0.25 in random order; then scale to 224 x 224 by nearest "
            "neighbour",
            f"{TRANSFORMS}:17-27 (RandomHorizontalFlip, consistent=True, RandomGray, consistent=False, p=0.5, "
            "brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25, p=1.0, Scale, size=scale_size); "
            f"{TRANSFORMS}:45 (self.img_transforms, anchor_frame, pair_frame); "
            f"{AUGMENTATION}:236-240 (for i in imgmap:, random.random, < self.p:, self.grayscale); "
            f"{AUGMENTATION}:246-248 (channel = np.random.choice, np.dstack); "
            f"{AUGMENTATION}:269 (consistent=False); {AUGMENTATION}:323 (random.shuffle); "
            f"{AUGMENTATION}:335-339 (for img in imgmap:, transform = self.get_params); "
            f"{AUGMENTATION}:21 (interpolation=Image.NEAREST); {AUGMENTATION}:41-42 (i.resize, self.size, "
            "self.interpolation)",
            project="tce/dataset.py: the same order, the colour on each frame at its own size, then PIL's "
            "nearest-neighbour scale (tests/test_tce.py)",
        ),
        Setting(
            "horizontal flip probability",
            "0.5",
            f"{TRANSFORMS}:18-19 (HORIZONTAL_FLIP == True, RandomHorizontalFlip, consistent=True); "
            f"{AUGMENTATION}:205-210 (self.threshold = 0.5, random.random, < self.threshold:, "
            "Image.FLIP_LEFT_RIGHT)",
            flag="flip_prob",
            value=0.5,
        ),
        Setting(
            "input frames",
            "RGB frames",
            f"{KINETICS}:31-32 (frame{{}}.jpg); {KINETICS}:112-113 (anchor_frame = Image.open, "
            "pair_frame = Image.open); network/resnet.py:96 (in_channel=3)",
            flag="input_mode",
            value="rgb",
        ),
        Setting(
            "input normalisation",
            "ImageNet mean/std",
            f"{DEFAULT}:30-31 (_C.DATASET.PRETRAINING.MEAN = [0.485, 0.456, 0.406], "
            f"_C.DATASET.PRETRAINING.STD = [0.229, 0.224, 0.225]); {TRANSFORMS}:33-37 (ToTensor, Normalize, "
            "mean = cfg.DATASET.PRETRAINING.MEAN, std = cfg.DATASET.PRETRAINING.STD)",
            flag="standardize",
            value="none",
            project="ImageNet mean/std in the input contract, no per-clip standardisation (`--standardize none`)",
        ),
        Setting(
            "embedding head",
            "Linear 128, L2-normalised",
            f"{DEFAULT}:57 (_C.MODEL.PRETRAINING.FC_DIM = 128); {YAML}:17 (FC_DIM: 128); "
            "network/model.py:24-25 (self.fc_contrastive = nn.Linear, backbone_channels, fc_dim, "
            "self.l2norm = Normalise); network/model.py:39-42 (x = self.fc_contrastive, x = self.l2norm); "
            "network/model.py:11-13 (x.pow, x.div)",
            project="tce/model.py: the same",
        ),
        Setting(
            "rotation head",
            "(Linear 200, ReLU, BN) x 2, Linear 4; input: the anchor frame augmented again and "
            "rotated by k x 90 degrees",
            "network/model.py:27-31 (nn.Linear, backbone_channels, 200, nn.BatchNorm1d, num_features = 200, "
            "200,4); network/model.py:43-53 (x = self.fc_rotation_1, x = self.backbone.relu, "
            "x = self.bn_rotation_1, x = self.fc_rotation_3); "
            f"{TRANSFORMS}:48-51 (rotation_gt = np.random.randint, rotation_intermediate = self.img_transforms, "
            "rotation = 90 * rotation_gt); pretrain.py:73 (rotation_feature = model, rotation = True)",
            project="tce/model.py RotationHead, tce/dataset.py: the same",
        ),
        Setting(
            "rotation loss weight",
            "1",
            f"{DEFAULT}:68 (_C.LOSS.PRETRAINING.ROTATION_WEIGHT = 1); {YAML}:23 (ROTATION_WEIGHT: 1); "
            "pretrain.py:79-80 (mul, config.LOSS.PRETRAINING.ROTATION_WEIGHT, total_loss = main_loss + rotation_loss)",
            flag="rotation_weight",
            value=1.0,
        ),
        Setting(
            "loss",
            "CMC's NCE against a memory bank (one slot per video, overwritten by the anchor), temperature "
            "0.07, Z fixed at the first batch",
            f"{DEFAULT}:72 (_C.LOSS.PRETRAINING.NCE.TEMPERATURE = 0.07); {YAML}:26 (TEMPERATURE: 0.07); "
            "loss/NCEAverage.py:84-87 (self.register_buffer, 'params', 'memory_bank', torch.rand, n_data, feat_dim); "
            "loss/NCEAverage.py:90-91 (self.memory_bank.index_copy_); "
            "loss/NCEAverage.py:107-115 (torch.exp, torch.div, if Z_c < 0:, self.params[2] = out_c.mean, "
            "self.memory_bank.size, Z_c); "
            "loss/NCEAverage.py:163-165 (self.update_memorybank, anchor_feature, membank_idx); "
            "loss/NCECriterion.py:21-31 (Pn = 1 / float, log_D1, log_D0); "
            f"{KINETICS}:95-96 (sample.membank_idx = idx); README.md:211 (Contrastive Multiview Coding)",
            flag="temperature",
            value=0.07,
        ),
        Setting(
            "negatives per anchor",
            "8192",
            f"{DEFAULT}:71 (_C.LOSS.PRETRAINING.NCE.NEGATIVES = 8192); {YAML}:25 (NEGATIVES: 8192); "
            "loss/__init__.py:17-23 (NCEAverageKineticsMining, K = cfg.LOSS.PRETRAINING.NCE.NEGATIVES); "
            "loss/NCEAverage.py:126-127 (topk, k=self.K, self.K + 1)",
            flag="bank_negatives",
            value=8192,
        ),
        Setting(
            "negative mining",
            "mask entries with similarity >= a threshold, take the top-K of the rest, fill "
            "uniformly; threshold tl + (th - tl)(1 - exp(tr s / total)), tl -1, th 1, tr 5: below -1 throughout, "
            "so every entry is masked and random negatives ran",
            "pretrain.py:52-54 (tl = config.LOSS.PRETRAINING.MINING.THRESH_LOW, th = "
            "config.LOSS.PRETRAINING.MINING.THRESH_HIGH, tr = config.LOSS.PRETRAINING.MINING.THRESH_RATE); "
            "pretrain.py:66-67 (threshold = tl +, th - tl, 1 - math.exp, tr * step / total_steps); "
            f"{DEFAULT}:78-81 (THRESH_LOW = -1, THRESH_HIGH = 1, THRESH_RATE = 5, MAX_HARD_NEGATIVES_PERCENTAGE = 1); "
            f"{YAML}:29-32 (THRESH_LOW: -1, THRESH_HIGH: 1, THRESH_RATE: 5, MAX_HARD_NEGATIVES_PERCENTAGE: 1); "
            "loss/__init__.py:8-17 (if cfg.LOSS.PRETRAINING.MINING == False:, average = NCEAverageKineticsMining); "
            "loss/NCEAverage.py:122-126 (cosine_mask = cosine_scores >= threshold, cosine_scores[cosine_mask] = -2, "
            "cosine_scores.topk); "
            "loss/NCEAverage.py:134 (row_topk != -2); loss/NCEAverage.py:140-151 (hard_examples == 0, torch.ones, "
            "probs[row_idx]          = 0, torch.multinomial, replacement = True)",
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
            f"{DEFAULT}:93-94 (_C.TRAIN.PRETRAINING.MOMENTUM = 0.9, _C.TRAIN.PRETRAINING.WEIGHT_DECAY = 1e-4); "
            f"{YAML}:39-40 (MOMENTUM: 0.9, WEIGHT_DECAY: 1e-4); utils/optimizer.py:14-19 (torch.optim.SGD, "
            "momentum = momentum, weight_decay = weight_decay)",
            flag="weight_decay",
            value=1e-4,
        ),
        Setting(
            "learning rate",
            "0.03",
            f"{DEFAULT}:88 (_C.TRAIN.PRETRAINING.LEARNING_RATE = 0.03); {YAML}:36 (LEARNING_RATE: 0.03)",
            flag="lr",
            value=0.03,
        ),
        Setting(
            "schedule",
            "x0.1 at epoch 25",
            f"{DEFAULT}:89-90 (_C.TRAIN.PRETRAINING.DECAY_FACTOR = 0.1, _C.TRAIN.PRETRAINING.DECAY_EPOCHS, 25,); "
            f"{YAML}:37-38 (DECAY_FACTOR: 0.1, DECAY_EPOCHS:, 25,); utils/optimizer.py:35-40 (steps = np.sum, "
            "epoch > np.asarray, new_lr = lr *, decay_factor  ** steps); pretrain.py:186-187 (adjust_learning_rate)",
            flag="milestones",
            value="25",
        ),
        Setting(
            "BatchNorm batches",
            "the anchor, pair and rotated frames in three forward passes, each its own BatchNorm batch",
            "pretrain.py:71-73 (inputs['anchor_feature'] = model, inputs['pair_feature'] = model, "
            "rotation_feature = model)",
            project="tce/model.py forward_chunks: the same three passes (tests/test_memory.py)",
        ),
        Setting(
            "batch",
            "100",
            f"{DEFAULT}:96 (_C.TRAIN.PRETRAINING.BATCH_SIZE = 100); {YAML}:41 (BATCH_SIZE: 100); "
            f"{TRANSFORMS}:68-73 (batch_size = cfg.TRAIN.PRETRAINING.BATCH_SIZE, drop_last = True)",
            flag="batch_size",
            value=100,
        ),
        Setting(
            "epochs",
            "50",
            f"{DEFAULT}:97 (_C.TRAIN.PRETRAINING.EPOCHS = 50); {YAML}:42 (EPOCHS: 50); "
            "pretrain.py:186 (for epoch in range, config.TRAIN.PRETRAINING.EPOCHS + 1)",
            flag="epochs",
            value=50,
        ),
        Setting(
            "precision",
            "fp32",
            "pretrain.py:71-85 (rotation = False, main_loss = NCELoss, total_loss = main_loss + rotation_loss, "
            "total_loss.backward, optimizer.step)",
            flag="precision",
            value="auto",
            difference="bf16 only where verified against fp32 on the run's device",
        ),
        knn_monitor_setting(
            "pretrain.py:186-200 (for epoch in range, return_dic = train); "
            "pretrain.py:205-215 (if epoch % config.TRAIN.PRETRAINING.SAVE_FREQ == 0:, torch.save); "
            "README.md:151-158 (Fine-tuning for action recognition, python finetune.py, "
            "TRAIN.FINETUNING.CHECKPOINT)"
        ),
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
    reproduces="ResNet-18 pretrained on Kinetics-400, finetuned on UCF101 split 1 (`finetune/train.py --recipe "
    "tce`); the release names this benchmark but states no accuracy, and the paper's value is not checked here",
    reproduces_source="README.md:10 (Split 1 of the UCF101 action recognition dataset)",
)
