"""The papers' printed numbers, typed from docs/papers/*.md (these are the papers' numbers, not
zotune's: analysis/zotune_analysis/paper_table.py prints them beside the tables it builds from
run logs).

Each `PaperTable` names its source (paper, table, and the section of docs/papers/*.md it was
typed from), the model it was measured on, and its cells keyed by (row, column): rows are
method labels as paper_table.py names methods (`MeZO`, `MeZO-Adam`, `HiZOO`, `LOZO`, `BSZO`,
`BSZO-B`, `AdaZeta`, `MeZO (LoRA)`, `MeZO (prefix)`, `Sparse-MeZO`, ...) or ablation values,
columns are zotune task names (`sst2`, `rte`, ...) or the table's own column names. A cell is
(value, std) with std None where the paper prints one number; None where the paper prints `*`
(training collapsed) or nothing. Accuracies are percentages as printed.

Provenance: BSZO and MeZO tables were transcribed from the papers' text (docs/papers/bszo.md
(c), docs/papers/baselines.md section 10). AdaZeta's full text was not available: its cells
here are the few a secondary digest quotes (docs/papers/adazeta.md (c), tagged [2nd]) and are
marked `secondary=True`; the Sparse-MeZO paper's independent re-run of AdaZeta
(baselines.md section 5) is a table of its own.
"""

from dataclasses import dataclass, field


@dataclass
class PaperTable:
    key: str
    paper: str
    table: str
    source: str  # where in docs/papers/ it was typed from
    model: str  # the model the numbers were measured on ("" for model-independent tables)
    metric: str  # what a cell holds
    rows: list
    columns: list
    cells: dict  # (row, column) -> (value, std or None), or None (printed `*` / not run)
    note: str = ""
    secondary: bool = False  # True: from a secondary summary, not the paper's text
    raw_runs: dict = field(default_factory=dict)  # (row, column) -> per-run values, where printed


def _cells(rows, columns, table, with_std=False):
    """{(row, column): (value, std)} from one list per row; `None` entries stay None. With
    with_std each entry is a (value, std) pair."""
    out = {}
    for row, values in zip(rows, table):
        if len(values) != len(columns):
            raise ValueError(f"row {row}: {len(values)} values for {len(columns)} columns")
        for column, v in zip(columns, values):
            if v is None:
                out[(row, column)] = None
            elif with_std:
                out[(row, column)] = (float(v[0]), float(v[1]))
            else:
                out[(row, column)] = (float(v), None)
    return out


TABLES = {}


def _add(t):
    if t.key in TABLES:
        raise ValueError(f"paper table {t.key} defined twice")
    for (row, column) in t.cells:
        if row not in t.rows or column not in t.columns:
            raise ValueError(f"{t.key}: cell ({row}, {column}) outside the rows/columns")
    TABLES[t.key] = t
    return t


BSZO_METHODS = ["MeZO", "MeZO-Adam", "HiZOO", "LOZO", "BSZO", "BSZO-B"]

