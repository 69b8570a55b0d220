"""Independent check of the correlation family: the authors' NEST protocol re-simulated event by event.

Re-implements, without Brian2 and without plastlab's network code, what the authors' NEST scripts compute
(e2l-cgp-snn ``experiments/correlation_based``): an ``iaf_psc_delta`` neuron on NEST's 0.1 ms grid (rest and
reset 0, threshold 20 mV, tau_m 18 ms, 2 ms refractoriness during which input is lost), input through a
spike generator, a parrot neuron and a 1 ms synapse (arrival 2 ms after the input time, repeated spike times
with multiplicity), and the synapses of their modules as NEST runs them: a presynaptic spike emitted at e first
applies the facilitation of every postsynaptic spike s with t_last - d < s <= e - d (k+ from the presynaptic
spikes before it, evaluated at s + d), then (``stdp_sympy_synapse``) the depression with k- of the postsynaptic
spikes strictly before e - d, then transmits the weight; weights are read after ``Simulate`` as NEST stores them
(post spikes after an input's last spike not applied). The read-out is their static re-simulation with
V_th = 20000 mV and their SNR (``compute_SNR`` for Fig. 5D and the validation of evolved rules, ``main.py``'s
``simulate`` for the evolution's fitness). Inputs are the family's ``instance_draw = "authors"`` trials (their
own generator calls), so this checks the network, the plasticity and the read-out, not the input draw.

    PYTHONPATH=. python benchmarks/correlation_reference.py fig5d [--trials 0:20]       # ~2 min
    PYTHONPATH=. python benchmarks/correlation_reference.py champions                   # ~4 min
    PYTHONPATH=. python benchmarks/correlation_reference.py validation --rule run9      # ~2 min
"""
import argparse
import time

import numpy as np
from scipy.signal import lfilter
from tqdm import tqdm

from plastlab.evolve.tasks import correlation
from plastlab.evolve.tasks.correlation import _authors_trial

H = 0.1  # ms, NEST's default resolution (their scripts never change it)
ARRIVAL = 20  # steps: spike generator -> parrot (1 ms) -> neuron (1 ms)
DELAY = 10  # steps: the plastic synapse's (dendritic) delay
LAM, W_OUT = 0.01, -0.0015


def _facilitate_clipped(norm):
    return np.where(norm < 1.0, norm, 1.0)  # stdp_sympy_synapse: NaN and anything >= 1 give W_max


def _depress_clipped(norm):
    return np.where(norm > 0.0, norm, 0.0)  # NaN and anything <= 0 give 0


# (facilitation at post spikes, depression at pre spikes or None): the homeostatic synapse and the authors'
# published champions (champion_N.txt: x_0 = w, x_1 = the trace), with their synapses' clipping
RULES = {
    "homeostatic": (lambda w, k: np.clip(w + LAM * k + W_OUT, 0.0, 1.0), None),
    "run9": (lambda w, k: _facilitate_clipped(w + LAM * (k - w)),
             lambda w, k: _depress_clipped(w - LAM * (w * k - w - k))),
    "run18": (lambda w, k: _facilitate_clipped(w + LAM * ((w * k) ** w - 1.0)),
              lambda w, k: _depress_clipped(w - LAM * (-w + k / w))),
    "run0": (lambda w, k: _facilitate_clipped(w + LAM * (-w + k ** 2 - 1.0)),
             lambda w, k: _depress_clipped(w - LAM * (-w + 2.0 * k))),
    "run3": (lambda w, k: _facilitate_clipped(w + LAM * (-w + k ** 2)),
             lambda w, k: _depress_clipped(w - LAM * (-w + 0.1))),
}
CHAMPION_FITNESS = {"run9": 10.986599805733952, "run18": 20.88406638496028, "run0": 11.208253361051865,
                    "run3": 13.883343661060314}  # the authors' champion files (min SNR over their 8 trials)


def train(times, idx, duration_ms, w0, rule, v0, n_in=1000, tau_m=18.0, theta=20.0, t_ref_steps=20, tau_trace=20.0):
    """Final weights (as NEST stores them) and postsynaptic spike steps of one training run."""
    facilitate, depress = rule
    steps = np.rint(times / H).astype(np.int64) + ARRIVAL
    keep = steps <= int(round(duration_ms / H))
    pairs, mult = np.unique(np.stack([steps[keep], idx[keep]]), axis=1, return_counts=True)
    arrival, syn = pairs
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(arrival)) + 1, [arrival.size]])
    w = np.full(n_in, float(w0))
    stored = w.copy()  # NEST's weight_: updated only when the synapse transmits
    kplus, last_pre = np.zeros(n_in), np.full(n_in, -10 ** 9, dtype=np.int64)
    post, post_kminus, applied = [], [], 0
    v, v_step, refractory_until = v0, 0, -1
    decay = np.exp(-H / tau_m)
    with np.errstate(all="ignore"):
        for g in range(bounds.size - 1):
            a = arrival[bounds[g]]
            # facilitation of post spikes s with s + 2d <= a (pre emission e = a - d >= s + d), in order
            while applied < len(post) and post[applied] + 2 * DELAY <= a:
                at = post[applied] + 2 * DELAY
                w = facilitate(w, kplus * np.exp(-(at - last_pre) * H / tau_trace))
                applied += 1
            j, m = syn[bounds[g]:bounds[g + 1]], mult[bounds[g]:bounds[g + 1]]
            if depress is not None:
                w[j] = depress(w[j], _kminus(post, post_kminus, a - 2 * DELAY, tau_trace))
            stored[j] = w[j]
            if a > refractory_until:
                v = v * decay ** (a - v_step) + float(np.dot(w[j], m))
                v_step = a
                if v >= theta:
                    post_kminus.append(_kminus(post, post_kminus, a, tau_trace, strict=False) + 1.0)
                    post.append(a)
                    v, refractory_until = 0.0, a + t_ref_steps
            kplus[j] = kplus[j] * np.exp(-(a - last_pre[j]) * H / tau_trace) + 1.0
            last_pre[j] = a
    return stored, np.asarray(post)


