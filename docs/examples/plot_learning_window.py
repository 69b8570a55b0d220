"""
A rule's learning window
========================

Simulate one spike pair per (Δt, w0) in Brian2 and compare with the rule's closed form.
"""
import matplotlib.pyplot as plt

from plastlab.brian.protocols import pair_window, time_grid
from plastlab.plots import plot_window

ds = pair_window("stdp_weight_dependent", time_grid(-80, 80, 2), w0=[0.2, 0.5, 0.8])
print("max |simulated - closed form| =", float(abs(ds.dw - ds.dw_analytic).max()))

fig, ax = plt.subplots(figsize=(6, 4))
plot_window(ds, ax=ax)
ax.set_title("stdp_weight_dependent: Δw after one pair")
plt.show()
