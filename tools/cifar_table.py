#!/usr/bin/env python3
"""Markdown table of the CIFAR-10 ResNet-20 runs made by tools/cifar_table.sh.

    /usr/bin/python3 tools/cifar_table.py DIR

Reads DIR/<preset>_<bits>_<method>.json (lapq quantize --report) and prints,
per preset, one row per bit width: calibration loss / test top-1 of max-abs,
MSE, Lp(p*) and LAPQ (the last Powell stage), the FP32 reference, p*, Powell
evaluations and wall time, followed by the checks the issue asks for.
"""
import json
import pathlib
import sys

BITS = ["w8a8", "w4a8", "w4a4", "w3a3", "w2a4"]


def load(d, preset, bits, method):
    f = d / f"{preset}_{bits}_{method}.json"
    return json.loads(f.read_text()) if f.exists() else None


def stage(rep, prefix):
    """Last stage whose name starts with prefix (None when absent)."""
    found = [s for s in rep["stages"] if s["stage"].startswith(prefix)] if rep else []
    return found[-1] if found else None


def cell(s):
    if not s or "top1" not in s:
        return "–"
    return f"{s['loss']:.3f} / {s['top1']:.2f}"


def main():
    d = pathlib.Path(sys.argv[1])
    problems, notes = [], []
    for preset in ["paper", "deploy"]:
        print(f"\n### {preset} preset\n")
        print("| bits | FP32 | max-abs | MSE (p = 2) | Lp(p*) | p* | LAPQ | Powell evals / iters | Powell s | total s |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for bits in BITS:
            lapq, mse = load(d, preset, bits, "lapq"), load(d, preset, bits, "mse")
            if not lapq and not mse:
                continue
            fp32 = stage(lapq or mse, "fp32")
            mx, ms, lp = stage(lapq, "max") or stage(mse, "max"), stage(mse, "mse"), stage(lapq, "lp(")
            pw = stage(lapq, "powell")
            pstar = f"{lapq['p_used']:.3f}" if lapq and "p_used" in lapq else "–"
            evals = f"{lapq['powell']['evaluations']} / {lapq['powell']['iterations']}" if lapq else "–"
            psec = f"{lapq['seconds']['powell']:.0f}" if lapq else "–"
            tsec = f"{lapq['seconds']['total']:.0f}" if lapq else "–"
            print(f"| {bits.upper()} | {cell(fp32)} | {cell(mx)} | {cell(ms)} | {cell(lp)} | {pstar} | **{cell(pw)}** "
                  f"| {evals} | {psec} | {tsec} |")
            acc = {k: s["top1"] for k, s in [("fp32", fp32), ("max", mx), ("mse", ms), ("lp", lp), ("lapq", pw)]
                   if s and "top1" in s}
            if bits == "w8a8" and "fp32" in acc:
                for k in ["max", "mse", "lp", "lapq"]:
                    if k in acc and acc[k] < acc["fp32"] - 0.3:
                        problems.append(f"{preset} {bits}: {k} {acc[k]:.2f} loses more than 0.3 points to FP32 "
                                        f"{acc['fp32']:.2f}")
                    elif k in acc and acc[k] > acc["fp32"] + 0.3:
                        notes.append(f"{preset} {bits}: {k} {acc[k]:.2f} is {acc[k] - acc['fp32']:.2f} points above "
                                     f"FP32 {acc['fp32']:.2f}")
            if bits in ("w4a4", "w3a3", "w2a4", "w4a8") and all(k in acc for k in ["mse", "lp", "lapq"]):
                if not acc["lapq"] >= acc["lp"] >= acc["mse"]:
                    problems.append(f"{preset} {bits}: ordering LAPQ {acc['lapq']:.2f} >= Lp {acc['lp']:.2f} "
                                    f">= MSE {acc['mse']:.2f} does not hold")
            if preset == "paper" and bits in ("w4a4", "w3a3") and all(k in acc for k in ["max", "mse", "lp", "lapq"]):
                best_init = max(acc["max"], acc["mse"], acc["lp"])
                if acc["lapq"] < best_init + 1.0:
                    problems.append(f"{preset} {bits}: LAPQ {acc['lapq']:.2f} is less than 1 point above the best "
                                    f"initialization {best_init:.2f}")
        # Powell iterations, when there are several.
        for bits in BITS:
            lapq = load(d, preset, bits, "lapq")
            its = [s for s in (lapq["stages"] if lapq else []) if s["stage"].startswith("powell iter")]
            if len(its) > 1:
                parts = ", ".join(f"{s['stage'][7:]}: {cell(s)} ({s.get('evaluations', 0)} evals)" for s in its)
                print(f"\n{preset} {bits.upper()} per Powell iteration (loss / top-1): {parts}")
    print("\nEach cell: calibration loss / top-1 % on all 10,000 test images.")
    print("\nChecks: " + ("all expectations hold." if not problems else ""))
    for p in problems:
        print(f"- {p}")
    if notes:
        print("\nNotes (not failures):")
        for n in notes:
            print(f"- {n}")


if __name__ == "__main__":
    main()
