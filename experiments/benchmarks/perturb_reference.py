"""PyTorch's perturbation pass as the MeZO reference code does it (MeZO large_models/trainer.py
`zo_perturb_parameters`): for every parameter tensor, torch.manual_seed(seed) once per pass,
then z = torch.normal(mean=0, std=1, size=p.size(), dtype=p.dtype) and p.add_(z, alpha=eps),
tensor by tensor. Timed on the tensor shapes of the same models zotune_perturb_bench uses,
built from their configs (no weights are downloaded: random init via transformers' meta device
is not needed, only the shapes), one pass, median of 10 after a warm-up, CUDA events.
  python3 perturb_reference.py
"""

import sys

import torch


def shapes(name):
    # (vocab, hidden, ffn, layers, heads) of the Hugging Face configs; per layer: q k v o (h x h,
    # with biases for OPT), fc1/fc2 (OPT) or gate/up/down (Llama), two norms.
    if name == "OPT-1.3B":
        v, h, f, L, pos = 50272, 2048, 8192, 24, 2050
        per = [(h, h), (h,)] * 4 + [(f, h), (f,), (h, f), (h,)] + [(h,), (h,)] * 2
        return [(v, h), (pos, h)] + per * L + [(h,), (h,)]
    if name == "OPT-13B":
        v, h, f, L, pos = 50272, 5120, 20480, 40, 2050
        per = [(h, h), (h,)] * 4 + [(f, h), (f,), (h, f), (h,)] + [(h,), (h,)] * 2
        return [(v, h), (pos, h)] + per * L + [(h,), (h,)]
    if name == "Llama-2-7B":
        v, h, f, L = 32000, 4096, 11008, 32
        per = [(h, h)] * 4 + [(f, h), (f, h), (h, f)] + [(h,), (h,)]
        return [(v, h)] + per * L + [(h,), (v, h)]
    raise ValueError(name)


def time_pass(params, eps=1e-3, reps=10):
    def one():
        torch.manual_seed(7)
        for p in params:
            z = torch.normal(mean=0, std=1, size=p.size(), device=p.device, dtype=p.dtype)
            p.data.add_(z, alpha=eps)

    one()
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ms = []
    for _ in range(reps):
        a.record()
        one()
        b.record()
        torch.cuda.synchronize()
        ms.append(a.elapsed_time(b))
    ms.sort()
    return ms[len(ms) // 2]


def main():
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}\n")
    print("| shape | dtype | parameters | tensors | ms / pass (PyTorch, MeZO's loop) | GB/s (read + write) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in ("OPT-1.3B", "Llama-2-7B", "OPT-13B"):
        for dtype in (torch.float16, torch.bfloat16):
            params = [torch.ones(s, device="cuda", dtype=dtype) for s in shapes(name)]
            n = sum(p.numel() for p in params)
            ms = time_pass(params)
            print(f"| {name} | {str(dtype).replace('torch.', '')} | {n} | {len(params)} | {ms:.2f} | "
                  f"{2 * n * params[0].element_size() / ms / 1e6:.0f} |", flush=True)
            del params
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
