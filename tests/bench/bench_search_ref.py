#!/usr/bin/env python3
"""The NumPy side of tests/bench/bench-search.sh, and its test data.

    bench_search_ref.py make DIR N D Q          DIR/gallery.npy: N x D random unit rows
                                                 (float32), DIR/queries.npy: Q x D
    bench_search_ref.py numpy G.npy Q.npy K RUNS OUT.npy
                                                 exact top-K by NumPy RUNS times; prints
                                                 queries_per_s=... per run; OUT.npy gets
                                                 the ids (Q x K, int64) of the last run
    bench_search_ref.py agree RCLIP.tsv OUT.npy  how many hits of rclip's TSV are
                                                 NumPy's, rank for rank

The reference is what a NumPy user writes for exact maximum-inner-product
search: scores = queries @ gallery.T (BLAS sgemm), np.argpartition for
the K largest of each row, np.argsort of those K. It runs on blocks of 128
queries so that the score matrix (128 x N float32) and argpartition's
int64 indices fit in memory for N = 1,000,000; the block changes nothing
in the work done. The gallery is loaded before the clock starts. NumPy's
threads are its BLAS's: the caller sets OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS before Python starts.
"""
import sys
import time

import numpy as np

BLOCK = 128


def unit_rows(rng, n, d):
    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make(out, n, d, q):
    rng = np.random.default_rng(20260)
    # written in pieces: the full gallery is never held twice
    g = np.lib.format.open_memmap(f"{out}/gallery.npy", mode="w+", dtype=np.float32,
                                  shape=(n, d))
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        g[lo:hi] = unit_rows(rng, hi - lo, d)
    g.flush()
    del g
    np.save(f"{out}/queries.npy", unit_rows(rng, q, d))


def topk(g, qs, k):
    ids = np.empty((len(qs), k), dtype=np.int64)
    for lo in range(0, len(qs), BLOCK):
        s = qs[lo:lo + BLOCK] @ g.T
        part = np.argpartition(s, -k, axis=1)[:, -k:]
        top = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        ids[lo:lo + BLOCK] = np.take_along_axis(part, order, axis=1)
    return ids


def run_numpy(gpath, qpath, k, runs, out):
    g = np.load(gpath)
    qs = np.load(qpath)
    ids = None
    for _ in range(runs):
        t0 = time.perf_counter()
        ids = topk(g, qs, k)
        dt = time.perf_counter() - t0
        print(f"queries_per_s={len(qs) / dt:.2f} seconds={dt:.3f}", flush=True)
    np.save(out, ids)


def agree(tsv, ref):
    ids = np.load(ref)
    q, k = ids.shape
    got = np.full((q, k), -1, dtype=np.int64)
    with open(tsv) as f:
        for line in f:
            qi, rank, gid, _ = line.rstrip("\n").split("\t")
            got[int(qi), int(rank) - 1] = int(gid)
    same_rank = int((got == ids).sum())
    same_set = sum(len(set(a) & set(b)) for a, b in zip(got.tolist(), ids.tolist()))
    print(f"same_rank={same_rank} same_set={same_set} total={q * k}")


def main(argv):
    if len(argv) == 6 and argv[1] == "make":
        make(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    elif len(argv) == 7 and argv[1] == "numpy":
        run_numpy(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6])
    elif len(argv) == 4 and argv[1] == "agree":
        agree(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
