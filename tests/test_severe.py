"""The SEVERE suite: Charades read from its official CSV, multi-label training and mAP, SEVERE's
recipe per dataset, its 1000-video subsets, and scripts/severe.py end to end on the tiny suite."""

import json
import os

import numpy as np
import pytest
import torch

from scripts import severe
from tests.helpers import write_index_video
from videossl.data.dataset import flat_index
from videossl.data.downstream import charades_index, clip_labels, severe_subset
from videossl.data.indexes import DatasetIndex, VideoRecord, parse_ucf101_split
from videossl.data.input_contract import InputContract
from videossl.errors import UserError
from videossl.eval import finetune
from videossl.eval.classifier import VideoClassifier, aggregate_views
from videossl.eval.severe import SETTINGS, published_rows, render_table
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import make_checkpoint, read_checkpoint_file, save_checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV_HEADER = "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n"


def write_charades(folder, train_rows, test_rows, videos=()):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "Charades_v1_classes.txt"), "w") as f:
        f.write("c000 Holding some clothes\nc001 Putting clothes somewhere\nc002 Taking some clothes from somewhere\n")
    for subset, rows in (("train", train_rows), ("test", test_rows)):
        with open(os.path.join(folder, f"Charades_v1_{subset}.csv"), "w") as f:
            f.write(CSV_HEADER)
            for video_id, actions in rows:
                f.write(f'{video_id},HR43,Kitchen,6,7,Yes,"A person, then ...",clothes;door,"text",{actions},30.5\n')
    for video_id in videos:
        write_index_video(os.path.join(folder, "Charades_v1_480", f"{video_id}.mp4"), 12, 32, 32)


def test_charades_reads_actions_with_spans_and_keeps_videos_without_one(tmp_path):
    write_charades(str(tmp_path), [("46GP8", "c001 11.90 21.20;c000 0.00 12.60"), ("N11GT", "")],
                   [("ZZXQF", "c002 3.1 1.2")], videos=("46GP8", "N11GT", "ZZXQF"))  # fmt: skip
    train = charades_index(str(tmp_path), str(tmp_path), "train")
    assert train.multi_label and train.class_names[0] == "Holding some clothes" and train.num_classes == 3
    assert [r.name for r in train.records] == ["46GP8", "N11GT"]
    assert train.records[0].actions == ((1, 11.9, 21.2), (0, 0.0, 12.6)) and train.records[1].actions == ()
    assert charades_index(str(tmp_path), str(tmp_path), "test").records[0].actions == ((2, 1.2, 3.1),)  # ordered
    table = flat_index(train).records  # the loader workers' form keeps the spans
    assert [table[i].actions for i in range(2)] == [r.actions for r in train.records]


def test_charades_missing_videos_and_malformed_actions_are_one_line_errors(tmp_path):
    write_charades(str(tmp_path), [("46GP8", "c001 11.90 21.20"), ("GONE1", "c000 1 2")], [("ZZXQF", "")], ("46GP8",))
    with pytest.raises(UserError, match="1 of 2 charades train videos are missing .*GONE1"):
        charades_index(str(tmp_path), str(tmp_path), "train")
    assert len(charades_index(str(tmp_path), str(tmp_path), "train", skip_missing=True)) == 1
    write_charades(str(tmp_path / "bad"), [("46GP8", "c157 1.0 2.0")], [])
    with pytest.raises(UserError, match=r"Charades_v1_train.csv:2: action 'c157 1.0 2.0' is not 'c<class 000-002>"):
        charades_index(str(tmp_path), str(tmp_path / "bad"), "train")


