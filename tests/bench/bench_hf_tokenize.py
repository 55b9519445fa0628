#!/usr/bin/env python3
"""Python side of bench-tokenize.sh: Hugging Face's Rust tokenizer on a
corpus of caption lines, timed around encode_batch only.

  bench_hf_tokenize.py make-corpus OUT [--mib 20]   ordinary captions, repeated
  bench_hf_tokenize.py run CORPUS [--runs 5]        time HF, check its ids
Thread count: set RAYON_NUM_THREADS (and TOKENIZERS_PARALLELISM) before
starting; this script reads them, it cannot change them once tokenizers runs.
Prints key=value lines for the shell script. Never touches the network.
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FIX = (Path(__file__).resolve().parent.parent / "fixtures" / "tokenizer")
CTX = 77


def ordinary_captions(fix):
    with gzip.open(fix / "corpus.jsonl.gz", "rt", encoding="ascii") as f:
        recs = [json.loads(line) for line in f]
    return [r for r in recs if r["cat"] == "ordinary"]


def make_corpus(out, mib, fix):
    lines = [r["text"] + "\n" for r in ordinary_captions(fix)]
    block = "".join(lines).encode("utf-8")
    want = int(mib * 1024 * 1024)
    with open(out, "wb") as f:
        n = 0
        while n < want:
            f.write(block)
            n += len(block)
    print(f"bytes={n}")
    print(f"lines={n // len(block) * len(lines)}")


def unpack_hf_pair(fix):
    """The fixtures keep vocab.json and merges.txt gzip'd; Hugging Face
    loads plain files from a directory."""
    import gzip
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="rclip-bench-"))
    for name in ("vocab.json", "merges.txt"):
        (tmp / name).write_bytes(gzip.decompress((fix / (name + ".gz")).read_bytes()))
    return tmp


def load_tokenizer(fix):
    """The tokenizers.Tokenizer behind transformers.CLIPTokenizer, built
    from the fixtures' vocab.json/merges.txt; without transformers, the same
    pipeline assembled by hand."""
    fix = unpack_hf_pair(fix)
    try:
        import transformers
        t = transformers.CLIPTokenizer.from_pretrained(str(fix))
        tok = t.backend_tokenizer
        name = f"transformers {transformers.__version__} CLIPTokenizer"
    except ImportError:
        from tokenizers import (Regex, Tokenizer, normalizers,
                                pre_tokenizers, processors)
        from tokenizers.models import BPE
        tok = Tokenizer(BPE.from_file(
            str(fix / "vocab.json"), str(fix / "merges.txt"),
            continuing_subword_prefix="", end_of_word_suffix="</w>",
            unk_token="<|endoftext|>", fuse_unk=False))
        tok.normalizer = normalizers.Sequence([
            normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
            normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(
                r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll"
                r"|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"),
                behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False)])
        tok.add_special_tokens(["<|startoftext|>", "<|endoftext|>"])
        tok.post_processor = processors.RobertaProcessing(
            ("<|endoftext|>", 49407), ("<|startoftext|>", 49406),
            trim_offsets=False, add_prefix_space=False)
        name = "tokenizers (pipeline built by hand)"
    import tokenizers
    tok.enable_truncation(max_length=CTX)
    tok.no_padding()
    return tok, f"{name}, tokenizers {tokenizers.__version__}"


def mismatches(tok, texts, rows):
    got = tok.encode_batch(texts)
    return sum(g.ids != r for g, r in zip(got, rows))


def run(corpus, runs, fix):
    tok, name = load_tokenizer(fix)
    data = Path(corpus).read_bytes()
    lines = data.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # encode_batch_fast (tokenizers >= 0.21) skips the offsets: HF's
    # fastest path, same ids.
    method = "encode_batch_fast" if hasattr(tok, "encode_batch_fast") \
        else "encode_batch"
    encode = getattr(tok, method)
    encode(lines[:1000])                            # warm up
    secs = []
    for _ in range(runs):
        t0 = time.perf_counter()
        encode(lines)
        secs.append(time.perf_counter() - t0)
    print(f"backend={name}, {method}")
    print(f"threads={os.environ.get('RAYON_NUM_THREADS', 'default')}")
    print(f"parallelism={os.environ.get('TOKENIZERS_PARALLELISM', 'unset')}")
    print(f"bytes={len(data)}")
    print(f"lines={len(lines)}")
    print("seconds=" + " ".join(f"{s:.4f}" for s in secs))
    print(f"median={statistics.median(secs):.6f}")
    # Informative: HF ids against open_clip's, on the ordinary captions the
    # benchmark uses and on every single-line caption of the fixtures.
    ordn = ordinary_captions(fix)
    bad = mismatches(tok, [r["text"] for r in ordn], [r["ids"] for r in ordn])
    print(f"mismatch_ordinary={bad}/{len(ordn)}")
    with gzip.open(fix / "corpus-lines.txt.gz", "rb") as f:
        texts = f.read().decode("utf-8").split("\n")[:-1]
    with gzip.open(fix / "corpus-lines.ids.gz", "rt") as f:
        rows = [[int(x) for x in line.split()] for line in f]
    print(f"mismatch_all={mismatches(tok, texts, rows)}/{len(texts)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", default=str(FIX))
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-corpus")
    m.add_argument("out")
    m.add_argument("--mib", type=float, default=20)
    r = sub.add_parser("run")
    r.add_argument("corpus")
    r.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    fix = Path(a.fixtures)
    if a.cmd == "make-corpus":
        make_corpus(a.out, a.mib, fix)
    else:
        run(a.corpus, a.runs, fix)


if __name__ == "__main__":
    sys.exit(main())
