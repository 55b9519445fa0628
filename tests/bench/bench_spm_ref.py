#!/usr/bin/env python3
"""Python side of bench-spm.sh: transformers' SigLIP and Gemma tokenizers,
and the SentencePiece library itself, on a corpus of caption lines, timed
around the encoding call only.

  bench_spm_ref.py run KIND DIR CORPUS [--runs 5] [--threads N]
    KIND siglip: SiglipTokenizer(lines, padding="max_length",
                 truncation=True, max_length=64) (Python + sentencepiece)
    KIND gemma:  the fast tokenizer's encode_batch_fast with truncation and
                 padding to 64 (Rust; threads from RAYON_NUM_THREADS)
    KIND spm:    sentencepiece.SentencePieceProcessor(DIR/spiece.model)
                 .encode(lines, num_threads=N): the C++ library alone, no
                 SigLIP canonicalisation (the option of linking
                 libsentencepiece)
  bench_spm_ref.py ids KIND DIR CORPUS OUT   the rows, for a comparison
Prints key=value lines for the shell script. Never touches the network.
"""
import argparse
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
CTX = 64


def read_lines(path):
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def encoder(kind, d, threads):
    if kind == "spm":
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "spiece.model"))
        return (lambda xs: sp.encode(xs, num_threads=threads),
                f"sentencepiece {spm.__version__} encode(num_threads={threads})")
    import transformers
    if kind == "siglip":
        tok = transformers.SiglipTokenizer.from_pretrained(d)
        return (lambda xs: tok(xs, padding="max_length", truncation=True,
                               max_length=CTX)["input_ids"],
                f"transformers {transformers.__version__} SiglipTokenizer (Python)")
    import tokenizers
    tok = transformers.GemmaTokenizer.from_pretrained(d).backend_tokenizer
    tok.enable_truncation(max_length=CTX)
    tok.enable_padding(length=CTX, pad_id=0, direction="left")
    return (lambda xs: [e.ids for e in tok.encode_batch_fast(xs)],
            f"transformers {transformers.__version__} GemmaTokenizer, tokenizers "
            f"{tokenizers.__version__} encode_batch_fast")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmd", choices=("run", "ids"))
    ap.add_argument("kind", choices=("siglip", "gemma", "spm"))
    ap.add_argument("dir")
    ap.add_argument("corpus")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    lines = read_lines(a.corpus)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc, name = encoder(a.kind, a.dir, a.threads)
        if a.cmd == "ids":
            with open(a.out, "w") as f:
                for row in enc(lines):
                    f.write(" ".join(map(str, row)) + "\n")
            return 0
        enc(lines[:1000])  # warm up
        secs = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            enc(lines)
            secs.append(time.perf_counter() - t0)
    print(f"backend={name}")
    print(f"lines={len(lines)}")
    print("seconds=" + " ".join(f"{s:.4f}" for s in secs))
    print(f"median={statistics.median(secs):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
