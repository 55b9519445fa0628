"""export_siglip.py - SigLIP directories that rclip-export wrote, loaded by
transformers and run on the fixtures' inputs (tests/fixtures/siglip/).

Called by tests/cli/export-siglip.sh; WORK holds, per fixture NAME,
NAME.hf (--to hf), NAME.vis (--to hf-vision) and NAME.back (NAME.hf
exported again by rclip: transformers -> rclip -> transformers). Checks:
  - SiglipModel.from_pretrained(NAME.hf and NAME.back): no missing,
    unexpected or mismatched keys; image_embeds and text_embeds within
    1e-5 of outputs.safetensors, logits_per_image within 1e-4;
  - SiglipVisionModel.from_pretrained(NAME.vis): pooler_output (the
    pooling head's output, the image embedding before normalising) within
    1e-5, last_hidden_state within 1e-4;
  - SiglipImageProcessor.from_pretrained(NAME.hf): the model's size, mean
    and std 0.5, bicubic, and on the fixture's uint8 images (already S x S)
    the pixels within 1e-6 of the inputs.
Exits 1 on any failure.
"""
import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import SiglipImageProcessor, SiglipModel, SiglipVisionModel  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_transformers import failures, load_clean, within  # noqa: E402

EMB_TOL = 1e-5
WIDE_TOL = 1e-4


def check(name, fixtures, work):
    inp = load_file(f"{fixtures}/{name}/inputs.safetensors")
    out = load_file(f"{fixtures}/{name}/outputs.safetensors")
    for label in ("hf", "back"):
        m = load_clean(SiglipModel, f"{work}/{name}.{label}")
        with torch.no_grad():
            r = m(input_ids=inp["input_ids"], pixel_values=inp["pixel_values"])
        di = within(f"{name}.{label} image_embeds", r.image_embeds, out["image_embeds"], EMB_TOL)
        dt = within(f"{name}.{label} text_embeds", r.text_embeds, out["text_embeds"], EMB_TOL)
        dl = within(f"{name}.{label} logits_per_image", r.logits_per_image,
                    out["logits_per_image"], WIDE_TOL)
        print(f"{name}.{label}: SiglipModel: image_embeds {di:.3g}, text_embeds {dt:.3g}, "
              f"logits {dl:.3g}")
    v = load_clean(SiglipVisionModel, f"{work}/{name}.vis")
    with torch.no_grad():
        o = v(pixel_values=inp["pixel_values"])
    dp = within(f"{name}.vis pooler_output", o.pooler_output, out["image_pooled"], EMB_TOL)
    dh = within(f"{name}.vis last_hidden_state", o.last_hidden_state,
                out["vision_last_hidden_state"], WIDE_TOL)
    print(f"{name}.vis: SiglipVisionModel: pooler_output {dp:.3g}, last_hidden_state {dh:.3g}")
    p = SiglipImageProcessor.from_pretrained(f"{work}/{name}.hf")
    s = m.config.vision_config.image_size
    if (p.size.get("height"), p.size.get("width")) != (s, s) or list(p.image_mean) != [0.5] * 3 \
            or list(p.image_std) != [0.5] * 3 or int(p.resample) != 3:
        failures.append(f"{name}.hf: image processor {p.size} {p.image_mean} {p.image_std} "
                        f"{p.resample}")
        print(f"FAIL: {name}.hf: image processor {p.size}")
    px = p(images=[r.numpy() for r in inp["rgb"]], return_tensors="pt")["pixel_values"]
    dx = within(f"{name}.hf image processor pixels", px, inp["pixel_values"], 1e-6)
    print(f"{name}.hf: SiglipImageProcessor: {s}x{s}, pixels {dx:.3g}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("names", nargs="+")
    a = ap.parse_args()
    for name in a.names:
        check(name, a.fixtures, a.work)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
