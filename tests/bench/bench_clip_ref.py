#!/usr/bin/env python3
"""The PyTorch side of tests/bench/bench-clip.sh, and its table.

    bench_clip_ref.py bench [-j N] [-k K] [-b B] [--attn eager|sdpa] [--no-train]
                            [-m MODEL] [--precision fp32|bf16]
        one JSON line: images/s, texts/s, training steps/s, peak RSS
    bench_clip_ref.py table RCLIP.json TORCH.json...
        the comparison table from bench-clip's line and these lines

MODEL: one of rclip's built-in configs (ViT-B-32, the default; ViT-L-14,
the SigLIP ones, tiny), as transformers.CLIPModel or SiglipModel with
its sizes (bench_gpu_ref.py's CONFIGS and make_model; the same parameter
count as bench-clip's). Random init, no download; fp32, or with --precision bf16
the fp32 model under torch.autocast("cpu", dtype=torch.bfloat16) (what a PyTorch user turns on
for speed on a CPU with AVX512-BF16 or AMX; encoding only). Encoding is what rclip's
rc_clip_encode_image / _text do: get_*_features, then L2 normalisation,
under torch.inference_mode(). A training step is forward of both towers
with return_loss=True (the model's loss: CLIP's, or SigLIP's sigmoid
loss; bench-clip.sh times SigLIP's encoding only), backward, gradients set to None
between steps (optimizer.zero_grad()'s default); no optimizer update.
Each figure is the median of K runs after one warm-up run.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

M64 = (1 << 64) - 1


def splitmix64(s):
    """(next state, value) as bench-clip.c's splitmix64."""
    s = (s + 0x9E3779B97F4A7C15) & M64
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return s, z ^ (z >> 31)


def random_ids(B, T, V, seed):
    """The rows of bench-clip.c's random_ids: start token V-2, random ids
    below it, the end token V-1 at 2 + (29b + r) % (T-2), then 0."""
    s, rows = seed, []
    for b in range(B):
        s, r = splitmix64(s)
        end = 2 + (b * 29 + r % 7) % (T - 2)
        row = [V - 2]
        for i in range(1, T):
            if i < end:
                s, r = splitmix64(s)
                row.append(r % (V - 2))
            else:
                row.append(V - 1 if i == end else 0)
        rows.append(row)
    return rows


def peak_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_s():
    t = os.times()
    return t.user + t.system


def timed(fn, k, threads):
    """(median seconds of k runs after a warm-up, CPU use): the CPU time
    of the k runs over their wall time and the thread count, as
    bench-clip.c's; well below 1 when other processes took the cores."""
    fn()
    ts = []
    c0, w0 = cpu_s(), time.perf_counter()
    for _ in range(k):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    util = (cpu_s() - c0) / ((time.perf_counter() - w0) * threads)
    return statistics.median(ts), round(util, 2)


# The models, as rclip's built-in configs make them: bench_gpu_ref.py's
# table and constructors (CLIPModel or SiglipModel, random init).
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_gpu_ref import CONFIGS, make_model as make_ref_model  # noqa: E402


def make_model(name):
    import torch
    return make_ref_model(name, "cpu", torch).eval()


