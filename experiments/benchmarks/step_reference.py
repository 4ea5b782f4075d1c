"""PyTorch's side of the GPU step benchmark: one MeZO step and one BSZO step the way their
reference code runs them, on a Hugging Face model built from a config.json with random weights
(no weights are read, nothing is downloaded). zotune's `bench` command writes the same JSON
keys; run_step_bench.sh runs both on one GPU and step_table.py compares them.

  python3 step_reference.py --shape shapes/opt-1.3b --dtype f16 --batch 16 --seq 128 \
      --iters 10 --json pytorch_opt-1.3b.json

What is timed (wall clock between torch.cuda.synchronize() calls, median of --iters after
--warmup untimed runs):
  forward_ms     the loss under torch.inference_mode(), as MeZO's zo_forward computes it.
                 Causal LM: model(input_ids, attention_mask, labels=input_ids).loss, the
                 next-token loss over every token (logits at all positions). Masked LM
                 (RoBERTa, MeZO's medium_models / LM-BFF prompt fine-tuning): the encoder,
                 then the LM head only at the one mask position of each sequence, then
                 cross-entropy over the vocabulary against one label token per sequence.
  perturb_ms     one pass of MeZO's zo_perturb_parameters: torch.manual_seed(seed), then per
                 parameter tensor z = torch.normal(0, 1, p.size(), dtype=p.dtype) and
                 p.data = p.data + scaling * z * eps (out of place, as MeZO writes it).
  perturb_gbps   bytes read + written of all parameters (2 * params * element size) / perturb_ms.
  mezo_step_ms   MeZO's zo_step + zo_update: perturb(+1), loss1, perturb(-2), loss2,
                 projected_grad = ((loss1 - loss2) / (2 eps)).item(), perturb(+1), then zo_update
                 (reseed, regenerate z, p.data = p.data - lr * (projected_grad * z + wd * p.data),
                 without the wd term for names containing bias / layer_norm / layernorm):
                 4 parameter passes, 2 forwards, 1 host read.
  bszo_step_ms   BSZO (github.com/AeonianQuill/BSZO bszo_optimizer_v3.py, k = 2, m = 3,
                 one-sided, adaptive sampling and noise): f0 = loss.item(); for each of the k
                 axes i: perturb +eps z_i in place (p.data.add_), f_i = loss.item(), perturb
                 -eps z_i; Kalman update of the k-dim posterior (numpy, on the host); the m-th
                 observation re-uses the cached value of the most uncertain axis (no forward);
                 then one in-place update pass per axis, p.data.add_(z_i, alpha=-lr mu_i).
                 3 forwards, 6 parameter passes, 3 host reads.
  copy_gbps      dst.copy_(src) of one flat tensor with as many elements as the parameters, in
                 the same dtype (read + write bytes / time), after the model is freed.
  peak_memory_gib  torch.cuda.max_memory_allocated over the timed MeZO steps (weights included);
                 bszo_peak_memory_gib the same over the BSZO steps.

Deviations from the reference code, all for a fair timing: use_cache=False in the causal
forward (the reference keeps the KV cache alive until the output is dropped: pure overhead,
--use-cache restores it); a non-finite loss difference is replaced by 0 so the weights stay
finite (the passes still run; counted in nonfinite_losses); BSZO's update runs for every axis
(the reference skips |mu_i| <= 1e-10, which never happens with real losses).
"""

