"""PyTorch's side of the parameter-efficient step benchmark (issue 18 item 6): one AdaZeta step
(tensorized adapters, Q queries) and one MeZO-LoRA step on a Hugging Face causal LM, each in two
variants, on one GPU. zotune's `bench --peft adapter|lora` times the same steps;
run_peft_step_bench.sh runs both sides and peft_step_table.py compares them.

  python3 peft_step_reference.py --model shapes/llama-2-7b --random --dtype bf16 --batch 16 \
      --seq 128 --queries 15 --json pytorch_llama.json
  python3 peft_step_reference.py --model ../../models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf \
      --dtype f32 --batch 16 --seq 64 --queries 15 --json pytorch_smollm2.json

The model: a .gguf file (transformers' gguf_file= loader, which dequantizes to float and needs
the `gguf` package), a Hugging Face directory with weights, or with --random a folder holding a
config.json alone (random weights drawn on the device, nothing read or downloaded). Inputs:
--batch x --seq random token ids (seeded, ids >= 4), an all-ones attention mask, and the
next-token loss over every token, as MeZO's zo_forward computes it for a causal LM.

The modules (both variants compute the same function from the same initial weights):
  adapters  AdaZeta's code (large_models/loretta, LorettaAdp; docs/papers/adazeta.md a.1, a.2):
            on Llama the inputs of gate_proj and up_proj (a pre-adapter each) and the output of
            down_proj (a post-adapter); on OPT fc1's input and fc2's output. a(h) = h +
            s U(ReLU(D(h))), s = 1, computed in fp32 (input cast up, output cast back), the
            adapter tensors fp32. D, U are TT layers hidden -> bottleneck -> hidden (--bottleneck
            64, --tt-rank 5), TT cores N(0,1)/sqrt(r_right) (1/(in+out))^(1/(2p)) and biases
            U(+-1/sqrt(out)) (build_factors_Gaussian); TT modes: hidden in three balanced factors
            and the bottleneck in three (4096 -> [16,16,16,4,4,4], the code's hard-coded shape;
            576 -> [8,8,9,4,4,4]: zotune's rule, the code has none for other sizes), the up map
            the reverse. TT forward as the code's forward_tt_full_precision contracts it: left
            group L = G_1..G_m, right group R = G_{m+1}..G_p, y = (x L) R + bias.
  LoRA      MeZO's large_models/lora.py LoRALinear on every q_proj and v_proj: W x + b +
            (alpha/r) (x A^T) B^T, A [r, in] Kaiming-uniform (a = sqrt 5), B [out, r] zeros,
            --lora-rank 8, --lora-alpha 16, no dropout; A and B in the backbone's dtype (MeZO's
            float16 path .half()s them; HF-PEFT of AdaZeta's era casts to the base dtype too).

What is timed (wall clock between device synchronizations, median of --iters after --warmup
untimed runs; --device cpu only for a self-check of the logic, its numbers mean nothing):
 paper  the official code's arithmetic as written.
  adazeta_step_ms    trainer_adazeta.py zo_step + zo_update: for q in range(Q): seed =
                     np.random.randint(1e9); perturb(+1), loss1, perturb(-2), loss2,
                     projected_grad = ((loss1 - loss2) / (2 eps)).item(), perturb(+1); then per
                     query reseed and per tensor z = torch.normal(...), grad_tmp[name] += g_q z;
                     then p.data = p.data - lr (grad_tmp / Q + wd p.data) (no wd term for names
                     with bias / layer_norm / layernorm). A perturbation is torch.manual_seed(seed)
                     then per adapter tensor z = torch.normal(0, 1, p.size()) and p.data = p.data +
                     scaling * z * eps (out of place). Each loss is zo_forward: model.eval(), then
                     under torch.inference_mode model(input_ids, attention_mask,
                     labels=input_ids).loss. 2Q forwards, 3Q + Q perturbation/regeneration passes
                     over every adapter tensor, Q host reads.
  adazeta_forward_ms one such loss with the adapters in.
  mezo_lora_step_ms  MeZO's large_models/trainer.py zo_step + zo_update over the LoRA tensors
                     (step_reference.py's MezoStep): 2 forwards, 4 passes, 1 host read.
  mezo_lora_forward_ms one loss with LoRA in.
 fast   what a careful PyTorch user writes for the same step: the PEFT tensors live in one flat
        buffer (views per module), TF32 matmuls when --dtype f32, the whole step under
        torch.inference_mode, and the probes of a step batched. Per step: one seed per query
        (np.random.randint, as the code) and z_q = torch.randn(n, generator seeded with it) over
        the flat buffer, then the G = 2Q (AdaZeta) or 2 (MeZO-LoRA) perturbed weight vectors
        w + eps z_q and w - eps z_q stacked [G, n] in two kernels. One forward takes up to
        --groups-per-forward of them: the minibatch repeated g times ([g B, S] tokens), the
        backbone run once over all rows, and each group's rows through its own adapter / LoRA
        weights (torch.bmm over the group dimension; the TT groups L, R of every adapter site
        for every group contracted together in one bmm chain per forward); the backbone's last
        hidden state goes through the LM head and the cross-entropy group by group (the same
        mean over B (S - 1) tokens as the HF loss). The losses stay on the device: projected
        gradients c = (l+ - l-) / (2 eps) (non-finite -> 0), w <- w - lr (Z^T c / Q + wd m w)
        with m the decay mask, all in place. No host read in the step.
  adazeta_batched_forward_ms  one forward of groups_per_forward probe groups.
  groups_per_forward          the probe groups per forward actually used: --groups-per-forward
                     (0: all of a step), halved after each torch.cuda.OutOfMemoryError.
  max_rel_diff       the check: for one step's perturbations, max over probes of |batched loss -
                     loss of the same probe alone (g = 1)| / |alone|; must be below 1e-3 (f32 /
                     TF32) or 2e-2 (16-bit). At eps = 1e-3 the probes' losses are nearly equal,
                     so the same check runs again at CHECK_EPS (max_rel_diff_check_eps), where a
                     probe mixed up with another would show (probe_loss_spread: how far apart the
                     probes' losses are there). paper_module_rel_diff: the fast modules alone
                     against the paper modules holding the same perturbed weights (first query's
                     two probes, both scales): the custom modules compute the code's function.
 peak_memory_gib     torch.cuda.max_memory_allocated over the timed steps (weights included), the
                     larger of the AdaZeta and MeZO-LoRA peaks, each also reported.

Deviations from the reference code, all for a fair timing: use_cache=False in the forward (the
reference builds a KV cache nobody reads; --use-cache restores it); a non-finite projected
gradient is replaced by 0 so the weights stay finite (counted in nonfinite_losses in paper); the
TT forward squeezes only the leading axis it added (the code's torch.squeeze would also drop a
batch axis of size 1); the list of trainable tensors is built once, not at every zo_step; the
learning-rate scheduler call of zo_update is left out.
"""