def bench(a):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    base_rss = peak_rss_kib()
    model = make_model(a.model)
    model.set_attn_implementation(a.attn)
    nparams = sum(p.numel() for p in model.parameters())
    tc, vc = model.config.text_config, model.config.vision_config
    B, T, S = a.batch, tc.max_position_embeddings, vc.image_size
    px = torch.randn(B, 3, S, S, dtype=torch.float32)
    ids = torch.tensor(random_ids(B, T, tc.vocab_size, a.seed), dtype=torch.long)

    def enc_img():
        e = model.get_image_features(pixel_values=px).pooler_output
        return e / e.norm(p=2, dim=-1, keepdim=True)

    def enc_txt():
        e = model.get_text_features(input_ids=ids).pooler_output
        return e / e.norm(p=2, dim=-1, keepdim=True)

    import contextlib
    amp = (torch.autocast("cpu", dtype=torch.bfloat16) if a.precision == "bf16"
           else contextlib.nullcontext())
    with torch.inference_mode(), amp:
        img_s, img_u = timed(enc_img, a.runs, a.threads)
        txt_s, txt_u = timed(enc_txt, a.runs, a.threads)
    rss = peak_rss_kib()
    out = dict(impl="pytorch", attn=a.attn, precision=a.precision, model=a.model,
               threads=torch.get_num_threads(),
               batch=B, runs=a.runs, image_s=round(img_s, 4), images_per_s=round(B / img_s, 2),
               text_s=round(txt_s, 4), texts_per_s=round(B / txt_s, 2),
               train_step_s=None, train_steps_per_s=None, cpu_util=[img_u, txt_u, None],
               params=nparams,
               peak_rss_kib=rss, peak_rss_train_kib=None, base_rss_kib=base_rss,
               torch=torch.__version__, transformers=transformers.__version__,
               blas="MKL" if torch.backends.mkl.is_available() else "other")
    if not a.no_train:
        model.train()

        def step():
            model.zero_grad(set_to_none=True)
            model(input_ids=ids, pixel_values=px, return_loss=True).loss.backward()

        tr_s, tr_u = timed(step, a.runs, a.threads)
        out.update(train_step_s=round(tr_s, 4), train_steps_per_s=round(1 / tr_s, 3),
                   peak_rss_train_kib=peak_rss_kib(), cpu_util=[img_u, txt_u, tr_u])
    print(json.dumps(out), flush=True)


def table(a):
    rows = [json.loads(open(p).read().strip().splitlines()[-1]) for p in [a.rclip] + a.torch]
    rc, pts = rows[0], rows[1:]
    names = ["rclip"] + ["PyTorch %s" % p["attn"] for p in pts]
    w = max(16, max(len(n) for n in names) + 3)
    mib = lambda k: "%.0f" % (k / 1024) if k else "n/a"
    rate = lambda v, d: ("%.3g" % v) if v is not None else d
    ratio = lambda x, y: ("%.2fx" % (x / y)) if x and y else "n/a"

    print("%s, random weights, fp32, batch %d, %d threads; median of %d runs after a warm-up"
          % (rc["model"], rc["batch"], rc["threads"], rc["runs"]))
    if pts:
        print("PyTorch %s, transformers %s (%s); rclip: OpenBLAS sgemm + OpenMP"
              % (pts[0]["torch"], pts[0]["transformers"], pts[0]["blas"]))
    hdr = "%-22s" % "" + "".join("%*s" % (w, n) for n in names)
    hdr += "".join("%*s" % (w, "rclip/" + p["attn"]) for p in pts)
    print(hdr)
    lines = [("images/s", "images_per_s", "n/a"), ("texts/s", "texts_per_s", "n/a"),
             ("train steps/s", "train_steps_per_s", "n/a")]
    for label, key, dflt in lines:
        s = "%-22s" % label + "".join("%*s" % (w, rate(r[key], dflt)) for r in rows)
        s += "".join("%*s" % (w, ratio(rc[key], p[key])) for p in pts)
        print(s)
    print("%-22s" % "peak RSS, MiB" + "".join("%*s" % (w, mib(r["peak_rss_kib"])) for r in rows))
    print("%-22s" % "peak RSS train, MiB"
          + "".join("%*s" % (w, mib(r["peak_rss_train_kib"])) for r in rows))
    if pts:
        print("%-22s" % "  before the model" + "%*s" % (w, "-")
              + "".join("%*s" % (w, mib(p["base_rss_kib"])) for p in pts))
    print("%-22s" % "CPU use (img/txt/train)"
          + "".join("%*s" % (w, "/".join("-" if u is None else "%.2f" % u for u in r["cpu_util"]))
                    for r in rows))
    print("CPU use: CPU time / (wall time x threads) over the timed runs; well below 1"
          " means other processes shared the cores and the figures are noisy")
    if pts:
        best = lambda key: max((p[key] or 0) for p in pts)
        print("target: rclip >= 1.5x PyTorch on encoding, >= 1.2x on the training step; "
              "against the faster PyTorch: images %s, texts %s, training %s"
              % (ratio(rc["images_per_s"], best("images_per_s")),
                 ratio(rc["texts_per_s"], best("texts_per_s")),
                 ratio(rc["train_steps_per_s"], best("train_steps_per_s"))))


