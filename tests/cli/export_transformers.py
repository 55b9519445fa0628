"""export_transformers.py - what rclip-export wrote, loaded by transformers
(and open_clip when it is installed) and run on the fixtures' inputs.

Called by tests/cli/export-transformers.sh after it has exported every
fixture; WORK holds NAME.hf, NAME.vis, NAME.visp (with projection) and,
where open_clip can express the model, NAME.oc and NAME.oc.hf (open_clip
and back). Checks, per fixture:
  - CLIPModel.from_pretrained(NAME.hf): no missing, unexpected or
    mismatched keys; image_embeds and text_embeds within 1e-5 of
    outputs.safetensors, logits within 1e-4;
  - CLIPVisionModel.from_pretrained(NAME.vis): the tower's pooler output
    and last hidden state; CLIPVisionModelWithProjection(NAME.visp): the
    projection and the normalised embeddings;
  - NAME.oc.hf through transformers, NAME.oc through
    open_clip.create_model_and_transforms("local-dir:...");
  - CLIPProcessor.from_pretrained: its tokenizer gives rclip-tokenize's ids
    on the captions given, its image processor the model's size;
  - open_clip state dicts in other spellings ("module." names, BF16 and
    F16 tensors) convert to the fixture's weights exactly.
Prints the largest difference seen; exits 1 on any failure.
"""
import argparse
import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import (CLIPModel, CLIPProcessor, CLIPVisionModel,  # noqa: E402
                          CLIPVisionModelWithProjection)

EMB_TOL = 1e-5     # embeddings, as the parity tests (tests/fixtures/clip/README.md)
WIDE_TOL = 1e-4    # logits, hidden states, projections
FIXTURES = ["tiny-quickgelu", "tiny-gelu", "tiny-oddheads", "tiny-img64"]

failures = []
largest = {"image_embeds": 0.0, "text_embeds": 0.0}


def fail(msg):
    print("FAIL: " + msg)
    failures.append(msg)


def maxabs(a, b):
    return float((a.double() - b.double()).abs().max())


def within(what, got, ref, tol):
    d = maxabs(got, ref)
    if not d <= tol:
        fail(f"{what}: max |diff| {d:.3g} > {tol:g}")
    return d


