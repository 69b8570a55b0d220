"""The arithmetic limit of a task family's batch: a tight C loop doing the same arithmetic as the family's
network (the same sizes, input spikes, neuron and synapse updates, events and read-out) with nothing around it,
against the family itself on Brian2 (cpp_standalone, warm build) on the same instances, in one run.

The loop is the best case of the simulation a batch needs, not a second implementation to trust: the candidates'
functions are compiled in (a typical candidate; Brian2 interprets programs from a table), the data layout is
contiguous (synapses grouped by target neuron), it is compiled with Brian2's own standalone flags (gcc -O3
-ffast-math -fno-finite-math-only -march=native), and it runs on one core. The reward loop computes the escape
rate of the eligibility once per neuron (the family's ``rate_per_neuron`` option; per synapse it is 40 times the
exponentials). Its output rates are printed beside the network's, so that the event counts can be compared.

    PYTHONPATH=. nice python benchmarks/arithmetic_limit.py --family reward|correlation [--workers 2]
        [--family-param rate_per_neuron=true]

Prints the family's evaluations/s with ``--workers`` processes (Dask, one generation of the campaign file:
``new_per_generation`` copies of the loop's candidate, after a warm-up generation of distinct random candidates),
the loop's limit for as many cores, and, last, ``ratio: X`` = family rate / limit (the fraction of the arithmetic
limit reached).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plastlab.evolve import campaign  # noqa: E402
from plastlab.evolve.tasks import get_family  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evolve_throughput import distinct_candidates  # noqa: E402

FLAGS = ["-O3", "-ffast-math", "-fno-finite-math-only", "-march=native", "-w"]  # Brian2's standalone defaults

CORRELATION_C = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
/* argv: file of int64 header then arrays; see write_correlation() */
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    long long h[6]; fread(h, sizeof h, 1, f);
    long long C = h[0], M = h[1], n_in = h[2], n_spikes = h[3], train_steps = h[4], test_steps = h[5];
    double q[10]; fread(q, sizeof q, 1, f);
    double dt = q[0], tau_m = q[1], v_th = q[2], w_max = q[3], tau_tr = q[4], lam = q[5], alpha = q[6];
    int delay = (int)q[7], post_delay = (int)q[8], t_ref = (int)q[9];
    long long *step = malloc(n_spikes * 8), *idx = malloc(n_spikes * 8);
    fread(step, 8, n_spikes, f); fread(idx, 8, n_spikes, f);
    double *w0 = malloc(M * 8), *v0 = malloc(M * 8); fread(w0, 8, M, f); fread(v0, 8, M, f); fclose(f);
    long long N = C * M, S = N * n_in;
    double *w = malloc(S * 8), *kp = malloc(S * 8), *km = malloc(S * 8), *last = malloc(S * 8);
    double *v = malloc(N * 8); long long *ref_until = calloc(N, 8), *post_spikes = calloc(N, 8);
    /* post spike queue for the rule (post_delay later): a ring of spiking neurons per step */
    int ring = post_delay + 1; long long *queue = malloc(ring * N * 8); int *qn = calloc(ring, sizeof(int));
    for (long long n = 0; n < N; n++) { v[n] = v0[n % M]; }
    for (long long s = 0; s < S; s++) { w[s] = w0[(s / n_in) % M]; kp[s] = km[s] = 0; last[s] = 0; }
    double decay_m = exp(-dt / tau_m);
    long long k = 0, total_post = 0;
    for (long long t = 0; t < train_steps; t++) {
        double now = t * dt;
        for (long long n = 0; n < N; n++) if (t >= ref_until[n]) v[n] *= decay_m;
        /* presynaptic spikes arriving now (emitted delay steps ago): every candidate's synapse of that input */
        while (k < n_spikes && step[k] + delay <= t) {
            if (step[k] + delay == t) {
                long long inst = idx[k] / n_in, i = idx[k] % n_in;
                for (long long c = 0; c < C; c++) {
                    long long n = c * M + inst, s = n * n_in + i;
                    double gap = now - last[s];
                    kp[s] *= exp(-gap / tau_tr); km[s] *= exp(-gap / tau_tr); last[s] = now;
                    double dep = km[s];                                  /* f_dep(w, k-) = k- */
                    double nw = w[s] - alpha * lam * dep; w[s] = nw > 0 ? nw : 0;
                    kp[s] += 1;
                    if (t >= ref_until[n]) v[n] += w_max * w[s];
                }
            }
            k++;
        }
        /* postsynaptic spikes reaching the rule now */
        int slot = t % ring;
        for (int e = 0; e < qn[slot]; e++) {
            long long n = queue[slot * N + e];
            for (long long s = n * n_in; s < (n + 1) * n_in; s++) {
                double gap = now - last[s];
                kp[s] *= exp(-gap / tau_tr); km[s] *= exp(-gap / tau_tr); last[s] = now;
                double fac = kp[s] - 0.15;                               /* f_fac(w, k+) = k+ - 0.15 */
                double nw = w[s] + lam * fac; w[s] = nw < 1 ? nw : 1;
                km[s] += 1;
            }
        }
        qn[slot] = 0;
        for (long long n = 0; n < N; n++) if (v[n] > v_th) {
            v[n] = 0; ref_until[n] = t + t_ref; post_spikes[n]++; total_post++;
            int at = (t + post_delay) % ring; queue[at * N + qn[at]++] = n;
        }
    }
    /* read-out: frozen weights, the first test_steps of the input replayed, the potential summed every step */
    double sum = 0, sumsq = 0;
    for (long long n = 0; n < N; n++) v[n] = v0[n % M];
    k = 0;
    for (long long t = 0; t < test_steps; t++) {
        for (long long n = 0; n < N; n++) v[n] *= decay_m;
        while (k < n_spikes && step[k] + delay <= t) {
            if (step[k] + delay == t) {
                long long inst = idx[k] / n_in, i = idx[k] % n_in;
                for (long long c = 0; c < C; c++) { long long n = c * M + inst; v[n] += w_max * w[n * n_in + i]; }
            }
            k++;
        }
        for (long long n = 0; n < N; n++) { sum += v[n]; sumsq += v[n] * v[n]; }
    }
    printf("%.6f %lld %.9g\n", (double)total_post / N / (train_steps * dt * 1e-3), total_post, sum + sumsq);
    return 0;
}
"""