import argparse
import gc
import json
import math
import os
import random
import statistics
import sys
import time
from collections import defaultdict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_reference import MezoStep  # noqa: E402  MeZO's zo_step + zo_update, as written

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}
# AdaZeta code's adapter placement (loretta_adp.py TRANSFORMERS_MODELS_TO_ADAPTER_TYPE_MAPPING):
# "pre" adapts the projection's input, "post" its output.
ADAPTER_TARGETS = {
    "llama": {"gate_proj": "pre", "up_proj": "pre", "down_proj": "post"},
    "opt": {"fc1": "pre", "fc2": "post"},
}
LORA_TARGETS = ("q_proj", "v_proj")
CHECK_TOLERANCE = {"f32": 1e-3, "f16": 2e-2, "bf16": 2e-2}
CHECK_EPS = 0.1  # the second check's perturbation scale


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True,
                    help=".gguf file, Hugging Face directory with weights, or (--random) a folder with config.json")
    ap.add_argument("--random", action="store_true", help="random weights of MODEL's config.json")
    ap.add_argument("--dtype", choices=sorted(DTYPES), required=True, help="backbone dtype")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--queries", type=int, default=15, help="AdaZeta's Q (2Q forwards a step)")
    ap.add_argument("--iters", type=int, default=10, help="timed repetitions (median reported)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed repetitions before each timing")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                    help="cpu: a self-check of the logic on a tiny model, not a benchmark")
    ap.add_argument("--variants", nargs="+", choices=("paper", "fast"), default=["paper", "fast"])
    ap.add_argument("--groups-per-forward", type=int, default=0,
                    help="fast: probe groups per forward (0: all of a step); halved on out-of-memory")
    ap.add_argument("--bottleneck", type=int, default=64)
    ap.add_argument("--tt-rank", type=int, default=5)
    ap.add_argument("--adapter-scaling", type=float, default=1.0)
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--lora-alpha", type=float, default=16.0)
    ap.add_argument("--eps", type=float, default=1e-3, help="zo_eps (adazeta.md a.6)")
    ap.add_argument("--lr", type=float, default=1e-4, help="AdaZeta's learning rate")
    ap.add_argument("--weight-decay", type=float, default=0.01, help="AdaZeta's Llama launcher")
    ap.add_argument("--mezo-lr", type=float, default=1e-4, help="MeZO-LoRA's learning rate")
    ap.add_argument("--mezo-weight-decay", type=float, default=0.0, help="MeZO's scripts use 0")
    ap.add_argument("--paper-tf32", action="store_true",
                    help="allow TF32 in the paper variant too (off: PyTorch's default, what the code gets)")
    ap.add_argument("--use-cache", action="store_true", help="let the forward build its KV cache")
    return ap.parse_args()


# ---------------------------------------------------------------------------------------------
# Timing


class Clock:
    """Synchronization, timing and peak memory for the chosen device."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def timed_ms(self, fn, iters, warmup):
        """Median wall-clock ms of fn() between device synchronizations, and every sample."""
        for _ in range(warmup):
            fn()
        self.sync()
        samples = []
        for _ in range(iters):
            self.sync()
            t0 = time.perf_counter()
            fn()
            self.sync()
            samples.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(samples), samples

    def reset_peak(self):
        if self.cuda:
            self.sync()
            torch.cuda.reset_peak_memory_stats()

    def peak_gib(self):
        return torch.cuda.max_memory_allocated() / 2 ** 30 if self.cuda else None


def set_tf32(on):
    # "high" lets float32 matmuls use TF32 (torch.backends.cuda.matmul.allow_tf32 = True);
    # "highest" is PyTorch's default.
    torch.set_float32_matmul_precision("high" if on else "highest")


# ---------------------------------------------------------------------------------------------
# Model and inputs


def build_model(path, random_weights, dtype, device):
    if path.endswith(".gguf"):
        try:
            import gguf  # noqa: F401  transformers' GGUF loader needs it
        except ImportError:
            sys.exit("peft_step_reference.py: loading a .gguf needs the `gguf` package (pure Python): "
                     "pip install gguf, or carry its wheel (experiments/benchmarks/README.md)")
        model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)),
                                                     gguf_file=os.path.basename(path), dtype=dtype)
    elif random_weights:
        config = AutoConfig.from_pretrained(path)
        # Drawn on the device: random init of 7B parameters on the host takes minutes.
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    model.to(device=device, dtype=dtype)
    model.eval()  # dropout off, as zo_forward
    for p in model.parameters():  # the backbone is frozen (the code: only "adapter_" / "lora" train)
        p.requires_grad_(False)
    if model.config.model_type not in ADAPTER_TARGETS:
        sys.exit(f"peft_step_reference.py: model_type {model.config.model_type!r}: the adapter placement "
                 f"is known for {sorted(ADAPTER_TARGETS)}")
    return model


def make_batch(config, batch, seq, seed, device):
    """Random token ids from 4 up (no pad / special ids) [batch, seq] int64, all-ones mask."""
    g = torch.Generator(device=device).manual_seed(seed)
    ids = torch.randint(4, config.vocab_size, (batch, seq), device=device, generator=g)
    return ids, torch.ones_like(ids)


def find_sites(model, targets):
    """(name, parent module, attribute, nn.Linear) for every module whose name ends in a target,
    as the code's _find_and_replace matches them (key.endswith(target))."""
    sites = []
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in targets and isinstance(module, nn.Linear):
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            sites.append((name, parent, leaf, module))
    if not sites:
        sys.exit(f"peft_step_reference.py: no module named {sorted(targets)} in the model")
    return sites