def load_clean(cls, path):
    model, info = cls.from_pretrained(path, attn_implementation="eager",
                                      output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(key):
            fail(f"{cls.__name__}.from_pretrained({path}): {key} {sorted(info[key])[:5]}")
    model.eval()
    return model


def check_clip(name, path, inp, out, label):
    m = load_clean(CLIPModel, path)
    with torch.no_grad():
        r = m(input_ids=inp["input_ids"], pixel_values=inp["pixel_values"])
    di = within(f"{name} {label} image_embeds", r.image_embeds, out["image_embeds"], EMB_TOL)
    dt = within(f"{name} {label} text_embeds", r.text_embeds, out["text_embeds"], EMB_TOL)
    dl = within(f"{name} {label} logits_per_image", r.logits_per_image,
                out["logits_per_image"], WIDE_TOL)
    largest["image_embeds"] = max(largest["image_embeds"], di)
    largest["text_embeds"] = max(largest["text_embeds"], dt)
    print(f"{name}: {label} CLIPModel: image_embeds {di:.3g}, text_embeds {dt:.3g}, "
          f"logits {dl:.3g}")


def check_vision(name, work, inp, out):
    px = inp["pixel_values"]
    v = load_clean(CLIPVisionModel, f"{work}/{name}.vis")
    with torch.no_grad():
        o = v(pixel_values=px)
    dp = within(f"{name} CLIPVisionModel pooler_output", o.pooler_output,
                out["vision_pooler_output"], WIDE_TOL)
    dh = within(f"{name} CLIPVisionModel last_hidden_state", o.last_hidden_state,
                out["vision_last_hidden_state"], WIDE_TOL)
    vp = load_clean(CLIPVisionModelWithProjection, f"{work}/{name}.visp")
    with torch.no_grad():
        e = vp(pixel_values=px).image_embeds
    dj = within(f"{name} CLIPVisionModelWithProjection image_embeds", e, out["image_proj"],
                WIDE_TOL)
    de = within(f"{name} CLIPVisionModelWithProjection normalised",
                e / e.norm(dim=-1, keepdim=True), out["image_embeds"], EMB_TOL)
    largest["image_embeds"] = max(largest["image_embeds"], de)
    print(f"{name}: CLIPVisionModel: pooler {dp:.3g}, hidden {dh:.3g}; with projection: "
          f"proj {dj:.3g}, image_embeds {de:.3g}")


def check_open_clip(name, path, inp, out):
    try:
        import open_clip
    except ImportError:
        print(f"{name}: open_clip not installed, its load is not checked")
        return
    m, _, _ = open_clip.create_model_and_transforms("local-dir:" + path)
    m.eval()
    with torch.no_grad():
        i = m.encode_image(inp["pixel_values"], normalize=True)
        t = m.encode_text(inp["input_ids"], normalize=True)
    di = within(f"{name} open_clip image", i, out["image_embeds"], EMB_TOL)
    dt = within(f"{name} open_clip text", t, out["text_embeds"], EMB_TOL)
    print(f"{name}: open_clip local-dir: image_embeds {di:.3g}, text_embeds {dt:.3g}")


def check_processor(path, captions, ids_file, size):
    p = CLIPProcessor.from_pretrained(path)
    with open(captions, encoding="utf-8") as f:
        caps = [line.rstrip("\n") for line in f]
    with open(ids_file, encoding="utf-8") as f:
        ref = [[int(x) for x in line.split()] for line in f]
    got = p.tokenizer(caps)["input_ids"]
    bad = [(c, g, r) for c, g, r in zip(caps, got, ref) if g != r]
    for c, g, r in bad[:3]:
        fail(f"CLIPTokenizer on {c!r}: {g}, rclip-tokenize {r}")
    if len(got) != len(ref):
        fail(f"{len(got)} captions, {len(ref)} rows of ids")
    padded = p.tokenizer(caps[:2], padding="max_length", max_length=77)["input_ids"]
    if any(len(r) != 77 for r in padded):
        fail("padding to 77 failed")
    from PIL import Image
    img = Image.new("RGB", (3 * size, 2 * size), (200, 30, 90))
    pv = p(images=img, return_tensors="pt")["pixel_values"]
    if tuple(pv.shape) != (1, 3, size, size):
        fail(f"CLIPProcessor image: shape {tuple(pv.shape)}")
    print(f"CLIPProcessor: {type(p.tokenizer).__name__} gives rclip-tokenize's ids on "
          f"{len(caps) - len(bad)} of {len(caps)} captions; images -> {tuple(pv.shape)}")


def check_spellings(exe, fixtures, work):
    """open_clip files as others write them: "module." names, BF16, F16."""
    src = f"{fixtures}/tiny-quickgelu/open_clip.safetensors"
    with safe_open(src, "pt") as f:
        meta = f.metadata()
    sd = load_file(src)
    ref = load_file(f"{fixtures}/tiny-quickgelu/model.safetensors")
    for label, tensors, dtype in (
            ("module", {"module." + k: v for k, v in sd.items()}, None),
            ("bf16", {k: v.to(torch.bfloat16) for k, v in sd.items()}, torch.bfloat16),
            ("f16", {k: v.to(torch.float16) for k, v in sd.items()}, torch.float16)):
        path = f"{work}/spell-{label}.safetensors"
        save_file(tensors, path, metadata=meta)
        out = f"{work}/spell-{label}.hf"
        r = subprocess.run([exe, "-q", "--from", path, "--to", "hf", "-o", out, "--check"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"rclip-export of a {label} open_clip file: exit {r.returncode}: "
                 f"{r.stderr.strip()}")
            continue
        got = load_file(f"{out}/model.safetensors")
        bad = [k for k in ref if not torch.equal(
            got[k], ref[k] if dtype is None else ref[k].to(dtype).float())]
        if bad:
            fail(f"{label} open_clip file: {len(bad)} tensors differ, e.g. {bad[0]}")
        else:
            print(f"open_clip file with {label} tensors: every tensor exact")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", required=True, help="the rclip-export program")
    ap.add_argument("--fixtures", required=True, help="tests/fixtures/clip")
    ap.add_argument("--work", required=True, help="the exports")
    ap.add_argument("--captions", required=True)
    ap.add_argument("--ids", required=True, help="rclip-tokenize's ids of the captions")
    a = ap.parse_args()
    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    for name in FIXTURES:
        inp = load_file(f"{a.fixtures}/{name}/inputs.safetensors")
        out = load_file(f"{a.fixtures}/{name}/outputs.safetensors")
        check_clip(name, f"{a.work}/{name}.hf", inp, out, "hf")
        check_vision(name, a.work, inp, out)
        if os.path.isdir(f"{a.work}/{name}.oc"):
            check_clip(name, f"{a.work}/{name}.oc.hf", inp, out, "open_clip -> hf")
            check_open_clip(name, f"{a.work}/{name}.oc", inp, out)
    check_processor(f"{a.work}/tiny-quickgelu.hf", a.captions, a.ids,
                    transformers.CLIPConfig.from_pretrained(
                        f"{a.work}/tiny-quickgelu.hf").vision_config.image_size)
    check_spellings(a.export, a.fixtures, a.work)
    print(f"largest difference through transformers: image_embeds "
          f"{largest['image_embeds']:.3g}, text_embeds {largest['text_embeds']:.3g} "
          f"(tolerance {EMB_TOL:g})")
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)


if __name__ == "__main__":
    main()
