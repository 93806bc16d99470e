"""Wall time and peak memory of a command and all its child processes (default: ``make demo``).

    python scripts/bench/bench_demo.py [--interval 0.2] [-- COMMAND ...]

Memory is sampled from /proc every ``--interval`` seconds: the peak of the summed resident set
sizes (RSS) of the whole process tree (the demo runs a pretraining subprocess and data-loader
workers, so the largest single process, which ``/usr/bin/time`` reports, understates it) and the
peak of any single process. Summed RSS counts pages that forked workers share with their parent
more than once, so it is an upper bound. Linux only.
"""

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGE = os.sysconf("SC_PAGE_SIZE")


def children_of():
    """{parent pid: [child pids]} for every process on the machine."""
    tree = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        tree.setdefault(int(fields[1]), []).append(int(name))
    return tree


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def tree_rss(root):
    """(summed RSS of ``root`` and its descendants, largest single RSS, process count)."""
    tree, todo, sizes = children_of(), [root], []
    while todo:
        pid = todo.pop()
        sizes.append(rss_bytes(pid))
        todo.extend(tree.get(pid, []))
    return sum(sizes), max(sizes), len(sizes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="default: make demo")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] or ["make", "demo"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    peak_total = peak_single = peak_processes = 0
    while process.poll() is None:
        total, single, count = tree_rss(process.pid)
        peak_total, peak_single = max(peak_total, total), max(peak_single, single)
        peak_processes = max(peak_processes, count)
        time.sleep(args.interval)
    seconds = time.perf_counter() - started
    gib = 1024**3
    print(f"\n{' '.join(command)} (exit {process.returncode}), sampled every {args.interval} s\n")
    print("| wall time | peak RSS, whole process tree | peak RSS, one process | most processes at once |")
    print("|---|---|---|---|")
    print(
        f"| {seconds / 60:.1f} min ({seconds:.0f} s) | {peak_total / gib:.2f} GiB | {peak_single / gib:.2f} GiB "
        f"| {peak_processes} |"
    )
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
