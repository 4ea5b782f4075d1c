"""Load a zotune TT-adapter export (docs/EXPORT.md, "TT adapters and prefixes") into transformers.

    from transformers import AutoModelForCausalLM
    import zotune_tt_adapters
    model = AutoModelForCausalLM.from_pretrained("DIR")    # the backbone
    zotune_tt_adapters.attach(model, "DIR")                # + the adapters of zotune_peft.json

Each adapter is a(h) = h + scale * (relu(h @ D + D.bias) @ U + U.bias), D and U tensor-train
matrices; it acts on the input of its module (point "input": the module sees a(x)) or on its
output (point "output": the module's output y becomes a(y)), as zotune's forward pass applies
it. attach() registers forward hooks (handles returned; .remove() undoes them) and keeps the
dense D and U, built once from the cores, on the module's device and dtype.
"""
import json
import os

import torch
from safetensors.torch import load_file


def tt_dense(cores, modes, in_modes):
    """W [in, out] of TT cores G_i [r_{i-1}, k_i, r_i]: W(a_1..a_p) = G_1[:, a_1, :] ... G_p[:, a_p, :],
    the row index the row-major flattening of (a_1..a_o), the column index that of the rest."""
    m = cores[0].reshape(cores[0].shape[1], cores[0].shape[2])  # [k_1, r_1]
    for g in cores[1:]:
        m = torch.einsum("xr,rks->xks", m, g).reshape(-1, g.shape[2])
    n_in = 1
    for k in modes[:in_modes]:
        n_in *= k
    return m.reshape(n_in, -1)


def _tt(spec, tensors):
    cores = [tensors[name].double() for name in spec["cores"]]
    w = tt_dense(cores, spec["modes"], spec["in_modes"])
    if list(w.shape) != [spec["in"], spec["out"]]:
        raise ValueError(f"{spec['cores'][0]}: TT cores give {list(w.shape)}, expected [{spec['in']}, {spec['out']}]")
    return w, tensors[spec["bias"]].double()


def attach(model, export_dir):
    """Wraps the modules of `model` (loaded from export_dir) with the export's TT adapters."""
    with open(os.path.join(export_dir, "zotune_peft.json")) as f:
        spec = json.load(f)
    if spec.get("format") != "zotune-peft" or spec.get("kind") != "tt_adapter":
        raise ValueError(f"{export_dir}/zotune_peft.json: not a zotune TT-adapter export (kind {spec.get('kind')!r})")
    tensors = load_file(os.path.join(export_dir, spec["weights"]))
    scale = float(spec["scale"])
    modules = dict(model.named_modules())
    handles = []
    for m in spec["modules"]:
        module = modules.get(m["module"])
        if module is None:
            raise KeyError(f"{export_dir}/zotune_peft.json: the model has no module {m['module']!r}")
        ref = next(module.parameters())
        (dw, db), (uw, ub) = _tt(m["down"], tensors), _tt(m["up"], tensors)
        dw, db, uw, ub = (t.to(ref.device, ref.dtype) for t in (dw, db, uw, ub))

        def adapt(h, dw=dw, db=db, uw=uw, ub=ub):
            return h + scale * (torch.relu(h @ dw + db) @ uw + ub)

        if m["point"] == "input":
            handles.append(module.register_forward_pre_hook(lambda mod, args, adapt=adapt: (adapt(args[0]),) + args[1:]))
        elif m["point"] == "output":
            handles.append(module.register_forward_hook(lambda mod, args, out, adapt=adapt: adapt(out)))
        else:
            raise ValueError(f"{m['module']}: unknown adapter point {m['point']!r}")
    return handles
