#!/usr/bin/env python3
"""The Pillow side of tests/bench/bench-shard.sh, and its test data.

    bench_shard_ref.py make-images DIR N       N JPEGs around 500x375 + DIR/manifest.jsonl
    bench_shard_ref.py pillow MANIFEST S Q     decode -> CLIP resize + crop -> JPEG encode,
                                                one process, one thread; prints records/s

The reference pipeline is what rclip-shard does per record: Pillow's
Image.open + convert("RGB"), the shortest side resized to S with BICUBIC
(as CLIPImageProcessor), the center S x S crop, JPEG at quality Q.
"""
import io
import json
import os
import random
import sys
import time

from PIL import Image


def scene(r, w, h):
    """Photo-like content: a colour gradient, a few shapes, mild noise and
    a blur, so that JPEG sizes (about 30-60 KB) are those of photos."""
    from PIL import ImageDraw, ImageFilter
    c0 = tuple(r.randrange(256) for _ in range(3))
    c1 = tuple(r.randrange(256) for _ in range(3))
    mask = Image.linear_gradient("L").rotate(r.randrange(360)).resize((w, h))
    img = Image.composite(Image.new("RGB", (w, h), c0), Image.new("RGB", (w, h), c1), mask)
    d = ImageDraw.Draw(img)
    for _ in range(r.randint(3, 8)):
        x0, y0 = r.randrange(w), r.randrange(h)
        box = [x0, y0, x0 + r.randint(10, w // 2), y0 + r.randint(10, h // 2)]
        fill = tuple(r.randrange(256) for _ in range(3))
        (d.ellipse if r.random() < 0.5 else d.rectangle)(box, fill=fill)
    noise = Image.effect_noise((w, h), 12).convert("RGB")
    img = Image.blend(img, noise, 0.15)
    return img.filter(ImageFilter.GaussianBlur(0.8))


def make_images(d, n):
    os.makedirs(d, exist_ok=True)
    r = random.Random(1)
    with open(os.path.join(d, "manifest.jsonl"), "w") as m:
        for i in range(n):
            w = r.randint(460, 540)
            h = r.randint(340, 410)
            img = scene(r, w, h)
            name = "img%05d.jpg" % i
            img.save(os.path.join(d, name), quality=r.randint(80, 95))
            m.write(json.dumps({"image_path": name, "caption": "a photo number %d" % i}) + "\n")


def pillow(manifest, size, quality):
    root = os.path.dirname(manifest)
    recs = [json.loads(line) for line in open(manifest)]
    t0 = time.perf_counter()
    out = 0
    for rec in recs:
        with Image.open(os.path.join(root, rec["image_path"])) as im:
            im = im.convert("RGB")
            w, h = im.size
            if w <= h:
                nw, nh = size, int(size * h / w)
            else:
                nw, nh = int(size * w / h), size
            im = im.resize((nw, nh), Image.BICUBIC)
            left, top = (nw - size) // 2, (nh - size) // 2
            im = im.crop((left, top, left + size, top + size))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=quality)
            out += buf.tell()
    dt = time.perf_counter() - t0
    print("records=%d seconds=%.3f records_per_s=%.1f bytes=%d" % (len(recs), dt, len(recs) / dt, out))


if __name__ == "__main__":
    if sys.argv[1] == "make-images":
        make_images(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "pillow":
        pillow(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: see the docstring")