REWARD_C = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    long long h[6]; fread(h, sizeof h, 1, f);
    long long C = h[0], M = h[1], n_in = h[2], n_spikes = h[3], n_trials = h[4], per_trial = h[5];
    double q[14]; fread(q, sizeof q, 1, f);
    double dt = q[0], tau_m = q[1], tau_s = q[2], tau_M = q[3], E_L = q[4], R_m = q[5], theta = q[6], rho = q[7],
           delta = q[8], rho_syn = q[9], delta_syn = q[10], K = q[11], eta = q[12]; int t_ref = (int)q[13];
    long long *step = malloc(n_spikes * 8), *idx = malloc(n_spikes * 8);
    fread(step, 8, n_spikes, f); fread(idx, 8, n_spikes, f);
    long long n_syn_inst; fread(&n_syn_inst, 8, 1, f);
    long long *pre_inst = malloc(n_syn_inst * 8), *count = malloc(M * 8);
    double *w_inst = malloc(n_syn_inst * 8);
    fread(pre_inst, 8, n_syn_inst, f); fread(w_inst, 8, n_syn_inst, f); fread(count, 8, M, f);
    long long n_steps = n_trials * per_trial;
    double *noise = malloc((n_steps + 2) * M * 8); fread(noise, 8, (n_steps + 2) * M, f);
    double *label = malloc(n_trials * M * 8); fread(label, 8, n_trials * M, f); fclose(f);
    long long N = C * M, S = C * n_syn_inst, P = M * n_in;
    long long *first = malloc((N + 1) * 8), *pre = malloc(S * 8); double *w = malloc(S * 8), *E = calloc(S, 8);
    long long s = 0; first[0] = 0;
    for (long long c = 0; c < C; c++) { long long off = 0;
        for (long long m = 0; m < M; m++) {
            for (long long j = 0; j < count[m]; j++) { pre[s] = pre_inst[off + j]; w[s] = w_inst[off + j]; s++; }
            off += count[m]; first[c * M + m + 1] = s; } }
    double *x = calloc(P, 8), *sbar = calloc(P, 8), *v = malloc(N * 8), *Isyn = calloc(N, 8), *rate = calloc(N, 8);
    long long *ref_until = calloc(N, 8), *nspk = calloc(N, 8); double total_R = 0; long long spikes = 0;
    for (long long n = 0; n < N; n++) v[n] = E_L;
    double ax = exp(-dt / tau_s), am = exp(-dt / tau_m), cx = tau_s / (tau_s - tau_m) * (ax - am);
    long long k = 0;
    for (long long t = 1; t <= n_steps; t++) {
        while (k < n_spikes && step[k] <= t) { if (step[k] == t) x[idx[k]] += 1; k++; }
        for (long long i = 0; i < P; i++) { double x0 = x[i]; x[i] = x0 * ax; sbar[i] = sbar[i] * am + x0 * cx; }
        for (long long n = 0; n < N; n++) {
            double I = 0; for (long long j = first[n]; j < first[n + 1]; j++) I += w[j] * x[pre[j]];
            Isyn[n] = I;
            if (t >= ref_until[n]) v[n] = E_L + R_m * I + (v[n] - E_L - R_m * I) * am;
            long long m = n % M;
            double hazard = 1 - exp(-rho * exp((v[n] - theta) / delta) * dt);
            int fired = t >= ref_until[n] && noise[t * M + m] < hazard;
            rate[n] = K * rho_syn * exp((v[n] - theta) / delta_syn);             /* once per neuron */
            for (long long j = first[n]; j < first[n + 1]; j++)
                E[j] += dt * (-E[j] / tau_M - rate[n] * sbar[pre[j]]);
            if (fired) { v[n] = E_L; ref_until[n] = t + t_ref; nspk[n]++; spikes++;
                for (long long j = first[n]; j < first[n + 1]; j++) E[j] += K * sbar[pre[j]]; }
        }
        if (t % per_trial == 0) {                                      /* trial end: reward, update, rest */
            long long trial = t / per_trial - 1;
            for (long long n = 0; n < N; n++) {
                double R = ((nspk[n] > 0) == (label[trial * M + n % M] > 0)) ? 1 : -1; total_R += R;
                for (long long j = first[n]; j < first[n + 1]; j++) { w[j] += eta * E[j] * (R - 1); E[j] = 0; }
                nspk[n] = 0; v[n] = E_L; ref_until[n] = 0;
            }
            for (long long i = 0; i < P; i++) x[i] = sbar[i] = 0;
        }
    }
    printf("%.6f %lld %.9g\n", (double)spikes / N / (n_steps * dt * 1e-3), spikes, total_R);
    return 0;
}
"""


def compile_loop(source, directory):
    c_file, binary = Path(directory) / "loop.c", Path(directory) / "loop"
    c_file.write_text(source)
    subprocess.run(["gcc", *FLAGS, str(c_file), "-o", str(binary), "-lm"], check=True)
    return binary


def sorted_spikes(insts, n_inputs):
    """(steps, input indices) of all instances' input spikes, in time order; instance k owns inputs k*n_inputs..."""
    steps = np.concatenate([inst["steps"] for inst in insts])
    idx = np.concatenate([inst["indices"] + k * n_inputs for k, inst in enumerate(insts)])
    order = np.argsort(steps, kind="stable")
    return steps[order].astype(np.int64), idx[order].astype(np.int64)


