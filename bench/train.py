"""Benchmark: how fast `codewm train` trains, and what share of the hardware's peak it uses.

    python bench/train.py [--preset cpu] [--steps 12] [--device cuda]

Trains the preset's model for a few steps on the preset's own data (built first, as
`codewm train` builds it) in two ways, in one run:

- baseline: one trace per row, right-padded to the row length (no packing);
- codewm: rows packed best-fit with whole traces (what `codewm train` does).

Throughput is real tokens (padding excluded) per second of optimizer steps, after a warm-up
step. Model FLOPs per token follow the PaLM paper's count, 6·N + 12·L·d·T (N parameters, L
layers, d width, T row length), so model FLOPs utilisation (MFU) is
tokens/s x FLOPs/token over the peak. The peak is measured in the same run (the best of a
few large matrix multiplications in the training dtype), and on a GPU also given against the
vendor's dense bf16 figure (H100 SXM: 989 TFLOP/s; H200 the same).

Prints a table, then as its last line a JSON object: tokens_per_s and mfu for both, and
packing_speedup (codewm tokens/s over baseline tokens/s).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR_PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def measured_peak(device, dtype) -> float:
    """The best FLOP/s of a few large matrix multiplications (the hardware's practical peak)."""
    import torch

    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(5):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - start))
    return best


def unpacked_rows(directory, tokenizer, seq_len: int, seed: int):
    """The baseline: each trace alone in a right-padded row."""
    from codewm.format.cwm import FRAME_SEP
    from codewm.model.data import PackedRow, _labels, iter_texts, tokenize

    sep = tokenizer.convert_tokens_to_ids(FRAME_SEP)
    for ids in tokenize(iter_texts(directory, "train", seed=seed), tokenizer):
        if len(ids) > seq_len:
            continue
        labels = _labels(ids, ids.index(sep) if sep in ids else len(ids))
        pad = seq_len - len(ids)
        yield PackedRow(ids + [tokenizer.pad_token_id] * pad, labels + [-100] * pad, 1)


def time_steps(model, rows, steps: int, batch: int, micro: int, device, bf16: bool, pad_id: int) -> tuple[float, int]:
    """Seconds and real tokens of `steps` optimizer steps (after one warm-up step)."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tokens = 0
    start = 0.0
    for step in range(steps + 1):
        if step == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            tokens = 0
        chunk_rows = [next(rows) for _ in range(batch)]
        for i in range(0, batch, micro):
            part = chunk_rows[i : i + micro]
            ids = torch.tensor([r.input_ids for r in part], device=device)
            labels = torch.tensor([r.labels for r in part], device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(input_ids=ids).logits
            loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
            loss.backward()
            tokens += int((ids != pad_id).sum())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", help="smoke | cpu | gpu")
    parser.add_argument("--steps", type=int, default=12, help="timed optimizer steps per method")
    parser.add_argument("--batch-size", type=int, default=None, help="rows per step (default: the preset's)")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: cuda when there is one)")
    parser.add_argument("--data-root", default=str(ROOT / "out" / "train-data"))
    args = parser.parse_args()

    import torch
    from transformers import LlamaForCausalLM

    from codewm.model.checkpoint import llama_config
    from codewm.model.data import iter_texts, row_stream
    from codewm.model.presets import get_preset
    from codewm.model.tokenizer import train_tokenizer
    from codewm.model.train import ensure_dataset

    preset = get_preset(args.preset)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    bf16 = device.type == "cuda"
    batch = args.batch_size or preset.batch_size
    micro = min(preset.micro_batch, batch)
    data = ensure_dataset(preset, args.data_root)
    sample = [t for _, t in zip(range(preset.tokenizer_texts), iter_texts(data, "train", epochs=1))]
    tokenizer = train_tokenizer(sample, vocab_size=preset.vocab_size)
    config = llama_config(preset.shape, tokenizer)
    shape = preset.shape
    results = {}
    for name, make_rows in (
        ("baseline (one trace per row)", lambda: unpacked_rows(data, tokenizer, preset.seq_len, preset.seed)),
        ("codewm (packed rows)", lambda: row_stream(data, "train", tokenizer, preset.seq_len, seed=preset.seed)),
    ):
        torch.manual_seed(0)
        model = LlamaForCausalLM(config).to(device)
        model.train()
        seconds, tokens = time_steps(model, iter(make_rows()), args.steps, batch, micro, device, bf16, tokenizer.pad_token_id)
        results[name] = {"tokens_per_s": tokens / seconds, "seconds": seconds, "tokens": tokens}
        del model
    parameters = sum(p.numel() for p in LlamaForCausalLM(config).parameters())
    flops_per_token = 6 * parameters + 12 * shape.num_hidden_layers * shape.hidden_size * preset.seq_len
    peak = measured_peak(device, torch.bfloat16 if bf16 else torch.float32)
    vendor = None
    if device.type == "cuda":
        name = torch.cuda.get_device_name()
        vendor = next((value for key, value in VENDOR_PEAK_BF16.items() if key in name), None)
        hardware = f"{name}, bf16 autocast"
    else:
        hardware = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, float32"

    print(f"codewm train throughput: preset {preset.name} ({parameters / 1e6:.2f}M parameters, {preset.seq_len}-token rows x {batch}), {hardware}")
    print(f"measured peak: {peak / 1e12:.3f} TFLOP/s" + (f"; vendor dense bf16 peak {vendor / 1e12:.0f} TFLOP/s" if vendor else ""))
    print(f"{'method':<32}{'tokens/s':>12}{'TFLOP/s':>10}{'MFU (measured peak)':>22}" + ("   MFU (vendor peak)" if vendor else ""))
    figures: dict = {"preset": preset.name, "device": hardware, "parameters": parameters, "flops_per_token": flops_per_token, "measured_peak_flops": peak}
    for name, result in results.items():
        achieved = result["tokens_per_s"] * flops_per_token
        line = f"{name:<32}{result['tokens_per_s']:>12,.0f}{achieved / 1e12:>10.3f}{100 * achieved / peak:>21.1f}%"
        if vendor:
            line += f"{100 * achieved / vendor:>19.1f}%"
        print(line)
    base, packed = results["baseline (one trace per row)"], results["codewm (packed rows)"]
    figures.update(
        {
            "baseline_tokens_per_s": base["tokens_per_s"],
            "tokens_per_s": packed["tokens_per_s"],
            "mfu_measured_peak": packed["tokens_per_s"] * flops_per_token / peak,
            "baseline_mfu_measured_peak": base["tokens_per_s"] * flops_per_token / peak,
            "packing_speedup": packed["tokens_per_s"] / base["tokens_per_s"],
        }
    )
    if vendor:
        figures["mfu_vendor_peak"] = packed["tokens_per_s"] * flops_per_token / vendor
    print(f"packing speedup: {figures['packing_speedup']:.2f}x")
    sys.stdout.flush()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