# ---- BSZO Table 1: RoBERTa-large, test accuracy %, mean (std) over 5 runs ------------------
_t1_cols = ["sst2", "rte", "cb", "wic", "trec", "Avg"]
_add(PaperTable(
    key="bszo-1", paper="BSZO (arXiv 2601.01452)", table="Table 1",
    source="docs/papers/bszo.md (c) Table 1", model="RoBERTa-large", metric="test accuracy %, mean (std) over 5 runs",
    rows=BSZO_METHODS, columns=_t1_cols,
    cells=_cells(BSZO_METHODS, _t1_cols, [
        [(92.22, 0.42), (66.35, 3.06), (86.07, 5.56), (55.20, 3.73), (85.36, 2.33), (77.04, 0)],
        [(92.34, 0.50), (63.61, 1.41), (81.07, 2.71), (52.85, 4.19), (78.80, 5.76), (73.73, 0)],
        [(91.44, 0.45), (59.21, 2.46), (76.43, 1.96), (53.60, 2.93), (63.44, 2.61), (68.82, 0)],
        [(91.83, 0.30), (62.60, 2.31), (84.29, 3.87), (54.20, 1.32), (77.76, 2.15), (74.14, 0)],
        [(92.66, 0.21), (67.80, 1.52), (85.71, 1.79), (56.05, 1.47), (84.16, 0.54), (77.28, 0)],
        [(92.27, 0.41), (68.38, 1.94), (84.29, 1.49), (57.21, 0.98), (84.80, 1.57), (77.39, 0)],
    ], with_std=True),
    note="Avg is printed without a std (stored as 0 here).",
    # Table 11: the five runs behind each Table 1 cell (BSZO's std is the sample std, ddof=1:
    # tests/analysis/check_paper_table.py recomputes Table 1 from these).
    raw_runs={
        ("MeZO", "sst2"): [92.43, 92.32, 91.74, 92.78, 91.86],
        ("MeZO-Adam", "sst2"): [92.32, 92.66, 91.51, 92.43, 92.78],
        ("HiZOO", "sst2"): [91.97, 91.86, 91.28, 91.17, 90.94],
        ("LOZO", "sst2"): [91.63, 92.09, 91.74, 91.51, 92.20],
        ("BSZO", "sst2"): [92.89, 92.43, 92.78, 92.43, 92.78],
        ("BSZO-B", "sst2"): [92.66, 91.74, 92.32, 91.97, 92.66],
        ("MeZO", "rte"): [69.68, 68.95, 65.70, 65.34, 62.09],
        ("MeZO-Adam", "rte"): [62.09, 64.26, 64.62, 64.98, 62.09],
        ("HiZOO", "rte"): [59.21, 63.18, 57.76, 56.68, 59.21],
        ("LOZO", "rte"): [59.57, 63.90, 61.01, 65.34, 63.18],
        ("BSZO", "rte"): [68.59, 68.23, 69.68, 66.07, 66.43],
        ("BSZO-B", "rte"): [67.87, 70.04, 70.76, 66.43, 66.79],
        ("MeZO", "cb"): [87.50, 85.71, 91.07, 76.79, 89.29],
        ("MeZO-Adam", "cb"): [82.14, 83.93, 80.36, 82.14, 76.79],
        ("HiZOO", "cb"): [78.57, 75.00, 75.00, 78.57, 75.00],
        ("LOZO", "cb"): [87.50, 82.14, 82.14, 89.29, 80.36],
        ("BSZO", "cb"): [83.93, 85.71, 87.50, 87.50, 83.93],
        ("BSZO-B", "cb"): [85.71, 83.93, 82.14, 85.71, 83.93],
        ("MeZO", "wic"): [49.69, 58.31, 52.98, 57.52, 57.52],
        ("MeZO-Adam", "wic"): [54.39, 51.10, 54.70, 46.55, 57.52],
        ("HiZOO", "wic"): [50.31, 54.39, 51.10, 54.70, 57.52],
        ("LOZO", "wic"): [54.55, 54.55, 51.88, 55.17, 54.86],
        ("BSZO", "wic"): [57.68, 57.52, 55.64, 54.70, 54.70],
        ("BSZO-B", "wic"): [57.99, 57.99, 55.80, 56.58, 57.68],
        ("MeZO", "trec"): [81.20, 86.40, 86.40, 86.20, 86.60],
        ("MeZO-Adam", "trec"): [84.80, 74.20, 71.40, 83.00, 80.60],
        ("HiZOO", "trec"): [65.20, 65.20, 65.20, 62.20, 59.40],
        ("LOZO", "trec"): [80.40, 74.80, 77.20, 79.20, 77.20],
        ("BSZO", "trec"): [83.40, 84.60, 84.40, 83.80, 84.60],
        ("BSZO-B", "trec"): [85.80, 84.60, 85.20, 82.20, 86.20],
    },
))