def install(sites, modules):
    for (_, parent, attr, _), module in zip(sites, modules):
        setattr(parent, attr, module)


def restore(sites):
    for _, parent, attr, linear in sites:
        setattr(parent, attr, linear)


# ---------------------------------------------------------------------------------------------
# Shapes and the flat PEFT buffer


def balanced_factors(n, count):
    """n as `count` factors >= 2, ascending, as balanced as possible (the smallest largest factor,
    then the largest smallest one); zotune's rule (core/peft/peft_modules.cpp). None if none."""
    best = None

    def better(a, b):
        if b is None:
            return True
        return a[-1] < b[-1] if a[-1] != b[-1] else a[0] > b[0]

    def search(rest, low, left, current):
        nonlocal best
        if left == 1:
            if rest >= low and better(current + [rest], best):
                best = current + [rest]
            return
        f = low
        while f * f <= rest:
            if rest % f == 0:
                search(rest // f, f, left - 1, current + [f])
            f += 1

    search(n, 2, count, [])
    return best


def tt_modes(hidden, bottleneck):
    """(down modes, up modes): hidden -> bottleneck as [h1, h2, h3, b1, b2, b3], up reversed."""
    h, b = balanced_factors(hidden, 3), balanced_factors(bottleneck, 3)
    if h is None or b is None:
        sys.exit(f"peft_step_reference.py: hidden {hidden} / bottleneck {bottleneck} have no TT shape "
                 "(each needs three factors >= 2)")
    down = h + b
    return down, down[::-1]


def core_shapes(modes, rank):
    p = len(modes)
    return [[1 if i == 0 else rank, k, 1 if i == p - 1 else rank] for i, k in enumerate(modes)]


class FlatLayout:
    """Every PEFT tensor as a contiguous range of one flat vector. Tensors are declared in blocks
    [n_sites, *shape] (core i of every site's down map back to back, ...), so one view gives a
    block of every site at once and each tensor is still one range."""

    def __init__(self):
        self.numel = 0
        self.tensors = {}  # name -> (offset, shape)
        self.blocks = {}   # block name -> (offset, n_sites, shape)

    def block(self, key, site_names, shape, suffix=None):
        """Block `key` [n_sites, *shape]; site s's tensor is named f"{site}.{suffix or key}"."""
        size = math.prod(shape)
        self.blocks[key] = (self.numel, len(site_names), list(shape))
        for s, site in enumerate(site_names):
            self.tensors[f"{site}.{suffix or key}"] = (self.numel + s * size, list(shape))
        self.numel += len(site_names) * size

    def view(self, flat, name):
        offset, shape = self.tensors[name]
        return flat[offset:offset + math.prod(shape)].view(shape)

    def block_rows(self, rows, key):
        """rows [g, numel] -> the block [g, n_sites, *shape] (a view)."""
        offset, n, shape = self.blocks[key]
        return rows[:, offset:offset + n * math.prod(shape)].view(rows.shape[0], n, *shape)

    def decay_mask(self, dtype, device):
        """1 where zo_update applies weight decay (names without bias / layer_norm / layernorm)."""
        mask = torch.ones(self.numel, dtype=dtype, device=device)
        for name, (offset, shape) in self.tensors.items():
            if "bias" in name or "layer_norm" in name or "layernorm" in name:
                mask[offset:offset + math.prod(shape)] = 0
        return mask


# ---------------------------------------------------------------------------------------------
# Paper variant: the official modules


class CodeTTLinear(nn.Module):
    """The code's TensorizedLinear_module (TT cores `factors` [r_{i-1}, k_i, r_i] + `bias` [out])
    with forward_tt_full_precision's two-group contraction."""

    def __init__(self, modes, rank, cores, bias):
        super().__init__()
        self.modes = modes
        self.factors = nn.ParameterList([nn.Parameter(c) for c in cores])
        self.bias = nn.Parameter(bias)

    def forward(self, x):
        m = len(self.factors) // 2
        n = x.dim()
        x = torch.reshape(x, [1] + list(x.shape[:n - 1]) + self.modes[:m])
        left = torch.squeeze(self.factors[0])
        right = self.factors[m]
        for i in range(1, m):
            left = torch.tensordot(left, self.factors[i], [[-1], [0]])
            right = torch.tensordot(right, self.factors[i + m], [[-1], [0]])
        out = torch.tensordot(x, left, [list(range(n, n + m)), list(range(0, m))])
        n = out.dim()
        out = torch.tensordot(out, right, [[-1], [0]])
        out = torch.flatten(out, start_dim=n - 1, end_dim=-1).squeeze(0)
        return out + self.bias


class CodeAdapterLinear(nn.Module):
    """LorettaAdp's Linear: the frozen projection with a tensorized adapter on its input
    ("pre", mh_adapter) or its output ("post", output_adapter), computed in fp32."""

    def __init__(self, linear, kind, down, up, scaling):
        super().__init__()
        self.linear, self.kind, self.scaling = linear, kind, scaling
        self.adapter_down, self.adapter_up = down, up

    def adapter(self, x):
        expected_dtype = x.dtype
        if x.dtype != torch.float32:
            x = x.float()
        return self.adapter_up(F.relu(self.adapter_down(x))).to(expected_dtype) * self.scaling

    def forward(self, x):
        if self.kind == "pre":
            return F.linear(self.adapter(x) + x, self.linear.weight, self.linear.bias)
        x = F.linear(x, self.linear.weight, self.linear.bias)
        return self.adapter(x) + x


class MezoLoraLinear(nn.Module):
    """MeZO's LoRALinear (large_models/lora.py), unmerged, no dropout."""

    def __init__(self, linear, lora_a, lora_b, scaling):
        super().__init__()
        self.linear, self.scaling = linear, scaling
        self.lora_A, self.lora_B = nn.Parameter(lora_a), nn.Parameter(lora_b)

    def forward(self, x):
        result = F.linear(x, self.linear.weight, bias=self.linear.bias)
        result += (x @ self.lora_A.transpose(0, 1) @ self.lora_B.transpose(0, 1)) * self.scaling
        return result


def zo_perturb_parameters(named_params, seed, scaling, eps):
    # trainer_adazeta.py zo_perturb_parameters, written the same way (out of place).
    torch.manual_seed(seed)
    for _, p in named_params:
        z = torch.normal(mean=0, std=1, size=p.data.size(), device=p.data.device, dtype=p.data.dtype)
        p.data = p.data + scaling * z * eps


class AdazetaPaperStep:
    """trainer_adazeta.py zo_step (Q queries) + zo_update, with the code's arithmetic."""

    def __init__(self, named_params, loss_fn, queries, eps, lr, weight_decay):
        self.named_params, self.loss_fn = named_params, loss_fn
        self.queries, self.eps, self.lr, self.weight_decay = queries, eps, lr, weight_decay
        self.nonfinite = 0

    def __call__(self):
        seeds, grads = [], []
        for _ in range(self.queries):
            seed = np.random.randint(1000000000)
            seeds.append(seed)
            zo_perturb_parameters(self.named_params, seed, 1, self.eps)
            loss1 = self.loss_fn()
            zo_perturb_parameters(self.named_params, seed, -2, self.eps)
            loss2 = self.loss_fn()
            projected_grad = ((loss1 - loss2) / (2 * self.eps)).item()
            if not math.isfinite(projected_grad):
                self.nonfinite += 1
                projected_grad = 0.0
            grads.append(projected_grad)
            zo_perturb_parameters(self.named_params, seed, 1, self.eps)
        # zo_update
        grad_tmp = defaultdict(float)
        for i in range(self.queries):
            torch.manual_seed(seeds[i])
            for name, p in self.named_params:
                z = torch.normal(mean=0, std=1, size=p.data.size(), device=p.data.device, dtype=p.data.dtype)
                grad_tmp[name] += grads[i] * z
        for name, p in self.named_params:
            if "bias" not in name and "layer_norm" not in name and "layernorm" not in name:
                p.data = p.data - self.lr * (grad_tmp[name] / self.queries + self.weight_decay * p.data)
            else:
                p.data = p.data - self.lr * grad_tmp[name] / self.queries
        return loss1


def make_paper_loss(model, ids, mask, use_cache):
    def loss():
        model.eval()  # zo_forward does this on every call
        with torch.inference_mode():
            out = model(input_ids=ids, attention_mask=mask, labels=ids, use_cache=use_cache)
            return out.loss.detach()
    return loss


# ---------------------------------------------------------------------------------------------
# Fast variant: probe groups batched in one forward


class ProbeRows:
    """The probe groups of the forward in flight: rows [g, numel] of perturbed flat vectors, and
    per adapter site its TT groups (L down, R down, bias down, L up, R up, bias up), [g, ...]."""

    def __init__(self):
        self.rows = None
        self.groups = 0
        self.adapter = None


def tt_groups(cores):
    """cores: p tensors [M, r_{i-1}, k_i, r_i] (M = groups x sites) -> L [M, in, r_m] (row index the
    row-major flattening of k_1..k_m) and R [M, r_m, out], the code's two contraction groups."""
    m = len(cores) // 2
    big = cores[0].shape[0]
    left = cores[0].reshape(big, cores[0].shape[2], cores[0].shape[3])  # r_0 = 1: [M, k_1, r]
    for c in cores[1:m]:
        rows = left.shape[1]
        left = torch.bmm(left, c.reshape(big, c.shape[1], -1)).reshape(big, rows * c.shape[2], c.shape[3])
    right = cores[m].reshape(big, -1, cores[m].shape[3])  # [M, r k_{m+1}, r]
    for c in cores[m + 1:]:
        cols = right.shape[1]
        right = torch.bmm(right, c.reshape(big, c.shape[1], -1)).reshape(big, cols * c.shape[2], c.shape[3])
    r_m = cores[m].shape[1]
    return left, right.reshape(big, r_m, -1)


class GroupedAdapterLinear(nn.Module):
    """The adapter site `index`, every probe group's rows through that group's adapter weights."""

    def __init__(self, linear, kind, index, probe, scaling):
        super().__init__()
        self.linear, self.kind, self.index, self.probe, self.scaling = linear, kind, index, probe, scaling

    def adapter(self, x):
        g = self.probe.groups
        ld, rd, bd, lu, ru, bu = (t[:, self.index] for t in self.probe.adapter)
        xf = x.reshape(g, -1, x.shape[-1]).float()                   # [g, N, hidden]
        down = torch.baddbmm(bd.unsqueeze(1), torch.bmm(xf, ld), rd)  # [g, N, bottleneck]
        down.relu_()
        out = torch.baddbmm(bu.unsqueeze(1), torch.bmm(down, lu), ru)  # [g, N, hidden] fp32
        if self.scaling != 1.0:
            out.mul_(self.scaling)
        return out.to(x.dtype).view(x.shape)

    def forward(self, x):
        if self.kind == "pre":
            h = self.adapter(x)
            h += x
            return F.linear(h, self.linear.weight, self.linear.bias)
        y = F.linear(x, self.linear.weight, self.linear.bias)
        y += self.adapter(y)
        return y


class GroupedLoraLinear(nn.Module):
    """LoRA site `site`: y = W x + b, plus per group (alpha/r) (x A_g^T) B_g^T into y in place."""

    def __init__(self, linear, site, layout, prefix, probe, scaling):
        super().__init__()
        self.linear, self.site, self.layout, self.prefix = linear, site, layout, prefix
        self.probe, self.scaling = probe, scaling

    def forward(self, x):
        g = self.probe.groups
        a = self.layout.block_rows(self.probe.rows, self.prefix + "lora_A")[:, self.site]  # [g, r, in]
        b = self.layout.block_rows(self.probe.rows, self.prefix + "lora_B")[:, self.site]  # [g, out, r]
        y = F.linear(x, self.linear.weight, self.linear.bias)
        t = torch.bmm(x.reshape(g, -1, x.shape[-1]), a.transpose(1, 2))  # [g, N, r]
        y.view(g, -1, y.shape[-1]).baddbmm_(t, b.transpose(1, 2), alpha=self.scaling)
        return y


class GroupedForward:
    """Losses [g] of g probe groups in one forward: the minibatch repeated g times through the
    backbone, the LM head and cross-entropy per group."""

    def __init__(self, model, ids, mask, probe, prepare, use_cache):
        self.backbone = getattr(model, model.base_model_prefix)
        self.head = model.get_output_embeddings()
        self.ids, self.mask, self.probe, self.prepare = ids, mask, probe, prepare
        self.use_cache = use_cache
        self.labels = ids[:, 1:].reshape(-1)
        self.repeated = {}

    def __call__(self, rows):
        g = rows.shape[0]
        if g not in self.repeated:
            self.repeated[g] = (self.ids.repeat(g, 1), self.mask.repeat(g, 1))
        ids, mask = self.repeated[g]
        self.probe.rows, self.probe.groups = rows, g
        self.prepare(rows)
        hidden = self.backbone(input_ids=ids, attention_mask=mask, use_cache=self.use_cache)[0]
        batch = self.ids.shape[0]
        losses = []
        for i in range(g):
            logits = self.head(hidden[i * batch:(i + 1) * batch, :-1]).float()
            losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), self.labels))
        return torch.stack(losses)


