"""The published evaluation protocols against this project's, element by element (the evaluation
section of docs/recipes.md). Each protocol is selected by name: ``--protocol tclr|coclr`` in
nn_retrieval, ``--recipe linear_tclr|linear_cvrl`` in linear_eval, ``--recipe vtdl`` in finetune; the project's own
faster variants keep their own names (``pooled``, the ``cached`` linear probe, ``--recipe linear``)."""

from videossl.recipes import Recipe, Setting

RET_LOADER = "tclr:nn_retrieval/dl_ret.py"
RET_MAIN = "tclr:nn_retrieval/complete_retrieval.py"
RET_PARAMS = "tclr:nn_retrieval/parameters_BL.py"
LIN_TRAIN = "tclr:linear_eval/train.py"
LIN_LOADER = "tclr:linear_eval/dl_linear.py"
LIN_PARAMS = "tclr:linear_eval/parameters_BL.py"
COCLR_EVAL = "coclr:eval/main_classifier.py"
COCLR_DATA = "coclr:dataset/lmdb_dataset.py"
CVRL_LINEAR = "cvrl:configs/experiments/cvrl_linear_eval_k600.yaml"
CVRL_CONFIG = "cvrl:configs/video_ssl.py"
CVRL_MODEL = "cvrl:modeling/video_ssl_model.py"
GARDEN_KINETICS = "garden:official/vision/configs/video_classification.py"

