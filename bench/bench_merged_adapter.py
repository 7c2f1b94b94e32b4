"""Would merging the shipped LoRA into the weights make directions faster without making them worse?

llama.cpp applies the adapter at run time, which doubles the graph of every decoding step. This writes the
embedded GGUF with the LoRA deltas added to the adapted projections (``W + alpha/r * B @ A``, the query/key
rows permuted as in ``lm.export``), stored as ``--quant`` (Q8_0: Q4_1's step is larger than the deltas, and a
Q4_1 merge loses the adapter), to ``bench/.cache``; then directs the same 200 validation prefixes with both
models (the same library and prompts), and reports one direction's p50 (20 ideas, one at a time), the soft
modifier F1 and trust metrics, and how many directions are identical. Prints and saves
``bench/results/merged_adapter.json``.

    .venv/bin/python bench/bench_merged_adapter.py [--quant Q8_0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from report import publish  # bench/report.py: the script's own folder is on the path

ROOT = Path(__file__).resolve().parents[1]
KEEP = ("soft_modifier_f1", "modifier_f1", "fidelity", "redundant_rate", "top10_share", "distinct_added",
        "invented_rate", "medium_consistency")


def merged_gguf(quant: str) -> Path:
    import gguf
    from gguf.quants import dequantize, quantize
    from safetensors.numpy import load_file

    from artdirector.director import default_adapter
    from artdirector.lm.embedded import embedded_gguf
    from artdirector.lm.export import _KEY, _NAMES, _rope_permute

    out = ROOT / "bench" / ".cache" / f"merged-{quant}.gguf"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    reader = gguf.GGUFReader(str(embedded_gguf()))
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    heads = {k: int(reader.fields[f"{arch}.attention.{k}"].parts[-1][0]) for k in ("head_count", "head_count_kv")}
    adapter = default_adapter()
    config = json.loads((adapter / "adapter_config.json").read_text())
    scale = config["lora_alpha"] / config["r"]
    pairs: dict[str, dict] = {}
    for key, value in load_file(str(adapter / "adapter_model.safetensors")).items():
        layer, module, which = _KEY.match(key).groups()
        pairs.setdefault(f"blk.{layer}.{_NAMES[module]}.weight", {"module": module})[which] = value.astype(np.float32)
    writer = gguf.GGUFWriter(str(out) + ".tmp", arch)
    for f in reader.fields.values():
        if f.name == gguf.Keys.General.ARCHITECTURE or f.name.startswith("GGUF."):
            continue
        kind = f.types[0]
        writer.add_key_value(f.name, f.contents(), kind, sub_type=f.types[-1] if kind == gguf.GGUFValueType.ARRAY
                             else None)
    tensors = []
    for t in reader.tensors:
        data, kind = t.data, t.tensor_type
        if t.name in pairs:
            p = pairs[t.name]
            b = p["B"]
            if p["module"] == "self_attn.q_proj":
                b = _rope_permute(b, heads["head_count"])
            elif p["module"] == "self_attn.k_proj":
                b = _rope_permute(b, heads["head_count_kv"])
            kind = getattr(gguf.GGMLQuantizationType, quant)
            data = quantize(dequantize(t.data, t.tensor_type).astype(np.float32) + scale * (b @ p["A"]), kind)
        tensors.append((t.name, data, kind))
    for name, data, kind in tensors:
        writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes, kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, data, _ in tensors:
        writer.write_tensor_data(data)
    writer.close()
    Path(str(out) + ".tmp").replace(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quant", default="Q8_0")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "merged_adapter.json"))
    args = parser.parse_args()

    from artdirector import embedding
    from artdirector.director import ArtDirector
    from artdirector.evaluation.harness import prefix_items, read_prompts, score
    from artdirector.lm.llamacpp_backend import LlamaCppLM

    path = merged_gguf(args.quant)
    items = prefix_items(read_prompts(ROOT / "data" / "splits" / "validation.tsv"), limit=200, seed=0)[0]
    ideas = [it.idea for it in items]
    shipped = ArtDirector.from_default()
    merged = ArtDirector(LlamaCppLM(path, name=f"merged-{args.quant}"), library=shipped.library, tuned=True)
    runs = {}
    for name, director in (("runtime_lora", shipped), ("merged", merged)):
        prompts = [r.prompt for b in range(0, len(ideas), 32) for r in director.direct_many(ideas[b:b + 32])]
        single = []
        for idea in ideas[:20]:
            start = time.perf_counter()
            director.direct(idea, seed=5)
            single.append(time.perf_counter() - start)
        runs[name] = {"prompts": prompts, "direction_p50_s": statistics.median(single)}
    table = score(items, {k: [{"prompts": [p], "seconds": 0.0} for p in v["prompts"]] for k, v in runs.items()},
                  embedding.load())
    report = {"quant": args.quant, "file_mb": round(path.stat().st_size / 2**20, 1), "ideas": len(ideas),
              "identical_directions": sum(a == b for a, b in zip(runs["runtime_lora"]["prompts"],
                                                                   runs["merged"]["prompts"])),
              **{k: {"direction_p50_s": v["direction_p50_s"], **{m: table[k][m] for m in KEEP}}
                 for k, v in runs.items()}}
    publish(report, args.out, indent=1)


if __name__ == "__main__":
    main()