def test_a_clip_takes_the_classes_whose_span_it_overlaps_a_test_video_all_of_its_classes():
    actions = ((1, 11.9, 21.2), (0, 0.0, 12.6), (2, 25.0, 30.0))
    assert clip_labels(actions, 4, (0.0, 5.0)).tolist() == [1, 0, 0, 0]
    assert clip_labels(actions, 4, (12.0, 13.0)).tolist() == [1, 1, 0, 0]  # both spans cover part of it
    assert clip_labels(actions, 4, (21.2, 24.9)).tolist() == [0, 1, 0, 0]  # touching the end counts
    assert clip_labels(actions, 4).tolist() == [1, 1, 1, 0] and clip_labels((), 4).tolist() == [0, 0, 0, 0]


def test_multi_label_loss_is_the_mean_binary_cross_entropy_and_views_take_the_maximum():
    model = VideoClassifier(build_backbone("r3d_18", width=0.125), 2, contract=InputContract(frames=4, size=32))
    logits = torch.tensor([[0.0, 2.0]])
    model.logits = lambda x: logits
    loss, logged = model.loss(
        {"clips": torch.zeros(1, 3, 4, 32, 32, dtype=torch.uint8), "label": torch.tensor([[1.0, 0.0]])}
    )
    by_hand = (np.log(2) + np.log(1 + np.exp(2.0))) / 2  # -log sigmoid(0) and -log(1 - sigmoid(2))
    assert loss.item() == pytest.approx(by_hand, rel=1e-6) and logged == {}
    views = torch.tensor([[0.0, 3.0], [1.0, -1.0], [5.0, 0.0]])  # video 1: views 0-1, video 2: view 2
    sigmoid = torch.sigmoid(views)
    expected = torch.stack([torch.stack([sigmoid[1, 0], sigmoid[0, 1]]), sigmoid[2]])
    assert torch.allclose(aggregate_views(views, [2, 1], "sigmoid_max"), expected)


def resolved(dataset, *flags):
    args = finetune.build_parser(None).parse_args(
        ["--saved_model", "random", "--recipe", "severe", "--dataset", dataset, *flags]
    )
    return args, finetune.resolve_recipe(args)


def test_severe_recipe_takes_each_dataset_s_values_and_charades_its_own_training():
    args, recipe = resolved("ucf101")
    assert (args.optimizer, args.lr, args.epochs, args.batch_size, args.frames) == ("adam", 1e-4, 16, 32, 32)
    assert (recipe.milestones, recipe.gamma, recipe.train_clips_per_video, args.eval_every) == ((6, 10, 14), 0.3, 10, 1)
    assert (args.num_clips, args.test_crops, recipe.crop_fraction, recipe.select_clips) == (10, 1, 0.875, 5)
    assert (args.sample_fps, args.stride) == (16.0, 1)  # 2 s clips: 32 frames read at 16 fps
    assert [resolved(d)[1].select_clips for d in ("ssv2", "gym99", "fx_s1", "ub_s1", "ntu60")] == [1, 3, 5, 3, 1]
    assert (resolved("ssv2")[0].epochs, resolved("ssv2")[1].milestones, resolved("ssv2")[1].train_clips_per_video) == (
        22, (12, 17, 20), 2)  # fmt: skip
    assert (resolved("ntu60")[0].frames, resolved("ntu60")[1].milestones) == (16, (9, 14, 16))
    args, recipe = resolved("charades")
    assert (args.optimizer, args.lr, args.weight_decay, args.epochs, args.batch_size) == ("sgd", 0.0375, 1e-4, 57, 16)
    assert (args.frames, args.stride, args.num_clips, args.test_crops, args.aggregate) == (32, 8, 10, 3, "sigmoid_max")
    assert recipe.nesterov and not recipe.report_best and not recipe.select_clips and args.sample_fps == 24.0
    assert args.test_epochs == (57,)  # one test, of the last epoch
    model = torch.nn.Sequential(torch.nn.Conv3d(3, 4, 1), torch.nn.BatchNorm3d(4))
    optimizer = finetune.build_optimizer(args, model, recipe)
    decay = [(len(g["params"]), g["weight_decay"]) for g in optimizer.param_groups]
    assert decay == [(2, 1e-4), (2, 0.0)] and optimizer.param_groups[0]["nesterov"]  # none on BatchNorm
    schedule = finetune.build_schedule(recipe, optimizer, args.epochs, 10)
    step = (0.0375 - 1e-4) / 4  # SlowFast's linear warm-up from 1e-4 over 4 epochs, every step
    schedule.start_epoch(0)
    assert optimizer.param_groups[1]["lr"] == pytest.approx(1e-4)
    for _ in range(5):
        schedule.after_step()
    assert optimizer.param_groups[1]["lr"] == pytest.approx(1e-4 + step / 2)  # half an epoch in
    lrs = {}
    for epoch in (1, 3, 4, 40, 41, 49, 56):
        schedule.start_epoch(epoch)
        lrs[epoch] = optimizer.param_groups[0]["lr"]
    assert lrs[1] == pytest.approx(1e-4 + step) and lrs[3] == pytest.approx(1e-4 + 3 * step)
    assert (lrs[4], lrs[40]) == (pytest.approx(0.0375), pytest.approx(0.0375))
    assert (lrs[41], lrs[49], lrs[56]) == (pytest.approx(0.00375), pytest.approx(0.000375), pytest.approx(0.000375))


