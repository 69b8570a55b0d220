"""
Triplet rules against Sjöström et al. 2001
==========================================

60 pairings at ρ Hz with Δt = ±10 ms from w0 = 1 (so Δw = Δw/w), the data of Sjöström, Turrigiano & Nelson
2001 (``data/sjostrom2001.csv``, mean ± SEM) against Pfister & Gerstner's visual-cortex triplet rules and, for
contrast, pair STDP: the all-to-all rule without its triplet terms (A3± = 0), which cannot potentiate at
Δt = −10 ms at any frequency.
Markers: the Brian2 simulation; it equals the closed form to ~1e-13.
"""
import matplotlib.pyplot as plt
import numpy as np

from plastlab import load_rule
from plastlab.brian import protocols as P
from plastlab.datasets import sjostrom2001

data = sjostrom2001()  # rows: rho (Hz), Δt (ms), Δw/w, SEM
rho = sorted(set(data[:, 0]))
pair = load_rule("stdp_triplet_all_to_all").with_parameters(A3_plus=0.0, A3_minus=0.0)
rules = {"stdp_triplet_nearest": "s", "stdp_triplet_all_to_all": "^", "stdp_triplet_minimal": "v",
         "pair terms only": "x"}
model = {}
for name in rules:
    ds = P.frequency(pair if name == "pair terms only" else name, rho=rho, delta_t=[10, -10], pairings=60, w0=[1.0])
    model[name] = {(r, d): float(ds.dw.sel(rho=r, delta_t=d).item()) for r, d in data[:, :2]}
    print(f"{name}: simulated - closed form = {float(abs(ds.dw - ds.dw_closed_form).max()):.1e}")

print(f"\n{'rho':>5} {'dt':>4} {'data':>6} {'SEM':>5} " + " ".join(f"{n.replace('stdp_', ''):>18}" for n in rules))
for r, d, mean, sem in data:
    cells = " ".join(f"{model[n][(r, d)]:+7.3f} ({(model[n][(r, d)] - mean) / sem:+4.1f} SEM)" for n in rules)
    print(f"{r:5g} {d:+4.0f} {mean:+6.2f} {sem:5.2f} {cells}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
for ax, d in zip(axes, (10, -10)):
    rows = data[data[:, 1] == d]
    x = np.arange(len(rows))
    ax.errorbar(x, rows[:, 2], yerr=rows[:, 3], fmt="o", color="k", capsize=4, label="Sjöström 2001 (± SEM)")
    for k, (name, marker) in enumerate(rules.items()):
        ax.plot(x + 0.12 * (k + 1), [model[name][(r, d)] for r in rows[:, 0]], marker, ls="none",
                color=f"C{k}", label=name)
    ax.set_xticks(x + 0.25, [f"{r:g}" for r in rows[:, 0]])
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(title=f"Δt = {d:+d} ms", xlabel="pairing frequency ρ (Hz)")
axes[0].set_ylabel("Δw / w")
axes[1].legend(fontsize=7)
fig.tight_layout()
plt.show()