# ---- BSZO Table 3: decoders, test accuracy %, one number per cell ---------------------------
_t3_cols = ["sst2", "rte", "copa", "wic", "wsc", "trec", "Avg"]
_add(PaperTable(
    key="bszo-3/opt-1.3b", paper="BSZO (arXiv 2601.01452)", table="Table 3 (OPT-1.3B, fp32)",
    source="docs/papers/bszo.md (c) Table 3", model="OPT-1.3B", metric="test accuracy %",
    rows=BSZO_METHODS, columns=_t3_cols,
    cells=_cells(BSZO_METHODS, _t3_cols, [
        [91.74, 64.98, 76.0, 58.78, 59.62, 80.6, 71.95],
        [93.35, 60.29, 75.0, 56.58, 62.50, 79.4, 71.19],
        [91.51, 62.09, 77.0, 56.58, 63.46, 66.2, 69.48],
        [92.66, 63.18, 75.0, 56.58, 57.69, 75.8, 70.15],
        [92.43, 66.79, 79.0, 59.88, 64.42, 87.0, 74.92],
        [93.01, 64.98, 81.0, 59.09, 61.54, 87.4, 74.50],
    ])))
_mistral_rows = ["MeZO", "HiZOO", "LOZO", "BSZO", "BSZO-B"]
_add(PaperTable(
    key="bszo-3/mistral-7b", paper="BSZO (arXiv 2601.01452)", table="Table 3 (Mistral-7B, fp16)",
    source="docs/papers/bszo.md (c) Table 3", model="Mistral-7B", metric="test accuracy %",
    rows=_mistral_rows, columns=_t3_cols,
    cells=_cells(_mistral_rows, _t3_cols, [
        [90.94, 64.26, 88.0, 56.58, 63.46, 88.6, 75.31],
        [93.01, 63.90, 90.0, 55.64, 63.46, None, 73.20],
        [92.43, 61.37, 86.0, 57.83, 63.46, None, 72.22],
        [94.50, 75.81, 87.0, 60.03, 59.62, 90.0, 77.83],
        [94.04, 78.70, 87.0, 59.72, 60.58, 91.0, 78.51],
    ]),
    note="* (None): training collapsed (fp16 overflow); the Avg of such a row is over the other 5 tasks. "
         "MeZO-Adam was not run on Mistral-7B (fp16 Adam crashes)."))
_add(PaperTable(
    key="bszo-3/opt-13b", paper="BSZO (arXiv 2601.01452)", table="Table 3 (OPT-13B, bf16)",
    source="docs/papers/bszo.md (c) Table 3", model="OPT-13B", metric="test accuracy %",
    rows=BSZO_METHODS, columns=_t3_cols,
    cells=_cells(BSZO_METHODS, _t3_cols, [
        [85.89, 62.09, 80.0, 54.55, 60.58, 59.4, 67.09],
        [79.82, 61.73, 81.0, 54.39, 57.69, 62.2, 66.14],
        [72.71, 62.46, 80.0, 52.35, 46.15, 19.8, 55.58],
        [86.12, 57.04, 80.0, 55.96, 59.62, 60.4, 66.52],
        [93.23, 69.31, 83.0, 56.27, 61.54, 79.2, 73.76],
        [91.86, 71.84, 85.0, 53.14, 64.42, 80.8, 74.51],
    ])))

# ---- BSZO Table 4: peak memory (GB) and time per step (ms), SST-2, batch 16 ------------------
_t4_rows = ["MeZO", "MeZO-Adam", "HiZOO", "LOZO", "BSZO"]
for _model, _mem, _ms in (
        ("OPT-1.3B", [9.1, 19.7, 15.7, 9.3, 9.8], [109.7, 135.1, 188.0, 102.0, 97.0]),
        ("Mistral-7B", [18.3, 47.6, 34.3, 18.3, 18.8], [283.9, 373.1, 540.2, 274.2, 275.7]),
        ("OPT-13B", [30.0, 82.1, 58.9, 30.0, 30.1], [464.2, 614.5, 877.1, 452.0, 440.5])):
    _add(PaperTable(
        key=f"bszo-4/{_model.lower()}", paper="BSZO (arXiv 2601.01452)", table=f"Table 4 ({_model})",
        source="docs/papers/bszo.md (c) Table 4", model=_model,
        metric="peak memory GB (torch.cuda.max_memory_allocated) and wall time per step ms; SST-2, batch 16",
        rows=_t4_rows, columns=["memory_gb", "ms_per_step"],
        cells=_cells(_t4_rows, ["memory_gb", "ms_per_step"], [[m, t] for m, t in zip(_mem, _ms)])))