def write_correlation(path, insts, p, n_candidates):
    steps, idx = sorted_spikes(insts, p["n_inputs"])
    train_steps, test_steps = round(p["train"] * 1000 / p["dt"]), round(p["test"] * 1000 / p["dt"])
    header = np.array([n_candidates, len(insts), p["n_inputs"], len(steps), train_steps, test_steps], np.int64)
    q = np.array([p["dt"], p["tau_m"], p["v_th"], p["w_max"], p["tau_trace"], p["lam"], p["alpha"],
                  round(p["delay"] / p["dt"]), round(p["post_delay"] / p["dt"]), round(p["t_ref"] / p["dt"])])
    w0, v0 = np.array([i["w_init"] for i in insts]), np.array([i["v0_train"] for i in insts])
    with open(path, "wb") as f:
        for a in (header, q, steps, idx, w0, v0):
            f.write(np.ascontiguousarray(a).tobytes())


def write_reward(path, insts, p, n_candidates):
    per_trial = round(p["trial"] / p["dt"])
    steps, idx = sorted_spikes(insts, p["n_inputs"])
    pre, w, count = [], [], []
    for k, inst in enumerate(insts):
        ins = np.nonzero(inst["connected"])[0]
        pre.append(k * p["n_inputs"] + ins)
        w.append(inst["w_init"][ins])
        count.append(len(ins))
    n_steps = p["n_trials"] * per_trial
    noise = np.stack([inst["noise"][:n_steps + 2] for inst in insts], axis=1)
    labels = np.stack([inst["labels"] for inst in insts], axis=1)
    header = np.array([n_candidates, len(insts), p["n_inputs"], len(steps), p["n_trials"], per_trial], np.int64)
    q = np.array([p["dt"], p["tau_m"], p["tau_s"], p["tau_M"], p["E_L"], p["tau_m"] / p["C_m"], p["theta"],
                  p["rho"] * 1e-3, p["delta"], p["rho_syn"] * 1e-3, p["delta_syn"], p["K"], p["eta"],
                  round(p["t_ref"] / p["dt"])])
    with open(path, "wb") as f:
        for a in (header, q, steps, idx, np.array([sum(count)], np.int64),
                  np.concatenate(pre).astype(np.int64), np.concatenate(w), np.array(count, np.int64), noise,
                  labels.astype(float)):
            f.write(np.ascontiguousarray(a).tobytes())