class FastStep:
    """One step of Q queries (2Q probe groups: w + eps z_q, w - eps z_q) over the flat buffer,
    groups_per_forward groups per forward, then w <- w - lr (Z^T c / Q + wd m w). In place, no
    host read. MeZO-LoRA is Q = 1."""

    def __init__(self, flat, decay, forward, queries, groups_per_forward, eps, lr, weight_decay):
        self.flat, self.decay, self.forward = flat, decay, forward
        self.queries, self.eps, self.lr, self.weight_decay = queries, eps, lr, weight_decay
        self.groups_per_forward = groups_per_forward
        n = flat.numel()
        self.z = torch.empty(queries, n, dtype=flat.dtype, device=flat.device)
        self.rows = torch.empty(queries, 2, n, dtype=flat.dtype, device=flat.device)
        self.gen = torch.Generator(device=flat.device)

    def probes(self, seeds, eps=None):
        """The stacked perturbed vectors [2Q, n] of the queries' seeds (z kept in self.z)."""
        eps = self.eps if eps is None else eps
        for q, seed in enumerate(seeds):
            self.gen.manual_seed(int(seed))
            torch.randn(self.flat.numel(), generator=self.gen, out=self.z[q])
        torch.add(self.flat, self.z, alpha=eps, out=self.rows[:, 0])
        torch.add(self.flat, self.z, alpha=-eps, out=self.rows[:, 1])
        return self.rows.view(2 * self.queries, -1)

    def losses(self, rows):
        g = self.groups_per_forward
        return torch.cat([self.forward(rows[i:i + g]) for i in range(0, rows.shape[0], g)])

    def __call__(self):
        with torch.inference_mode():
            seeds = [np.random.randint(1000000000) for _ in range(self.queries)]
            losses = self.losses(self.probes(seeds)).view(self.queries, 2)
            grads = torch.nan_to_num((losses[:, 0] - losses[:, 1]) / (2 * self.eps), nan=0.0, posinf=0.0, neginf=0.0)
            grad = torch.mv(self.z.t(), grads.to(self.z.dtype))
            if self.weight_decay:
                self.flat.addcmul_(self.decay, self.flat, value=-self.lr * self.weight_decay)
            self.flat.add_(grad, alpha=-self.lr / self.queries)
            return losses[-1, 0]


