"""Matplotlib figures from result Datasets (which carry their own labels and units)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def plot_window(ds, path=None, *, ax=None):
    """Learning window: simulated Δw (markers) and the closed-form curve (line) for each initial weight."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    colours = plt.cm.viridis_r([0.15 + 0.7 * k / max(1, ds.sizes["w0"] - 1) for k in range(ds.sizes["w0"])])
    for colour, w0 in zip(colours, ds.w0.values):
        sim = ds.dw.sel(w0=w0)
        ax.plot(ds.delta_t, sim, ".", ms=3, color=colour, label=f"w0 = {w0:g} (Brian2)")
        if "dw_analytic" in ds:
            ax.plot(ds.delta_t, ds.dw_analytic.sel(w0=w0), "-", lw=1, color=colour, alpha=0.7)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("Δt = t_post − t_pre (ms)")
    ax.set_ylabel(f"Δw ({ds.dw.attrs.get('units', '1')})")
    ax.set_title(f"{ds.attrs.get('rule', '')}: pair learning window" + (" (lines: closed form)" if "dw_analytic" in ds else ""))
    ax.legend(fontsize=8)
    return _finish(fig, path)
