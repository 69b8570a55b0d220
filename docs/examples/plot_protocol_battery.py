"""
Every rule under two protocols: pairing frequency and Poisson rates
===================================================================

Two protocols of the battery (``plastlab rules protocol RULE PROTOCOL``) for every rule of the library whose
weight changes only at spikes (the rules :func:`~plastlab.rules.protocols.has_replay` accepts):

- ``frequency`` (Sjöström et al. 2001): 60 pre-post pairs at ρ Hz, Δt = ±10 ms. Simulated in Brian2 (markers)
  beside the closed form (lines: every spike update replayed exactly). The silent time between pairings is
  skipped (``drive(..., compress=True)``), so the 0.1 Hz point (600 s) costs a few hundred time steps.
- ``rates``: independent Poisson trains, presynaptic 10 Hz, postsynaptic 1-50 Hz; mean dw/dt ± SEM over 8 seeds
  of 1 s (markers), beside the expected drift of exactly these trains where the rule has one (lines). A
  triplet rule draws the BCM-like curve (depression at low, potentiation at high postsynaptic rates); a pair
  rule is linear in the postsynaptic rate.

Weights are relative: Δw/w0 from the middle of each rule's bounds (triplet rules: from w0 = 1).
"""
import time

import matplotlib.pyplot as plt
import numpy as np

from plastlab.brian import protocols as P
from plastlab.rules.files import available_rules, load_rule
from plastlab.rules.protocols import expected_drift, has_replay

start = time.perf_counter()
rules = [name for name in available_rules() if has_replay(load_rule(name))]
w0 = {name: 1.0 if name.startswith("stdp_triplet") else P.default_w0(name) for name in rules}
style = {name: dict(color=f"C{k % 10}", ls="-" if k < 10 else "--") for k, name in enumerate(rules)}

# %%
# Pairing frequency at Δt = ±10 ms
# --------------------------------
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)
for name in rules:
    ds = P.frequency(name, rho=[0.1, 10, 20, 40, 50], delta_t=[10, -10], pairings=60, w0=[w0[name]])
    for ax, d in zip(axes, (10, -10)):
        ax.plot(ds.rho, ds.dw_closed_form.sel(delta_t=d, w0=w0[name]) / w0[name], **style[name], lw=1)
        ax.plot(ds.rho, ds.dw.sel(delta_t=d, w0=w0[name]) / w0[name], "o", ms=4, color=style[name]["color"],
                label=name)
    gap = float(abs(ds.dw - ds.dw_closed_form).max())
    assert gap < 1e-9 * max(1.0, float(abs(ds.dw).max())), (name, gap)
for ax, d in zip(axes, (10, -10)):
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(title=f"Δt = {d:+d} ms, 60 pairings", xlabel="pairing frequency ρ (Hz)")
axes[0].set_ylabel("Δw / w0")
axes[1].legend(fontsize=7, ncol=2)
fig.tight_layout()
print(f"frequency protocol, {len(rules)} rules: {time.perf_counter() - start:.1f} s")

# %%
# Poisson rates: the BCM-like curve
# ---------------------------------
mark = time.perf_counter()
post = [1, 10, 20, 30, 40, 50]
dense = np.linspace(0, 50, 26)
fig, ax = plt.subplots(figsize=(7, 4.5))
for name in rules:
    ds = P.rates(name, pre_rate=[10], post_rate=post, seeds=8, duration=1, w0=w0[name])
    row = ds.isel(pre_rate=0)
    ax.errorbar(ds.post_rate, row.dw_dt / w0[name], yerr=row.dw_dt_sem / w0[name], fmt="o", ms=3, capsize=2,
                color=style[name]["color"], label=name)
    if "dw_dt_closed_form" in ds:
        rule = load_rule(name)
        curve = [expected_drift(rule, 10, b, w0[name], dt=1e-3, duration=1) for b in dense]
        ax.plot(dense, np.array(curve) / w0[name], **style[name], lw=1)
ax.axhline(0, color="0.6", lw=0.8)
ax.set(xlabel="postsynaptic rate (Hz), presynaptic 10 Hz", ylabel="mean dw/dt / w0 (1/s)",
       title="Poisson rates: simulated (± SEM, 8 × 1 s) and expected drift")
ax.legend(fontsize=7, ncol=2)
fig.tight_layout()
print(f"rates protocol, {len(rules)} rules: {time.perf_counter() - mark:.1f} s")
plt.show()