def test_the_stored_ucf101_1000_list_is_severe_s_draw_from_the_official_split():
    names, entries = parse_ucf101_split(os.path.join(REPO, "data", "splits", "ucf101"), 1, "train")
    index = DatasetIndex("ucf101", "train", 1, "/", names, [VideoRecord("/" + rel, label) for rel, label in entries])
    drawn = [f"{r.path[1:]} {r.label + 1}" for r in severe_subset(index, 1000).records]
    with open(os.path.join(REPO, "data", "splits", "severe", "ucf101_trainlist01_1000.txt")) as f:
        stored = [line.strip() for line in f if line.strip()]
    assert drawn == stored and len(stored) == 1010  # ceil(1000 / 101) = 10 per class


def test_the_table_has_a_row_per_checkpoint_then_the_published_rows_marked():
    columns = [s for s in SETTINGS if s.name in ("ssv2", "gym99", "charades")]
    table = render_table(columns, {"mine": {"ssv2": 51.234}}, published_rows())
    lines = table.splitlines()
    assert lines[0] == "| checkpoint | domains: SS-v2 | Gym-99 | tasks: Charades (mAP) |"
    assert lines[2] == "| mine | 51.2 | - | - |"
    assert "| TCLR (published) | 59.8 | 91.6 | 12.2 |" in lines and len(lines) == 3 + 11


def tclr_checkpoint(folder):
    torch.manual_seed(1)  # other weights than --saved_model random's seed 0
    backbone = build_backbone("r3d_18", width=0.125)
    contract = InputContract(frames=8, stride=1, size=32)
    return save_checkpoint(make_checkpoint("tclr", backbone, contract), os.path.join(folder, "tclr.pt"))


def test_severe_runs_the_tiny_suite_for_a_tclr_and_a_random_checkpoint_and_resumes(tmp_path, capsys):
    out = str(tmp_path / "severe")
    checkpoint = tclr_checkpoint(str(tmp_path))
    assert severe.main(["--saved_model", checkpoint, "--tiny", "--out_dir", out, "--precision", "fp32"]) == 0
    random = ["--saved_model", "random", "--arch", "r3d_18", "--width", "0.125", "--tiny", "--out_dir", out]
    assert severe.main([*random, "--precision", "fp32"]) == 0
    printed = capsys.readouterr().out
    header = "| checkpoint | domains: other motions | samples: 1 video per class | granularity: speed and order | "
    assert header + "tasks: multi-label (mAP) |" in printed
    summary = json.load(open(os.path.join(out, "severe.json")))
    assert set(summary["measured"]) == {"tclr", "random"} and summary["published"] == {}
    for row in summary["measured"].values():
        assert set(row) == {"domain", "samples", "fine", "multilabel"} and all(0 <= v <= 100 for v in row.values())
    assert summary["measured"]["tclr"] != summary["measured"]["random"]
    subset = open(os.path.join(out, "tclr", "samples", "train_videos.txt")).read().split("\n")[:-1]
    assert sorted(line.split()[1] for line in subset) == ["0", "1", "2"]  # one video of each class
    multilabel = json.load(open(os.path.join(out, "tclr", "multilabel", "results.json")))
    assert multilabel["aggregate"] == "sigmoid_max" and 0 < multilabel["metrics"]["mAP"] <= 100
    # run again: every setting finished, nothing is trained; another checkpoint under the same name is refused
    assert severe.main(["--saved_model", checkpoint, "--tiny", "--out_dir", out, "--datasets", "fine,domain"]) == 0
    assert capsys.readouterr().out.count("finished earlier") == 2
    with pytest.raises(UserError, match="holds the results of .*tclr.pt; give this checkpoint another --name"):
        severe.main(["--saved_model", "random", "--name", "tclr", "--tiny", "--out_dir", out])