import argparse
import json
import math
import os
import random
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", required=True, help="folder with a Hugging Face config.json")
    ap.add_argument("--dtype", choices=sorted(DTYPES), required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--iters", type=int, default=10, help="timed repetitions (median reported)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed repetitions before each timing")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mezo-eps", type=float, default=1e-3, help="MeZO's zo_eps (large_models/mezo.sh)")
    ap.add_argument("--mezo-lr", type=float, default=1e-6)
    ap.add_argument("--weight-decay", type=float, default=0.0, help="MeZO's scripts use 0")
    ap.add_argument("--bszo-eps", type=float, default=1e-4)
    ap.add_argument("--bszo-lr", type=float, default=1e-6)
    ap.add_argument("--bszo-k", type=int, default=2, help="subspace dimension")
    ap.add_argument("--bszo-m", type=int, default=3, help="observations per step (m > k re-uses a cached one)")
    ap.add_argument("--tf32", action="store_true",
                    help="allow TF32 matmuls for f32 (off: PyTorch's default, what the reference code runs)")
    ap.add_argument("--use-cache", action="store_true", help="let the causal forward build its KV cache")
    return ap.parse_args()


def timed_ms(fn, iters, warmup):
    """Median wall-clock ms of fn() between device synchronizations, and every sample."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(iters):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples), samples


def build_model(shape_dir, dtype):
    config = AutoConfig.from_pretrained(shape_dir)
    arch = (config.architectures or [""])[0]
    masked_lm = arch.endswith("ForMaskedLM")
    cls = AutoModelForMaskedLM if masked_lm else AutoModelForCausalLM
    # Built directly on the GPU: random init of 13B parameters on the host would take minutes.
    with torch.device("cuda"):
        model = cls.from_config(config, dtype=dtype)
    model.to(device="cuda", dtype=dtype)
    model.eval()  # dropout off, as MeZO's zo_forward
    return config, model, masked_lm


def make_batch(config, masked_lm, batch, seq, seed):
    """Random token ids that avoid the special ids 0..3 (RoBERTa's and OPT's pad is 1: a pad id
    would change RoBERTa's position ids). Shapes: input_ids [batch, seq] int64, attention_mask
    all ones; masked LM also mask_pos [batch] and labels [batch]."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    vocab = config.vocab_size
    if not masked_lm:
        ids = torch.randint(4, vocab, (batch, seq), device="cuda", generator=g)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    mask_id = vocab - 1  # RoBERTa's <mask> is the last id (50264 of 50265)
    ids = torch.randint(4, vocab - 8, (batch, seq), device="cuda", generator=g)
    ids[:, 0] = config.bos_token_id if config.bos_token_id is not None else 0
    ids[:, -1] = config.eos_token_id if config.eos_token_id is not None else 2
    mask_pos = torch.randint(1, seq - 1, (batch,), device="cuda", generator=g)
    rows = torch.arange(batch, device="cuda")
    ids[rows, mask_pos] = mask_id
    labels = torch.randint(4, vocab - 8, (batch,), device="cuda", generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "mask_pos": mask_pos, "labels": labels}


def make_loss_fn(model, masked_lm, inputs, use_cache):
    if not masked_lm:
        def loss():
            with torch.inference_mode():
                out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                            labels=inputs["input_ids"], use_cache=use_cache)
                return out.loss.detach()
        return loss

    encoder = getattr(model, model.base_model_prefix)  # RobertaModel, no pooler in ...ForMaskedLM
    lm_head = model.lm_head
    rows = torch.arange(inputs["input_ids"].shape[0], device="cuda")

    def loss():
        with torch.inference_mode():
            hidden = encoder(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])[0]
            logits = lm_head(hidden[rows, inputs["mask_pos"]])  # [batch, vocab], mask rows only
            return F.cross_entropy(logits, inputs["labels"]).detach()
    return loss


def mezo_perturb(named_params, seed, scaling, eps):
    # MeZO large_models/trainer.py zo_perturb_parameters, written the same way (out of place).
    torch.manual_seed(seed)
    for _, p in named_params:
        z = torch.normal(mean=0, std=1, size=p.data.size(), device=p.data.device, dtype=p.data.dtype)
        p.data = p.data + scaling * z * eps


