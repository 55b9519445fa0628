#!/usr/bin/env python3
"""The PyTorch side of tests/bench/bench-gpu.sh (issue 12, point 4), and its report.

    bench_gpu_ref.py bench --model M --batch B [--device cuda|cuda:N|cpu|auto]
            [--steps N] [--warmup-steps W] [--tb-len LO:HI] [--trl-len LO:HI]
            [--embed-batch E] [--embed-batches K] [--compile] [--precision P]
            [--peak-tflops X] [-j THREADS]
        one JSON line: the stage-1 training step and image embedding
    bench_gpu_ref.py flops --model M --batch B [--tb-len LO:HI] [--trl-len LO:HI]
        the FLOP count below, as JSON
    bench_gpu_ref.py captions MANIFEST tb|trl
        the captions of one stream of a ReasonLite manifest, one a line
    bench_gpu_ref.py size MODEL
        the model's image size
    bench_gpu_ref.py siglip-tokenizer MODEL
        for a SigLIP model, the tokenizer fixture of tests/fixtures/spm/ its
        shards are made with (siglip, or siglip2 for SigLIP2); else nothing
    bench_gpu_ref.py hf-config MODEL
        a SigLIP model's config.json (the SiglipConfig below)
    bench_gpu_ref.py report ... / combine ...   (bench-gpu.sh's table and JSON)

MODEL: transformers.CLIPModel built from a CLIPConfig with rclip's built-in
sizes (common/model/clip_config.c: ViT-B-32 as openai/clip-vit-base-patch32,
ViT-L-14 as openai/clip-vit-large-patch14, and rclip's "tiny"), quick_gelu,
random init on the device (nothing is downloaded), SDPA attention. The
SigLIP built-ins (SigLIP-B-16-224, SigLIP-So400M-14-384,
SigLIP2-So400M-14-384, SigLIP2-Giant-Opt-16-384 and rclip's "tiny-siglip"):
transformers.SiglipModel from a SiglipConfig with rclip's sizes
(siglip_builtins: vocabulary 32000, or Gemma's 256000 for SigLIP2, text
context 64, gelu_pytorch_tanh, eps 1e-6, the text head Dt -> E with E the
vision width, the attention-pooling head), logit_scale ln 10 and logit_bias
-10 as rclip-train's random init starts them.

STEP (DESIGN.md section 5, stage 1, one process, so the global batch is the
batch): logit_scale clamped to <= ln 50 before the forward pass; uint8 NHWC
images copied from pinned host memory and normalised on the device; one
image pass and two text passes (tb, trl); loss = w(p)*CLIP(v, tb) +
(1-w(p))*CLIP(v, trl) + beta*sum|theta-theta0|^2 over the vision and text
towers (projections and logit_scale excluded); backward; the gradient of
the L2 term, 2*beta*(theta-theta0), added with foreach ops (what autograd of
the term gives, without a kernel per tensor); global grad-norm clip 1.0;
AdamW (0.9, 0.999, 1e-8; fused=True on CUDA) with the stage-1 groups:
vision lr/10, text 3lr/10 (no decay), projections lr (decay 0.05),
logit_scale lr (no decay); warmup + cosine as rclip-train's. On CUDA the
forward runs under torch.autocast(bfloat16) (master weights, gradients and
moments fp32); on the CPU in fp32. --compile wraps the forward and loss in
torch.compile; if that fails the run goes on eager and says so.
A SigLIP model takes the recipe as rclip-train runs it with --loss siglip
(bench-gpu.sh gives it that): SigLIP's sigmoid loss in place of CLIP's,
-(1/B)*sum log sigmoid(y*z) over all B x B pairs, z = exp(logit_scale)*t.v +
logit_bias on the normalised embeddings, y = +1 on the diagonal and -1 off
it; w(p) with rclip-train's SigLIP default --tb-weights (0.6 up to p = 0.2,
linear to 0.3 at 0.8, then 0.5); the same clamp at ln 50; logit_bias in the
projections' group (lr, decay 0.05) and out of the L2 pull; the pooling
heads (vision_model.head.*, text_model.head.*) are tower tensors, in the
towers' groups and under the L2 pull, as rclip-train (and the official
substring rules) put them.

TEXT: random token ids, 49406 first and 49407 at the row's end, lengths
uniform in LO..HI with one row of each batch at HI, padded with 0 to HI:
every batch is HI long. rclip cuts each batch after its longest caption,
which on bench-gpu.sh's data (HI = the longest caption of the stream) is
now and then a token or two shorter: its text passes are at most that much
shorter than the reference's, a percent or so of a step's FLOPs, which
both MFUs count at HI. SigLIP: no BOS; ids of the vocabulary past its
special ids, eos (1) at the row's end, then the pad id (1, or 0 for
Gemma's) up to the context: every row is 64 long, as rclip's loader pads
SigLIP texts to the maximum, so LO..HI change no FLOP count. (rclip's
shards hold the ids of a small SentencePiece or Gemma tokenizer fixture,
its captions' own lengths; the reference's lengths are CLIP BPE's.)

TIMING: W warm-up steps, then N timed steps; each step from its input copy
to the clamp, with CUDA events (perf_counter on the CPU); samples_per_s =
batch / median step time. Peak memory: torch.cuda.max_memory_allocated over
the training (the CPU: the process's peak RSS). Embedding: model.eval(),
no_grad, autocast: copy, normalise, get_image_features, L2 normalisation;
2 warm-up batches, then K timed; images_per_s = E / median batch time.

FLOPS (a function of the config, counted from the matmuls; 2 FLOPs per
multiply-add; layer norms, softmax, activations and the embedding lookups
not counted). Per sample, forward:
  vision  2*g^2*3P^2*Dv                      patch embedding (g = S/P)
          + Lv*block(g^2+1, Dv, Mv)          the transformer blocks
          + 2*Dv*E                           visual_projection
  text    Lt*block(T, Dt, Mt) + 2*Dt*E       at T = HI of each stream (tb, trl)
  logits  2 * 2*B*E                          two B x B x E products over B samples
  block(n, d, m) = 8nd^2 (q, k, v, out) + 4ndm (MLP) + 4n^2d (QK^T and PV;
                   the causal text attention counted whole)
SigLIP (g = floor(S/P): the convolution drops what is past the last patch):
  vision  2*g^2*3P^2*Dv + Lv*block(g^2, Dv, Mv)   no class token
          + head(g^2, Dv, Mv)                the attention-pooling head
  text    Lt*block(64, Dt, Mt) + 2*Dt*E      full attention over the context;
                                             the text head Dt -> E
  logits  2 * 2*B*E                          as CLIP's
  head(n, d, m) = 2d^2 (q of the probe) + 4nd^2 (k, v of the n tokens)
                  + 4nd (QK^T and PV of one query) + 2d^2 (out) + 4dm (MLP
                  on one token)
Training FLOPs per sample = 3 x forward (backward = 2 x forward).
MFU = samples_per_s x training FLOPs per sample / peak, with the peak the
GPU's dense bf16 rate (PEAK_TFLOPS by device name, or --peak-tflops).
`bench` also counts one forward with torch.utils.flop_counter and reports
the ratio to the formula (flops_check), so a wrong formula shows. TARGET_MFU has none for
SigLIP (issue 15 sets none): its MFU target reads n/a.
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

# rclip's built-in configs (common/model/clip_config.c): image size, patch,
# vision width / layers / heads / MLP, text width / layers / heads / MLP,
# projection dim; the SigLIP ones (siglip_builtins) also their vocabulary
# (32000, or Gemma's 256000 for SigLIP2), with context 64, gelu_pytorch_tanh
# and eps 1e-6 (siglip_default).
CONFIGS = {
    "ViT-B-32": dict(image=224, patch=32, vw=768, vl=12, vh=12, vm=3072,
                     tw=512, tl=12, th=8, tm=2048, dim=512),
    "ViT-L-14": dict(image=224, patch=14, vw=1024, vl=24, vh=16, vm=4096,
                     tw=768, tl=12, th=12, tm=3072, dim=768),
    "tiny": dict(image=32, patch=8, vw=64, vl=2, vh=4, vm=256,
                 tw=32, tl=2, th=2, tm=128, dim=32),
    "SigLIP-B-16-224": dict(image=224, patch=16, vw=768, vl=12, vh=12, vm=3072,
                            tw=768, tl=12, th=12, tm=3072, dim=768, vocab=32000),
    "SigLIP-So400M-14-384": dict(image=384, patch=14, vw=1152, vl=27, vh=16, vm=4304,
                                 tw=1152, tl=27, th=16, tm=4304, dim=1152, vocab=32000),
    "SigLIP2-So400M-14-384": dict(image=384, patch=14, vw=1152, vl=27, vh=16, vm=4304,
                                  tw=1152, tl=27, th=16, tm=4304, dim=1152, vocab=256000),
    "SigLIP2-Giant-Opt-16-384": dict(image=384, patch=16, vw=1536, vl=40, vh=16, vm=6144,
                                     tw=1152, tl=27, th=16, tm=4304, dim=1536, vocab=256000),
    "tiny-siglip": dict(image=32, patch=8, vw=64, vl=2, vh=4, vm=256,
                        tw=32, tl=2, th=2, tm=128, dim=64, vocab=32000),
}
SIGLIP_CTX = 64
# Dense bf16 peak, TFLOP/s (no sparsity), by words in the device name:
# the first entry whose words all occur wins.
PEAK_TFLOPS = [(("H200",), 989.0), (("H100", "PCIe"), 756.0), (("H100", "SXM"), 989.0),
               (("H100", "HBM3"), 989.0), (("A100",), 312.0)]
TARGET_MFU = {"ViT-B-32": 0.30, "ViT-L-14": 0.40}
VOCAB, BOS, EOS = 49408, 49406, 49407
LR, WD, WARMUP = 1e-4, 0.05, 0.1     # rclip-train's defaults
BETA, CLIP_NORM, SCALE_MAX = 1e-5, 1.0, math.log(50)
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)
SIGLIP_SCALE0, SIGLIP_BIAS0 = math.log(10), -10.0   # rc_clip_init_random's start


def config_name(name):
    """The key of CONFIGS for NAME, as rclip matches it ('/' as '-')."""
    want = name.replace("/", "-").lower()
    for k in CONFIGS:
        if k.lower() == want:
            return k
    raise SystemExit("bench_gpu_ref.py: %s: no such config (%s)" % (name, ", ".join(CONFIGS)))


def span(s):
    lo, _, hi = s.partition(":")
    lo, hi = int(lo), int(hi or lo)
    if not 2 <= lo <= hi <= 77:
        raise argparse.ArgumentTypeError("%s: want LO:HI with 2 <= LO <= HI <= 77" % s)
    return lo, hi


# ---------------------------------------------------------------- FLOPs

def block_flops(n, d, m):
    return 8 * n * d * d + 4 * n * d * m + 4 * n * n * d


def map_head_flops(n, d, m):
    """SigLIP's attention-pooling head over n tokens: q of the probe, k and
    v of the n tokens, QK^T and PV for one query, out proj, MLP on one token."""
    return 2 * d * d + 4 * n * d * d + 4 * n * d + 2 * d * d + 4 * d * m


def siglip(name):
    return "vocab" in CONFIGS[name]


def flops(model, batch, t_tb, t_trl):
    """Forward FLOPs per sample of the stage-1 step (the docstring's formula);
    a SigLIP model's texts are its context long whatever t_tb and t_trl."""
    c = CONFIGS[model]
    g = c["image"] // c["patch"]
    if siglip(model):
        t_tb = t_trl = SIGLIP_CTX
        vision = (2 * g * g * 3 * c["patch"] ** 2 * c["vw"] + c["vl"] * block_flops(g * g, c["vw"], c["vm"])
                  + map_head_flops(g * g, c["vw"], c["vm"]))
    else:
        vision = (2 * g * g * 3 * c["patch"] ** 2 * c["vw"] + c["vl"] * block_flops(g * g + 1, c["vw"], c["vm"])
                  + 2 * c["vw"] * c["dim"])
    text = lambda t: c["tl"] * block_flops(t, c["tw"], c["tm"]) + 2 * c["tw"] * c["dim"]
    f = dict(vision=vision, text_tb=text(t_tb), text_trl=text(t_trl), logits=4 * batch * c["dim"])
    f["forward"] = sum(f.values())
    f["train"] = 3 * f["forward"]
    f.update(batch=batch, text_len=[t_tb, t_trl], embed=vision,
             formula="train = 3 x forward; forward = vision + text(tb) + text(trl) + logits, "
                     "2 FLOPs per multiply-add of every matmul (bench_gpu_ref.py's docstring)")
    return f


def peak_tflops(name):
    for words, tf in PEAK_TFLOPS:
        if name and all(w in name for w in words):
            return tf
    return None


# ---------------------------------------------------------------- the model

def siglip_ids(c):
    """(pad, eos, bos) as clip_config.c's siglip_builtin sets them."""
    return (0, 1, 2) if c["vocab"] == 256000 else (1, 1, 0)


def siglip_config(name):
    """The SiglipConfig of a SigLIP built-in, as config.json's dict (what
    make_model builds, and bench-gpu.sh's config.json for rclip-shard)."""
    c = CONFIGS[name]
    pad, eos, bos = siglip_ids(c)
    common = dict(hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6, attention_dropout=0.0)
    return dict(
        architectures=["SiglipModel"], model_type="siglip",
        text_config=dict(vocab_size=c["vocab"], hidden_size=c["tw"], intermediate_size=c["tm"],
                         num_hidden_layers=c["tl"], num_attention_heads=c["th"],
                         max_position_embeddings=SIGLIP_CTX, projection_size=c["dim"],
                         pad_token_id=pad, eos_token_id=eos, bos_token_id=bos,
                         model_type="siglip_text_model", **common),
        vision_config=dict(image_size=c["image"], patch_size=c["patch"], hidden_size=c["vw"],
                           intermediate_size=c["vm"], num_hidden_layers=c["vl"],
                           num_attention_heads=c["vh"], num_channels=3, vision_use_head=True,
                           model_type="siglip_vision_model", **common))


def make_model(name, dev, torch):
    if siglip(name):
        from transformers import SiglipConfig, SiglipModel
        d = siglip_config(name)
        torch.manual_seed(0)
        with torch.device(dev):
            model = SiglipModel(SiglipConfig(text_config=d["text_config"],
                                             vision_config=d["vision_config"])).float()
            with torch.no_grad():
                model.logit_scale.fill_(SIGLIP_SCALE0)
                model.logit_bias.fill_(SIGLIP_BIAS0)
        model.set_attn_implementation("sdpa")
        return model
    from transformers import CLIPConfig, CLIPModel
    c = CONFIGS[name]
    cfg = CLIPConfig(
        text_config=dict(vocab_size=VOCAB, hidden_size=c["tw"], intermediate_size=c["tm"],
                         num_hidden_layers=c["tl"], num_attention_heads=c["th"],
                         max_position_embeddings=77, hidden_act="quick_gelu",
                         bos_token_id=BOS, eos_token_id=EOS, pad_token_id=0),
        vision_config=dict(image_size=c["image"], patch_size=c["patch"], hidden_size=c["vw"],
                           intermediate_size=c["vm"], num_hidden_layers=c["vl"],
                           num_attention_heads=c["vh"], hidden_act="quick_gelu"),
        projection_dim=c["dim"], logit_scale_init_value=2.6592)
    torch.manual_seed(0)
    with torch.device(dev):
        model = CLIPModel(cfg).float()
    model.set_attn_implementation("sdpa")
    return model


def pooled(out):
    return out.pooler_output if hasattr(out, "pooler_output") else out  # transformers 5 / 4


def normed(x):
    return x / x.norm(p=2, dim=-1, keepdim=True)


def group_of(name):
    if name.startswith("vision_model."):
        return "vision"
    if name.startswith("text_model."):
        return "text"
    return "scale" if name == "logit_scale" else "proj"


def lr_mult(s, total, w):
    """rc_sched_lr_mult (common/train/sched.c, Hugging Face's): s/w during
    the w warmup steps (the first step at 0), then cosine."""
    if s < w:
        return s / max(w, 1)
    return max(0.0, 0.5 * (1 + math.cos(math.pi * (s - w) / max(total - w, 1))))


def w_of(p, sig=False):
    """rc_sched_stage1_w: the tb weight at progress p, with rclip-train's
    default --tb-weights: 0.7, 0.5, 0.6, or 0.6, 0.3, 0.5 with --loss siglip."""
    if sig:
        return 0.6 if p <= 0.2 else 0.6 + (0.3 - 0.6) * ((p - 0.2) / (0.8 - 0.2)) if p <= 0.8 else 0.5
    return 0.7 if p <= 0.2 else 0.7 - 0.2 * (p - 0.2) / 0.6 if p <= 0.8 else 0.6


def token_batches(torch, n, batch, lo, hi, gen):
    out = []
    for _ in range(n):
        ids = torch.zeros(batch, hi, dtype=torch.long)
        lens = torch.randint(lo, hi + 1, (batch,), generator=gen)
        lens[0] = hi
        for r, L in enumerate(lens.tolist()):
            ids[r, 0] = BOS
            ids[r, 1:L - 1] = torch.randint(1, BOS, (L - 2,), generator=gen)
            ids[r, L - 1] = EOS
        out.append(ids)
    return out


def siglip_token_batches(torch, n, batch, lo, hi, gen, c):
    """SigLIP's rows: lengths uniform in LO..HI (at most the context) with
    one row at HI, ids of the vocabulary past its specials, eos last, then
    the pad id up to the context (rclip's loader pads SigLIP to the maximum)."""
    pad, eos, _ = siglip_ids(c)
    lo, hi = min(lo, SIGLIP_CTX), min(hi, SIGLIP_CTX)
    out = []
    for _ in range(n):
        ids = torch.full((batch, SIGLIP_CTX), pad, dtype=torch.long)
        lens = torch.randint(lo, hi + 1, (batch,), generator=gen)
        lens[0] = hi
        for r, L in enumerate(lens.tolist()):
            ids[r, :L - 1] = torch.randint(3, c["vocab"], (L - 1,), generator=gen)
            ids[r, L - 1] = eos
        out.append(ids)
    return out


def median_or_none(ts):
    return statistics.median(ts) if ts else None


# ---------------------------------------------------------------- bench

def bench(a):
    import torch
    import transformers

    torch.set_num_threads(a.threads)
    dev = a.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    cuda = dev.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit("bench_gpu_ref.py: %s: torch sees no CUDA device" % dev)
    dev = torch.device(dev)
    prec = a.precision or ("bf16" if cuda else "fp32")
    if prec == "fp32" and cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    amp = dict(device_type=dev.type, dtype=torch.bfloat16, enabled=prec == "bf16")
    dev_name = torch.cuda.get_device_name(dev) if cuda else "cpu"
    peak = a.peak_tflops or (peak_tflops(dev_name) if cuda else None)
    name = config_name(a.model)
    B, S = a.batch, CONFIGS[name]["image"]
    (tb_lo, tb_hi), (trl_lo, trl_hi) = a.tb_len, a.trl_len
    sig = siglip(name)

    t0 = time.perf_counter()
    model = make_model(name, dev, torch)
    init_s = time.perf_counter() - t0
    params = list(model.named_parameters())
    towers = [(n, p) for n, p in params if group_of(n) in ("vision", "text")]
    l2_p = [p for _, p in towers]
    theta0 = [p.detach().clone() for p in l2_p]
    base = {"vision": LR / 10, "text": 3 * LR / 10, "proj": LR, "scale": LR}
    decay = {"vision": 0.0, "text": 0.0, "proj": WD, "scale": 0.0}
    groups = [dict(params=[p for n, p in params if group_of(n) == g], lr=base[g], base_lr=base[g],
                   weight_decay=decay[g]) for g in base]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8,
                            **({"fused": True} if cuda else {}))
    scale = model.logit_scale
    bias = model.logit_bias if sig else None

    # inputs: a few distinct batches, images on the host (pinned for CUDA)
    gen = torch.Generator().manual_seed(1)
    pool = 4
    imgs = [torch.randint(0, 256, (B, S, S, 3), dtype=torch.uint8, generator=gen) for _ in range(pool)]
    if cuda:
        imgs = [x.pin_memory() for x in imgs]
    if sig:
        tok = lambda lo, hi: siglip_token_batches(torch, pool, B, lo, hi, gen, CONFIGS[name])
    else:
        tok = lambda lo, hi: token_batches(torch, pool, B, lo, hi, gen)
    tbs = [x.to(dev) for x in tok(tb_lo, tb_hi)]
    trls = [x.to(dev) for x in tok(trl_lo, trl_hi)]
    mean = torch.tensor(SIGLIP_MEAN if sig else MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(SIGLIP_STD if sig else STD, device=dev).view(1, 3, 1, 1)

    def pixels(u8):
        x = u8.to(dev, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
        return (x - mean) / std

    def clip_loss(v, t):
        logits = (t @ v.t()) * scale.exp()
        labels = torch.arange(t.shape[0], device=dev)
        ce = torch.nn.functional.cross_entropy
        return (ce(logits.float(), labels) + ce(logits.t().float(), labels)) / 2

    def sigmoid_loss(v, t):
        """rc_loss_siglip: -(1/B) sum log sigmoid(y z), z = exp(s) t.v + b, y = +-1."""
        z = ((t @ v.t()) * scale.exp() + bias).float()
        y = 2 * torch.eye(t.shape[0], device=dev) - 1
        return -torch.nn.functional.logsigmoid(y * z).sum() / t.shape[0]

    pair_loss = sigmoid_loss if sig else clip_loss

    def forward(px, tb, trl, w):
        with torch.autocast(**amp):
            v = normed(pooled(model.get_image_features(pixel_values=px)))
            l_tb = pair_loss(v, normed(pooled(model.get_text_features(input_ids=tb))))
            l_trl = pair_loss(v, normed(pooled(model.get_text_features(input_ids=trl))))
        return w * l_tb + (1 - w) * l_trl, l_tb, l_trl

    def l2_value():
        """beta*sum|theta-theta0|^2, in chunks of at most 256 MiB of temporaries."""
        tot, i = torch.zeros((), device=dev), 0
        while i < len(l2_p):
            j, size = i, 0
            while j < len(l2_p) and (j == i or size + l2_p[j].numel() * 4 <= 256 << 20):
                size += l2_p[j].numel() * 4
                j += 1
            d = torch._foreach_sub(l2_p[i:j], theta0[i:j])
            tot = tot + torch.stack(torch._foreach_norm(d)).pow(2).sum()
            i = j
        return BETA * tot

    fwd = forward
    comp = dict(requested=bool(a.compile), worked=None, error=None, seconds=None)
    if a.compile:
        fwd = torch.compile(forward)
    total = a.warmup_steps + a.steps
    warm_w = max(1, math.ceil(WARMUP * total))
    # w(p) of every step on the device up front: a scalar copied from the
    # host in the step would wait for the GPU
    ws = torch.tensor([w_of(s / total, sig) for s in range(total)], device=dev)

    def step(s):
        m = lr_mult(s, total, warm_w)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * m
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            scale.clamp_(max=SCALE_MAX)
        loss, l_tb, l_trl = fwd(pixels(imgs[s % pool]), tbs[s % pool], trls[s % pool], ws[s])
        loss.backward()
        with torch.no_grad():
            l2 = l2_value()
            grads = [p.grad for p in l2_p]
            torch._foreach_add_(grads, l2_p, alpha=2 * BETA)
            torch._foreach_add_(grads, theta0, alpha=-2 * BETA)
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM, foreach=cuda)
        opt.step()
        return (loss.detach() + l2, gn)

    model.train()
    if cuda:
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    first = None
    for s in range(a.warmup_steps):
        try:
            out = step(s)
        except Exception as e:  # a failed compile: eager from here on
            if fwd is forward:
                raise
            comp.update(worked=False, error="%s: %s" % (type(e).__name__, str(e).splitlines()[0][:300]))
            fwd = forward
            out = step(s)
        first = first if first is not None else out[0]
    if cuda:
        torch.cuda.synchronize(dev)
    warm_s = time.perf_counter() - t0
    if a.compile and comp["worked"] is None:
        comp.update(worked=True, seconds=round(warm_s, 1))

    ts, outs = [], []
    for s in range(a.warmup_steps, total):
        if cuda:
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            outs.append(step(s))
            e1.record()
            ts.append((e0, e1))
        else:
            t = time.perf_counter()
            outs.append(step(s))
            ts.append(time.perf_counter() - t)
    if cuda:
        torch.cuda.synchronize(dev)
        ts = [e0.elapsed_time(e1) / 1000 for e0, e1 in ts]
        train_mem = torch.cuda.max_memory_allocated(dev) / 2**20
        train_reserved = torch.cuda.max_memory_reserved(dev) / 2**20
    else:
        train_mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        train_reserved = None
    step_s = median_or_none(ts)
    f = flops(name, B, tb_hi, trl_hi)
    sps = B / step_s

    # the formula against torch's own count of one forward at batch 2
    from torch.utils.flop_counter import FlopCounterMode
    fc = FlopCounterMode(display=False)
    with torch.no_grad(), fc:
        forward(pixels(imgs[0][:2]), tbs[0][:2], trls[0][:2], torch.tensor(0.5, device=dev))
    counted = fc.get_total_flops() / 2
    f2 = flops(name, 2, tb_hi, trl_hi)["forward"]

    # image embedding
    del opt, theta0  # (the closures above hold them no longer)
    model.zero_grad(set_to_none=True)
    model.eval()
    E = a.embed_batch
    eimgs = [torch.randint(0, 256, (E, S, S, 3), dtype=torch.uint8, generator=gen) for _ in range(2)]
    if cuda:
        eimgs = [x.pin_memory() for x in eimgs]
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)

    def embed(k):
        with torch.no_grad(), torch.autocast(**amp):
            return normed(pooled(model.get_image_features(pixel_values=pixels(eimgs[k % 2])))).float()

    ets = []
    for k in range(2 + a.embed_batches):
        if cuda:
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            embed(k)
            e1.record()
            ets.append((e0, e1))
        else:
            t = time.perf_counter()
            embed(k)
            ets.append(time.perf_counter() - t)
    if cuda:
        torch.cuda.synchronize(dev)
        ets = [e0.elapsed_time(e1) / 1000 for e0, e1 in ets]
    ets = ets[2:]
    e_s = median_or_none(ets)
    ips = E / e_s
    rnd = lambda x, n=4: None if x is None else round(x, n)
    out = dict(
        impl="pytorch", model=name, device=str(dev), device_name=dev_name, precision=prec,
        attn="sdpa", autocast=prec == "bf16", fused_adamw=cuda, compile=comp,
        threads=torch.get_num_threads(), batch=B, steps=a.steps, warmup_steps=a.warmup_steps,
        text_len=dict(tb=[tb_lo, tb_hi], trl=[trl_lo, trl_hi], **({"padded": SIGLIP_CTX} if sig else {})),
        **({"loss": "siglip"} if sig else {}),
        step_s=dict(median=rnd(step_s, 6), mean=rnd(statistics.mean(ts), 6), min=rnd(min(ts), 6),
                    max=rnd(max(ts), 6)),
        samples_per_s=rnd(sps, 2), samples_per_s_mean=rnd(B * len(ts) / sum(ts), 2),
        flops=f, flops_check=dict(counted_forward_per_sample=counted, formula=f2,
                                  ratio=rnd(counted / f2, 4) if f2 else None),
        peak_tflops=peak, peak_source="--peak-tflops" if a.peak_tflops else
        ("table" if peak else None),
        mfu=rnd(sps * f["train"] / (peak * 1e12), 4) if peak else None,
        peak_mem_mib=rnd(train_mem, 1), peak_mem_reserved_mib=rnd(train_reserved, 1),
        peak_mem_kind="torch.cuda.max_memory_allocated" if cuda else "peak RSS (getrusage)",
        embed=dict(batch=E, batches=a.embed_batches, batch_s_median=rnd(e_s, 6),
                   images_per_s=rnd(ips, 2),
                   mfu=rnd(ips * f["embed"] / (peak * 1e12), 4) if peak else None,
                   peak_mem_mib=rnd(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if cuda else None),
        loss_first=rnd(float(first), 6), loss_last=rnd(float(outs[-1][0]), 6),
        grad_norm_last=rnd(float(outs[-1][1]), 6),
        params=sum(p.numel() for _, p in params), init_s=round(init_s, 2), warmup_s=round(warm_s, 2),
        torch=torch.__version__, transformers=transformers.__version__,
        cuda=torch.version.cuda if cuda else None)
    print(json.dumps(out), flush=True)


# ---------------------------------------------------------------- report

def load(path):
    if not path or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return None
    try:
        return json.loads(open(path).read().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def rclip_train_figures(path, warmup, batch):
    """(samples/s median after the warm-up steps, peak memory MiB, its kind,
    data-wait share or None) from rclip-train's metrics.jsonl."""
    rows = []
    for line in open(path):
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    timed = [r for r in rows if r.get("step", 0) > warmup] or rows
    if not timed:
        return None, None, None, None
    sps = statistics.median(r["samples_per_s"] for r in timed)
    if any("peak_device_mib" in r for r in rows):
        mem, kind = max(r.get("peak_device_mib", 0) for r in rows), "device (peak_device_mib)"
    elif any("peak_rss_mib" in r for r in rows):
        mem, kind = max(r.get("peak_rss_mib", 0) for r in rows), "host RSS (peak_rss_mib)"
    else:
        mem, kind = None, None
    wait = None
    if all("data_wait_share" in r for r in timed):
        wait = statistics.median(r["data_wait_share"] for r in timed)
    elif all("data_wait_s" in r for r in timed):
        wait = statistics.median(r["data_wait_s"] * r["samples_per_s"] / batch for r in timed)
    return sps, mem, kind, (None if wait is None else round(wait, 4))


def embed_rate(pairs):
    """images/s from (small, big) embed reports: the rows the big run had
    more over the seconds it took more, so that loading the model and
    starting the device cancel; the median over the pairs."""
    rates = []
    for sp, bp in pairs:
        s, b = load(sp), load(bp)
        if s and b and b["seconds"] > s["seconds"] and b["rows"] > s["rows"]:
            rates.append((b["rows"] - s["rows"]) / (b["seconds"] - s["seconds"]))
    return (round(statistics.median(rates), 2) if rates else None), [round(r, 2) for r in rates]


def report(a):
    name = config_name(a.model)
    ref = load(a.ref)
    tb, trl = a.tb_len, a.trl_len
    f = flops(name, a.batch, tb[1], trl[1])
    peak = a.peak_tflops or (ref or {}).get("peak_tflops") or peak_tflops(a.gpu_name or "")
    cuda = a.device.startswith("cuda") or a.device == "auto" and bool(a.gpu_name)
    rc = dict(status=a.rclip_status, note=a.rclip_note or None, samples_per_s=None, mfu=None,
              peak_mem_mib=None, peak_mem_kind=None, data_wait_share=None, embed_images_per_s=None,
              embed_runs=[], threads=a.threads)
    if a.rclip_status == "ok" and a.metrics and os.path.isfile(a.metrics):
        sps, mem, kind, wait = rclip_train_figures(a.metrics, a.warmup_steps, a.batch)
        rc.update(samples_per_s=sps, peak_mem_mib=mem, peak_mem_kind=kind, data_wait_share=wait)
        if sps and peak:
            rc["mfu"] = round(sps * f["train"] / (peak * 1e12), 4)
    if a.rclip_status == "ok":
        lines = a.embed + (open(a.embed_list).read().split() if a.embed_list else [])
        pairs = [p.split(",", 1) for p in lines]
        rc["embed_images_per_s"], rc["embed_runs"] = embed_rate(pairs)
        if not rc["embed_images_per_s"] and a.embed_status == "ok":
            rc["note"] = (rc["note"] or "") + " (embedding: no usable timing)"
        elif a.embed_status != "ok":
            rc["embed_status"] = a.embed_status
    ratio = lambda x, y: round(x / y, 3) if x and y else None
    pt = ref or {}
    pt_embed = (pt.get("embed") or {}).get("images_per_s")
    # memory: like with like (device against device, host against host)
    mem_pt, mem_note = pt.get("peak_mem_mib"), None
    if cuda and rc["peak_mem_kind"] and not rc["peak_mem_kind"].startswith("device"):
        mem_note = "rclip reports no device peak (peak_device_mib): not compared"
        mem_cmp = None
    else:
        mem_cmp = (rc["peak_mem_mib"] <= mem_pt) if rc["peak_mem_mib"] and mem_pt else None
    tgt_mfu = TARGET_MFU.get(name)
    targets = {
        "train_throughput": dict(target="rclip >= 1.5x PyTorch samples/s",
                                 value=ratio(rc["samples_per_s"], pt.get("samples_per_s"))),
        "mfu": dict(target=("rclip MFU >= %.0f%%" % (100 * tgt_mfu)) if tgt_mfu else
                    "none for this model", value=rc["mfu"]),
        "peak_memory": dict(target="rclip peak memory <= PyTorch's at the same batch",
                            value=[rc["peak_mem_mib"], mem_pt], note=mem_note),
        "embedding": dict(target="rclip-retrieve embed >= 1.5x PyTorch bf16 images/s",
                          value=ratio(rc["embed_images_per_s"], pt_embed)),
    }
    v = targets["train_throughput"]["value"]
    targets["train_throughput"]["pass"] = None if v is None else v >= 1.5
    targets["mfu"]["pass"] = None if rc["mfu"] is None or not tgt_mfu else rc["mfu"] >= tgt_mfu
    targets["peak_memory"]["pass"] = mem_cmp
    v = targets["embedding"]["value"]
    targets["embedding"]["pass"] = None if v is None else v >= 1.5
    gpu = a.gpu_name or (pt.get("device_name") if cuda else None)
    out = dict(model=name, batch=a.batch, device=a.device, gpu_name=gpu or None,
               smoke=a.smoke, steps=a.steps, warmup_steps=a.warmup_steps, embed_batch=a.embed_batch,
               text_len=dict(tb=list(tb), trl=list(trl), **({"padded": SIGLIP_CTX} if siglip(name) else {})),
               **({"loss": "siglip"} if siglip(name) else {}), flops=f, peak_tflops=peak,
               mfu_definition="samples_per_s x flops.train / (peak_tflops x 1e12)",
               rclip=rc, pytorch=ref, pytorch_status=a.ref_status, pytorch_note=a.ref_note or None,
               ratio=dict(train=ratio(rc["samples_per_s"], pt.get("samples_per_s")),
                          embed=ratio(rc["embed_images_per_s"], pt_embed)),
               targets=targets)
    with open(a.output, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    table(out)


def table(o):
    rc, pt = o["rclip"], o["pytorch"] or {}
    fmt = lambda x, p="%.1f": "n/a" if x is None else p % x
    pct = lambda x: "n/a" if x is None else "%.1f%%" % (100 * x)
    if "padded" in o["text_len"]:
        text = "%d tokens (tb and trl padded to the context), SigLIP loss" % o["text_len"]["padded"]
    else:
        text = "%s/%s tokens (tb/trl)" % (o["text_len"]["tb"][1], o["text_len"]["trl"][1])
    print("%s, batch %d, device %s%s, %d timed steps after %d warm-up; text %s"
          % (o["model"], o["batch"], o["device"], " (%s)" % o["gpu_name"] if o["gpu_name"] else "",
             o["steps"], o["warmup_steps"], text))
    print("FLOPs per sample: forward %.3g, training %.3g (3 x forward); peak %s TFLOP/s"
          % (o["flops"]["forward"], o["flops"]["train"], fmt(o["peak_tflops"], "%g")))
    if rc["status"] != "ok":
        print("rclip: %s%s" % (rc["status"], ": " + rc["note"] if rc["note"] else ""))
    if o["pytorch_status"] != "ok":
        print("PyTorch: %s%s" % (o["pytorch_status"], ": " + o["pytorch_note"] if o["pytorch_note"] else ""))
    elif pt:
        print("PyTorch %s, transformers %s, %s, sdpa, %s, fused AdamW %s, torch.compile %s; threads %d"
              % (pt["torch"], pt["transformers"], pt["precision"],
                 "autocast bf16" if pt["autocast"] else "no autocast", "on" if pt["fused_adamw"] else "off",
                 {None: "off", True: "on", False: "failed (eager)"}[pt["compile"]["worked"]], pt["threads"]))
    rows = [("training samples/s", rc["samples_per_s"], pt.get("samples_per_s"), o["ratio"]["train"]),
            ("MFU", rc["mfu"], pt.get("mfu"), None),
            ("peak memory, MiB", rc["peak_mem_mib"], pt.get("peak_mem_mib"), None),
            ("data wait share", rc["data_wait_share"], None, None),
            ("embedding images/s", rc["embed_images_per_s"], (pt.get("embed") or {}).get("images_per_s"),
             o["ratio"]["embed"])]
    print("%-22s %14s %14s %10s" % ("", "rclip", "PyTorch", "ratio"))
    for label, r, p, q in rows:
        f = pct if label in ("MFU", "data wait share") else fmt
        print("%-22s %14s %14s %10s" % (label, f(r), f(p), fmt(q, "%.2fx")))
    print("memory: rclip %s; PyTorch %s" % (rc["peak_mem_kind"] or "n/a", pt.get("peak_mem_kind", "n/a")))
    for k, t in o["targets"].items():
        res = {None: "n/a", True: "PASS", False: "FAIL"}[t["pass"]]
        print("target %-17s %-5s %s" % (k, res, t["target"]))
    if o["smoke"]:
        print("(smoke run: a tiny model, a few steps: these figures test the plumbing, not the speed)")


def combine(a):
    runs = [json.load(open(p)) for p in a.inputs if os.path.isfile(p)]
    info = dict(kv.split("=", 1) for kv in a.info)
    out = dict(bench="bench-gpu", issue=12, info=info, configs=runs)
    txt = json.dumps(out, indent=1) + "\n"
    if a.output == "-":
        sys.stdout.write(txt)
    else:
        with open(a.output + ".tmp", "w") as fh:
            fh.write(txt)
        os.replace(a.output + ".tmp", a.output)


def captions(a):
    for line in open(a.manifest):
        line = line.strip()
        if line:
            for t in json.loads(line).get(a.stream, []):
                print(t.replace("\n", " "))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def shape(p):
        p.add_argument("--model", default="ViT-B-32")
        p.add_argument("--batch", type=int, default=256)
        p.add_argument("--tb-len", type=span, default=(9, 26))
        p.add_argument("--trl-len", type=span, default=(6, 20))
        p.add_argument("--peak-tflops", type=float)

    b = sub.add_parser("bench")
    shape(b)
    b.add_argument("--device", default="cuda")
    b.add_argument("--precision", choices=["bf16", "fp32"])
    b.add_argument("--steps", type=int, default=20)
    b.add_argument("--warmup-steps", type=int, default=3)
    b.add_argument("--embed-batch", type=int, default=256)
    b.add_argument("--embed-batches", type=int, default=10)
    b.add_argument("--compile", action="store_true")
    b.add_argument("-j", "--threads", type=int, default=os.cpu_count())
    f = sub.add_parser("flops")
    shape(f)
    z = sub.add_parser("size")
    z.add_argument("model")
    for k in ("siglip-tokenizer", "hf-config"):
        sub.add_parser(k).add_argument("model")
    c = sub.add_parser("captions")
    c.add_argument("manifest")
    c.add_argument("stream", choices=["tb", "trl"])
    r = sub.add_parser("report")
    shape(r)
    r.add_argument("--device", default="cuda")
    r.add_argument("--gpu-name", default="")
    r.add_argument("--smoke", action="store_true")
    r.add_argument("--steps", type=int, required=True)
    r.add_argument("--warmup-steps", type=int, required=True)
    r.add_argument("--embed-batch", type=int, required=True)
    r.add_argument("--threads", type=int)
    r.add_argument("--ref", help="the bench line of this script")
    r.add_argument("--ref-status", default="ok")
    r.add_argument("--ref-note", default="")
    r.add_argument("--metrics", help="rclip-train's metrics.jsonl")
    r.add_argument("--rclip-status", default="ok")
    r.add_argument("--rclip-note", default="")
    r.add_argument("--embed-status", default="ok")
    r.add_argument("--embed", action="append", default=[], metavar="SMALL.json,BIG.json")
    r.add_argument("--embed-list", help="a file of such pairs, one a line")
    r.add_argument("-o", "--output", required=True)
    m = sub.add_parser("combine")
    m.add_argument("-o", "--output", default="-")
    m.add_argument("--info", action="append", default=[], metavar="KEY=VALUE")
    m.add_argument("inputs", nargs="*")
    a = ap.parse_args()
    if a.cmd == "bench":
        if min(a.batch, a.steps, a.warmup_steps, a.embed_batch, a.embed_batches) < 1:
            ap.error("batch, steps, warm-up steps and embedding sizes must be positive")
        bench(a)
    elif a.cmd == "flops":
        print(json.dumps(flops(config_name(a.model), a.batch, a.tb_len[1], a.trl_len[1])))
    elif a.cmd == "size":
        print(CONFIGS[config_name(a.model)]["image"])
    elif a.cmd == "siglip-tokenizer":
        name = config_name(a.model)
        if siglip(name):   # tests/fixtures/spm/: SentencePiece for SigLIP, Gemma's BPE for SigLIP2
            print("siglip2" if CONFIGS[name]["vocab"] == 256000 else "siglip")
    elif a.cmd == "hf-config":
        name = config_name(a.model)
        if not siglip(name):
            raise SystemExit("bench_gpu_ref.py: hf-config: %s is no SigLIP model" % name)
        print(json.dumps(siglip_config(name), indent=2))
    elif a.cmd == "captions":
        captions(a)
    elif a.cmd == "report":
        report(a)
    else:
        combine(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