def test_severe_checks_every_setting_s_data_before_training_any(tmp_path):
    data, out = tmp_path / "data", str(tmp_path / "out")
    base = ["--saved_model", "random", "--data_root", str(data), "--out_dir", out]
    with pytest.raises(UserError, match=r"setting ssv2: --data_root .*ssv2' is not a folder"):
        severe.main([*base, "--suite", "domains,samples"])
    (data / "ssv2").mkdir(parents=True)
    with pytest.raises(UserError, match="setting ssv2: Something-Something v2: none of something-something-v2-labels"):
        severe.main([*base, "--suite", "domains"])
    assert not os.path.exists(out)  # nothing written before every setting's data was found
    with pytest.raises(UserError, match=r"setting fx_s1: --data_root .*finegym' is not a folder"):
        severe.main([*base, "--datasets", "fx_s1", "--root", f"gym99={tmp_path / 'finegym'}"])  # Gym99's folder
    with pytest.raises(UserError, match="--root 'ucf=/x': expected NAME=DIR with NAME one of charades, "):
        severe.main([*base, "--root", "ucf=/x"])
    with pytest.raises(UserError, match="--suite: unknown actions"):
        severe.main(["--saved_model", "random", "--tiny", "--suite", "actions"])


def test_severe_refuses_to_mix_a_finished_setting_with_other_flags(tmp_path):
    out = str(tmp_path / "severe")
    random = ["--saved_model", "random", "--arch", "r3d_18", "--width", "0.125", "--tiny", "--out_dir", out]
    assert severe.main([*random, "--datasets", "fine", "--num_workers", "0"]) == 0
    assert severe.main([*random, "--datasets", "fine", "--num_workers", "1"]) == 0  # where, not what: kept
    with pytest.raises(UserError, match="fine was run with other flags .*; delete it, or choose another --out_dir"):
        severe.main([*random, "--datasets", "fine", "--epochs", "3"])


def test_check_dataset_reports_a_charades_tree(tmp_path, capsys):
    from scripts import check_dataset

    write_charades(str(tmp_path), [("46GP8", "c001 1.0 2.0"), ("N11GT", "")], [("ZZXQF", "c000 0 1")],
                   videos=("46GP8", "N11GT", "ZZXQF"))  # fmt: skip
    flags = ["--dataset", "charades", "--data_root", str(tmp_path), "--workers", "0", "--min_frames", "8"]
    assert check_dataset.main(flags) == 0
    out = capsys.readouterr().out.splitlines()
    table = [line for line in out if line.startswith("| train") or line.startswith("| test")]
    assert table == ["| train | 2 | 3 | 0 | 0 | 0 | 0 | 0 |", "| test | 1 | 3 | 0 | 0 | 0 | 0 | 0 |"]


