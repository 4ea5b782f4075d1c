#!/usr/bin/env python3
"""Build the Hugging Face parity fixtures for zotune's CPU engine.

For each case a TINY random model is built from a config (no downloads), every
parameter is re-initialised from a seeded generator so that the logits are
O(1..10) rather than near zero, and the folder ``<out>/<case>/`` receives:

  config.json, model.safetensors   -- ``model.save_pretrained(dir)`` (fp32)
  model_bf16.safetensors           -- the same tensors (same names) cast to bf16
  model_f16.safetensors            -- the same tensors (same names) cast to fp16
  reference.safetensors            -- inputs and reference logits, see below

reference.safetensors holds, for each batch ``<b>`` in ``unpadded``, ``right``
and (decoders only) ``left``:

  <b>.input_ids        I64 [B,T]
  <b>.attention_mask   I64 [B,T]   (1 = real token, 0 = pad)
  <b>.token_type_ids   I64 [B,T]   (encoders only)
  <b>.position_ids     I64 [B,T]   (Llama/Mistral/Qwen2 only: what was passed)
  <b>.logits           F32 [B,T,V] (LM heads) or [B,num_labels] (seq. cls.)
                                    model run in float64: the precise reference
  <b>.logits_bf16      F32          transformers run in bfloat16
  <b>.logits_f16       F32          transformers run in float16
  <b>.logits_from_bf16_weights F32  float64 run of the bf16-rounded weights

MANIFEST.json in <out> summarises every case.  Logits at pad positions are
stored as transformers produced them but are not meaningful (fully masked
attention rows under left padding average *all* value vectors); compare only
where attention_mask == 1.

Usage: python3 make_parity_fixtures.py --out tests/fixtures/parity
Needs torch, transformers (5.x), safetensors.  Runs bf16/f16 on CUDA when
available, else on the CPU.
"""

import argparse
import contextlib
import copy
import json
import math
import os
import sys
import zlib

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, set before CUDA init

import torch
from torch import nn

import safetensors
import transformers
from safetensors.torch import load_file, save_file

B, T, V = 3, 10, 96
LENGTHS = [10, 7, 4]
HIDDEN, LAYERS, HEADS, FFN, MAXPOS = 32, 2, 4, 64, 64
BASE_SEED = 20240611

COMMON_LLAMA = dict(
    vocab_size=V, hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=LAYERS,
    num_attention_heads=HEADS, max_position_embeddings=MAXPOS, rms_norm_eps=1e-6,
    pad_token_id=0, bos_token_id=1, eos_token_id=2, hidden_act="silu", attention_dropout=0.0,
)
COMMON_OPT = dict(
    vocab_size=V, hidden_size=HIDDEN, ffn_dim=FFN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
    max_position_embeddings=MAXPOS, activation_function="relu", enable_bias=True, dropout=0.0,
    attention_dropout=0.0, layerdrop=0.0, pad_token_id=1, bos_token_id=2, eos_token_id=2,
    tie_word_embeddings=True,
)
COMMON_BERT = dict(
    vocab_size=V, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
    intermediate_size=FFN, max_position_embeddings=MAXPOS, hidden_act="gelu", hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12,
)