# ---------------------------------------------------------------------------------------------
# The two methods


class AdapterSetup:
    """AdaZeta's adapters on a model: sites, layout, initial values, and both variants' modules."""

    def __init__(self, model, bottleneck, rank, scaling, device, seed):
        self.sites = find_sites(model, ADAPTER_TARGETS[model.config.model_type])
        kinds = ADAPTER_TARGETS[model.config.model_type]
        self.kinds = [kinds[attr] for _, _, attr, _ in self.sites]
        # pre adapters see the projection's input, post adapters its output: both hidden-wide
        widths = {linear.in_features if k == "pre" else linear.out_features
                  for (_, _, _, linear), k in zip(self.sites, self.kinds)}
        if len(widths) != 1:
            sys.exit(f"peft_step_reference.py: adapter sites of different widths {sorted(widths)}")
        self.hidden = widths.pop()
        self.down_modes, self.up_modes = tt_modes(self.hidden, bottleneck)
        self.rank, self.scaling = rank, scaling
        names = [name for name, _, _, _ in self.sites]
        self.layout = FlatLayout()
        self.maps = (("adapter_down", self.down_modes, self.hidden, bottleneck),
                     ("adapter_up", self.up_modes, bottleneck, self.hidden))
        for key, modes, _, out in self.maps:
            for i, shape in enumerate(core_shapes(modes, rank)):
                self.layout.block(f"{key}.factors.{i}", names, shape)
            self.layout.block(f"{key}.bias", names, [out])
        self.flat = self.initial_values(device, seed)

    def initial_values(self, device, seed):
        """build_factors_Gaussian for the cores, U(+-1/sqrt(out)) for the biases, seeded."""
        g = torch.Generator(device=device).manual_seed(seed + 1)
        flat = torch.empty(self.layout.numel, dtype=torch.float32, device=device)
        for key, modes, fan_in, fan_out in self.maps:
            target_sdv = math.sqrt(1.0 / (fan_in + fan_out))
            p = len(modes)
            for i, shape in enumerate(core_shapes(modes, self.rank)):
                offset, n, _ = self.layout.blocks[f"{key}.factors.{i}"]
                size = n * math.prod(shape)
                flat[offset:offset + size] = (torch.randn(size, generator=g, device=device)
                                              / math.sqrt(shape[2]) * target_sdv ** (1.0 / p))
            offset, n, _ = self.layout.blocks[f"{key}.bias"]
            size = n * fan_out
            bound = 1.0 / math.sqrt(fan_out)
            flat[offset:offset + size] = torch.rand(size, generator=g, device=device) * (2 * bound) - bound
        return flat

    def paper_modules(self):
        modules = []
        for (name, _, _, linear), kind in zip(self.sites, self.kinds):
            tts = []
            for key, modes, _, _ in self.maps:
                cores = [self.layout.view(self.flat, f"{name}.{key}.factors.{i}").clone() for i in range(len(modes))]
                tts.append(CodeTTLinear(modes, self.rank, cores, self.layout.view(self.flat, f"{name}.{key}.bias").clone()))
            modules.append(CodeAdapterLinear(linear, kind, tts[0], tts[1], self.scaling))
        return modules

    def fast_modules(self, probe):
        def prepare(rows):
            """Every site's TT groups for every group in one bmm chain per map."""
            g, n = rows.shape[0], len(self.sites)
            out = []
            for key, modes, _, width in self.maps:
                cores = [self.layout.block_rows(rows, f"{key}.factors.{i}").reshape(g * n, *shape)
                         for i, shape in enumerate(core_shapes(modes, self.rank))]
                left, right = tt_groups(cores)
                out += [left.view(g, n, *left.shape[1:]), right.view(g, n, *right.shape[1:]),
                        self.layout.block_rows(rows, f"{key}.bias")]
            probe.adapter = out

        modules = [GroupedAdapterLinear(linear, kind, s, probe, self.scaling)
                   for s, ((_, _, _, linear), kind) in enumerate(zip(self.sites, self.kinds))]
        return modules, prepare


