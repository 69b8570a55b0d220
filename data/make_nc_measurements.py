"""Synthetic measurements of an NC memristor: the NC law (rules/nc_memristor.toml, Demin et al. 2021) plus noise.

No measured NC/PPX raw data is available, so this draws what a device engineer would bring, from a known law:
  - Δt = -60, -56, ..., -4, 4, ..., 60 ms (post - pre; 30 values), w0 = 0.2, 0.5, 0.8 (normalised conductance);
  - 5 repeats per (Δt, w0): Δw = Δw_NC(Δt, w0) + ε, ε ~ N(0, σ²), σ = 0.003 + 0.10·|Δw_NC(Δt, w0)|
    (a read floor plus cycle-to-cycle noise proportional to the step);
  - one row per (Δt, w0): dw = mean over the repeats, dw_sd = their sample sd (ddof = 1).
Seeded (SEED): running it again writes the same file. Usage: python data/make_nc_measurements.py [OUT.csv]
"""
import csv
import sys
from pathlib import Path

import numpy as np
from brian2 import ms

from plastlab import load_rule

SEED = 2026
DELTA_T = np.r_[np.arange(-60, 0, 4), np.arange(4, 61, 4)].astype(float)
W0 = (0.2, 0.5, 0.8)
REPEATS = 5
NOISE_FLOOR, NOISE_RELATIVE = 0.003, 0.10


def measurements(seed=SEED):
    rule = load_rule("nc_memristor")
    true = rule.window_curve(DELTA_T * ms, np.array(W0))  # (Δt, w0)
    rng = np.random.default_rng(seed)
    rows = []
    for i, dt in enumerate(DELTA_T):
        for j, w0 in enumerate(W0):
            sd = NOISE_FLOOR + NOISE_RELATIVE * abs(true[i, j])
            draws = true[i, j] + sd * rng.standard_normal(REPEATS)
            rows.append((dt, w0, draws.mean(), draws.std(ddof=1)))
    return rows


OUT = Path(__file__).with_name("nc_measurements.csv")


def main(out=OUT):
    rows = measurements()
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["delta_t", "w0", "dw", "dw_sd"])
        writer.writerows([f"{dt:g}", f"{w0:g}", f"{dw:.6g}", f"{sd:.6g}"] for dt, w0, dw, sd in rows)
    print(f"wrote {out}: {len(rows)} rows (seed {SEED})")


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) > 1 or (args and (args[0].startswith("-") or not args[0].endswith(".csv"))):
        if args and args[0] in ("-h", "--help"):
            print(__doc__.strip())
            sys.exit(0)
        print(f"usage: python {Path(__file__).name} [OUT.csv]  (got {' '.join(args)})", file=sys.stderr)
        sys.exit(2)
    main(*(Path(a) for a in args))