EVALUATION = Recipe(
    "evaluation",
    [
        # nn_retrieval --protocol tclr
        Setting(
            "retrieval `tclr`: clips",
            "9 clips of 16 frames at skip 2, clip m starting at int(linspace(0, N - 42, 9)[m]) "
            "(m when negative), frames past the end mirrored (the loader as committed does not compile: its "
            "__init__ names `split` twice, so the published numbers came from a version that differs at least there)",
            f"{RET_LOADER}:21-22 (split = 1, split = 1); {RET_PARAMS}:2 (num_frames = 16); "
            f"{RET_PARAMS}:13-14 (fix_skip = 2, num_modes = 9); "
            f"{RET_MAIN}:150-155 (modes = list, params.num_modes); "
            f"{RET_LOADER}:210 (skip_frames_full = params.fix_skip); "
            f"{RET_LOADER}:219-226 (left_over = skip_frames_full*n, F = N - left_over, F-10, params.num_modes, "
            "start_frame_full = self.mode); "
            f"{RET_LOADER}:234-235 (full_clip_frames = start_frame_full, skip_frames_full, params.num_frames); "
            f"{RET_LOADER}:277-278 (full_clip = full_clip + full_clip[::-1][1:remaining_num_frames+1]); "
            f"{RET_LOADER}:81-89 (F-10, params.num_modes, start_frame_full = self.mode)",
            project="videossl/data/sampling.py tclr_evaluation_clips: the same",
        ),
        Setting(
            "retrieval `tclr`: crop",
            "centre 0.8 x 240 (the short side of UCF101) square, resized to 112",
            f"{RET_PARAMS}:18 (cropping_fac1 = [0.8]); "
            f"{RET_PARAMS}:20-23 (reso_h = 112, reso_w = 112, ori_reso_h = 240); "
            f"{RET_MAIN}:160 (cropping_fac1 = params.cropping_fac1); "
            f"{RET_LOADER}:292-294 (center_crop, params.ori_reso_h*self.cropping_factor, trans.functional.resize, "
            "params.reso_h, params.reso_w); "
            f"{RET_LOADER}:138-140 (center_crop, params.ori_reso_h*self.cropping_factor)",
            project="centre 0.8 x the short side, resized to the contract's size",
        ),
        Setting(
            "retrieval `tclr`: feature",
            "the backbone map before temporal pooling, flattened, averaged over the clips; "
            "L2-normalised; cosine similarity",
            f"{RET_MAIN}:131-132 (build_r3d_encoder_ret); "
            "tclr:nn_retrieval/r3d_classifier_ret.py:216 (self.avgpool = nn.AdaptiveAvgPool3d, None, 1, 1); "
            "tclr:nn_retrieval/r3d_classifier_ret.py:236-241 (x = self.avgpool, # x = x.flatten, # x = self.fc); "
            f"{RET_MAIN}:60-64 (output = model, output.squeeze); "
            f"{RET_MAIN}:79-86 (1/clips_per_vid, predictions[entry].view, +=); "
            f"{RET_MAIN}:251-255 (train_feat /= train_feat.norm, val_feat /= val_feat.norm, "
            "similarity_matrix = torch.mm)",
            project="videossl/eval/retrieval.py: the same",
        ),
        Setting(
            "retrieval `tclr`: metrics",
            "R@1, 5, 10, 20, test videos querying the training videos",
            f"{RET_MAIN}:255-259 (similarity_matrix = torch.mm, train_feat.cuda, val_feat.cuda, np.argsort, axis =0); "
            f"{RET_MAIN}:265-274 (top_label[-1], top_label[-5:], top_label[-10:], top_label[-20:])",
            project="R@1, 5, 10, 20 and 50",
        ),
        # nn_retrieval --protocol coclr
        Setting(
            "retrieval `coclr`: centring",
            "queries and gallery each centred on their own mean, then L2-normalised",
            f"{COCLR_EVAL}:689-695 (test_feature = test_feature - test_feature.mean, "
            "train_feature = train_feature - train_feature.mean, F.normalize, p=2, dim=1); "
            f"{COCLR_EVAL}:698 (sim = test_feature.matmul)",
            project="videossl/eval/retrieval.py: the same",
        ),
        Setting(
            "retrieval `coclr`: test transform",
            "centre crop, resize, colour jitter (0.2, 0.2, 0.2, 0.1) with p 0.3",
            f"{COCLR_EVAL}:559-563 (A.CenterCrop, A.Scale, A.ColorJitter, 0.2, 0.1, p=0.3, consistent=True); "
            f"{COCLR_EVAL}:583-584 (mode='test', transform=transform); "
            "coclr:utils/augmentation.py:242 (self.threshold = p); "
            "coclr:utils/augmentation.py:295-296 (< self.threshold: # do ColorJitter)",
            project="centre crop and resize, no colour jitter",
            difference="random jitter at test time makes the metric vary between runs of the same model",
        ),
        Setting(
            "retrieval `coclr`: clips",
            "queries (test set, test mode): every window of seq_len x ds frames (32 x 1 by default) from frame 0 on, "
            "starts seq_len x ds // 2 - 1 apart (about half overlapping), as many as fit; a shorter video gives one "
            "clip padded with frame 0 on the left; the feature is the mean over all of them. Gallery (training set, "
            "training mode, window False): one clip at a random start",
            f"{COCLR_EVAL}:43 (--seq_len, default=32); {COCLR_EVAL}:44 (--num_seq, default=1); "
            f"{COCLR_EVAL}:46 (--ds, default=1); "
            f"{COCLR_EVAL}:583-589 (mode='test', num_frames=args.num_seq*args.seq_len, ds=args.ds); "
            f"{COCLR_DATA}:111-122 (def frame_sampler, self.mode == 'test', # pad left, only sample once, "
            "seq_idx = np.zeros_like, available = total-self.num_frames*self.ds, self.num_frames*self.ds//2-1); "
            f"{COCLR_EVAL}:552-556 (test_sample = x.size, args.seq_len*args.num_seq); "
            f"{COCLR_EVAL}:637 (test_feature[sample_id,:] = feature.mean); "
            f"{COCLR_EVAL}:574-580 (mode='train', num_frames=args.num_seq*args.seq_len); "
            f"{COCLR_DATA}:51 (window=False); "
            f"{COCLR_DATA}:123-131 (# train or val, start = np.random.choice); "
            f"{COCLR_EVAL}:673 (train_feature[sample_id,:] = feature.mean)",
            project="queries: `--clip_starts windows`, the same windows of the checkpoint's frames and stride, "
            "averaged per video; gallery: `--gallery_clip_starts random`, one clip per training video at a start "
            "drawn as the release's training mode draws it (dataset/lmdb_dataset.py:123-131 at 45f200e0), seeded "
            "per video by --seed",
        ),
        Setting(
            "retrieval `coclr`: crop",
            "centre crop 224 x 224, resized to 128 (the CoCLR model's input)",
            f"{COCLR_EVAL}:560-561 (A.CenterCrop, 224,224, A.Scale, args.img_dim); "
            f"{COCLR_EVAL}:57 (--img_dim, default=128)",
            project="the short side resized to the checkpoint's size, centre crop",
            difference="every checkpoint is fed its own input contract (TCLR's 112, CVRL's 224, ...)",
        ),
        # linear_eval --recipe linear_tclr
        Setting(
            "linear `linear_tclr`: optimiser",
            "Adam lr 1e-2, batch 32, at most 100 epochs, lr / 10 after 3 epochs without a new best training loss "
            "since the last drop (a new best does not reset the count); the run ends after an epoch trained below "
            "1e-5 (the first at 1e-6)",
            f"{LIN_PARAMS}:4-6 (batch_size = 32, learning_rate = 1e-2, num_epochs = 100); "
            f"{LIN_PARAMS}:11 (scheduler_patience = 3); "
            f"{LIN_TRAIN}:203 (optim.Adam, lr=params.learning_rate); {LIN_TRAIN}:207 (batch_size=params.batch_size); "
            f"{LIN_TRAIN}:229 (params.num_epochs); {LIN_TRAIN}:31-32 (param_group['lr']=learning_rate2); "
            f"{LIN_TRAIN}:236-248 (scheduler_epoch == params.scheduler_patience, learning_rate1/, 10**scheduler_step, "
            "scheduler_epoch = 0, if train_loss > best_score, scheduler_epoch += 1, best_score = train_loss); "
            f"{LIN_TRAIN}:350-352 (if learning_rate2 < 1e-5, ending the process, exit)",
            project="`--recipe linear_tclr`: the same",
        ),
        Setting(
            "linear `linear_tclr`: frozen part",
            "every parameter but the fc layer; BatchNorm statistics keep updating (model.train())",
            f"{LIN_TRAIN}:181-184 (if linear, list, [:-2], m.requires_grad = False); "
            "tclr:linear_eval/model.py:65 (model.fc = nn.Linear, 512, num_classes); "
            "tclr:linear_eval/r3d_classifier.py:216-218 (self.avgpool, self.fc = nn.Linear); "
            f"{LIN_TRAIN}:42 (model.train)",
            project="the same (update_bn_stats)",
        ),
        Setting(
            "linear `linear_tclr`: training clips",
            "16 frames at skip 2 at a random start; square crop of side int(240 f), f ~ U(0.6, 1) (240: UCF101's "
            "frame height, a constant); contrast p .125 (first or last), hue p .15 (+-0.05), saturation p .15, "
            "brightness p .15 (factors 0.9-1.1), on BGR frames read as RGB; "
            "greyscale p .1 then gamma 0.85-1.15 p .75; flip p .5; a 9-18 px box erased p .25",
            f"{LIN_TRAIN}:205 (baseline_dataloader_train_strong); "
            f"{LIN_PARAMS}:2 (num_frames = 16); {LIN_PARAMS}:12 (fix_skip = 2); "
            f"{LIN_LOADER}:74-80 (left_over = frame_count - params.fix_skip*params.num_frames, "
            "start_frame_full = np.random.randint); "
            f"{LIN_LOADER}:98-100 (cropping_factor1 = np.random.uniform, 0.6, 1); "
            f"{LIN_LOADER}:151 (trans.functional.resized_crop, params.ori_reso_h*cropping_factor1); "
            f"{LIN_LOADER}:103-112 (contrast_factor1, 0.9,1.1, hue_factor1, -0.05,0.05, gamma1, 0.85,1.15, "
            "erase_size1, self.erase_size/2); "
            f"{LIN_LOADER}:43 (self.erase_size = 19); "
            f"{LIN_LOADER}:154-163 (random_array[0] < 0.125/2, random_array[1] < 0.3/2, random_array[2] < 0.3/2, "
            "random_array[3] < 0.3/2, random_array[0] > 0.125/2 and random_array[0] < 0.25/2); "
            f"{LIN_LOADER}:164-174 (random_array[4] > 0.9, to_grayscale, random_array[5] > 0.25, adjust_gamma, "
            "random_array[6] > 0.5, hflip, random_array[7] < 0.5/2, erase)",
            project="videossl/eval/classifier.py finetune_augmentation('tclr_linear'): the same (contrast first or "
            "last, then hue, saturation, brightness, on the channels in the checkpoint's order: BGR for TCLR's), "
            "the crop's side f x the short side",
            difference="the release's 240 assumes UCF101's frames; the crop follows each video's own short side",
        ),
        Setting(
            "linear `linear_tclr`: test",
            "10 clips at the release's positions, centre 0.8 crop",
            f"{LIN_PARAMS}:13 (num_modes = 10); {LIN_TRAIN}:216 (modes = list, params.num_modes); "
            f"{LIN_TRAIN}:254-257 (multi_baseline_dataloader_val_strong, mode = modes[val_iter]); "
            f"{LIN_LOADER}:181-182 (cropping_factor=0.8); "
            f"{LIN_LOADER}:241-248 (left_over = skip_frames_full*n, F-10, params.num_modes, "
            "start_frame_full = self.mode); "
            f"{LIN_LOADER}:291-293 (center_crop, params.ori_reso_h*self.cropping_factor); "
            f"{LIN_TRAIN}:102 (softmax); {LIN_TRAIN}:287-291 (np.mean, axis =0)",
            project="the same",
        ),
        Setting(
            "linear `linear_tclr`: model selection",
            "tested only after (0-based) epochs 6 and 11-49; the result is the best test accuracy seen (the model "
            "is chosen on the test split); no test at the end",
            f"{LIN_TRAIN}:211-213 (val_array = [6], 11,50); {LIN_TRAIN}:249 (if epoch in val_array); "
            f"{LIN_TRAIN}:308-317 (accuracy = accuracy1, if accuracy > best_acc, bestAcc); "
            f"{LIN_TRAIN}:325 (best_acc = accuracy)",
            project="tested after epochs 7 and 12-50 (counted from 1); `results.json` `best` (reported first) is "
            "the best of those tests, as published; the last epoch is tested too and reported beside it, "
            "outside the best (`--test_epochs` changes the schedule)",
        ),
        # linear_eval --recipe linear_cvrl
        Setting(
            "linear `linear_cvrl`: input",
            "32 frames at stride 2; random resized crop (area 0.3-1, aspect 0.5-2) at 224, flip",
            f"{CVRL_LINEAR}:47-61 (- 32, - 224, temporal_stride: 2, aug_max_area_ratio: 1.0, "
            "aug_max_aspect_ratio: 2.0, aug_min_area_ratio: 0.3, aug_min_aspect_ratio: 0.5); "
            "cvrl:tasks/linear_eval.py:27-28 (VideoSSLEvalTask, video_classification.VideoClassificationTask); "
            "garden:official/vision/dataloaders/video_input.py:125-131 (random_crop_resize, "
            "min_area_ratio, random_flip_left_right)",
            project="`--recipe linear_cvrl`: the same",
        ),
        Setting(
            "linear `linear_cvrl`: head",
            "L2-normalised pooled feature, one Dense layer (no hidden layer); dropout configured but never applied",
            f"{CVRL_CONFIG}:141-144 (normalize_feature = True, hidden_layer_num = 0, projection_dim = 600); "
            f"{CVRL_MODEL}:106-112 (GlobalAveragePooling3D, tf.nn.l2_normalize); "
            f"{CVRL_MODEL}:114-128 (hidden_layer_num, Dense, projection_dim); "
            f"{CVRL_LINEAR}:9 (dropout_rate: 1.0); {CVRL_MODEL}:84 ('dropout_rate': dropout_rate)",
            project="the same",
        ),
        Setting(
            "linear `linear_cvrl`: optimiser",
            "SGD momentum 0.9, lr 32 at batch 1024, 5 warm-up epochs (1787 steps) "
            "then cosine, 100 epochs (35744 steps), no weight decay",
            f"{CVRL_LINEAR}:75-89 (l2_weight_decay: 0.0, initial_learning_rate: 32.0, decay_steps: 35744, "
            "nesterov: false, warmup_steps: 1787, train_steps: 35744); "
            f"{CVRL_LINEAR}:55 (global_batch_size: 1024); {GARDEN_KINETICS}:184-190 ('momentum': 0.9)",
            project="the same, the lr scaled as 32 x batch / 1024",
        ),
        Setting(
            "linear `linear_cvrl`: test",
            "10 clips x 3 crops of 256 (short side 256), softmax averaged",
            f"{CVRL_LINEAR}:62-71 (- 256, num_test_clips: 10, num_test_crops: 3); "
            f"{CVRL_CONFIG}:138-140 (min_image_size = 256, num_test_clips = 10, num_test_crops = 3); "
            "garden:official/vision/dataloaders/video_input.py:135-140 (resize_smallest, crop_image); "
            "garden:official/vision/tasks/video_classification.py:357-368 (tf.math.softmax, "
            "Averaging output probabilities across multiples views, tf.reduce_mean)",
            project="the same",
        ),
        # finetune --recipe vtdl
        Setting(
            "finetune `vtdl`: optimiser",
            "SGD lr 5e-4 (UCF101, as the readme's command; the repository's one UCF101 I3D script, "
            "src/scripts/ucf101/i3d_ft_test.sh, uses 1e-3) / 1e-3 (HMDB51), momentum 0.9, weight decay 1e-8, "
            "x0.3 at epochs 10, 20, 25, 30, 35, 40; 45 epochs; batch 4",
            "vtdl:readme.md:89-102 (#### HMDB51, --lr 0.001, --lr_steps 10 20 25 30 35 40, --epochs 45, "
            "--batch_size 4); "
            "vtdl:readme.md:111-124 (#### UCF101, --lr 0.0005, --lr_steps 10 20 25 30 35 40, --epochs 45, "
            "--batch_size 4); vtdl:src/scripts/ucf101/i3d_ft_test.sh:9 (--lr 0.001); "
            "vtdl:src/option.py:36 (--momentum, default=0.9); vtdl:src/option.py:38 (--weight_decay, default=1e-8); "
            "vtdl:src/option.py:44 (--optim, default='sgd'); "
            "vtdl:src/loss/config.py:72-76 (optim.SGD, momentum=args.momentum, weight_decay=args.weight_decay); "
            "vtdl:src/trainer.py:226 (adjust_learning_rate, args.lr_steps); "
            "vtdl:src/utils/learning_rate_adjust.py:6 (0.3 **, epoch >= np.array)",
            project="`--recipe vtdl`: the same",
        ),
        Setting(
            "finetune `vtdl`: input",
            "64 frames at stride 1, 224 px, the pretraining transform (rotation, crop 224 "
            "of 256, jitter), ImageNet mean/std",
            "vtdl:readme.md:103 (--data_length 64); vtdl:src/option.py:24 (--stride, default=1); "
            "vtdl:src/option.py:26 (--spatial_size, default='224'); "
            "vtdl:src/trainer.py:205-206 (augmentation_config, train_transforms); "
            "vtdl:src/train_temporal_dis.py:294 (augmentation_config); "
            "vtdl:src/data/dataloader.py:13-16 (new_length=data_length, stride=args.stride, "
            "transform=train_transforms); "
            "vtdl:src/data/dataset.py:99-105 (p += self.stride); "
            "vtdl:src/data/config.py:32-40 (resize_size = 256, video_transform.RandomRotation, video_transform.Resize, "
            "video_transform.RandomCrop, video_transform.ColorJitter, mean=[0.485, 0.456, 0.406], "
            "std=[0.229, 0.224, 0.225])",
            project="the same (videossl/data/augmentations.py, shared with VTDL pretraining)",
        ),
        Setting(
            "finetune `vtdl`: head",
            "AvgPool3d((2, 7, 7), stride 1), dropout 0.5, Conv3d to the classes with kernel "
            "(7, 1, 1), 'SAME' zero padding (3 steps before and after: 7 outputs) and no bias, mean over time, "
            "log-softmax + NLL",
            "vtdl:src/main.py:11-12 (args.method == 'ft', args.eval_indict = 'acc'); "
            "vtdl:src/model/config.py:13-18 (with_classifier = True, dropout_prob=args.dropout); "
            "vtdl:readme.md:105 (--dropout 0.5); "
            "vtdl:src/model/i3d.py:301 (torch.nn.AvgPool3d, 2, 7, 7, 1, 1, 1); "
            "vtdl:src/model/i3d.py:303 (torch.nn.Dropout, dropout_prob); "
            "vtdl:src/model/i3d.py:304-310 (out_channels=self.num_classes, kernel_size=, 7, 1, 1, use_bias=False); "
            "vtdl:src/model/i3d.py:85 (padding='SAME'); vtdl:src/model/i3d.py:93-95 (get_padding_shape); "
            "vtdl:src/model/i3d.py:348-354 (out = self.avg_pool, out = self.dropout, out = self.conv3d_0c_1x1_custom, "
            "out = out.mean, F.log_softmax); "
            "vtdl:src/loss/config.py:17-19 (args.eval_indict == 'acc', torch.nn.NLLLoss)",
            project="videossl/eval/classifier.py TemporalConvHead: the same on the space-pooled map (tested against "
            "the padded Conv3d in tests/test_finetune.py)",
        ),
        Setting(
            "finetune `vtdl`: test",
            "one 64-frame clip at a random start (_get_test_indices, num_segments 1), resize 256, centre crop 224",
            "vtdl:src/trainer.py:235-237 (validate, val_data_loader); "
            "vtdl:src/data/dataloader.py:20-23 (num_segments=1, test_mode=True, transform=test_transforms); "
            "vtdl:readme.md:103 (--data_length 64); "
            "vtdl:src/data/dataset.py:199-201 (self._get_test_indices, new_length=self.new_length); "
            "vtdl:src/data/dataset.py:87-93 (def _get_test_indices, random.sample, self.num_segments); "
            "vtdl:src/data/config.py:32 (resize_size = 256); "
            "vtdl:src/data/config.py:44-46 (video_transform.Resize, video_transform.CenterCrop)",
            project="one clip from the middle frame on, the centre 224/256 of the short side",
            difference="a random test clip makes the accuracy vary between runs of the same model",
        ),
        Setting(
            "t-SNE of TCE checkpoints",
            "the 128-d L2-normalised embedding, PCA to 85% of the variance, then t-SNE",
            "tce:config/default.py:57 (FC_DIM = 128); tce:network/model.py:20 (cfg.MODEL.PRETRAINING.FC_DIM); "
            "tce:network/model.py:35-42 (rotation = False, self.fc_contrastive, self.l2norm); "
            "tce:visualise_tsne.py:81-90 (embeddings.append, fit_tsne); "
            "tce:utils/tsne_utils.py:147 (def fit_tsne, pca=True, pca_threshold=0.85); "
            "tce:utils/tsne_utils.py:166-172 (fit_pca, threshold=pca_threshold, TSNE)",
            project="make_tsne --space embedding (the default for TCE checkpoints): the checkpoint's embedding head, "
            "L2-normalised, PCA to the fewest components that explain 85%",
            difference="the release bisects the number of components to within 5% of the dimensions and keeps the "
            "last one tried (utils/tsne_utils.py:107-146 at 0da560c7), which can explain less than 85%; "
            "`--pca_search release` runs that search",
        ),
    ],
)
