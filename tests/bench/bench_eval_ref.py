#!/usr/bin/env python3
"""The PyTorch side of tests/bench/bench-eval.sh.

  bench_eval_ref.py setup DIR [-n N]   a ViT-B/32 transformers.CLIPModel with
      random weights (CLIPConfig() is ViT-B/32; seeded, nothing downloaded)
      saved to DIR/model, N seeded 500x375 JPEG images in DIR/img and the
      manifest DIR/images.jsonl (one caption each) that rclip-eval reads
  bench_eval_ref.py bench DIR -j T -k RUNS [-b B]   images/s encoded for
      evaluation as a transformers user does it: PIL open + convert("RGB"),
      CLIPImageProcessor (resize shortest side, center crop, normalise),
      get_image_features in batches of B under torch.inference_mode, on T
      threads; one JSON line with the rate of each run and their median.
"""
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel  # noqa: E402

transformers.logging.set_verbosity_error()


def setup(d, n):
    d = Path(d)
    (d / "img").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1)
    model = CLIPModel(CLIPConfig())
    model.save_pretrained(d / "model")
    rng = np.random.default_rng(1)
    lines = []
    for i in range(n):
        a = rng.integers(0, 256, (375 // 15, 500 // 20, 3), dtype=np.uint8)
        im = Image.fromarray(a).resize((500, 375), Image.BILINEAR)
        im.save(d / "img" / f"{i:04d}.jpg", quality=90)
        lines.append(json.dumps({"image_path": f"img/{i:04d}.jpg", "caption": f"image {i}"}))
    (d / "images.jsonl").write_text("\n".join(lines) + "\n")


def bench(d, threads, runs, batch):
    d = Path(d)
    torch.set_num_threads(threads)
    model = CLIPModel.from_pretrained(d / "model", attn_implementation="sdpa").eval()
    proc = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    paths = [d / json.loads(line)["image_path"] for line in (d / "images.jsonl").read_text().split("\n") if line]
    rates = []
    with torch.inference_mode():
        for _ in range(runs):
            t0 = time.perf_counter()
            for b in range(0, len(paths), batch):
                ims = [Image.open(p).convert("RGB") for p in paths[b:b + batch]]
                px = proc(images=ims, return_tensors="pt")["pixel_values"]
                model.get_image_features(pixel_values=px)
            rates.append(len(paths) / (time.perf_counter() - t0))
    print(json.dumps({"threads": threads, "images": len(paths), "rates": rates,
                      "median": statistics.median(rates), "torch": torch.__version__,
                      "transformers": transformers.__version__}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["setup", "bench"])
    ap.add_argument("dir")
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("-j", type=int, default=1)
    ap.add_argument("-k", type=int, default=3)
    ap.add_argument("-b", type=int, default=32)
    a = ap.parse_args()
    if a.cmd == "setup":
        setup(a.dir, a.n)
    else:
        bench(a.dir, a.j, a.k, a.b)


if __name__ == "__main__":
    main()