class MezoStep:
    def __init__(self, named_params, loss_fn, eps, lr, weight_decay):
        self.named_params, self.loss_fn = named_params, loss_fn
        self.eps, self.lr, self.weight_decay = eps, lr, weight_decay
        self.nonfinite = 0

    def __call__(self):
        seed = np.random.randint(1000000000)
        mezo_perturb(self.named_params, seed, 1, self.eps)
        loss1 = self.loss_fn()
        mezo_perturb(self.named_params, seed, -2, self.eps)
        loss2 = self.loss_fn()
        projected_grad = ((loss1 - loss2) / (2 * self.eps)).item()
        if not math.isfinite(projected_grad):
            self.nonfinite += 1
            projected_grad = 0.0
        mezo_perturb(self.named_params, seed, 1, self.eps)
        # zo_update
        torch.manual_seed(seed)
        for name, p in self.named_params:
            z = torch.normal(mean=0, std=1, size=p.data.size(), device=p.data.device, dtype=p.data.dtype)
            if "bias" not in name and "layer_norm" not in name and "layernorm" not in name:
                p.data = p.data - self.lr * (projected_grad * z + self.weight_decay * p.data)
            else:
                p.data = p.data - self.lr * (projected_grad * z)
        return loss1


class BszoStep:
    """bszo_optimizer_v3 with its defaults: sigma_prior = sigma_noise_0 = sqrt(n / 1e6), noise
    EMA alpha 0.1, noise floor 0.1 sigma_noise_0; the noise estimate persists across steps, the
    posterior (mu [k], Sigma [k, k]) is reset every step."""

    def __init__(self, named_params, loss_fn, n_params, eps, lr, k, m):
        self.named_params, self.loss_fn = named_params, loss_fn
        self.eps, self.lr, self.k, self.m = eps, lr, k, m
        self.sigma_prior = self.sigma_noise0 = self.sigma_noise = math.sqrt(n_params / 1e6)
        self.residual_sq_ema = self.sigma_noise0 ** 2
        self.alpha = 0.1
        self.nonfinite = 0

    def perturb(self, seed, scale):
        torch.manual_seed(seed)
        for _, p in self.named_params:
            z = torch.normal(mean=0, std=1, size=p.data.size(), device=p.device, dtype=p.dtype)
            p.data.add_(z, alpha=scale)

    def observe(self, mu, sigma, d, y):
        d_norm = float(np.linalg.norm(d))
        residual = (y - d @ mu) / d_norm
        self.residual_sq_ema = (1 - self.alpha) * self.residual_sq_ema + self.alpha * residual ** 2
        self.sigma_noise = max(0.1 * self.sigma_noise0, math.sqrt(self.residual_sq_ema))
        sigma_d = sigma @ d
        gain = sigma_d / (d @ sigma_d + self.sigma_noise ** 2 * d_norm ** 2)
        mu = mu + gain * (y - d @ mu)
        sigma = sigma - np.outer(gain, d @ sigma)
        sigma = (sigma + sigma.T) / 2 + 1e-10 * np.eye(self.k)
        return mu, sigma

    def finite(self, value):
        if math.isfinite(value):
            return value
        self.nonfinite += 1
        return 0.0

    def __call__(self):
        seeds = [np.random.randint(0, 2 ** 31) for _ in range(self.k)]
        mu = np.zeros(self.k)
        sigma = self.sigma_prior ** 2 * np.eye(self.k)
        f0 = self.loss_fn().item()
        cached = {}
        for sample in range(self.m):
            d = np.zeros(self.k)
            if sample >= self.k:  # most uncertain axis, its cached measurement: no forward
                axis = int(np.argmax(np.abs(np.linalg.eigh(sigma)[1][:, -1])))
                d[axis] = 1.0
                y = cached[axis]
            else:
                d[sample] = 1.0
                self.perturb(seeds[sample], self.eps)
                f_plus = self.loss_fn().item()
                self.perturb(seeds[sample], -self.eps)
                y = cached[sample] = self.finite((f_plus - f0) / self.eps)
            mu, sigma = self.observe(mu, sigma, d, y)
        for i, seed in enumerate(seeds):
            self.perturb(seed, -self.lr * float(mu[i]))
        return f0


