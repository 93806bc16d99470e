"""The published evaluation protocols against this project's, element by element (the evaluation
section of docs/recipes.md). Each protocol is selected by name: ``--protocol tclr|coclr`` in
nn_retrieval, ``--recipe linear_tclr|linear_cvrl`` in linear_eval, ``--recipe vtdl`` in finetune; the project's own
faster variants keep their own names (``pooled``, the ``cached`` linear probe, ``--recipe linear``)."""

from videossl.recipes import Recipe, Setting

TCLR = "DAVEISHAN/TCLR "
COCLR = "TengdaHan/CoCLR eval/main_classifier.py (test_retrieval)"
CVRL = "tensorflow/models official/projects/video_ssl/"
CVRL_LINEAR = CVRL + "configs/experiments/cvrl_linear_eval_k600.yaml, configs/video_ssl.py"
VTDL = "FingerRec/Self-Supervised-Temporal-Discriminative-Representation-Learning-for-Video-Action-Recognition "

EVALUATION = Recipe(
    "evaluation",
    [
        # nn_retrieval --protocol tclr
        Setting(
            "retrieval `tclr`: clips",
            "9 clips of 16 frames at skip 2, clip m starting at int(linspace(0, N - 42, 9)[m]) "
            "(m when negative), frames past the end mirrored",
            TCLR + "nn_retrieval/dl_ret.py, parameters_BL.py",
            project="videossl/data/sampling.py tclr_evaluation_clips: the same",
        ),
        Setting(
            "retrieval `tclr`: crop",
            "centre 0.8 x 240 (the short side of UCF101) square, resized to 112",
            TCLR + "nn_retrieval/dl_ret.py (cropping_factor 0.8)",
            project="centre 0.8 x the short side, resized to the contract's size",
        ),
        Setting(
            "retrieval `tclr`: feature",
            "the backbone map before temporal pooling, flattened, averaged over the clips; "
            "L2-normalised; cosine similarity",
            TCLR + "nn_retrieval/complete_retrieval.py, model.py",
            project="videossl/eval/retrieval.py: the same",
        ),
        Setting(
            "retrieval `tclr`: metrics",
            "R@1, 5, 10, 20, test videos querying the training videos",
            TCLR + "nn_retrieval/complete_retrieval.py",
            project="R@1, 5, 10, 20 and 50",
        ),
        # nn_retrieval --protocol coclr
        Setting(
            "retrieval `coclr`: centring",
            "queries and gallery each centred on their own mean, then L2-normalised",
            COCLR,
            project="videossl/eval/retrieval.py: the same",
        ),
        Setting(
            "retrieval `coclr`: test transform",
            "centre crop, resize, colour jitter (0.2, 0.2, 0.2, 0.1) with p 0.3",
            COCLR,
            project="centre crop and resize, no colour jitter",
            difference="random jitter at test time makes the metric vary between runs of the same model",
        ),
        Setting(
            "retrieval `coclr`: clips",
            "queries (test set, test mode): every window of seq_len x ds frames (32 x 1 by default) from frame 0 on, "
            "starts seq_len x ds // 2 - 1 apart (about half overlapping), as many as fit; a shorter video gives one "
            "clip padded with frame 0 on the left; the feature is the mean over all of them. Gallery (training set, "
            "training mode, window False): one clip at a random start",
            "TengdaHan/CoCLR dataset/lmdb_dataset.py:111-132 (frame_sampler), eval/main_classifier.py:574-590 "
            "(test_retrieval's datasets) at 45f200e0",
            project="queries: `--clip_starts windows`, the same windows of the checkpoint's frames and stride, "
            "averaged per video; gallery: `--gallery_clip_starts random`, one clip per training video at a start "
            "drawn as the release's training mode draws it (dataset/lmdb_dataset.py:123-131 at 45f200e0), seeded "
            "per video by --seed",
        ),
        Setting(
            "retrieval `coclr`: crop",
            "centre crop 224 x 224, resized to 128 (the CoCLR model's input)",
            COCLR,
            project="the short side resized to the checkpoint's size, centre crop",
            difference="every checkpoint is fed its own input contract (TCLR's 112, CVRL's 224, ...)",
        ),
        # linear_eval --recipe linear_tclr
        Setting(
            "linear `linear_tclr`: optimiser",
            "Adam lr 1e-2, batch 32, 100 epochs, lr / 10 after 3 epochs without a new best training loss",
            TCLR + "linear_eval/train.py, parameters_BL.py",
            project="`--recipe linear_tclr`: the same",
        ),
        Setting(
            "linear `linear_tclr`: frozen part",
            "every parameter but the fc layer; BatchNorm statistics keep updating (model.train())",
            TCLR + "linear_eval/train.py",
            project="the same (update_bn_stats)",
        ),
        Setting(
            "linear `linear_tclr`: training clips",
            "16 frames at skip 2 at a random start; square crop U(0.6, 1) x "
            "short side; contrast p .125, hue p .15 (+-0.05), saturation p .15, brightness p .15 (factors 0.9-1.1); "
            "greyscale p .1 then gamma 0.85-1.15 p .75; flip p .5; a 9-18 px box erased p .25",
            TCLR + "linear_eval/dl_linear.py (baseline_dataloader_train_strong)",
            project="videossl/eval/classifier.py finetune_augmentation('tclr_linear'): the same, the colour "
            "operations in a fixed order",
        ),
        Setting(
            "linear `linear_tclr`: test",
            "10 clips at the release's positions, centre 0.8 crop",
            TCLR + "linear_eval/dl_linear.py, parameters_BL.py (num_modes 10)",
            project="the same",
        ),
        # linear_eval --recipe linear_cvrl
        Setting(
            "linear `linear_cvrl`: input",
            "32 frames at stride 2; random resized crop (area 0.3-1, aspect 0.5-2) at 224, flip",
            CVRL_LINEAR,
            project="`--recipe linear_cvrl`: the same",
        ),
        Setting(
            "linear `linear_cvrl`: head",
            "L2-normalised pooled feature, one Dense layer (no hidden layer); dropout configured but never applied",
            CVRL_LINEAR + ", modeling/video_ssl_model.py",
            project="the same",
        ),
        Setting(
            "linear `linear_cvrl`: optimiser",
            "SGD momentum 0.9, lr 32 at batch 1024, 5 warm-up epochs (1787 steps) "
            "then cosine, 100 epochs (35744 steps), no weight decay",
            CVRL_LINEAR,
            project="the same, the lr scaled as 32 x batch / 1024",
        ),
        Setting(
            "linear `linear_cvrl`: test",
            "10 clips x 3 crops of 256 (short side 256), softmax averaged",
            CVRL_LINEAR,
            project="the same",
        ),
        # finetune --recipe vtdl
        Setting(
            "finetune `vtdl`: optimiser",
            "SGD lr 5e-4 (UCF101) / 1e-3 (HMDB51), momentum 0.9, weight decay 1e-8, "
            "x0.3 at epochs 10, 20, 25, 30, 35, 40; 45 epochs; batch 4",
            VTDL + "readme.md, scripts/*/i3d_ft*.sh, src/option.py, src/utils/learning_rate_adjust.py",
            project="`--recipe vtdl`: the same",
        ),
        Setting(
            "finetune `vtdl`: input",
            "64 frames at stride 1, 224 px, the pretraining transform (rotation, crop 224 "
            "of 256, jitter), ImageNet mean/std",
            VTDL + "src/data/config.py, readme.md",
            project="the same (videossl/data/augmentations.py, shared with VTDL pretraining)",
        ),
        Setting(
            "finetune `vtdl`: head",
            "AvgPool3d((2, 7, 7), stride 1), dropout 0.5, Conv3d to the classes with kernel "
            "(7, 1, 1) and no bias, mean over time, log-softmax + NLL",
            VTDL + "src/model/i3d.py (with_classifier)",
            project="videossl/eval/classifier.py TemporalConvHead: the same on the space-pooled map",
        ),
        Setting(
            "finetune `vtdl`: test",
            "one 64-frame clip at a random start (_get_test_indices, num_segments 1), resize 256, centre crop 224",
            VTDL + "src/data/dataset.py, src/data/config.py",
            project="one clip from the middle frame on, the centre 224/256 of the short side",
            difference="a random test clip makes the accuracy vary between runs of the same model",
        ),
        Setting(
            "t-SNE of TCE checkpoints",
            "the 128-d L2-normalised embedding, PCA to 85% of the variance, then t-SNE",
            "csiro-robotics/TCE utils/tsne_utils.py (fit_pca threshold 0.85), visualise_tsne.py",
            project="make_tsne --space embedding (the default for TCE checkpoints): the checkpoint's embedding head, "
            "L2-normalised, PCA to the fewest components that explain 85%",
            difference="the release bisects the number of components to within 5% of the dimensions and keeps the "
            "last one tried (utils/tsne_utils.py:107-146 at 0da560c7), which can explain less than 85%; "
            "`--pca_search release` runs that search",
        ),
    ],
)
