#!/usr/bin/env python3
"""Markdown table of a bench_kernels JSON run (--benchmark_out=<file> --benchmark_out_format=json).

One row per conv/<net>/<layer>/b<N>: medians of lapq_s8 and onednn_s8 (GMAC/s), their
ratio, lapq_s8 as % of the 432 GMAC/s one-core int8 peak (docs/kernels.md), the
int4/int8 time ratio (lapq_s4 / lapq_s8, < 1 = int4 faster), the weight-zero-point
cost (lapq_s8_wzp / lapq_s8 time) and, for weight-bound layers, int4/int8 with cold
weights. Usage: kernels_table.py run.json
"""
import json
import sys

PEAK = 432.0


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    med = {}  # (shape, impl) -> (cpu_time, GMACs)
    order = {}  # shape -> registration index (the run may be interleaved)
    for b in runs:
        if b.get("aggregate_name") != "median" or not b["name"].startswith("conv/"):
            continue
        name = b["run_name"] if "run_name" in b else b["name"].rsplit("_median", 1)[0]
        shape, impl = name.rsplit("/", 1)
        med[(shape, impl)] = (b["cpu_time"], b.get("GMACs", 0.0))
        order[shape] = min(order.get(shape, 1 << 30), b.get("family_index", 0))
    shapes = sorted(order, key=order.get)
    print("| layer | batch | ours GMAC/s | oneDNN GMAC/s | ours/oneDNN | % of peak | int4/int8 time "
          "| wzp/plain time | cold int4/int8 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for shape in shapes:
        get = lambda impl: med.get((shape, impl))
        s8, dn, s4, wz = get("lapq_s8"), get("onednn_s8"), get("lapq_s4"), get("lapq_s8_wzp")
        c8, c4 = get("cold_lapq_s8"), get("cold_lapq_s4")
        if not s8 or not dn:
            continue
        _, net, layer, batch = shape.split("/")
        cold = f"{c4[0] / c8[0]:.2f}" if c8 and c4 else ""
        print(f"| {net} {layer} | {batch[1:]} | {s8[1]:.0f} | {dn[1]:.0f} | {s8[1] / dn[1]:.2f} | "
              f"{100 * s8[1] / PEAK:.0f} | {s4[0] / s8[0]:.2f} | {wz[0] / s8[0]:.2f} | {cold} |"
              if s4 and wz else
              f"| {net} {layer} | {batch[1:]} | {s8[1]:.0f} | {dn[1]:.0f} | {s8[1] / dn[1]:.2f} | "
              f"{100 * s8[1] / PEAK:.0f} | | | {cold} |")
    uk = sorted((b for b in runs if b.get("aggregate_name") == "median" and b["name"].startswith("ukernel/")),
                key=lambda b: b.get("family_index", 0))
    if uk:
        print()
        print("| microkernel | GMAC/s | % of peak |")
        print("|---|---|---|")
        for b in uk:
            print(f"| {b['name'].rsplit('_median', 1)[0]} ({b.get('label', '')}) | {b['GMACs']:.0f} | "
                  f"{100 * b['GMACs'] / PEAK:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
