"""TCLR's recipe (Dave et al., CVIU 2022), read from the release DAVEISHAN/TCLR (files below are
relative to that repository)."""

from videossl.recipes import Recipe, Setting, knn_monitor_setting

PARAMS = "tclr_pretraining/parameters.py"
TRAIN = "tclr_pretraining/train_gen_all_step.py"
LOADER = "tclr_pretraining/dl_tclr.py"
MODEL = "tclr_pretraining/model.py"
R3D = "tclr_pretraining/r3d.py"
MLP = "tclr_pretraining/mlp.py"
NT_XENT = "tclr_pretraining/contrastive_loss/nt_xent_original.py"

RECIPE = Recipe(
    "tclr",
    [
        Setting(
            "backbone",
            "R3D-18, layer4 without temporal stride (temporal dilation 2): 16 frames -> 4 steps",
            f"{R3D}:301-306 (r3d_18, conv_makers=[Conv3DSimple] * 4); {R3D}:214-217 (self.layer2, stride=2); "
            f"{MODEL}:12-18 (r3d_18, model.layer4[0].conv1[0] = nn.Conv3d, dilation, model.layer4[0].downsample[0])",
            flag="arch",
            value="r3d_18",
        ),
        Setting(
            "R(2+1)D-18 variant",
            "torchvision's r2plus1d_18 with layer4[0].conv1[0] replaced by the same full 3x3x3 "
            "convolution (dilation 2 in time, spatial stride 2) and a (1, 2, 2)-strided shortcut; inferred from the "
            "loader that strictly loads the released file (its own definition is not in the repository)",
            "nn_retrieval/model.py:109-115 (build_rpd_encoder_ret, rpd18_classifier, "
            "model.layer4[0].conv1[0] = nn.Conv3d, dilation, model.layer4[0].downsample[0]); "
            "nn_retrieval/model.py:151 (strict=True); "
            "nn_retrieval/r3d_classifier_ret.py:337-342 (r2plus1d_18, conv_makers=[Conv2Plus1D] * 4, "
            "stem=R2Plus1dStem); linear_eval/model.py:11 (dilated_r2plus1d)",
            project="`--arch r2plus1d_18`: the same shapes (test_backbones.py); the released file itself could not "
            "be downloaded here to confirm them",
        ),
        Setting("backbone width", "1x", f"{R3D}:210-217 (self.inplanes = 64, 128, 256, 512)", flag="width", value=1.0),
        Setting(
            "frames per clip",
            "16 (global: 16 at stride 4 over the 64-frame window; local: 4 x 16 consecutive)",
            f"{PARAMS}:3 (num_frames = 16); {PARAMS}:10 (sr_ratio = 4); "
            f"{LOADER}:80 (min_temporal_span_sparse = params.num_frames*params.sr_ratio); "
            f"{LOADER}:95-102 (sr_sparse = 4, sr_sparse/4, i*sr_sparse, frames_sparse[j*4], i*sr_dense)",
            flag="frames",
            value=16,
        ),
        Setting(
            "local clips per window",
            "4",
            f"{LOADER}:102 (frames_dense, frames_sparse[j*4]); {TRAIN}:74-77 (dense_clip0, dense_clip3)",
            flag="num_local",
            value=4,
        ),
        Setting(
            "window sampler",
            "start uniform in [0, N - 64) (0 when N <= 64); global clip = every 4th frame of the window; a clip "
            "that runs past the end is padded with its own frames in reverse",
            f"{LOADER}:80-82 (min_temporal_span_sparse = params.num_frames*params.sr_ratio, "
            "if frame_count > min_temporal_span_sparse, np.random.randint, frame_count-min_temporal_span_sparse); "
            f"{LOADER}:96-98 (start_frame = 0); {LOADER}:101 (frames_sparse, i*sr_sparse); "
            f"{LOADER}:194-207 (sparse_clip[::-1][1:remaining_num_frames+1], dense_clip3[::-1])",
            project="tclr_pretraining/sampling.py: the same",
        ),
        Setting(
            "short videos",
            "videos of 56 frames or fewer are dropped (the loader returns nothing and the batch shrinks)",
            f"{LOADER}:75-78 (frame_count = cap.get, if frame_count <= 56, return None); "
            f"{LOADER}:269-270 (for item in batch, None in item)",
            flag="min_video_frames",
            value=57,
            difference="left out of the index once, counted and logged, so every batch stays full",
        ),
        Setting(
            "crop size",
            "112",
            f"{PARAMS}:15-16 (reso_h = 112, reso_w = 112); {LOADER}:229 (params.reso_h,params.reso_w)",
            flag="size",
            value=112,
        ),
        Setting(
            "random crop",
            "per clip: a square of side int(240 f), f ~ U(0.6, 1) (240: UCF101's frame height, a constant), "
            "top-left corner uniform in [0, 320 (1 - f)] x [0, 240 (1 - f)], bilinear resize to 112",
            f"{LOADER}:124 (random_array = np.random.rand); "
            f"{LOADER}:129-131 (cropping_factor1 = np.random.uniform, 0.6, params.ori_reso_w, params.ori_reso_h); "
            f"{PARAMS}:12-13 (ori_reso_h = 240, ori_reso_w = 320); "
            f"{LOADER}:228-229 (image = self.PIL, resized_crop, int, params.ori_reso_h*cropping_factor1, "
            "interpolation=2)",
            project="tclr_pretraining/augmentation.py: side f x the short side, placed uniformly where it fits "
            "(antialiased resize)",
            difference="the release's constants assume 320 x 240 video; on such video only the horizontal range "
            "differs (the release's corner never passes 320 (1 - f), so its crop never reaches the last 80 f columns)",
        ),
        Setting(
            "colour operations and erasing",
            "per clip, on the BGR frames as if they were RGB: contrast p .125 first or p .125 last (one draw), and "
            "between them hue (shift U(-0.1, 0.1)) p .3, saturation p .3, brightness p .3, in that order (factors "
            "U(0.75, 1.25)); then greyscale p .175 (followed by gamma U(0.75, 1.25) 3 times in 4) or one channel "
            "zeroed p .125; erase a 9-18 px box p .5",
            f"{LOADER}:133-137 (contrast_factor1 = np.random.uniform, 0.75,1.25, hue_factor1, -0.1,0.1, "
            "saturation_factor1, brightness_factor1, gamma1); "
            f"{LOADER}:232-241 (random_array[0] < 0.125, adjust_contrast, random_array[1] < 0.3, adjust_hue, "
            "random_array[2] < 0.3, adjust_saturation, random_array[3] < 0.3, adjust_brightness, "
            "random_array[0] > 0.125 and random_array[0] < 0.25); "
            f"{LOADER}:242-250 (random_array[4] > 0.70, random_array[4] < 0.875, to_grayscale, "
            "random_array[5] > 0.25, adjust_gamma, image[random_color_dropped,:,:] = 0); "
            f"{LOADER}:48 (self.erase_size = 19); {LOADER}:140-141 (np.random.randint, self.erase_size/2); "
            f"{LOADER}:259-260 (random_array[7] < 0.5, trans.functional.erase)",
            project="tclr_pretraining/augmentation.py (tclr_colour_operations, on the channels in --channel_order "
            "through InChannelOrder): the same; the flip comes before them (it commutes with them)",
        ),
        Setting(
            "horizontal flip probability",
            "0.5",
            f"{LOADER}:252-253 (random_array[6] > 0.5, trans.functional.hflip)",
            flag="flip_prob",
            value=0.5,
        ),
        Setting(
            "channel order",
            "BGR (OpenCV frames, not converted)",
            f"{LOADER}:73 (cv2.VideoCapture); {LOADER}:145 (frame = cap.read); "
            f"{LOADER}:152 (self.augmentation, frame); "
            f"{LOADER}:46 (self.PIL = trans.ToPILImage); {LOADER}:228 (image = self.PIL); "
            "README.md:63 (trained on BGR)",
            flag="channel_order",
            value="bgr",
        ),
        Setting(
            "input frames",
            "RGB frames (not differences)",
            f"{LOADER}:145 (frame = cap.read); "
            f"{LOADER}:150-152 (if ret == True, sparse_clip.append, self.augmentation); "
            f"{TRAIN}:71 (sparse_clip.cuda)",
            flag="input_mode",
            value="rgb",
        ),
        Setting(
            "input normalisation",
            "values in [0, 1], no mean/std",
            f"{LOADER}:257-262 (image = trans.functional.to_tensor, v=0, return image); "
            f"{TRAIN}:51 (sparse_clip = sparse_clip.permute); {TRAIN}:71 (sparse_clip.cuda)",
            flag="standardize",
            value="none",
        ),
        Setting(
            "projection head",
            "Linear 512-512, BN, ReLU, Linear 512-128 (no bias), BN, L2-normalise",
            f"{MLP}:7 (final_embedding_size = 128); "
            f"{MLP}:13-18 (self.fc1 = nn.Linear, 512,512, bias = True, nn.BatchNorm1d, self.fc2 = nn.Linear, "
            f"bias = False); {MLP}:32-33 (self.relu, self.bn1, self.bn2, normalize, p=2)",
            project="tclr_pretraining/model.py: the same",
        ),
        Setting(
            "temperature",
            "0.1",
            f"{PARAMS}:8 (temperature = 0.1); {TRAIN}:85-86 (temperature=params.temperature)",
            flag="temperature",
            value=0.1,
        ),
        Setting(
            "loss terms",
            "instance global + instance local (56 pairs / 4) + local-local + global-local, plain sum",
            f"{TRAIN}:90 (loss_ic2 = criterion); "
            f"{TRAIN}:95-103 (for chunk in range, ii == jj and chunk == chunk1, continue, loss_ic1 += criterion, "
            f"loss_ic1 /= 4); {TRAIN}:109-110 (loss_local_local += criterion_local_local); "
            f"{TRAIN}:112-115 (loss_global_local += criterion2); "
            f"{TRAIN}:117 (loss = loss_ic2 + loss_ic1 + loss_local_local + loss_global_local)",
            project="tclr_pretraining/losses.py: the same (`--loss_weights` empty: every weight 1)",
        ),
        Setting(
            "local-local reduction",
            "NT-Xent of 4 clips per video (mean over 8 anchors), summed over the batch",
            f"{TRAIN}:86 (criterion_local_local = NTXentLoss, batch_size=4); "
            f"{TRAIN}:109-110 (for ii in range, loss_local_local += criterion_local_local); "
            f'{NT_XENT}:16 (reduction="sum"); {NT_XENT}:69 (2 * self.batch_size)',
            project="summed over the whole batch; under DDP the local sum x the number of processes, because DDP "
            "averages gradients (test_ddp_losses.py)",
        ),
        Setting(
            "optimiser",
            "Adam, weight decay 1e-9",
            f"{TRAIN}:206 (optim.Adam, weight_decay = params.weight_decay); {PARAMS}:9 (weight_decay = 1e-9)",
            flag="weight_decay",
            value=1e-9,
        ),
        Setting(
            "learning rate",
            "1e-3",
            f"{PARAMS}:5 (learning_rate = 1e-3); {TRAIN}:191 (learning_rate1 = params.learning_rate)",
            flag="lr",
            value=1e-3,
        ),
        Setting(
            "warm-up",
            "lr factors 0.01, 0.05, 0.1, 0.5, 1 over the first 5 epochs",
            f"{PARAMS}:18-19 (warmup = 5, warmup_array = [1/100,1/20,1/10,1/2,1]); "
            f"{TRAIN}:217-218 (if epoch < params.warmup, params.warmup_array[epoch]*params.learning_rate)",
            flag="warmup",
            value="0.01,0.05,0.1,0.5,1",
        ),
        Setting(
            "plateau",
            "lr / 10 after 9 epochs without a new best training loss",
            f"{PARAMS}:20 (scheduler_patience = 9); "
            f"{TRAIN}:220-226 (if scheduler_epoch == params.scheduler_patience, learning_rate2 = learning_rate1/, "
            f"10**scheduler_step, scheduler_epoch = 0); {TRAIN}:233 (if loss < best_score); "
            f"{TRAIN}:250-251 (best_score = loss, scheduler_epoch = 0); "
            f"{TRAIN}:264-265 (if loss > best_score, scheduler_epoch += 1)",
            flag="patience",
            value=9,
        ),
        Setting(
            "batch",
            "40 videos (400 clips)",
            f"{PARAMS}:4 (batch_size = 40); {TRAIN}:208 (batch_size=params.batch_size); "
            f"{TRAIN}:71-82 (out_sparse.append, a_sparse_clip, out_dense[0].append, out_dense[1].append, "
            "a_dense_clip3)",
            flag="batch_size",
            value=40,
        ),
        Setting(
            "epochs",
            "1000 (the loop's bound; the run is stopped by hand; each new lowest training loss is saved as its own "
            "model_best_e<epoch> file)",
            f"{PARAMS}:6 (num_epochs = 1000); {TRAIN}:215 (for epoch in range, params.num_epochs); "
            f"{TRAIN}:233-240 (if loss < best_score, model_best_e)",
            flag="epochs",
            value=1000,
            project="`--epochs 1000`; best.pt is the newest lowest-loss checkpoint (the newest model_best file)",
        ),
        Setting(
            "precision",
            "fp16 autocast with GradScaler",
            f"{TRAIN}:25 (from torch.cuda.amp import autocast, GradScaler); {TRAIN}:69 (with autocast); "
            f"{TRAIN}:121-123 (scaler.scale, scaler.step, scaler.update); {TRAIN}:189 (scaler = GradScaler)",
            flag="precision",
            value="auto",
            difference="bf16 or fp16 only where verified against fp32 on the run's device",
        ),
        knn_monitor_setting(
            f"{TRAIN}:215 (for epoch in range); {TRAIN}:229-233 (scaler = train_epoch, if loss < best_score); "
            f"{TRAIN}:286-292 (train_dataset = ss_dataset_gen1, Time taken for Epoch); "
            "README.md:43-48 (cd linear_eval, python train.py --saved_model); "
            "README.md:53-56 (Nearest Neighbour Retrieval, python complete_retrieval.py)"
        ),
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
            "min_video_frames": 0,
        }
    },
    release="tclr",
    reproduces="R3D-18 pretrained on UCF101 (train split 1), evaluated on UCF101: linear evaluation top-1 69.9 "
    "(`linear_eval/train.py --linear --protocol paper --recipe linear_tclr`), full finetuning 82, nearest-neighbour "
    "retrieval R@1 56.1 (`nn_retrieval/complete_retrieval.py --protocol tclr`)",
    reproduces_source="README.md:2 (69.9, linear evaluation, 82, Full-Finetuning, 56.1, NN Retrieval)",
)