class LoraSetup:
    """MeZO's LoRA on q_proj and v_proj: sites, layout, initial values, both variants' modules."""

    def __init__(self, model, rank, alpha, dtype, device, seed):
        self.sites = find_sites(model, LORA_TARGETS)
        self.scaling = alpha / rank
        self.layout = FlatLayout()
        # One block per target (q and v can differ in width: grouped-query attention).
        self.by_target = {t: [(s, site) for s, site in enumerate(self.sites) if site[2] == t] for t in LORA_TARGETS}
        self.slot = {}
        for t, members in self.by_target.items():
            if not members:
                continue
            linear = members[0][1][3]
            names = [site[0] for _, site in members]
            self.layout.block(f"{t}.lora_A", names, [rank, linear.in_features], suffix="lora_A")
            self.layout.block(f"{t}.lora_B", names, [linear.out_features, rank], suffix="lora_B")
            for k, (s, _) in enumerate(members):
                self.slot[s] = (t, k)
        g = torch.Generator(device=device).manual_seed(seed + 2)
        self.flat = torch.zeros(self.layout.numel, dtype=dtype, device=device)  # B = 0
        for name, (offset, shape) in self.layout.tensors.items():
            if name.endswith("lora_A"):  # kaiming_uniform_(a=sqrt 5): U(+-1/sqrt(in))
                bound = 1.0 / math.sqrt(shape[1])
                values = torch.rand(math.prod(shape), generator=g, device=device) * (2 * bound) - bound
                self.flat[offset:offset + values.numel()] = values.to(dtype)

    def paper_modules(self):
        return [MezoLoraLinear(linear, self.layout.view(self.flat, f"{name}.lora_A").clone(),
                               self.layout.view(self.flat, f"{name}.lora_B").clone(), self.scaling)
                for name, _, _, linear in self.sites]

    def fast_modules(self, probe):
        modules = []
        for s, (_, _, _, linear) in enumerate(self.sites):
            t, k = self.slot[s]
            modules.append(GroupedLoraLinear(linear, k, self.layout, f"{t}.", probe, self.scaling))
        return modules, lambda rows: None


def rel_diff(a, b):
    a, b = a.double().cpu(), b.double().cpu()
    return float(((a - b).abs() / b.abs().clamp_min(1e-30)).max())


