#!/usr/bin/env python3
"""The PyTorch side of the rclip-train speed comparison (issue 5, point 7).

    bench_train_ref.py [-j THREADS] [-n STEPS] [-b BATCH] [--fixtures DIR]

Times the stage-1 loop of tests/fixtures/gen_train.py (imported from there,
so it is the same code): the same tiny CLIPModel (loaded from DIR/init),
the same data (DIR/lite.jsonl, --shuffle none order, wrapping around after
the 108 items) and the same recipe (two-stream loss with w(p), the L2 term,
parameter groups, warmup + cosine over 2 + STEPS steps, clipping, AdamW,
the logit_scale clamp). Two warm-up steps, then STEPS timed optimizer
steps. Pixels and token ids are prepared before timing (the images are
decoded once); a timed step is: batch assembly, forward, backward, clip,
AdamW step, clamp.

Prints one JSON line: steps_per_s (STEPS / wall seconds of the timed
steps), the thread count, batch, last loss, cpu_util (CPU time / (wall x
threads), well below 1 when other processes shared the cores), peak RSS and
versions. Run it with OMP_NUM_THREADS=MKL_NUM_THREADS=THREADS as well, so
that every pool has the same size from the start.
"""
import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))


def cpu_s():
    t = os.times()
    return t.user + t.system


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-j", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("-n", "--steps", type=int, default=20)
    ap.add_argument("-b", "--batch", type=int, default=8)
    ap.add_argument("--fixtures", default=str(ROOT / "tests" / "fixtures" / "train"))
    a = ap.parse_args()
    if a.threads < 1 or a.steps < 1 or a.batch < 1:
        ap.error("threads, steps and batch must be positive")

    import torch
    import transformers
    import gen_train as g

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    d = Path(a.fixtures)
    data = g.Data(d)
    model = g.load_model(d / "init")
    model.train()
    loop = g.Stage1(model, data, total=a.steps + 2, batch=a.batch)
    for s in range(2):
        loop.step(s)
    c0, w0 = cpu_s(), time.perf_counter()
    for s in range(2, a.steps + 2):
        row = loop.step(s)
    wall = time.perf_counter() - w0
    util = (cpu_s() - c0) / (wall * a.threads)
    out = dict(impl="pytorch", what="rclip-train stage 1 reference loop",
               threads=torch.get_num_threads(), batch=a.batch, steps=a.steps,
               warmup_steps=2, wall_s=round(wall, 4), steps_per_s=round(a.steps / wall, 3),
               loss_last=row["loss"], cpu_util=round(util, 2),
               params=sum(p.numel() for p in model.parameters()),
               peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               torch=torch.__version__, transformers=transformers.__version__)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
