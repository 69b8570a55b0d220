"""Matplotlib figures from result Datasets (which carry their own labels and units).

Figures are plain ``matplotlib.figure.Figure`` objects, not pyplot's: nothing here touches the backend or
pyplot's global figure list, so a user's interactive session keeps its settings.
"""
import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure


def _subplots(*args, figsize, **kwargs):
    """(figure, axes) like ``pyplot.subplots``, without pyplot's global state."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_window(ds, path=None, *, ax=None):
    """Learning window: simulated Δw (markers) and the closed-form curve (line) for each initial weight."""
    fig, ax = (ax.figure, ax) if ax is not None else _subplots(figsize=(6, 4))
    colours = colormaps["viridis_r"]([0.15 + 0.7 * k / max(1, ds.sizes["w0"] - 1) for k in range(ds.sizes["w0"])])
    for colour, w0 in zip(colours, ds.w0.values):
        sim = ds.dw.sel(w0=w0)
        ax.plot(ds.delta_t, sim, ".", ms=3, color=colour, label=f"w0 = {w0:g} (Brian2)")
        if "dw_analytic" in ds:
            ax.plot(ds.delta_t, ds.dw_analytic.sel(w0=w0), "-", lw=1, color=colour, alpha=0.7)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("Δt = t_post − t_pre (ms)")
    ax.set_ylabel(f"Δw ({ds.dw.attrs.get('units', '1')})")
    closed_form = " (lines: closed form)" if "dw_analytic" in ds else ""
    ax.set_title(f"{ds.attrs.get('rule', '')}: pair learning window{closed_form}")
    ax.legend(fontsize=8)
    return _finish(fig, path)


def plot_disinhibitory_curves(ds, path=None):
    """Δw (dw/dt) versus r_E for several r_I, top-down input removed: simulated (markers) and closed form."""
    fig, ax = _subplots(figsize=(6, 4))
    colours = colormaps["viridis_r"]([0.15 + 0.7 * k / max(1, ds.sizes["r_I"] - 1) for k in range(ds.sizes["r_I"])])
    for colour, r_I in zip(colours, ds.r_I.values):
        ax.plot(ds.r_E, ds.dw_dt.sel(r_I=r_I), "o", ms=3, color=colour, label=f"r_I = {r_I:g}")
        ax.plot(ds.r_E, ds.dw_dt_analytic.sel(r_I=r_I), "-", lw=1, color=colour, alpha=0.7)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("r_E (excitatory rate)")
    ax.set_ylabel("dw/dt per unit presynaptic rate (1/s)")
    rule = ds.coords["rule"].item() if "rule" in ds.coords else ds.attrs.get("rule", "")
    ax.set_title(f"{rule}: no top-down input (markers Brian2, lines closed form)", fontsize=9)
    ax.legend(fontsize=8)
    return _finish(fig, path)


def plot_student_teacher(ds, path=None):
    """Online student-teacher: loss over time (log scale) and teacher vs student outputs at start and end."""
    fig, axes = _subplots(1, 2, figsize=(10, 4))
    t = ds.time.values
    window = max(1, len(t) // 200)
    kernel = np.ones(window) / window
    smooth = np.convolve(ds.loss.values, kernel, mode="same")
    axes[0].semilogy(t, smooth, lw=1)
    if "phase" in ds:
        for value, label in ((1, "learning on"), (2, "weights frozen")):
            if (ds.phase.values == value).any():
                axes[0].axvline(t[np.argmax(ds.phase.values == value)], color="grey", ls="--" if value == 1 else ":",
                                lw=0.8, label=label)
        axes[0].legend(fontsize=8)
    axes[0].set_xlabel("time (s)")
    axes[0].set_ylabel("squared error, open loop")
    axes[0].set_title(f"loss reduced by {100 * ds.attrs.get('loss_reduction', np.nan):.1f} % while learning, "
                      f"{100 * ds.attrs.get('loss_reduction_frozen', np.nan):.1f} % with frozen weights", fontsize=9)
    last = (t >= t[-1] - 2.0) if "phase" not in ds else (ds.phase.values == 2)
    for k in range(ds.sizes["output"]):
        axes[1].plot(t[last], ds.y_teacher.values[last, k], "-", lw=1.5, label=f"teacher {k}")
        axes[1].plot(t[last], ds.y_student.values[last, k], "--", lw=1, label=f"student {k} (open loop)")
    axes[1].set_xlabel("time (s)")
    axes[1].set_ylabel("output rate")
    axes[1].set_title("weights frozen after learning" if "phase" in ds else "last 2 s", fontsize=9)
    axes[1].legend(fontsize=7)
    return _finish(fig, path)


def plot_classification(ds, path=None):
    """Validation accuracy per epoch, mean ± sd over seeds: the dis-inhibitory circuit and the same network trained
    by backprop; the title gives the test accuracies (at each seed's best validation epoch)."""
    fig, ax = _subplots(figsize=(6, 4))
    _band(ax, ds.epoch, 100 * ds.accuracy_validation.values, label="dis-inhibitory circuit (validation)")
    title = f"circuit {100 * float(ds.accuracy.mean()):.1f} %"
    if "accuracy_bp_validation" in ds:
        _band(ax, ds.epoch, 100 * ds.accuracy_bp_validation.values, label="backprop, same network (validation)",
              color="k")
        title += f", backprop {100 * float(ds.accuracy_bp.mean()):.1f} %"
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{ds.attrs.get('dataset', '')} {ds.attrs.get('sizes', '')}, {ds.sizes['seed']} seed(s); test: "
                 + title, fontsize=9)
    ax.legend(fontsize=8)
    return _finish(fig, path)