def run_paper(name, setup, model, clock, args, step_factory, forward_key, step_key):
    """Installs the paper modules, times one forward and the step; returns (results, modules)."""
    modules = setup.paper_modules()
    install(setup.sites, modules)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    loss_fn = make_paper_loss(model, args.ids, args.mask, args.use_cache)
    forward_ms, forward_samples = clock.timed_ms(loss_fn, args.iters, args.warmup)
    step = step_factory(named, loss_fn)
    for _ in range(args.warmup):
        step()
    clock.reset_peak()
    step_ms, step_samples = clock.timed_ms(step, args.iters, 0)
    peak = clock.peak_gib()
    restore(setup.sites)
    print(f"  paper {name}: forward {forward_ms:.2f} ms, step {step_ms:.2f} ms, {len(named)} tensors", flush=True)
    return {forward_key: forward_ms, step_key: step_ms, "peak": peak, "nonfinite": getattr(step, "nonfinite", 0),
            "samples": {forward_key: forward_samples, step_key: step_samples}}


def check_step(setup, fast_modules, model, fast_forward, step, args, queries, eps):
    """One step's perturbations at scale eps: the batched losses against each probe alone, and
    (first query's two probes) the fast modules alone against the paper modules holding the same
    weights. Returns (max rel diff batched vs alone, max rel diff fast vs paper, relative spread
    of the probes' losses: a mix-up of probes moves a loss by about that much)."""
    seeds = np.random.RandomState(args.seed + 7).randint(1000000000, size=queries)
    install(setup.sites, fast_modules)
    with torch.inference_mode():
        rows = step.probes(seeds, eps).clone()
        batched = step.losses(rows)
        alone = torch.cat([fast_forward(rows[i:i + 1]) for i in range(rows.shape[0])])
    restore(setup.sites)
    install(setup.sites, setup.paper_modules())
    loss_fn = make_paper_loss(model, args.ids, args.mask, args.use_cache)
    named = dict(model.named_parameters())
    paper = []
    for i in range(2):
        for name, (offset, shape) in setup.layout.tensors.items():
            named[name].data = rows[i, offset:offset + math.prod(shape)].view(shape).clone()
        paper.append(loss_fn())
    restore(setup.sites)
    spread = float((alone.max() - alone.min()) / alone.abs().mean())
    return rel_diff(batched, alone), rel_diff(alone[:2], torch.stack(paper)), spread


def run_fast(name, setup, model, clock, args, queries, lr, weight_decay, forward_key, step_key):
    probe = ProbeRows()
    modules, prepare = setup.fast_modules(probe)
    install(setup.sites, modules)
    fast_forward = GroupedForward(model, args.ids, args.mask, probe, prepare, args.use_cache)
    decay = setup.layout.decay_mask(setup.flat.dtype, setup.flat.device)
    groups = 2 * queries
    requested = args.groups_per_forward if args.groups_per_forward > 0 else groups
    per_forward = min(requested, groups)
    with torch.inference_mode():
        one = setup.flat.unsqueeze(0)
        forward_ms, forward_samples = clock.timed_ms(lambda: fast_forward(one), args.iters, args.warmup)
    while True:
        try:
            step = FastStep(setup.flat, decay, fast_forward, queries, per_forward, args.eps, lr, weight_decay)
            rows = step.probes([1] * queries)[:per_forward].clone()
            with torch.inference_mode():
                batched_ms, batched_samples = clock.timed_ms(lambda: fast_forward(rows), args.iters, args.warmup)
            del rows
            for _ in range(args.warmup):
                step()
            clock.reset_peak()
            step_ms, step_samples = clock.timed_ms(step, args.iters, 0)
            break
        except torch.cuda.OutOfMemoryError:
            if per_forward == 1:
                raise
        # Out of memory. Freed here, after the handler: its traceback held the forward's tensors.
        step = rows = None
        gc.collect()
        torch.cuda.empty_cache()
        per_forward = (per_forward + 1) // 2
        print(f"  fast {name}: out of memory, {per_forward} groups per forward", flush=True)
    peak = clock.peak_gib()
    # At the step's eps (the number asked for), and at CHECK_EPS, where the probes' losses are far
    # enough apart that a probe mixed up with another or a wrong module would show.
    max_rel, paper_rel, _ = check_step(setup, modules, model, fast_forward, step, args, queries, args.eps)
    max_rel_big, paper_rel_big, spread = check_step(setup, modules, model, fast_forward, step, args, queries, CHECK_EPS)
    tolerance = CHECK_TOLERANCE[args.dtype]
    ok = max(max_rel, paper_rel, max_rel_big, paper_rel_big) <= tolerance
    print(f"  fast {name}: forward {forward_ms:.2f} ms, {per_forward} groups/forward {batched_ms:.2f} ms, "
          f"step {step_ms:.2f} ms; max rel diff batched vs alone {max_rel:.2e} (eps {args.eps:g}), "
          f"{max_rel_big:.2e} (eps {CHECK_EPS:g}, probe losses spread {spread:.2e}); fast vs paper modules "
          f"{max(paper_rel, paper_rel_big):.2e}; tolerance {tolerance:g}: {'ok' if ok else 'FAILED'}", flush=True)
    return {forward_key: forward_ms, step_key: step_ms, "peak": peak, "groups_per_forward": per_forward,
            "groups_per_forward_requested": requested, "batched_forward_ms": batched_ms,
            "max_rel_diff": max_rel, "max_rel_diff_check_eps": max_rel_big, "probe_loss_spread": spread,
            "paper_module_rel_diff": max(paper_rel, paper_rel_big), "check_passed": ok,
            "samples": {forward_key: forward_samples, step_key: step_samples, "batched_forward_ms": batched_samples}}