def precision_table(a):
    """bench-precision.sh's table: one block per model and thread count."""
    rows = [json.loads(l) for l in open(a.lines) if l.strip()]
    key = lambda r: "rclip %s" % r["precision"] if r["impl"] == "rclip" else (
        "PyTorch %s" % ("bf16 autocast" if r["precision"] == "bf16" else "fp32"))
    cols = ["rclip fp32", "rclip bf16", "rclip int8", "PyTorch fp32", "PyTorch bf16 autocast"]
    isa = next((r["isa"] for r in rows if r["impl"] == "rclip" and r["precision"] != "fp32"),
               "n/a")
    tv = next((r for r in rows if r["impl"] == "pytorch"), None)
    print("random weights, batch %d, median of %d runs after a warm-up; rclip bf16/int8 on "
          "oneDNN (%s)%s" % (rows[0]["batch"], rows[0]["runs"], isa,
                             ", PyTorch %s, transformers %s (sdpa attention)"
                             % (tv["torch"], tv["transformers"]) if tv else ""))
    ratio = lambda x, y: ("%.2fx" % (x / y)) if x and y else "n/a"
    for model in dict.fromkeys(r["model"] for r in rows):
        for th in sorted(set(r["threads"] for r in rows if r["model"] == model)):
            got = {key(r): r for r in rows if r["model"] == model and r["threads"] == th}
            print("\n%s, %d thread%s" % (model, th, "s" if th > 1 else ""))
            print("%-16s" % "" + "".join("%22s" % c for c in cols))
            for label, k in (("images/s", "images_per_s"), ("texts/s", "texts_per_s")):
                print("%-16s" % label + "".join(
                    "%22s" % ("%.3g" % got[c][k] if c in got else "-") for c in cols))
            print("%-16s" % "peak RSS, MiB" + "".join(
                "%22s" % ("%.0f" % (got[c]["peak_rss_kib"] / 1024) if c in got else "-")
                for c in cols))
            print("%-16s" % "CPU use img/txt" + "".join(
                "%22s" % ("/".join("%.2f" % u for u in got[c]["cpu_util"][:2]) if c in got
                          else "-") for c in cols))
            g = lambda c, k: got[c][k] if c in got else None
            for mine in ("rclip bf16", "rclip int8"):
                for theirs in ("PyTorch bf16 autocast", "PyTorch fp32"):
                    print("%s / %s: images %s, texts %s" % (
                        mine, theirs, ratio(g(mine, "images_per_s"), g(theirs, "images_per_s")),
                        ratio(g(mine, "texts_per_s"), g(theirs, "texts_per_s"))))
    print("\ntarget: rclip bf16 >= 1.2x PyTorch bf16 autocast, int8 faster still, peak memory "
          "below PyTorch's. CPU use: CPU time / (wall time x threads); well below 1 means "
          "other processes shared the cores")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    b.add_argument("-j", "--threads", type=int, default=os.cpu_count())
    b.add_argument("-k", "--runs", type=int, default=5)
    b.add_argument("-b", "--batch", type=int, default=32)
    b.add_argument("-s", "--seed", type=int, default=1)
    b.add_argument("--attn", choices=["eager", "sdpa"], default="eager")
    b.add_argument("--no-train", action="store_true")
    b.add_argument("-m", "--model", choices=list(CONFIGS), default="ViT-B-32")
    b.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    t = sub.add_parser("table")
    t.add_argument("rclip")
    t.add_argument("torch", nargs="*")
    pt = sub.add_parser("precision-table")
    pt.add_argument("lines")
    a = ap.parse_args()
    {"bench": bench, "table": table, "precision-table": precision_table}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