def main():
    args = parse_args()
    if not torch.cuda.is_available():
        print("step_reference.py: no CUDA device", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    dtype = DTYPES[args.dtype]
    np.random.seed(args.seed)
    random.seed(args.seed)
    torch.manual_seed(args.seed)

    config, model, masked_lm = build_model(args.shape, dtype)
    named_params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    n_params = sum(p.numel() for _, p in named_params)
    elem = torch.empty((), dtype=dtype).element_size()
    param_bytes = n_params * elem
    inputs = make_batch(config, masked_lm, args.batch, args.seq, args.seed)
    loss_fn = make_loss_fn(model, masked_lm, inputs, args.use_cache)
    name = os.path.basename(os.path.normpath(args.shape))
    print(f"{name}: {n_params} parameters in {len(named_params)} tensors, {args.dtype}, "
          f"batch {args.batch} x {args.seq}, {torch.cuda.get_device_name(0)}", flush=True)

    base_loss = loss_fn().item()
    forward_ms, forward_samples = timed_ms(loss_fn, args.iters, args.warmup)

    sign = [1]

    def one_pass():  # alternate +eps / -eps so the weights come back after each pair
        mezo_perturb(named_params, 12345, sign[0], args.mezo_eps)
        sign[0] = -sign[0]

    perturb_ms, perturb_samples = timed_ms(one_pass, args.iters, args.warmup)

    mezo = MezoStep(named_params, loss_fn, args.mezo_eps, args.mezo_lr, args.weight_decay)
    for _ in range(args.warmup):
        mezo()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    mezo_step_ms, mezo_samples = timed_ms(mezo, args.iters, 0)
    peak_gib = torch.cuda.max_memory_allocated() / 2 ** 30

    bszo = BszoStep(named_params, loss_fn, n_params, args.bszo_eps, args.bszo_lr, args.bszo_k, args.bszo_m)
    for _ in range(args.warmup):
        bszo()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    bszo_step_ms, bszo_samples = timed_ms(bszo, args.iters, 0)
    bszo_peak_gib = torch.cuda.max_memory_allocated() / 2 ** 30
    attn = getattr(model.config, "_attn_implementation", None)
    nonfinite = mezo.nonfinite + bszo.nonfinite

    del loss_fn, mezo, bszo, named_params, model
    torch.cuda.empty_cache()
    src = torch.ones(n_params, dtype=dtype, device="cuda")
    dst = torch.empty_like(src)
    copy_ms, copy_samples = timed_ms(lambda: dst.copy_(src), args.iters, args.warmup)
    del src, dst
    torch.cuda.empty_cache()

    result = {
        "shape": name,
        "dtype": args.dtype,
        "batch": args.batch,
        "seq": args.seq,
        "params": n_params,
        "forward_ms": forward_ms,
        "perturb_ms": perturb_ms,
        "perturb_gbps": 2 * param_bytes / perturb_ms / 1e6,
        "copy_gbps": 2 * param_bytes / copy_ms / 1e6,
        "mezo_step_ms": mezo_step_ms,
        "bszo_step_ms": bszo_step_ms,
        "peak_memory_gib": peak_gib,
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "implementation": "pytorch",
        "bszo_peak_memory_gib": bszo_peak_gib,
        "copy_ms": copy_ms,
        "base_loss": base_loss,
        "nonfinite_losses": nonfinite,
        "iters": args.iters,
        "warmup": args.warmup,
        "tf32": args.tf32,
        "use_cache": args.use_cache,
        "attn_implementation": attn,
        "samples_ms": {"forward": forward_samples, "perturb": perturb_samples, "mezo_step": mezo_samples,
                       "bszo_step": bszo_samples, "copy": copy_samples},
    }
    for key in ("forward_ms", "perturb_ms", "perturb_gbps", "copy_gbps", "mezo_step_ms", "bszo_step_ms",
                "peak_memory_gib", "bszo_peak_memory_gib"):
        print(f"  {key:22s} {result[key]:10.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
