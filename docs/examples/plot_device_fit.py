"""
A rule fitted to device measurements
====================================

Fit the NC memristor law to the synthetic measurements shipped in ``data/nc_measurements.csv`` (drawn by
``data/make_nc_measurements.py`` from the NC law plus stated noise): weighted least squares on the rule's
closed-form window, estimates with standard errors, R², AIC/BIC, and the residuals.
"""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from plastlab import load_rule
from plastlab.rules.fit import WindowModel, fit_rule


def shipped(name):
    """The file in the repository's data/ folder, from wherever the example runs."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "data" / name).is_file():
            return folder / "data" / name
    raise FileNotFoundError(name)


# start away from the published values, so the fit has something to do
start = load_rule("nc_memristor").with_parameters(mu_plus="20*ms", tau_minus="-15*ms")
result = fit_rule(start, shipped("nc_measurements.csv"),
                  params=["a_plus", "a_minus", "mu_plus", "mu_minus", "tau_plus", "tau_minus"], starts=4)
print(result.table())

data, model = result.data, WindowModel(result.rule, result.names)
grid = np.r_[np.linspace(-60, -0.5, 120), np.linspace(0.5, 60, 120)]
fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=(2, 1))
for k, w0 in enumerate(np.unique(data.w0)):
    at = data.w0 == w0
    top.errorbar(data.delta_t[at], data.dw[at], yerr=data.dw_sd[at], fmt="o", ms=3, color=f"C{k}", alpha=0.6)
    top.plot(grid, model(result.estimates, grid, np.full(grid.shape, w0)), color=f"C{k}", label=f"w0 = {w0:g}")
top.set_ylabel("Δw")
top.set_title(f"NC law fitted: R² = {result.r2:.3f}, AIC = {result.aic:.1f}")
top.legend()
bottom.plot(data.delta_t, result.residuals / data.sigma, "o", ms=3, color="0.3")
bottom.axhline(0, color="0.7")
bottom.set_xlabel("Δt = t_post - t_pre (ms)")
bottom.set_ylabel("residual / sd")
plt.show()