# name, config class, model class, family, extra config, quirks
CASES = [
    dict(name="opt_pre_ln", cfg="OPTConfig", cls="OPTForCausalLM", family="opt",
         config=dict(COMMON_OPT, do_layer_norm_before=True, word_embed_proj_dim=HIDDEN),
         quirks=["pre-LN", "final_layer_norm", "learned positions with offset 2 derived from attention_mask",
                 "biases everywhere", "ReLU", "tied lm_head"]),
    dict(name="opt_post_ln_proj", cfg="OPTConfig", cls="OPTForCausalLM", family="opt",
         config=dict(COMMON_OPT, do_layer_norm_before=False, word_embed_proj_dim=16),
         quirks=["post-LN (no final_layer_norm)", "project_in 16->32 / project_out 32->16 (OPT-350m style)",
                 "learned positions with offset 2 derived from attention_mask", "ReLU", "tied lm_head (dim 16)"]),
    dict(name="bert_mlm", cfg="BertConfig", cls="BertForMaskedLM", family="bert",
         config=dict(COMMON_BERT, type_vocab_size=2, pad_token_id=0, bos_token_id=1, eos_token_id=2),
         cls_id=1, sep_id=2,
         quirks=["post-LN", "exact (erf) GELU", "token_type_ids (type_vocab_size 2)", "absolute positions arange",
                 "MLM head: dense+gelu+LayerNorm, decoder tied to word embeddings, separate bias"]),
    dict(name="bert_cls", cfg="BertConfig", cls="BertForSequenceClassification", family="bert",
         config=dict(COMMON_BERT, type_vocab_size=2, pad_token_id=0, bos_token_id=1, eos_token_id=2, num_labels=3),
         cls_id=1, sep_id=2,
         quirks=["post-LN", "exact (erf) GELU", "token_type_ids", "pooler (dense+tanh on token 0) + classifier",
                 "num_labels 3"]),
    dict(name="roberta_mlm", cfg="RobertaConfig", cls="RobertaForMaskedLM", family="roberta",
         config=dict(COMMON_BERT, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2),
         cls_id=0, sep_id=2,
         quirks=["post-LN", "positions from input_ids != pad, starting at pad_token_id+1 (padding_idx 1)",
                 "type_vocab_size 1", "MLM head: dense+gelu+LayerNorm, decoder tied, separate bias"]),
    dict(name="roberta_cls", cfg="RobertaConfig", cls="RobertaForSequenceClassification", family="roberta",
         config=dict(COMMON_BERT, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=2),
         cls_id=0, sep_id=2,
         quirks=["post-LN", "padding-idx positions", "classification head: dense+tanh+out_proj on token 0 (no pooler)",
                 "num_labels 2"]),
    dict(name="llama_gqa", cfg="LlamaConfig", cls="LlamaForCausalLM", family="llama",
         config=dict(COMMON_LLAMA, num_key_value_heads=2, tie_word_embeddings=False, attention_bias=False,
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
         quirks=["GQA 4 heads / 2 KV heads", "head_dim 8", "untied lm_head", "RoPE theta 1e4 (rotate_half)",
                 "RMSNorm eps 1e-6", "SwiGLU"]),
    dict(name="llama_tied_rope_scaled", cfg="LlamaConfig", cls="LlamaForCausalLM", family="llama",
         config=dict(COMMON_LLAMA, num_key_value_heads=1, tie_word_embeddings=True,
                     rope_parameters={"rope_type": "llama3", "rope_theta": 100000.0, "factor": 8.0,
                                      "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 16}),
         quirks=["MQA 4 heads / 1 KV head", "tied lm_head", "RoPE theta 1e5",
                 "llama3 rope scaling (factor 8, low 1, high 4, original 16): with head_dim 8 the wavelengths "
                 "are 6.3, 112, 1987, 35333 -> the first is smoothed (4 <= wl <= 16), the other three divided by 8; "
                 "the unchanged branch (wl < 4) cannot occur since wl >= 2*pi"]),
    dict(name="llama_linear_rope", cfg="LlamaConfig", cls="LlamaForCausalLM", family="llama",
         config=dict(COMMON_LLAMA, num_key_value_heads=HEADS, tie_word_embeddings=False,
                     rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0}),
         quirks=["MHA (4 KV heads)", "linear rope scaling factor 2 (inv_freq / 2)"]),
    dict(name="mistral_sliding", cfg="MistralConfig", cls="MistralForCausalLM", family="mistral",
         config=dict(COMMON_LLAMA, num_key_value_heads=2, tie_word_embeddings=False, sliding_window=4,
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
         quirks=["GQA 4/2", "sliding_window 4: query i sees keys j with i-4 < j <= i"]),
    dict(name="qwen2", cfg="Qwen2Config", cls="Qwen2ForCausalLM", family="qwen2",
         config=dict(COMMON_LLAMA, num_key_value_heads=2, tie_word_embeddings=True, use_sliding_window=False,
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
         quirks=["q/k/v biases (o_proj no bias)", "GQA 4/2", "tied lm_head"]),
]

DECODER_FAMILIES = {"opt", "llama", "mistral", "qwen2"}
ROPE_FAMILIES = {"llama", "mistral", "qwen2"}
ENCODER_FAMILIES = {"bert", "roberta"}


def log(*a):
    print(*a, flush=True)


# --------------------------------------------------------------------------------------------
# model construction
# --------------------------------------------------------------------------------------------

def is_norm_module(m):
    n = type(m).__name__
    return isinstance(m, nn.LayerNorm) or "LayerNorm" in n or "RMSNorm" in n


def reinit_(model, seed):
    """Re-initialise every parameter from a seeded CPU generator.

    Linear/2-D weights ~ N(0, 1/fan_in) (std 1/sqrt(fan_in)), embeddings ~ N(0,1),
    norm weights 1 + 0.1 N(0,1), every bias / other 1-D parameter 0.1 N(0,1).
    Shared (tied) parameters are visited once, at their first module in named_modules order
    (the input embedding comes before the LM head, so tied heads get the embedding init).
    """
    g = torch.Generator().manual_seed(seed)
    seen = set()
    kinds = {}
    with torch.no_grad():
        for mname, module in model.named_modules():
            for pname, p in module.named_parameters(recurse=False):
                if id(p) in seen:
                    continue
                seen.add(id(p))
                full = f"{mname}.{pname}" if mname else pname
                z = torch.randn(p.shape, generator=g, dtype=torch.float32)
                if is_norm_module(module) and pname == "weight":
                    val, kind = 1.0 + 0.1 * z, "norm_weight"
                elif p.ndim == 1:
                    val, kind = 0.1 * z, "bias"
                elif isinstance(module, nn.Embedding):
                    val, kind = z, "embedding"
                elif p.ndim == 2:
                    val, kind = z / math.sqrt(p.shape[1]), "matrix"
                else:
                    raise RuntimeError(f"unexpected parameter {full} {tuple(p.shape)}")
                p.copy_(val.to(p.dtype))
                kinds[full] = kind
    n_unique = len({id(p) for p in model.parameters()})
    assert len(seen) == n_unique, (len(seen), n_unique)
    return kinds


def build_model(case):
    cfg_cls = getattr(transformers, case["cfg"])
    model_cls = getattr(transformers, case["cls"])
    config = cfg_cls(**case["config"])
    config._attn_implementation = "eager"
    torch.manual_seed(BASE_SEED)
    model = model_cls(config)
    model.eval()
    assert model.config._attn_implementation == "eager", model.config._attn_implementation
    kinds = reinit_(model, seed_of(case["name"], "weights"))
    model.tie_weights()
    return model, kinds


def seed_of(name, what):
    return BASE_SEED + zlib.crc32(f"{name}/{what}".encode()) % 1000003


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------

def make_batches(case, config):
    family = case["family"]
    g = torch.Generator().manual_seed(seed_of(case["name"], "inputs"))
    base = torch.randint(3, V, (B, T), generator=g, dtype=torch.int64)
    pad = config.pad_token_id
    names = ["unpadded", "right"] + (["left"] if family in DECODER_FAMILIES else [])
    batches = {}
    for bname in names:
        lengths = [T] * B if bname == "unpadded" else LENGTHS
        ids = torch.full((B, T), pad, dtype=torch.int64)
        mask = torch.zeros((B, T), dtype=torch.int64)
        tt = torch.zeros((B, T), dtype=torch.int64)
        for b, L in enumerate(lengths):
            row = base[b, :L].clone()
            if family in ENCODER_FAMILIES:
                row[0] = case["cls_id"]
                row[L - 1] = case["sep_id"]
            start = T - L if bname == "left" else 0
            ids[b, start:start + L] = row
            mask[b, start:start + L] = 1
            if family == "bert":
                # first half (floor(L/2) tokens) of the real sequence type 0, the rest type 1
                tt[b, start + L // 2:start + L] = 1
        d = {"input_ids": ids, "attention_mask": mask}
        if family in ENCODER_FAMILIES:
            d["token_type_ids"] = tt
        if family in ROPE_FAMILIES:
            d["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
        batches[bname] = d
    return batches


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def fp64_softmax():
    """transformers' eager attention calls softmax(..., dtype=torch.float32) for the decoders.
    For a float64 run that (a) throws away precision and (b) turns the float64 mask minimum
    (-1.8e308) into -inf, so fully masked rows (left padding) become NaN and, through 0*NaN
    in the next layer's P@V, poison every row.  Inside this context a float64 input keeps
    its dtype; nothing else changes."""
    orig = torch.nn.functional.softmax

    def softmax(input, dim=None, _stacklevel=3, dtype=None):
        if dtype is not None and input.dtype == torch.float64:
            dtype = None
        return orig(input, dim=dim, _stacklevel=_stacklevel, dtype=dtype)

    torch.nn.functional.softmax = softmax
    try:
        yield
    finally:
        torch.nn.functional.softmax = orig


@torch.no_grad()
def run(model, batch, device="cpu"):
    kw = {k: v.to(device) for k, v in batch.items()}
    out = model(**kw)
    return out.logits.detach().to("cpu", torch.float64)


def fp64_run(model, batch):
    with fp64_softmax():
        return run(model, batch)


def round_weights_(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(p.dtype))


def real_positions(case, logits, mask):
    """Logits at real tokens only, flattened to [N, ...] (sequence classification: all rows)."""
    if logits.ndim == 2:
        return logits
    return logits[mask.bool()]


def rel_err(a, b):
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def save_cast(src, dst, dtype):
    sd = load_file(src)
    save_file({k: v.to(dtype).contiguous() for k, v in sd.items()}, dst, metadata={"format": "pt"})


def build_case(case, out_root, device):
    name = case["name"]
    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    model, kinds = build_model(case)
    config = model.config
    family = case["family"]
    is_cls = "SequenceClassification" in case["cls"]

    # --- save (fp32), then bf16 / f16 copies of the very same tensors --------------------------
    model.save_pretrained(d, safe_serialization=True)  # 5.x always writes safetensors
    for f in os.listdir(d):
        assert f in ("config.json", "model.safetensors", "generation_config.json"), f
    gen = os.path.join(d, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)  # not needed by the engine; keep the folder to exactly the listed files
    wpath = os.path.join(d, "model.safetensors")
    save_cast(wpath, os.path.join(d, "model_bf16.safetensors"), torch.bfloat16)
    save_cast(wpath, os.path.join(d, "model_f16.safetensors"), torch.float16)
    saved = load_file(wpath)
    assert all(v.dtype == torch.float32 for v in saved.values())

    batches = make_batches(case, config)

    # --- float64 reference ---------------------------------------------------------------------
    m64 = copy.deepcopy(model).double().eval()
    ref = {b: fp64_run(m64, x) for b, x in batches.items()}
    for b, l in ref.items():
        assert torch.isfinite(l).all(), (name, b)

    # Consistency: every padded row, run alone without padding (batch 1, all-ones mask),
    # must give the same logits at its real positions.
    pad_consistency = 0.0
    for bname, x in batches.items():
        if bname == "unpadded":
            continue
        for b in range(B):
            m = x["attention_mask"][b].bool()
            single = {k: v[b:b + 1][:, m] for k, v in x.items()}
            if "position_ids" in single:
                single["position_ids"] = torch.arange(int(m.sum()))[None]
            s = fp64_run(m64, single)[0]
            r = ref[bname][b] if is_cls else ref[bname][b][m]
            pad_consistency = max(pad_consistency, float((s - r).abs().max()))
    assert pad_consistency < 1e-9, (name, pad_consistency)

    # Same check against transformers' stock fp32 softmax path, for the record.
    with torch.no_grad():
        stock = {b: run(m64, x) for b, x in batches.items()}
    stock_nan = {b: bool(torch.isnan(l).any()) for b, l in stock.items()}

    # --- fp64 run of bf16-rounded weights -------------------------------------------------------
    mr = copy.deepcopy(model)
    round_weights_(mr, torch.bfloat16)
    # must be exactly the tensors stored in model_bf16.safetensors
    sd_bf16 = load_file(os.path.join(d, "model_bf16.safetensors"))
    msd = mr.state_dict()
    for k, v in sd_bf16.items():
        assert torch.equal(msd[k], v.float()), k
    mr = mr.double().eval()
    ref_rb = {b: fp64_run(mr, x) for b, x in batches.items()}
    del mr

    # --- transformers in bf16 / f16 --------------------------------------------------------------
    low = {}
    inv_freq_dtypes = {}
    for tag, dt in (("bf16", torch.bfloat16), ("f16", torch.float16)):
        ml = copy.deepcopy(model).to(dt).to(device).eval()
        for bn, buf in ml.named_buffers():
            if bn.endswith("inv_freq"):
                inv_freq_dtypes[tag] = str(buf.dtype)
        low[tag] = {b: run(ml, x, device) for b, x in batches.items()}
        del ml

    # --- reload check: from_pretrained reproduces the in-memory fp32 model ----------------------
    model_cls = getattr(transformers, case["cls"])
    reloaded = model_cls.from_pretrained(d, attn_implementation="eager", dtype=torch.float32).eval()
    assert reloaded.config._attn_implementation == "eager"
    rsd, osd = reloaded.state_dict(), model.state_dict()
    assert rsd.keys() == osd.keys(), set(rsd.keys()) ^ set(osd.keys())
    for k in osd:
        assert torch.equal(rsd[k], osd[k]), k
    fp32_orig = {b: run(model, x) for b, x in batches.items()}
    fp32_reload = {b: run(reloaded, x) for b, x in batches.items()}
    reload_maxdiff = max(float((fp32_orig[b] - fp32_reload[b]).abs().max()) for b in batches)
    assert reload_maxdiff == 0.0, (name, reload_maxdiff)
    del reloaded

    # --- write reference.safetensors ------------------------------------------------------------
    tensors = {}
    for b, x in batches.items():
        for k, v in x.items():
            tensors[f"{b}.{k}"] = v.contiguous()
        tensors[f"{b}.logits"] = ref[b].float().contiguous()
        tensors[f"{b}.logits_bf16"] = low["bf16"][b].float().contiguous()
        tensors[f"{b}.logits_f16"] = low["f16"][b].float().contiguous()
        tensors[f"{b}.logits_from_bf16_weights"] = ref_rb[b].float().contiguous()
    # one metadata key only: safetensors writes metadata in hash-map order, so several keys would make
    # the file bytes differ from run to run (the notes live in MANIFEST.json instead)
    save_file(tensors, os.path.join(d, "reference.safetensors"), metadata={"format": "pt"})

    # --- metrics --------------------------------------------------------------------------------
    def cat(dct):
        return torch.cat([real_positions(case, dct[b], batches[b]["attention_mask"]) for b in batches])

    R = cat(ref)
    metrics = {
        "rel_err_bf16": rel_err(cat(low["bf16"]), R),
        "rel_err_f16": rel_err(cat(low["f16"]), R),
        "rel_err_fp32": rel_err(cat(fp32_orig), R),
        "rel_err_from_bf16_weights": rel_err(cat(ref_rb), R),
        "max_abs_logit": float(R.abs().max()),
        "rms_logit": float(R.pow(2).mean().sqrt()),
    }
    per_batch = {
        b: {
            "rel_err_bf16": rel_err(real_positions(case, low["bf16"][b], batches[b]["attention_mask"]),
                                    real_positions(case, ref[b], batches[b]["attention_mask"])),
            "rel_err_f16": rel_err(real_positions(case, low["f16"][b], batches[b]["attention_mask"]),
                                   real_positions(case, ref[b], batches[b]["attention_mask"])),
        }
        for b in batches
    }
    files = {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))}
    n_params = sum(p.numel() for p in model.parameters())  # unique (tied counted once)
    weight_names = {k: list(v.shape) for k, v in sorted(saved.items())}
    if family in ROPE_FAMILIES:
        pos_rule = "position_ids passed explicitly: (attention_mask.cumsum(-1) - 1).clamp(min=0)"
    elif family == "opt":
        pos_rule = ("not passed; OPT derives (cumsum(mask)*mask - 1) and embeds id+2 (pads -> row 1 of "
                    "embed_positions)")
    elif family == "bert":
        pos_rule = "not passed; BERT uses arange(T) (pads included)"
    else:
        pos_rule = ("not passed; RoBERTa create_position_ids_from_input_ids: "
                    "cumsum(ids != pad) * (ids != pad) + pad_token_id")
    entry = {
        "architecture": case["cls"],
        "model_type": config.model_type,
        "family": family,
        "quirks": case["quirks"],
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "safetensors": safetensors.__version__},
        "low_precision_device": str(device) + (f" ({torch.cuda.get_device_name()})" if device != "cpu" else ""),
        "batches": list(batches),
        "B": B, "T": T, "vocab_size": V,
        "lengths": {b: ([T] * B if b == "unpadded" else LENGTHS) for b in batches},
        "pad_token_id": config.pad_token_id,
        "bos_token_id": getattr(config, "bos_token_id", None),
        "eos_token_id": getattr(config, "eos_token_id", None),
        "position_ids": pos_rule,
        "logits_shape": list(ref["unpadded"].shape),
        **metrics,
        "per_batch": per_batch,
        "pad_consistency_max_abs": pad_consistency,
        "stock_fp32_softmax_fp64_run_has_nan": stock_nan,
        "inv_freq_dtype_in_low_precision_run": inv_freq_dtypes or None,
        "n_params": n_params,
        "file_sizes": files,
        "folder_bytes": sum(files.values()),
        "weights": weight_names,
        "init_counts": {k: sum(1 for v in kinds.values() if v == k) for k in sorted(set(kinds.values()))},
    }
    if is_cls:
        entry["num_labels"] = config.num_labels
    if case.get("cls_id") is not None:
        entry["cls_id"], entry["sep_id"] = case["cls_id"], case["sep_id"]
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                                                   "parity"))
    ap.add_argument("--cases", nargs="*", help="subset of case names")
    ap.add_argument("--device", default=None, help="device for the bf16/f16 runs (default: cuda if available)")
    args = ap.parse_args()

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    log(f"torch {torch.__version__}  transformers {transformers.__version__}  safetensors "
        f"{safetensors.__version__}  low-precision device: {device}")
    os.makedirs(args.out, exist_ok=True)
    mpath = os.path.join(args.out, "MANIFEST.json")
    manifest = {}
    if args.cases and os.path.exists(mpath):
        with open(mpath) as f:
            manifest = json.load(f)
    selected = [c for c in CASES if not args.cases or c["name"] in args.cases]
    for case in selected:
        log(f"== {case['name']} ({case['cls']})")
        manifest[case["name"]] = build_case(case, args.out, device)
    manifest = {c["name"]: manifest[c["name"]] for c in CASES if c["name"] in manifest}
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")

    hdr = f"{'case':24s} {'arch':34s} {'params':>7s} {'KB':>6s} {'max|l|':>7s} {'fp32':>9s} " \
          f"{'bf16':>9s} {'f16':>9s} {'w_bf16':>9s}"
    log(hdr)
    log("-" * len(hdr))
    for n, e in manifest.items():
        log(f"{n:24s} {e['architecture']:34s} {e['n_params']:7d} {e['folder_bytes'] / 1024:6.1f} "
            f"{e['max_abs_logit']:7.2f} {e['rel_err_fp32']:9.2e} {e['rel_err_bf16']:9.2e} "
            f"{e['rel_err_f16']:9.2e} {e['rel_err_from_bf16_weights']:9.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