# --- classification and control (plastlab classify / plastlab run) ------------------------------------------

def plot_confusion(ds, path=None):
    """Confusion matrix summed over folds (``confusion`` over fold, true, predicted)."""
    import numpy as np
    conf = ds.confusion.sum("fold").values
    labels = [str(v) for v in ds.true.values]
    fig, ax = _subplots(figsize=(max(3.6, 1.6 + 0.7 * len(labels)), 1.4 + 0.7 * len(labels)))
    im = ax.imshow(conf, cmap="Blues")
    for (i, j), v in np.ndenumerate(conf):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > conf.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    f1 = ds.f1.values
    ax.set_title(f"{ds.attrs.get('rule', '')} on {ds.attrs.get('dataset', '')}\nF1 {f1.mean():.3f} ± {f1.std():.3f}",
                 fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return _finish(fig, path)


def plot_weights(ds, path=None, *, fold=0):
    """Learned weights of one fold: one row per input feature, receptive fields along x, one panel per neuron
    (of the first member only, when the classifier has several)."""
    if "neuron_member" in ds.coords:
        ds = ds.isel(neuron=ds.neuron_member.values == 0)
    w = ds.weights.isel(fold=fold).values
    n_fields = int(ds.attrs.get("n_fields", 0)) or w.shape[0]
    n_feat = max(1, w.shape[0] // n_fields)
    classes = [str(c) for c in ds.neuron_class.values]
    fig, axes = _subplots(1, w.shape[1], figsize=(2.2 * w.shape[1] + 1, 0.25 * n_feat + 1.8), squeeze=False)
    vmax = float(w.max()) if w.size else 1.0
    for k, ax in enumerate(axes[0]):
        im = ax.imshow(w[:, k].reshape(n_feat, -1), aspect="auto", cmap="viridis", vmin=0, vmax=vmax)
        ax.set_title(f"neuron {k} (class {classes[k]})", fontsize=8)
        ax.set_xlabel("receptive field")
        if k == 0:
            ax.set_ylabel("feature")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label=f"w ({ds.weights.attrs.get('units', '1')})")
    fig.suptitle(f"{ds.attrs.get('rule', '')}: learned weights, fold {fold}", fontsize=9)
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def plot_learning_curve(ds, path=None, *, window=100):
    """Episode length over episodes with a running mean of ``window`` episodes."""
    import numpy as np
    lengths = ds.episode_length.values.astype(float)
    fig, ax = _subplots(figsize=(6, 3.2))
    ax.plot(ds.episode.values, lengths, lw=0.6, alpha=0.5, label="episode")
    if len(lengths) >= 1:
        k = min(window, len(lengths))
        run = np.convolve(lengths, np.ones(k) / k, mode="valid")
        ax.plot(ds.episode.values[k - 1:], run, lw=2, label=f"mean of last {k}")
    ax.axhline(195, color="k", ls="--", lw=0.8, label="195")
    ax.set_xlabel("episode")
    ax.set_ylabel("episode length (steps)")
    ax.set_title(f"CartPole with {ds.attrs.get('rule', '')} (seed {ds.attrs.get('seed', '')})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return _finish(fig, path)


def _band(ax, x, values, label=None, color=None):
    """Mean over seeds as a line, ± 1 sd as a band (a single seed is just its line)."""
    values = np.atleast_2d(values)
    mean = values.mean(axis=0)
    line, = ax.plot(x, mean, lw=1, label=label, color=color)
    if values.shape[0] > 1:
        sd = values.std(axis=0, ddof=1)
        ax.fill_between(x, np.maximum(mean - sd, mean.min() * 0.5 if mean.min() > 0 else 0), mean + sd,
                        color=line.get_color(), alpha=0.25, lw=0)
    return line


def plot_learning_curves(ds, path=None):
    """Running reward (EMA 0.05) over episodes, one line per seed, with the solved threshold."""
    fig, ax = _subplots(figsize=(6, 3.2))
    for seed in ds.seed.values:
        ax.plot(ds.episode.values, ds.running_reward.sel(seed=seed).values, lw=1, label=f"seed {seed}")
    threshold = ds.attrs.get("solved_threshold")
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"{threshold}")
    ax.set_xlabel("episode")
    ax.set_ylabel("running reward (EMA 0.05)")
    ax.set_title(f"CartPole with {ds.attrs.get('rule', '')}: {ds.sizes['seed']} seeds", fontsize=9)
    ax.legend(fontsize=6, loc="lower right", ncol=2)
    return _finish(fig, path)


def plot_loss(ds, path=None):
    """Loss per trial, mean ± sd over seeds (one line and band per feedback kind where there are several)."""
    fig, ax = _subplots(figsize=(6, 3.5))
    n_seeds = ds.sizes.get("seed", 1)
    if "feedback" in ds.loss.dims:
        for kind in ds.feedback.values:
            _band(ax, ds.trial, ds.loss.sel(feedback=kind).values.reshape(-1, ds.sizes["trial"]), label=str(kind))
        ax.legend(title="feedback")
    else:
        _band(ax, ds.trial, ds.loss.values.reshape(-1, ds.sizes["trial"]))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"loss ({ds.loss.attrs.get('units', '')})")
    ax.set_yscale("log")
    ax.set_title(f"{ds.attrs.get('task', '')}: loss per trial, mean ± sd over {n_seeds} seed(s)")
    return _finish(fig, path)


