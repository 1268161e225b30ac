"""The default encoder's precisions side by side, on the machine the benchmark runs on.

* ``texts_per_s``: each variant (float32 products; int8 with 8-bit weights where this CPU multiplies them
  exactly; int8 with 7-bit weights, which every CPU can) encodes the same titles in batches of 100,
  the variants taking turns round by round so that a busy minute falls on all of them.
* ``cosine_to_fp32``: every shared dataset's titles, each int8 variant's vectors against float32's.
* ``cpu``: the CPU's model and flags, and the start-up probe's answer, so a figure says which kernels
  it was measured on (VNNI or AVX2 alone).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import log, median
from .synth import DATASETS

BATCH = 100
#: int8's texts/s over float32's on a CPU without VNNI, where int8 needs 7-bit weights
TARGET_SPEEDUP = 1.4
#: no title of a shared dataset may move further from its float32 vector
TARGET_MIN_COSINE = 0.99


@dataclass(frozen=True)
class PrecisionSizes:
    #: titles encoded per variant and round (the datasets' first ones, mixed)
    speed_titles: int = 2000
    rounds: int = 3
    #: titles per dataset file for the cosine check; None = all
    cosine_limit: int | None = None


def _dataset_titles(limit: int | None) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for path in sorted(DATASETS.rglob("*.jsonl")):
        titles = []
        for line in path.read_text(encoding="utf-8").splitlines():
            title = json.loads(line).get("title") if line.strip() else None
            if title and title.strip():
                titles.append(title)
        if titles:
            files[str(path.relative_to(DATASETS))] = titles[:limit]
    return files


def _variants(threads: int, exact: bool) -> dict[str, Any]:
    from embeddings.usem import USEEncoder

    variants: dict[str, Any] = {"fp32": USEEncoder(threads=threads, precision="fp32")}
    if exact:
        variants["int8_w8"] = USEEncoder(threads=threads, weight_bits=8)
    variants["int8_w7"] = USEEncoder(threads=threads, weight_bits=7)
    return variants


def _speeds(variants: dict[str, Any], texts: list[str], rounds: int) -> dict[str, list[float]]:
    speeds: dict[str, list[float]] = {name: [] for name in variants}
    for enc in variants.values():  # warm-up: first calls fault the weights in
        enc.encode(texts[:BATCH])
    for r in range(rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in order:
            t0 = time.perf_counter()
            for i in range(0, len(texts), BATCH):
                variants[name].encode(texts[i : i + BATCH])
            speeds[name].append(len(texts) / (time.perf_counter() - t0))
        log(f"precision: round {r + 1}: " + ", ".join(f"{n} {s[-1]:.0f}/s" for n, s in speeds.items()))
    return speeds


def run(encoder, pool, sizes: PrecisionSizes) -> dict[str, Any]:
    from embeddings.usem import cpu_features, int8_products_are_exact

    threads = getattr(encoder, "workers", 0)
    exact = int8_products_are_exact()
    variants = _variants(threads, exact)
    # without VNNI the default encodes in float32: 7-bit weights are there for whoever asks by name
    default = "int8_w8" if exact else "fp32"
    out: dict[str, Any] = {
        "section": "precision",
        "cpu": cpu_features(),
        "int8_full_range_exact": exact,
        "default_variant": default,
        "workers": threads,
        "batch": BATCH,
    }
    if not exact:
        out["int8_w8_skipped"] = "8-bit weights saturate in this CPU's integer products (no VNNI)"

    speeds = _speeds(variants, [p.title for p in pool[: sizes.speed_titles]], sizes.rounds)
    out["texts_per_s"] = {name: {"median": median(s), "rounds": s} for name, s in speeds.items()}
    base = out["texts_per_s"]["fp32"]["median"]
    out["ratios"] = {
        f"{name}_over_fp32": out["texts_per_s"][name]["median"] / base for name in variants if name != "fp32"
    }

    cosines: dict[str, dict[str, dict[str, float]]] = {name: {} for name in variants if name != "fp32"}
    for dataset, titles in _dataset_titles(sizes.cosine_limit).items():
        reference = variants["fp32"].encode(titles)
        for name in cosines:
            cos = np.einsum("ij,ij->i", variants[name].encode(titles), reference)
            cosines[name][dataset] = {"n": len(titles), "min": float(cos.min()), "mean": float(cos.mean())}
    out["cosine_to_fp32"] = cosines
    worst = {name: min(d["min"] for d in per.values()) for name, per in cosines.items()}
    out["targets"] = {
        f"int8_cosine_to_fp32_min>={TARGET_MIN_COSINE}": {
            "value": min(worst.values()),
            "per_variant": worst,
            "met": min(worst.values()) >= TARGET_MIN_COSINE,
        },
    }
    speedup = out["ratios"]["int8_w7_over_fp32"]
    if exact:
        # the speed target is for CPUs without VNNI; here the 7-bit graph runs the VNNI kernels, not theirs
        out["speed_target_not_judged"] = (
            f"this CPU multiplies 8-bit weights exactly (VNNI); the {TARGET_SPEEDUP}x "
            "target is judged on CPUs without VNNI"
        )
    else:
        out["targets"][f"int8_w7_over_fp32>={TARGET_SPEEDUP}_without_vnni"] = {
            "value": speedup,
            "variant": "int8_w7",
            "met": speedup >= TARGET_SPEEDUP,
        }
    return out