def test_a_resampled_reader_shows_the_frame_on_screen_at_each_new_frame_time(tmp_path):
    from videossl.video import open_video, probe_video
    from videossl.video.base import ResampledReader

    path = write_index_video(str(tmp_path / "v.mp4"), 50, 32, 32)  # 25 fps: 2 s
    with open_video(path, "pyav", info=probe_video(path)) as reader:
        resampled = ResampledReader(reader, 16.0)
        # frame k at k / 16 s is source frame int(k * 25 / 16); 32 frames cover the 2 s
        assert resampled.num_frames == 32 and resampled.fps == 16.0
        assert resampled.source_indices([0, 1, 2, 15, 31]).tolist() == [0, 1, 3, 23, 48]
        assert np.array_equal(resampled.get_frames([2, 31]), reader.get_frames([3, 48]))


def test_severe_reports_the_dense_test_of_the_epoch_its_selection_tests_chose(tiny_synthetic, tmp_path, capsys):
    from finetune import train as finetune_train
    from tests.helpers import tiny_eval_args

    small = ["--frames", "4", "--size", "32", "--epochs", "3", "--batch_size", "4", "--precision", "fp32"]
    flags = [*tiny_eval_args(tiny_synthetic, tclr_checkpoint(str(tmp_path))), "--recipe", "severe", *small]
    assert finetune_train.main([*flags, "--out_dir", str(tmp_path / "ft")]) == 0
    out = capsys.readouterr().out
    results = json.load(open(tmp_path / "ft" / "results.json"))
    best = read_checkpoint_file(str(tmp_path / "ft" / "checkpoints" / "best.pt"))
    assert results["reported"] == "selected" and results["metrics"]["epoch"] == best["epoch"]
    assert results["best"] == best["training_state"]["best_accuracy"] == results["metrics"]["selection_top1"]
    assert f"of epoch {best['epoch']}, chosen by the selection tests (2 views)" in out
    assert out.count("testing the model of epoch") == 1  # the dense test runs once, at the end
    # the reported number is the chosen model's own dense test
    retest = [*flags, "--saved_model", str(tmp_path / "ft" / "checkpoints" / "best.pt"), "--test_only"]
    assert finetune_train.main([*retest, "--out_dir", str(tmp_path / "re")]) == 0
    again = json.load(open(tmp_path / "re" / "results.json"))["metrics"]
    assert again["top1"] == results["metrics"]["top1"] and again["top5"] == results["metrics"]["top5"]


def test_severe_s_dense_test_clips_truncate_linspace_and_loop_a_short_video():
    from videossl.data.sampling import severe_test_clips

    # N = 50, span 32: linspace(0, 18, 5) = 0, 4.5, 9, 13.5, 18, truncated (rounding would give 14)
    assert severe_test_clips(50, 5, 32)[:, 0].tolist() == [0, 4, 9, 13, 18]
    assert severe_test_clips(50, 3, 32)[:, 0].tolist() == [0, 9, 18]
    assert severe_test_clips(33, 3, 32)[:, 0].tolist() == [0, 0, 1]  # max(N - span, 1): the last clip starts at 1
    short = severe_test_clips(20, 2, 32)
    assert short.tolist() == [list(range(20)) + list(range(12))] * 2


def test_rows_are_named_by_checkpoint_or_run_and_resuming_ignores_where_the_data_is():
    def name(path, *flags):
        return severe.row_name(severe.build_parser().parse_known_args(["--saved_model", path, *flags])[0])

    assert name("/dl/rpd18kin400.pth") == "rpd18kin400" and name("/dl/x.pth", "--name", "mine") == "mine"
    assert name("tclr_pretraining/ss_saved_models/r3d_ucf101/best.pt") == "r3d_ucf101"
    assert (
        name("finetune/results/ft1/checkpoints/last.pt") == "ft1"
        and name("torchvision:r2plus1d_18") == "torchvision_r2plus1d_18"
    )
    argv = ["--recipe", "severe", "--data_root", "/a", "--skip_missing", "--epochs", "3", "--device=cuda"]
    assert severe.what_matters(argv) == ["--recipe", "severe", "--epochs", "3"]