def plot_spike_raster(ds, path=None):
    """Output spikes in the first and the last trial against the target spike times (first seed's copy of
    every feedback kind)."""
    if "seed" in ds.dims:
        ds = ds.isel(seed=0)
    rows = list(ds.feedback.values) if "feedback" in ds.dims else [None]
    fig, ax = _subplots(figsize=(7, 1 + 0.9 * len(rows)))
    for k, kind in enumerate(rows):
        def pick(v, kind=kind):
            return v.sel(feedback=kind) if kind is not None else v

        label = "" if kind is None else f"{kind}: "
        ax.plot(pick(ds.output_times_first), np.full(ds.sizes["spike"], 3 * k + 2), "|", ms=12, color="grey",
                label="first trial" if k == 0 else None)
        ax.plot(pick(ds.output_times_last), np.full(ds.sizes["spike"], 3 * k + 1), "|", ms=12, color="C0",
                label="last trial" if k == 0 else None)
        ax.text(0, 3 * k + 1.5, label, fontsize=8, ha="right", va="center")
    for t in ds.target_times.values:
        ax.axvline(t, color="C3", lw=0.8, alpha=0.6)
    ax.set_yticks([])
    ax.set_xlabel("time in trial (ms); red: target spikes")
    ax.legend(fontsize=8, loc="upper right")
    return _finish(fig, path)


