"""The SLURM template's preemption path: SIGUSR1 ahead of the time limit reaches the run as
SIGTERM, and a run that stops at a checkpoint (status 75) gets the job requeued. srun, torchrun's
place and scontrol are stand-ins that record what they were asked."""

import os
import signal
import subprocess
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def stub(folder, name, body):
    path = folder / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def test_usr1_becomes_a_sigterm_for_the_run_and_a_requeue(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "activate").write_text("")
    log = tmp_path / "log"
    # the run: waits for SIGTERM, then "saves its step" and exits with the requeue status
    stub(bin_dir, "srun", f"trap 'echo run got TERM >> {log}; exit 75' TERM\nwhile true; do sleep 0.1; done\n")
    stub(bin_dir, "scontrol", f'if [ "$1" = show ]; then echo node01; else echo "scontrol $*" >> {log}; fi\n')
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", SLURM_JOB_ID="4242", SLURM_NNODES="1")
    env["SLURM_JOB_NODELIST"] = "node01"
    script = os.path.join(ROOT, "scripts", "slurm", "pretrain.sbatch")
    job = subprocess.Popen(["bash", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)  # the run has started
    job.send_signal(signal.SIGUSR1)  # what --signal=B:USR1@180 sends to the batch shell
    out = job.communicate(timeout=30)[0]
    assert job.returncode == 75 and "requeueing 4242" in out
    assert log.read_text().splitlines() == ["run got TERM", "scontrol requeue 4242"]