# ---- BSZO Table 5 / 12: ablations (OPT-1.3B) -----------------------------------------------
_k_rows = ["k=1", "k=2", "k=4", "k=8"]
_add(PaperTable(
    key="bszo-5a", paper="BSZO (arXiv 2601.01452)", table="Table 5(a): m = k (coordinate axes only), fp32",
    source="docs/papers/bszo.md (c) Table 5(a)", model="OPT-1.3B", metric="test accuracy %",
    rows=_k_rows, columns=["sst2", "rte"],
    cells=_cells(_k_rows, ["sst2", "rte"], [[92.32, 60.29], [92.78, 64.26], [92.66, 67.51], [93.23, 66.07]])))
_add(PaperTable(
    key="bszo-5b", paper="BSZO (arXiv 2601.01452)", table="Table 5(b): m = k + 1 (BSZO, cached extra sample), fp32",
    source="docs/papers/bszo.md (c) Table 5(b)", model="OPT-1.3B", metric="test accuracy %",
    rows=_k_rows, columns=["sst2", "rte"],
    cells=_cells(_k_rows, ["sst2", "rte"], [[91.74, 61.37], [92.43, 66.79], [93.58, 66.43], [93.23, 68.59]])))
_add(PaperTable(
    key="bszo-5c", paper="BSZO (arXiv 2601.01452)", table="Table 5(c): adaptive noise on/off, bf16, RTE",
    source="docs/papers/bszo.md (c) Table 5(c)", model="OPT-1.3B", metric="RTE test accuracy %",
    rows=_k_rows, columns=["adaptive_noise=true", "adaptive_noise=false"],
    cells=_cells(_k_rows, ["adaptive_noise=true", "adaptive_noise=false"],
                 [[54.15, 55.24], [57.76, 56.32], [61.73, 56.32], [66.43, 57.76]]),
    note="Labelled bf16 in the paper; the repo's ablation launchers load fp32 (bszo.md (d) 10)."))
_t5d_cols = ["sst2", "rte", "wsc", "copa", "trec", "wic"]
_add(PaperTable(
    key="bszo-5d", paper="BSZO (arXiv 2601.01452)", table="Table 5(d): adaptive noise on/off, OPT-13B bf16",
    source="docs/papers/bszo.md (c) Table 5(d)", model="OPT-13B", metric="test accuracy %",
    rows=["adaptive_noise=true", "adaptive_noise=false"], columns=_t5d_cols,
    cells=_cells(["adaptive_noise=true", "adaptive_noise=false"], _t5d_cols,
                 [[93.23, 69.31, 61.54, 83.00, 79.20, 56.27], [91.97, 63.18, 58.65, 85.00, 75.00, 54.70]])))
_add(PaperTable(
    key="bszo-12c", paper="BSZO (arXiv 2601.01452)", table="Table 12(c): NF-Adaptive, fp32",
    source="docs/papers/bszo.md (c) Table 12", model="OPT-1.3B", metric="test accuracy %",
    rows=_k_rows, columns=["sst2", "rte"],
    cells=_cells(_k_rows, ["sst2", "rte"], [[91.28, 63.58], [92.43, 65.34], [93.12, 66.07], [93.35, 69.31]])))