def _kminus(post, post_kminus, at, tau, strict=True):
    """The postsynaptic trace at step ``at`` from the post spikes before it (NEST's get_K_value: strictly)."""
    for s, k in zip(reversed(post), reversed(post_kminus)):
        if s < at or (not strict and s <= at):
            return k * np.exp(-(at - s) * H / tau)
    return 0.0


def readout_snr(times, idx, w, v0, duration_ms, first_window):
    """The static re-simulation (threshold out of reach) sampled every 0.1 ms, and the SNR over windows
    [first_window + 500 k, + 100 ms)."""
    steps = np.rint(times / H).astype(np.int64) + ARRIVAL
    n = int(round(duration_ms / H))
    keep = steps <= n
    drive = np.bincount(steps[keep], weights=w[idx[keep]], minlength=n + 1)[1:n + 1]
    decay = np.exp(-H / 18.0)
    v, _ = lfilter([1.0], [1.0, -decay], drive, zi=[decay * v0])
    t = np.arange(1, n + 1) * H
    window = np.zeros(t.size, dtype=int)
    for k, onset in enumerate(np.arange(first_window, duration_ms, 500.0)):
        window[(t >= onset - 1e-9) & (t < onset + 100.0 - 1e-9)] = k + 1
    between = v[window == 0]
    peaks = np.array([v[window == k].max() for k in range(1, window.max() + 1)])
    return float(np.mean((peaks - between.mean()) / between.std()))


def trials(stream, count, train_s):
    p = correlation.params_with_defaults({"instance_draw": "authors", "train": train_s})
    rng = np.random.RandomState(stream)
    return [_authors_trial(p, rng) for _ in range(count)]


def v0_of(seed):
    return float(np.random.RandomState(seed).normal(0.0, 10.0, 1)[0])


def fig5d(selected, rule="homeostatic", stream=11214247, train_s=200.0, readout_ms=11000.0):
    """generate_figure_data.py, panel D: w0 = 0.5, training V0 from RandomState(17893), read-out from
    RandomState(trial), compute_SNR's windows [400 + 500 k, 500 + 500 k)."""
    inputs = trials(stream, max(selected) + 1, train_s)
    out = []
    for k in tqdm(selected, desc=f"{rule} stream {stream}", leave=False):
        times, idx, _ = inputs[k]
        w, _ = train(times, idx, train_s * 1000.0, 0.5, RULES[rule], v0_of(17893))
        out.append(readout_snr(times, idx, w, v0_of(k), readout_ms, 400.0))
    return np.array(out)


def evolution_fitness(rule):
    """main.py: the 8 trials of stream 11214247, 100 s, w0 the k-th N(0.3846, 0.1) of RandomState(11214235),
    V0 = RandomState(17893) for training and read-out, 11 s read-out, windows from 400.1 ms."""
    w_mean = 20.0 / (3000.0 - 2.0 * np.sqrt(3000.0)) / 0.018
    weights = np.random.RandomState(11214124 + 111)
    w0 = [weights.normal(loc=w_mean, scale=0.1) for _ in range(8)]
    out = []
    for k, (times, idx, _) in enumerate(tqdm(trials(11214247, 8, 100.0), desc=rule, leave=False)):
        w, _ = train(times, idx, 100000.0, w0[k], RULES[rule], v0_of(17893))
        out.append(readout_snr(times, idx, w, v0_of(17893), 11000.0, 400.1))
    return np.array(out)


def summary(values):
    return (f"mean {values.mean():.2f} +- {values.std(ddof=1):.2f} (sd, n = {values.size}), min {values.min():.2f} | "
            + " ".join(f"{v:.2f}" for v in values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("fig5d", "champions", "validation"))
    parser.add_argument("--trials", default="0:20", metavar="FIRST:COUNT")
    parser.add_argument("--rule", default="run9", choices=sorted(RULES))
    args = parser.parse_args()
    first, _, count = args.trials.partition(":")
    selected = list(range(int(first), int(first) + int(count)))
    start = time.perf_counter()
    if args.what == "fig5d":
        print("Fig. 5D, homeostatic STDP (paper: 18.36 +- 5.67, n = 20, min 0.68):", summary(fig5d(selected)))
    elif args.what == "validation":
        # generate_figure_data.py: stream base_rng + 1999, 100 s, w0 = 0.5, 31 s read-out
        paper = {"run9": "14.93 +- 7.05", "run18": "23.55 +- 12.17 (min 0.92)"}.get(args.rule, "not reported")
        values = fig5d(selected, args.rule, stream=11216123, train_s=100.0, readout_ms=31000.0)
        print(f"validation of {args.rule} (paper: {paper}):", summary(values))
    else:
        for rule, theirs in CHAMPION_FITNESS.items():
            values = evolution_fitness(rule)
            print(f"{rule}: min {values.min():.4f} (authors' champion file {theirs:.4f}) | "
                  + " ".join(f"{v:.2f}" for v in values))
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