def main():
    args = parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("peft_step_reference.py: no CUDA device", file=sys.stderr)
        return 2
    dtype = DTYPES[args.dtype]
    np.random.seed(args.seed)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    clock = Clock(device)

    t0 = time.perf_counter()
    model = build_model(args.model, args.random, dtype, device)
    load_s = time.perf_counter() - t0
    args.ids, args.mask = make_batch(model.config, args.batch, args.seq, args.seed, device)
    adapters = AdapterSetup(model, args.bottleneck, args.tt_rank, args.adapter_scaling, device, args.seed)
    lora = LoraSetup(model, args.lora_rank, args.lora_alpha, dtype, device, args.seed)
    name = os.path.basename(os.path.normpath(args.model))
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{name}: {args.dtype}, batch {args.batch} x {args.seq}, Q {args.queries}, {device_name}; "
          f"{len(adapters.sites)} adapters ({adapters.layout.numel} parameters, TT {adapters.down_modes} / "
          f"{adapters.up_modes} rank {args.tt_rank}), {len(lora.sites)} LoRA sites ({lora.layout.numel} "
          f"parameters, r {args.lora_rank}); loaded in {load_s:.1f} s", flush=True)

    result = {
        "shape": name, "dtype": args.dtype, "batch": args.batch, "seq": args.seq, "queries": args.queries,
        "device": device_name, "torch": torch.__version__, "transformers": transformers.__version__,
        "implementation": "pytorch", "model_type": model.config.model_type,
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "adapter_sites": len(adapters.sites), "adapter_params": adapters.layout.numel,
        "tt_down_modes": adapters.down_modes, "tt_up_modes": adapters.up_modes, "tt_rank": args.tt_rank,
        "bottleneck": args.bottleneck, "lora_sites": len(lora.sites), "lora_params": lora.layout.numel,
        "lora_rank": args.lora_rank, "lora_alpha": args.lora_alpha, "eps": args.eps,
        "iters": args.iters, "warmup": args.warmup, "use_cache": args.use_cache, "load_s": load_s,
    }

    if "paper" in args.variants:
        set_tf32(args.paper_tf32)
        a = run_paper("adazeta", adapters, model, clock, args,
                      lambda named, loss: AdazetaPaperStep(named, loss, args.queries, args.eps, args.lr,
                                                           args.weight_decay),
                      "adazeta_forward_ms", "adazeta_step_ms")
        m = run_paper("mezo_lora", lora, model, clock, args,
                      lambda named, loss: MezoStep(named, loss, args.eps, args.mezo_lr, args.mezo_weight_decay),
                      "mezo_lora_forward_ms", "mezo_lora_step_ms")
        result["paper"] = {
            "adazeta_step_ms": a["adazeta_step_ms"], "adazeta_forward_ms": a["adazeta_forward_ms"],
            "mezo_lora_step_ms": m["mezo_lora_step_ms"], "mezo_lora_forward_ms": m["mezo_lora_forward_ms"],
            "peak_memory_gib": max(a["peak"], m["peak"]) if a["peak"] is not None else None,
            "adazeta_peak_memory_gib": a["peak"], "mezo_lora_peak_memory_gib": m["peak"],
            "nonfinite_losses": a["nonfinite"] + m["nonfinite"], "tf32": bool(args.paper_tf32 and dtype == torch.float32),
            "samples_ms": {**a["samples"], **m["samples"]},
        }

    if "fast" in args.variants:
        set_tf32(dtype == torch.float32)
        a = run_fast("adazeta", adapters, model, clock, args, args.queries, args.lr, args.weight_decay,
                     "adazeta_forward_ms", "adazeta_step_ms")
        m = run_fast("mezo_lora", lora, model, clock, args, 1, args.mezo_lr, args.mezo_weight_decay,
                     "mezo_lora_forward_ms", "mezo_lora_step_ms")
        result["fast"] = {
            "adazeta_step_ms": a["adazeta_step_ms"], "adazeta_forward_ms": a["adazeta_forward_ms"],
            "adazeta_batched_forward_ms": a["batched_forward_ms"],
            "mezo_lora_step_ms": m["mezo_lora_step_ms"], "mezo_lora_forward_ms": m["mezo_lora_forward_ms"],
            "mezo_lora_batched_forward_ms": m["batched_forward_ms"],
            "peak_memory_gib": max(a["peak"], m["peak"]) if a["peak"] is not None else None,
            "adazeta_peak_memory_gib": a["peak"], "mezo_lora_peak_memory_gib": m["peak"],
            "groups_per_forward": a["groups_per_forward"],
            "groups_per_forward_requested": a["groups_per_forward_requested"],
            "mezo_lora_groups_per_forward": m["groups_per_forward"],
            "max_rel_diff": max(a["max_rel_diff"], m["max_rel_diff"]),
            "max_rel_diff_check_eps": max(a["max_rel_diff_check_eps"], m["max_rel_diff_check_eps"]),
            "check_eps": CHECK_EPS,
            "adazeta_probe_loss_spread": a["probe_loss_spread"], "mezo_lora_probe_loss_spread": m["probe_loss_spread"],
            "paper_module_rel_diff": max(a["paper_module_rel_diff"], m["paper_module_rel_diff"]),
            "adazeta_max_rel_diff": a["max_rel_diff"], "mezo_lora_max_rel_diff": m["max_rel_diff"],
            "check_tolerance": CHECK_TOLERANCE[args.dtype],
            "check_passed": a["check_passed"] and m["check_passed"],
            "tf32": dtype == torch.float32 and device.type == "cuda",
            "samples_ms": {**{"adazeta_" + k if not k.startswith("adazeta") else k: v for k, v in a["samples"].items()},
                           **{"mezo_lora_" + k if not k.startswith("mezo") else k: v for k, v in m["samples"].items()}},
        }

    for variant in ("paper", "fast"):
        if variant in result:
            r = result[variant]
            peak = "-" if r["peak_memory_gib"] is None else f"{r['peak_memory_gib']:.2f} GiB"
            print(f"  {variant:5s} AdaZeta step {r['adazeta_step_ms']:9.2f} ms (forward {r['adazeta_forward_ms']:.2f}), "
                  f"MeZO-LoRA step {r['mezo_lora_step_ms']:8.2f} ms, peak {peak}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    if "fast" in result and not result["fast"]["check_passed"]:
        print("peft_step_reference.py: batched losses differ from the sequential ones beyond the tolerance",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