# ---- MeZO Table 1: OPT-13B, 1000 training examples ------------------------------------------
_m1_rows = ["Zero-shot", "ICL", "LP", "MeZO", "MeZO (LoRA)", "MeZO (prefix)", "FT"]
_m1_cols = ["sst2", "rte", "cb", "boolq", "wsc", "wic", "multirc", "copa", "record", "squad", "drop"]
_add(PaperTable(
    key="mezo-opt13b", paper="MeZO (Malladi et al., NeurIPS 2023)", table="Table 1 (OPT-13B)",
    source="docs/papers/baselines.md section 10", model="OPT-13B", metric="test accuracy % (SQuAD, DROP: F1)",
    rows=_m1_rows, columns=_m1_cols,
    cells=_cells(_m1_rows, _m1_cols, [
        [58.8, 59.6, 46.4, 59.0, 38.5, 55.0, 46.9, 80.0, 81.2, 46.2, 14.6],
        [87.0, 62.1, 57.1, 66.9, 39.4, 50.5, 53.1, 87.0, 82.5, 75.9, 29.6],
        [93.4, 68.6, 67.9, 59.3, 63.5, 60.2, 63.5, 55.0, 27.1, 3.7, 11.1],
        [91.4, 66.1, 67.9, 67.6, 63.5, 61.1, 60.1, 88.0, 81.7, 84.7, 30.9],
        [89.6, 67.9, 66.1, 73.8, 64.4, 59.7, 61.5, 84.0, 81.2, 83.8, 31.4],
        [90.7, 70.8, 69.6, 73.1, 60.6, 59.9, 63.7, 87.0, 81.4, 84.2, 28.9],
        [92.0, 70.8, 83.9, 77.1, 63.5, 70.1, 71.1, 79.0, 74.1, 84.9, 31.3],
    ]),
    note="FT uses 12x MeZO's memory."))

# ---- MeZO Table 18: RoBERTa-large, k-shot, mean (std) over 5 seeds ---------------------------
_m18_rows = ["MeZO", "MeZO (LoRA)", "MeZO (prefix)", "MeZO-Adam", "FT"]
_m18_cols = ["sst2", "sst5", "snli", "mnli", "rte", "trec"]
for _k, _vals in ((16, [
        [(90.5, 1.2), (45.5, 2.0), (68.5, 3.9), (58.7, 2.5), (64.0, 3.3), (76.9, 2.7)],
        [(91.4, 0.9), (43.0, 1.6), (69.7, 6.0), (64.0, 2.5), (64.9, 3.6), (73.1, 6.5)],
        [(90.8, 1.7), (45.8, 2.0), (71.6, 2.5), (63.4, 1.8), (65.4, 3.9), (80.3, 3.6)],
        [(90.4, 1.4), (45.4, 1.5), (74.1, 2.7), (64.3, 0.8), (59.2, 11.1), (78.3, 1.4)],
        [(91.9, 1.8), (47.5, 1.9), (77.5, 2.6), (70.0, 2.3), (66.4, 7.2), (85.0, 2.5)]]),
        (512, [
        [(93.3, 0.7), (53.2, 1.4), (83.0, 1.0), (78.3, 0.5), (78.6, 2.0), (94.3, 1.3)],
        [(93.4, 0.4), (52.4, 0.8), (84.0, 0.8), (77.9, 0.6), (77.6, 1.3), (95.0, 0.7)],
        [(93.3, 0.1), (53.6, 0.5), (84.8, 1.1), (79.8, 1.2), (77.2, 0.8), (94.4, 0.7)],
        [(93.3, 0.6), (53.9, 0.8), (85.3, 0.8), (79.6, 0.4), (79.2, 1.2), (95.1, 0.3)],
        [(93.9, 0.7), (55.9, 0.9), (88.7, 0.8), (84.4, 0.8), (82.7, 1.4), (97.3, 0.2)]])):
    _add(PaperTable(
        key=f"mezo-roberta-k{_k}", paper="MeZO (Malladi et al., NeurIPS 2023)", table=f"Table 18 (RoBERTa-large, k={_k})",
        source="docs/papers/baselines.md section 10", model="RoBERTa-large",
        metric=f"test accuracy %, mean (std) over 5 seeds, k = {_k} per class",
        rows=_m18_rows, columns=_m18_cols, cells=_cells(_m18_rows, _m18_cols, _vals, with_std=True),
        note="MeZO-Adam MNLI and RTE (k=16) carry a dagger in the paper."))