def plot_fitness(ds, path=None, *, baselines=None, ax=None):
    """Evolution campaign: best and mean fitness over generations, hand-designed baselines as lines."""
    fig, ax = (ax.figure, ax) if ax is not None else _subplots(figsize=(6, 4))
    gen = ds["generation"].values
    ax.plot(gen, ds["best_fitness"].values, "o-", label="best")
    ax.plot(gen, ds["mean_fitness"].values, ".--", alpha=0.7, label="population mean (finite)")
    for k, (name, value) in enumerate(sorted((baselines or {}).items())):
        ax.axhline(value, color=f"C{k + 2}", lw=1, ls=":", label=f"{name} (training)")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness")
    best = ds["best_fitness"].values
    if np.isfinite(best).any():
        values = [v for v in list(best) + list((baselines or {}).values()) if np.isfinite(v)]
        lo, hi = min(values), max(values)
        pad = 0.05 * (hi - lo or 1.0)
        ax.set_ylim(lo - pad, hi + pad)
    import textwrap

    title = f"{ds.attrs.get('campaign', '')}: champion {ds.attrs.get('champion_readable', '')}"
    ax.set_title(textwrap.fill(title, 80), fontsize=8)
    ax.legend(fontsize=8)
    return _finish(fig, path)


def plot_protocol(ds, path=None, data=None):
    """A protocol Dataset (plastlab.brian.protocols): frequency curves (with measured points for Δt = ±10 ms,
    ``data`` rows (rho Hz, Δt ms, Δw/w, SEM) such as ``datasets.sjostrom2001()``), triplets, quadruplets, weight
    dependence or the rate curve; closed forms as dashed lines."""
    fig, ax = _subplots(figsize=(6, 4))
    protocol = ds.attrs.get("protocol")
    if protocol == "rates":
        for pre in ds.pre_rate.values:
            row = ds.sel(pre_rate=pre)
            ax.errorbar(ds.post_rate, row.dw_dt, yerr=row.dw_dt_sem, marker="o", capsize=3, label=f"pre {pre:g} Hz")
            if "dw_dt_closed_form" in ds:
                ax.plot(ds.post_rate, row.dw_dt_closed_form, "k--", lw=1)
        ax.set_xlabel("postsynaptic rate (Hz)")
        ax.set_ylabel("mean dw/dt (1/s)")
    else:
        dw = ds.dw.isel(w0=0)
        x = {"frequency": "rho", "quadruplet": "T", "weight": "w0"}.get(protocol)
        if protocol == "frequency":
            for d in ds.delta_t.values:
                ax.plot(ds.rho, dw.sel(delta_t=d), marker="o", label=f"model, Δt = {d:+g} ms")
            for d, colour in ((10, "C0"), (-10, "C1")) if data is not None else ():
                rows = data[data[:, 1] == d]
                ax.errorbar(rows[:, 0], rows[:, 2], yerr=rows[:, 3], fmt="s", color=colour, mfc="none",
                            capsize=3, label=f"Sjöström 2001, Δt = {d:+d} ms")
            ax.set_xlabel("pairing frequency ρ (Hz)")
        elif protocol == "weight":
            for d in ds.delta_t.values:
                ax.plot(ds.w0, ds.dw.sel(delta_t=d), marker="o", label=f"Δt = {d:+g} ms")
            ax.set_xlabel("initial weight w0")
        elif protocol == "triplet":
            labels = [f"{p[:4]}{a:+g},{b:+g}" for p, a, b in zip(ds.pattern.values, ds.delta_t1.values,
                                                                 ds.delta_t2.values)]
            ax.bar(range(len(labels)), dw.values)
            ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        else:
            ax.plot(ds[x], dw, marker="o", label="model")
            ax.set_xlabel(f"{x} (ms)")
        ax.set_ylabel("Δw")
        ax.axhline(0, color="0.6", lw=0.8)
    ax.set_title(f"{ds.attrs.get('rule', '')}: {protocol}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return _finish(fig, path)
