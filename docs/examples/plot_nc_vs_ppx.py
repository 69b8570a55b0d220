"""
NC and PPX memristor windows
============================

The two memristor fits of the rule library, side by side, at three initial weights.
"""
import matplotlib.pyplot as plt

from plastlab.brian.protocols import pair_window, time_grid
from plastlab.plots import plot_window

fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, name in zip(axes, ["nc_memristor", "ppx_memristor"]):
    ds = pair_window(name, time_grid(-100, 100, 2), w0=[0.2, 0.5, 0.8])
    plot_window(ds, ax=ax)
    ax.set_title(name)
    print(name, "largest potentiation", float(ds.dw.max()), "largest depression", float(ds.dw.min()))
plt.show()
