"""VTDL's recipe (Wang et al., 2020), read from the release
FingerRec/Self-Supervised-Temporal-Discriminative-Representation-Learning-for-Video-Action-Recognition
(files below are relative to that repository's root, lines at the commit pinned in videossl/recipes.py)."""

from videossl.recipes import Recipe, Setting, knn_monitor_setting

TRAIN = "src/train_temporal_dis.py"
DATA = "src/data/dataset.py"
AUG = "src/data/config.py"
TRANSFORMS = "src/TC/video_transformations/video_transform_PIL_or_np.py"
I3D = "src/model/i3d.py"
NCE = "src/NCE/NCEAverage.py"
UCF101 = "src/scripts/TemporalDis/ucf101.sh"
HMDB51 = "src/scripts/TemporalDis/hmdb51.sh"

RECIPE = Recipe(
    "vtdl",
    [
        Setting(
            "backbone",
            "I3D (also R3D-18 of 3D-ResNets-PyTorch, R(2+1)D)",
            f"{TRAIN}:102 (--arch, default='i3d', 'r3d', 'r2p1d'); "
            f"{TRAIN}:298-307 (model = I3D, model = R2Plus1DNet, model = resnet18); "
            "src/model/r3d.py:250-253 (def resnet18, ResNet, BasicBlock, [2, 2, 2, 2]); "
            "src/scripts/TemporalDis/ucf101_r3d.sh:2 (--arch r3d); "
            "src/scripts/TemporalDis/ucf101_r2p1d.sh:2 (--arch r2p1d)",
            flag="arch",
            value="i3d",
        ),
        Setting(
            "backbone width",
            "1x",
            f"{I3D}:223-230 (out_channels=64, self.conv3d_1a_7x7); "
            f"{I3D}:267-268 (self.mixed_5c = Mixed, 832, [384, 192, 384, 48, 128, 128]); "
            "readme.md:64-69 (#logits_channel, | I3D | 1024 |)",
            flag="width",
            value=1.0,
        ),
        Setting(
            "I3D padding and names",
            "'SAME' as k - s zeros per dimension, the odd one after; max-pooling in ceil "
            "mode; modules conv3d_1a_7x7 ... mixed_5c with conv3d/batch3d units",
            f"{I3D}:49-66 (def get_padding_shape, pad_along = max, filter_dim - stride_val, "
            "pad_top = pad_along // 2, pad_bottom = pad_along - pad_top); "
            f"{I3D}:103-106 (self.pad = torch.nn.ConstantPad3d, padding_shape, 0, self.conv3d = torch.nn.Conv3d); "
            f"{I3D}:132-133 (self.batch3d = torch.nn.BatchNorm3d); "
            f"{I3D}:149-156 (class MaxPool3dTFPadding, torch.nn.ConstantPad3d, ceil_mode=True); "
            f"{I3D}:230 (self.conv3d_1a_7x7 = conv3d_1a_7x7); "
            f"{I3D}:268 (self.mixed_5c = Mixed)",
            project="`i3d` pads and names its modules so (the release loads as it is; tests/test_releases.py); "
            "the R3D release is `--arch r3d_18_hara` (model/r3d.py), not torchvision's r3d_18",
        ),
        Setting(
            "frames per clip",
            "16",
            f"{TRAIN}:284 (args.data_length = 16); {DATA}:95 (def get, new_length=16)",
            flag="frames",
            value=16,
        ),
        Setting(
            "temporal stride",
            "4",
            f"{TRAIN}:285 (args.stride = 4); src/data/dataloader.py:13-14 (stride=args.stride); "
            f"{DATA}:102-103 (p += self.stride)",
            flag="stride",
            value=4,
        ),
        Setting(
            "anchor and temporal negative",
            "both start uniformly in [0, max(N - 128, 0)]; a negative less than 2 "
            "frames from the anchor moves N // 3 later (mod N); the positive is the anchor's frames",
            f"{DATA}:71-78 (def _sample_indices, new_length=32, random.randint, "
            "record.num_frames - new_length * self.stride, 0); "
            f"{DATA}:234-241 (segment_indices = self._sample_indices, thresh = 2); "
            f"{DATA}:253-263 (negative_segment_indices = self._sample_indices, "
            "negative_segment_indices - segment_indices, < thresh, "
            "negative_segment_indices + record.num_frames // 3, % record.num_frames, "
            "anchor_data, label = self.get, postive_data, label = self.get, negative_data, label = self.get)",
            project="vtdl/sampling.py: the same",
        ),
        Setting(
            "crop size",
            "224 (resize short side 256, random crop 224)",
            f"{TRAIN}:286 (args.spatial_size = 224); {AUG}:28-32 (resize_size = 256); "
            f"{AUG}:36-37 (video_transform.Resize, resize_size, video_transform.RandomCrop, args.spatial_size); "
            "src/TC/video_transformations/functional.py:67-74 (def get_resize_sizes, ow = size, oh = size)",
            flag="size",
            value=224,
        ),
        Setting(
            "augmentation",
            "rotation +-10 deg, resize 256, random crop 224, colour jitter (0.5, 0.5, 0.25, 0.5) "
            "of which one operation takes effect (each is applied to the original frame, the last one kept)",
            f"{AUG}:33-38 (train_transforms = transforms.Compose, video_transform.RandomRotation, 10, "
            "video_transform.Resize, video_transform.RandomCrop, video_transform.ColorJitter, 0.5, 0.5, 0.25, 0.5); "
            f"{TRANSFORMS}:206-211 (-degrees, degrees); "
            f"{TRANSFORMS}:227 (angle = random.uniform); "
            f"{TRANSFORMS}:296 (brightness=0, contrast=0, saturation=0, hue=0); "
            f"{TRANSFORMS}:351-358 (random.shuffle, for img in clip, for func in img_transforms, "
            "jittered_img = func, jittered_clip.append)",
            project="vtdl/augmentation.py: the same, one jitter operation per clip",
        ),
        Setting(
            "horizontal flip probability",
            "0 (RandomHorizontalFlip commented out)",
            f"{AUG}:33-43 (train_transforms = transforms.Compose, # videotransforms.RandomHorizontalFlip)",
            flag="flip_prob",
            value=0.0,
        ),
        Setting(
            "input frames",
            "RGB frames (not differences)",
            f"{TRAIN}:288 (args.mode = 'rgb'); {DATA}:47-48 (self.modality == 'rgb', .convert); "
            f"{TRAIN}:475-480 (feat_q, cls_q, mix_q = model, feat_k, cls_k, mix_k = model_ema, "
            "feat_n, cls_n, mix_n = model)",
            flag="input_mode",
            value="rgb",
        ),
        Setting(
            "input normalisation",
            "ImageNet mean/std",
            f"{AUG}:39-40 (ClipToTensor, channel_nb=3, video_transform.Normalize, "
            "mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]); "
            "src/TC/video_transformations/volume_transforms.py:19 (div_255=True); "
            "src/TC/video_transformations/volume_transforms.py:63-64 (tensor_clip = tensor_clip.div)",
            flag="standardize",
            value="none",
            project="ImageNet mean/std in the input contract, no per-clip standardisation (`--standardize none`)",
        ),
        Setting(
            "temporal consistent augmentation",
            "lambda = 0.1 x U[0, 1) per batch, one random frame mixed into every frame of the anchor",
            f"{TRAIN}:373 (pos_aug = GenPositive); {TRAIN}:450 (anchor = pos_aug); "
            "src/TC/gen_positive.py:9 (self.iv_mixup = SpatialMixup, 0.1, trace=False, version=2); "
            "src/TC/gen_positive.py:25 (x = self.intra_video_mixup); "
            "src/TC/basic_augmentation/mixup_methods.py:90-103 (elif self.version == 2, "
            "loss_prob = random.random, * self.alpha, img_index = random.randint, for j in range)",
            flag="tca_max",
            value=0.1,
        ),
        Setting(
            "query/key encoders",
            "momentum key encoder 0.999, parameters only (its BatchNorm layers in training mode keep their own "
            "statistics)",
            f"{TRAIN}:112 (--alpha, default=0.999); "
            f"{TRAIN}:184-187 (def moment_update, model.parameters, model_ema.parameters, p2.data.mul_); "
            f"{TRAIN}:413-419 (model_ema.eval, def set_bn_train, m.train, model_ema.apply); "
            f"{TRAIN}:508 (moment_update, opt.alpha)",
            flag="momentum_encoder",
            value=0.999,
        ),
        Setting(
            "projection head",
            "pooled features, Linear to 128, L2-normalised",
            f"{TRAIN}:299 (with_classifier=False); "
            f"{I3D}:276-288 (self.id_head = nn.Sequential, torch.nn.AdaptiveAvgPool3d, torch.nn.Linear, 1024, 128, "
            "Normalize); "
            f"{I3D}:36-38 (norm = x.pow, x.div); {I3D}:343-344 (id_out = self.id_head)",
            project="vtdl/model.py: the same",
        ),
        Setting(
            "loss",
            "cross-entropy over [q.k, q.queue, q.n] / 0.07, target 0",
            f"{NCE}:181-188 (l_pos = torch.bmm, l_neg = torch.mm); "
            f"{NCE}:192-202 (l_neg_2 = torch.bmm, l_pos, l_neg, l_neg_2, out = torch.div, self.T); "
            "src/NCE/NCECriterion.py:39-45 (nn.CrossEntropyLoss, label = torch.zeros); "
            f"{TRAIN}:105-107 (--softmax, --nce_t, default=0.07); "
            f"{TRAIN}:317-319 (MemoryMoCo, args.nce_t, NCESoftmaxLoss, if args.softmax); "
            f"{UCF101}:2 (--softmax); {HMDB51}:3 (--softmax)",
            flag="temperature",
            value=0.07,
        ),
        Setting(
            "queue",
            "5000 keys for UCF101, 3569 for HMDB51",
            f"{UCF101}:2 (--nce_k 5000); {HMDB51}:3 (--nce_k 3569); {TRAIN}:317 (args.nce_k); "
            f"{NCE}:222-228 (self.memory.index_copy_, self.queueSize)",
            flag="queue_size",
            value=None,
            project="`--queue_size` by dataset: 5000 (UCF101), 3569 (HMDB51)",
        ),
        Setting(
            "optimiser",
            "SGD, momentum 0.9, weight decay 1e-4",
            f"{TRAIN}:79-80 (--weight_decay, default=1e-4, --momentum, default=0.9); "
            f"{TRAIN}:327-330 (torch.optim.SGD, momentum=args.momentum, weight_decay=args.weight_decay)",
            flag="weight_decay",
            value=1e-4,
        ),
        Setting(
            "learning rate",
            "0.003",
            f"{TRAIN}:74 (--learning_rate, default=0.003); {TRAIN}:327-328 (lr=args.learning_rate)",
            flag="lr",
            value=0.003,
        ),
        Setting(
            "schedule",
            "x0.1 at epochs 120, 160, 200",
            f"{TRAIN}:75-76 (--lr_decay_epochs, default='120,160,200', --lr_decay_rate, default=0.1); "
            f"{TRAIN}:54-58 (epoch > np.asarray, new_lr = opt.learning_rate, opt.lr_decay_rate ** steps)",
            flag="milestones",
            value="120,160,200",
        ),
        Setting(
            "batch",
            "8 (UCF101); the HMDB51 script uses 16",
            f"{UCF101}:2 (--batch_size 8); {HMDB51}:3 (--batch_size 16); {TRAIN}:69 (--batch_size)",
            flag="batch_size",
            value=8,
        ),
        Setting(
            "epochs",
            "240",
            f"{TRAIN}:71 (--epochs, default=240); {TRAIN}:377 (for epoch in range, args.epochs + 1)",
            flag="epochs",
            value=240,
        ),
        Setting(
            "the checkpoints the published finetuning starts from",
            "ckpt_epoch_45 (UCF101) and ckpt_epoch_48 (HMDB51), before the first lr decay at 120: the release's "
            "finetuning commands load them (82.3 / 52.9 come from these, not from epoch 240)",
            "readme.md:96-109 (--dataset hmdb51, ckpt_epoch_48.pth); "
            "readme.md:118-131 (--dataset ucf101, ckpt_epoch_45.pth); "
            "readme.md:140-145 (UCF101, HMDB51, + TCA | 82.3 |52.9); "
            f"{TRAIN}:75 (default='120,160,200')",
            flag="keep_epochs",
            value=(45, 48),
            project="`--keep_epochs 45,48`: checkpoint_epoch0045.pt and checkpoint_epoch0048.pt are kept; "
            "finetune from them to compare with the published numbers",
        ),
        Setting(
            "precision",
            "fp32 (apex only with --amp, not in the scripts)",
            f"{TRAIN}:97 (--amp, action='store_true'); {TRAIN}:334-335 (if args.amp:, amp.initialize); "
            f"{UCF101}:2 (--softmax --moco); {HMDB51}:2-6 (--softmax --moco)",
            flag="precision",
            value="auto",
            difference="bf16 only where verified against fp32 on the run's device",
        ),
        knn_monitor_setting(f"{TRAIN}:377-386 (for epoch in range, loss, prob = train_moco, saving)"),
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
    reproduces="I3D pretrained and finetuned on the same set (the full method, the '+ TCA' row): finetuning top-1 "
    "82.3 on UCF101 and 52.9 on HMDB51 (`finetune/train.py --recipe vtdl` from the checkpoint `--keep_epochs` "
    "keeps)",
    reproduces_source="readme.md:138-145 (same experiment setting, UCF101, HMDB51, + TCA, 82.3, 52.9)",
)