LOOPS = {"correlation": (CORRELATION_C, write_correlation), "reward": (REWARD_C, write_reward)}
# the candidate compiled into each loop; the family is timed on copies of it whose constants differ in the 12th
# digit (distinct programs, the same arithmetic and the same spikes to the printed precision)
CANDIDATE = {"correlation": "trace - 0.15 + {eps}; trace", "reward": "eligibility*(reward - 1) + {eps}*eligibility"}


def copies(family, template, n):
    import sympy as sp

    from plastlab.rules.expressions import parse_expression

    symbols = dict(zip(family.INPUTS, family.symbols()))
    out = []
    for k in range(n):
        parts = [parse_expression(t, symbols, allow_units=False) for t in template.format(eps=k * 1e-12).split(";")]
        out.append(sp.Tuple(*parts) if len(parts) > 1 else parts[0])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="reward", choices=tuple(LOOPS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpp_standalone", choices=("runtime", "cpp_standalone"))
    ap.add_argument("--family-param", action="append", default=[], metavar="KEY=VALUE",
                    help="a [family] setting over the campaign file's, e.g. rate_per_neuron=true (repeatable)")
    args = ap.parse_args(argv)
    spec = campaign.load_campaign(Path(__file__).resolve().parents[1] / "evolve" / f"{args.family}.toml")
    family = get_family(args.family)
    params = dict(spec["family_params"])
    for item in args.family_param:
        key, _, value = item.partition("=")
        params[key] = tomllib.loads(f"v = {value}")["v"]
    p = family.params_with_defaults(params)
    seeds = spec["train_seeds"]
    generation = spec["gp"]["new_per_generation"]
    per_worker = -(-generation // args.workers)
    pool = distinct_candidates(family, spec, generation, args.seed) + copies(family, CANDIDATE[args.family],
                                                                             generation)
    evaluator = campaign.Evaluator(args.family, seeds, p, spec["batch_size"], workers=args.workers,
                                   device=args.device)
    try:
        start = time.perf_counter()
        evaluator(pool[:generation])  # every worker builds (or copies from the disk cache) its network
        print(f"warm-up generation of {generation} candidates: {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        evaluator(pool[generation:])
        seconds = time.perf_counter() - start
    finally:
        evaluator.close()
    rate = generation / seconds
    print(f"{args.family} on {args.device}, {args.workers} workers: {generation} copies of "
          f"'{CANDIDATE[args.family].format(eps='k*1e-12')}' x {len(seeds)} instances in {seconds:.1f} s: "
          f"{rate:.3f} evaluations/s")

    insts = family.instances(p, seeds)
    source, write = LOOPS[args.family]
    with tempfile.TemporaryDirectory() as tmp:
        binary = compile_loop(source, tmp)
        data = os.path.join(tmp, "data.bin")
        write(data, insts, p, per_worker)
        start = time.perf_counter()
        out = subprocess.run([str(binary), data], check=True, capture_output=True, text=True).stdout.split()
        loop_seconds = time.perf_counter() - start
    limit = args.workers * per_worker / loop_seconds
    print(f"tight C loop, one core: {per_worker} candidates (one worker's share) x {len(seeds)} instances in "
          f"{loop_seconds:.2f} s (output {float(out[0]):.1f} Hz per neuron): limit {limit:.3f} evaluations/s on "
          f"{args.workers} cores")
    print(f"ratio: {rate / limit:.2f}")


if __name__ == "__main__":
    main()