# ---- AdaZeta: only what a secondary digest quotes (docs/papers/adazeta.md (c), [2nd]) -------
_add(PaperTable(
    key="adazeta-roberta", paper="AdaZeta (EMNLP 2024)", table="Table 1 (RoBERTa-large, batch 16), quoted cells",
    source="docs/papers/adazeta.md (c) [2nd]", model="RoBERTa-large", metric="test accuracy %",
    rows=["AdaZeta", "MeZO (LoRA)"], columns=["rte", "sst5", "mr"],
    cells={("AdaZeta", "rte"): (66.8, None), ("AdaZeta", "sst5"): (48.3, None), ("AdaZeta", "mr"): (87.0, None),
           ("MeZO (LoRA)", "rte"): (52.7, None), ("MeZO (LoRA)", "sst5"): (44.8, None),
           ("MeZO (LoRA)", "mr"): (85.7, None)},
    note="From an LLM digest of the paper, not its text; MeZO-LoRA pairs are probably batch 16 / 64 "
         "(52.7/63.9, 44.8/43.0, 85.7/87.4): the first of each pair is kept. Verify against the PDF.",
    secondary=True))
_add(PaperTable(
    key="adazeta-llama", paper="AdaZeta (EMNLP 2024)", table="Table 2 (Llama-2-7B), quoted cells",
    source="docs/papers/adazeta.md (c) [2nd]", model="Llama-2-7B", metric="test accuracy % (SQuAD: F1)",
    rows=["AdaZeta", "MeZO", "MeZO (LoRA)"], columns=["rte", "cb", "boolq", "multirc", "copa", "squad"],
    cells={("AdaZeta", "rte"): (74.0, None), ("AdaZeta", "cb"): (75.0, None), ("AdaZeta", "boolq"): (79.4, None),
           ("AdaZeta", "multirc"): (68.2, None), ("AdaZeta", "copa"): (94.0, None), ("AdaZeta", "squad"): (80.0, None),
           ("MeZO", "rte"): (54.6, None), ("MeZO (LoRA)", "rte"): (59.6, None)},
    note="From an LLM digest of the paper, not its text. Verify against the PDF.", secondary=True))
_add(PaperTable(
    key="adazeta-threshold", paper="AdaZeta (EMNLP 2024)", table="Figure 1 / Table 4 (Llama-2-7B, SST-2)",
    source="docs/papers/adazeta.md (c) [2nd]", model="Llama-2-7B",
    metric="steps to training loss 0.4 (Figure 1); GPU hours to the threshold (Table 4)",
    rows=["AdaZeta", "MeZO (LoRA)"], columns=["steps_to_threshold", "gpu_hours"],
    cells={("AdaZeta", "steps_to_threshold"): (1000.0, None), ("MeZO (LoRA)", "steps_to_threshold"): (6000.0, None),
           ("AdaZeta", "gpu_hours"): (1.1, None), ("MeZO (LoRA)", "gpu_hours"): (0.6, None)},
    note="Digest: MeZO-LoRA needs about 6K steps to loss 0.4, AdaZeta fewer than 1K; GPU hours 1.1 (AdaZeta) "
         "vs 0.6 (MeZO-LoRA batch 16) and 3.0 (batch 64). Approximate, secondary.", secondary=True))
_add(PaperTable(
    key="sparse-mezo-llama2", paper="Sparse-MeZO (NeurIPS 2025)", table="LLaMA2-7b comparison (re-runs AdaZeta)",
    source="docs/papers/baselines.md section 5", model="Llama-2-7B", metric="test accuracy %",
    rows=["MeZO", "ZO-AdaMU", "AdaZeta", "Sparse-MeZO"], columns=["boolq", "rte", "wic", "sst2", "Avg"],
    cells=_cells(["MeZO", "ZO-AdaMU", "AdaZeta", "Sparse-MeZO"], ["boolq", "rte", "wic", "sst2", "Avg"], [
        [78.8, 70.2, 62.2, 94.0, 76.3], [78.2, 76.5, 63.0, 93.6, 77.8],
        [79.8, 75.8, 62.0, 94.0, 77.9], [82.2, 77.6, 65.3, 94.8, 80.0]]),
    note="AdaZeta cells from a paper note that agrees with every number of the paper's text."))


def tables_for(prefix):
    """The paper tables whose key is `prefix` or starts with `prefix/`."""
    return [t for k, t in TABLES.items() if k == prefix or k.startswith(prefix + "/")]
