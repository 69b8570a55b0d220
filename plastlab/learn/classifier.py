"""A scikit-learn classifier made of one plastic layer of LIF neurons trained with any plastlab rule.

Network (Sboev et al. 2021): receptive-field latency-encoded inputs -> all-to-all plastic synapses (the
rule) -> LIF output neurons, ``neurons_per_class`` per class, with static lateral inhibition between
classes. While a training pattern is presented, a teacher current drives the neurons of the correct class
shortly after the pattern's earliest input spike, so they fire after the informative inputs and the rule
potentiates those. At test time a second, static copy of the synapses carries the learned weights
(plasticity off) and the teacher stays silent; the class whose neuron fires first wins (``decoding=
"first_spike"``) or the one with the most spikes (``decoding="count"``).

The Brian2 network is built once per ``fit`` and reused: every epoch (and every ``predict``) is a single
``Network.run`` over all its patterns, presented one after another in slots of ``t_encode + t_gap`` ms.
At the start of each slot the output neurons and the rule's own synaptic state (traces, last-spike
times: everything but ``w``) are reset, so patterns do not interact. Objects have fixed names, so a second ``fit`` (another fold)
reuses the compiled code.
"""

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .encoding import GaussianRFEncoder, PoissonRateEncoder
from ..brian.codegen import synapses
from ..errors import PlastlabError, RuleError
from ..rules.rule import Rule

NEURON_MODEL = """
dv/dt = int(t - t_last >= t_ref) * (I - v + teach_amp * int(t < teach_until) - suppress_amp * int(t < suppress_until)) / tau_m : 1
t_last : second
dI/dt = -I / tau_syn : 1
teach_until : second
suppress_until : second
teach_amp : 1
suppress_amp : 1
"""
# Post-synaptic variables a rule may read from the output neurons ([inputs] source = "post").
POST_VARIABLES = {"v": "1", "I": "1"}


def resolve_rule(rule):
    """A Rule from a name, a path or a Rule; RuleError (one line) when it cannot be found or parsed."""
    if isinstance(rule, str):
        from ..rules.files import load_rule

        return load_rule(rule)
    if isinstance(rule, Rule):
        return rule
    raise RuleError(f"expected a rule name, a rule file or a Rule, got {type(rule).__name__}")


def check_drivable(rule, provides=POST_VARIABLES, modulators=()):
    """Refuse a rule whose inputs this network does not provide (before anything is simulated)."""
    for name, inp in getattr(rule, "inputs", {}).items():
        source = getattr(inp, "source", None)
        if source == "modulator" and name not in modulators:
            raise RuleError(
                f"rule '{rule.name}' needs a third factor '{name}' (source = \"modulator\") that this network "
                "does not provide; use a two-factor rule (e.g. stdp_additive, nc_memristor, ppx_memristor)"
            )
        if source == "post":
            var = getattr(inp, "variable", None) or name
            if var not in provides:
                raise RuleError(
                    f"rule '{rule.name}' reads the postsynaptic variable '{var}' (input '{name}'), which the "
                    f"output neurons do not have (they provide: {', '.join(sorted(provides))})"
                )


def _as_float(value):
    """A bound (number, Brian2 quantity or string like 'inf') as a float in the weight's own unit."""
    try:
        import brian2

        if isinstance(value, brian2.Quantity):
            return float(np.asarray(value / brian2.get_unit(value.dim)))
    except Exception:  # pragma: no cover - brian2 is a hard dependency
        pass
    return float(value)


def weight_bounds(rule):
    """(w_min, w_max) as floats in the weight unit; an infinite max becomes 1 for scaling purposes."""
    lo = _as_float(getattr(rule, "w_min", 0.0))
    hi = _as_float(getattr(rule, "w_max", 1.0))
    if not np.isfinite(lo):
        lo = 0.0
    if not np.isfinite(hi) or hi <= lo:
        hi = lo + 1.0
    return lo, hi


def weight_unit_expr(rule):
    """The weight's unit as Brian2 text ('1' when dimensionless)."""
    unit = getattr(getattr(rule, "weight", None), "unit", "1")
    return str(unit) if str(unit).strip() else "1"


def transmit_statement(rule, gain):
    """``I_post += gain * (w - w_min) / (w_max - w_min)``: rules with any weight scale drive alike.

    Returns the statement and its namespace; the numbers live in the namespace, not in the code, so
    another gain or data set reuses the compiled code.
    """
    lo, hi = weight_bounds(rule)
    unit = weight_unit_expr(rule)
    w = "w" if unit in ("1", "") else f"(w / ({unit}))"
    return (f"I_post += transmit_gain * ({w} - transmit_w_min)",
            {"transmit_gain": gain / (hi - lo), "transmit_w_min": lo})


def build_layer(rule, n_in, n_out, *, tau_m, tau_syn, t_ref, v_th, gain, inhibition, group_of, dt, prefix):
    """The shared network skeleton: inputs, plastic + static synapses, outputs, inhibition, monitors.

    Returns a dict of Brian2 objects (not yet in a Network). ``group_of[k]`` is the class (or action)
    of output neuron k; inhibition acts between neurons of different groups.
    """
    import brian2 as b2
    from brian2 import ms

    ns = {"tau_m": tau_m * ms, "tau_syn": tau_syn * ms, "v_th": v_th}
    out = b2.NeuronGroup(
        n_out, NEURON_MODEL, threshold="v > v_th and t - t_last >= t_ref", reset="v = 0\nt_last = t",
        method="euler", namespace=dict(ns, t_ref=t_ref * ms), dt=dt * ms, name=f"{prefix}_out",
    )
    out.t_last = -1e4 * b2.second
    out.teach_until = -1 * b2.second
    out.suppress_until = -1 * b2.second
    inp = b2.SpikeGeneratorGroup(n_in, np.array([], dtype=int), np.array([]) * ms, dt=dt * ms, name=f"{prefix}_in")
    transmit, transmit_ns = transmit_statement(rule, gain)
    try:
        plastic = synapses(rule, inp, out, transmit=transmit, namespace=transmit_ns, dt=dt * ms,
                                name=f"{prefix}_plastic")
    except PlastlabError:
        raise
    except Exception as exc:  # Brian2 refusing the compiled rule: name the rule, keep it one line
        raise RuleError(f"rule '{rule.name}' cannot drive this network: {str(exc).splitlines()[0]}") from exc
    plastic.connect()
    state = synapse_state_names(plastic)
    # the static copy holds weights as fractions of the rule's range
    static = b2.Synapses(inp, out, "w : 1", on_pre="I_post += transmit_gain * w", dt=dt * ms,
                         namespace={"transmit_gain": gain}, name=f"{prefix}_static")
    static.connect()
    static.active = False
    group_of = np.asarray(group_of)
    pre_i, post_j = np.nonzero(group_of[:, None] != group_of[None, :])
    inhib = b2.Synapses(out, out, on_pre="v_post -= inhibition", namespace={"inhibition": float(inhibition)},
                        dt=dt * ms, name=f"{prefix}_inhib")
    if len(pre_i):
        inhib.connect(i=pre_i, j=post_j)
    else:
        inhib.connect(False)
    mon = b2.SpikeMonitor(out, name=f"{prefix}_outmon")
    transmit = transmit.replace("transmit_gain", repr(transmit_ns["transmit_gain"])).replace(
        "transmit_w_min", repr(transmit_ns["transmit_w_min"]))  # as recorded in the results' attrs
    return dict(out=out, inp=inp, plastic=plastic, static=static, inhib=inhib, mon=mon, transmit=transmit,
                state=state)


def synapse_state_names(syn):
    """The rule's own per-synapse state (traces, last-spike times, ...): everything but the weight."""
    skip = {"w", "lastupdate", "i", "j", "N", "N_incoming", "N_outgoing", "delay"}
    return [k for k, v in syn.variables.items()
            if not k.startswith("_") and getattr(getattr(v, "owner", None), "name", None) == syn.name and k not in skip
            and not getattr(v, "read_only", False) and not getattr(v, "constant", False)
            and hasattr(v, "get_value")]


def reset_statement(names):
    """Brian2 code setting each variable back to 0 (``x = 0*x`` keeps its unit)."""
    return "\n".join(f"{n} = 0*{n}" for n in names)


def init_weights(rule, plastic, static, w_init, w_spread, rng):
    """Weights start at ``w_init`` (a fraction of the weight range) plus uniform noise of ``w_spread``."""
    lo, hi = weight_bounds(rule)
    n = len(plastic)
    frac = np.clip(w_init + w_spread * (rng.random_sample(n) - 0.5), 0.0, 1.0)
    values = lo + (hi - lo) * frac
    set_weights(rule, plastic, values)
    static.w = frac


def get_weights(rule, plastic):
    """Plastic weights as floats in the weight's unit."""
    import brian2 as b2

    w = plastic.w[:]
    if isinstance(w, b2.Quantity):
        unit = b2.get_unit(w.dim)
        return np.asarray(w / unit, dtype=float)
    return np.asarray(w, dtype=float)


def set_weights(rule, plastic, values):
    import brian2 as b2

    unit = weight_unit_expr(rule)
    if unit in ("1", ""):
        plastic.w = values
    else:
        plastic.w = values * b2.get_unit(plastic.variables["w"].dim)


class SpikingClassifier(ClassifierMixin, BaseEstimator):
    """Spiking classifier trained with a plasticity rule from ``rules/`` (or any rule file).

    Parameters (times in ms, voltages/currents in units of the threshold scale)
    ----------
    rule : str or Rule
        Rule name (``rules/NAME.toml``), path to a rule file, or a loaded Rule.
    encoding : {"latency", "poisson"}
        Gaussian receptive-field latency code (one spike per field) or Poisson rate code.
    n_fields, sigma, t_encode, drop_late, scaling
        Encoder settings (see :class:`plastlab.learn.encoding.GaussianRFEncoder`); ``t_encode`` is the window;
        ``scaling="quantile"`` spreads skewed features (e.g. breast cancer's) over all fields.
    max_rate : float
        Peak rate (Hz) for ``encoding="poisson"``.
    epochs : int
        Passes over the training set (shuffled each epoch).
    neurons_per_class : int
        Output neurons per class.
    w_init, w_spread : float
        Initial weights as a fraction of the rule's weight range, plus uniform noise of width ``w_spread``.
    gain : float
        Synaptic current jump for a full-scale weight, times the number of features (the jump per
        synapse is ``gain / n_features``, so the drive per pattern does not grow with the dimension).
    tau_m, tau_syn, t_ref, v_th : float
        LIF membrane and synaptic time constants, refractory period, threshold (rest and reset at 0).
    teacher_amp, teacher_delay, teacher_duration : float
        Teacher current (in threshold units of drive) injected into the correct class's neurons from
        ``teacher_delay`` ms after the pattern's earliest input spike, for ``teacher_duration`` ms.
    suppress : float
        During training, an inhibitory current of this size holds the other classes' neurons down for
        the whole encoding window (0: off), so that only the taught class's synapses change.
    anti_teach : bool
        Instead of holding the other classes' neurons down, drive them with the teacher current from the
        start of the slot, so they fire before the pattern's inputs and the rule depresses (post before
        pre) their synapses from this pattern: an inverted teacher.
    inhibition : float
        Lateral inhibition: drop of the membrane potential of the other classes' neurons per spike.
    decoding : {"first_spike", "count"}
    t_gap : float
        Silence between patterns (lets traces and pairings fade out).
    dt : float
        Simulation time step.
    normalize : bool
        After each epoch, rescale each output neuron's weights to a common mean (synaptic scaling), so
        that no class wins only because its neuron collected more total weight.
    random_state : int, RandomState or None
    progress : bool
        Show a tqdm bar over epochs.
    """

    def __init__(
        self, rule="nc_memristor", encoding="latency", n_fields=8, sigma=None, t_encode=25.0, drop_late=0.95,
        scaling="minmax", max_rate=200.0, epochs=5, neurons_per_class=1, w_init=0.05, w_spread=0.1, gain=60.0, tau_m=6.0,
        tau_syn=5.0, t_ref=30.0, v_th=8.0, teacher_amp=30.0, teacher_delay=5.0, teacher_duration=5.0,
        suppress=100.0, anti_teach=False, inhibition=5.0, decoding="first_spike", t_gap=10.0, dt=0.5, normalize=False,
        random_state=None, progress=False,
    ):
        self.rule = rule
        self.encoding = encoding
        self.n_fields = n_fields
        self.sigma = sigma
        self.t_encode = t_encode
        self.drop_late = drop_late
        self.scaling = scaling
        self.max_rate = max_rate
        self.epochs = epochs
        self.neurons_per_class = neurons_per_class
        self.w_init = w_init
        self.w_spread = w_spread
        self.gain = gain
        self.tau_m = tau_m
        self.tau_syn = tau_syn
        self.t_ref = t_ref
        self.v_th = v_th
        self.teacher_amp = teacher_amp
        self.teacher_delay = teacher_delay
        self.teacher_duration = teacher_duration
        self.suppress = suppress
        self.anti_teach = anti_teach
        self.inhibition = inhibition
        self.decoding = decoding
        self.t_gap = t_gap
        self.dt = dt
        self.normalize = normalize
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        if self.encoding not in ("latency", "poisson"):
            raise ValueError(f"encoding must be 'latency' or 'poisson', got {self.encoding!r}")
        if self.decoding not in ("first_spike", "count"):
            raise ValueError(f"decoding must be 'first_spike' or 'count', got {self.decoding!r}")
        for name in ("epochs", "neurons_per_class"):
            v = getattr(self, name)
            if int(v) != v or v < (0 if name == "epochs" else 1):
                raise ValueError(f"{name} must be a non-negative integer (>= 1 for neurons_per_class), got {v!r}")
        for name in ("t_encode", "tau_m", "tau_syn", "v_th", "dt"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.t_gap < 0 or self.t_ref < 0:
            raise ValueError("t_gap and t_ref must be >= 0")
        steps = (self.t_encode + self.t_gap) / self.dt
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"t_encode + t_gap ({self.t_encode + self.t_gap} ms) must be a whole number of dt "
                             f"({self.dt} ms)")

    def _encoder(self, rng):
        if self.encoding == "latency":
            return GaussianRFEncoder(self.n_fields, self.sigma, self.t_encode, self.drop_late, scaling=self.scaling)
        return PoissonRateEncoder(self.n_fields, self.sigma, self.max_rate, self.t_encode,
                                  random_state=rng.randint(2**31 - 1), scaling=self.scaling)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to train, got {len(self.classes_)}")
        rule = resolve_rule(self.rule)
        check_drivable(rule)
        self.rule_ = rule
        rng = check_random_state(self.random_state)
        seed = rng.randint(2**31 - 1)

        import brian2 as b2
        from brian2 import ms

        self.encoder_ = self._encoder(rng).fit(X)
        n_in = self.encoder_.n_outputs_
        npc = int(self.neurons_per_class)
        n_out = len(self.classes_) * npc
        self.group_of_ = np.repeat(np.arange(len(self.classes_)), npc)
        self.slot_ = float(self.t_encode + self.t_gap)
        b2.seed(seed)
        parts = build_layer(
            rule, n_in, n_out, tau_m=self.tau_m, tau_syn=self.tau_syn, t_ref=self.t_ref, v_th=self.v_th,
            gain=self.gain / X.shape[1], inhibition=self.inhibition, group_of=self.group_of_, dt=self.dt, prefix="plc",
        )
        init_weights(rule, parts["plastic"], parts["static"], self.w_init, self.w_spread, rng)
        # teacher sources 0..n_out-1 switch the teacher current of neuron k on; sources n_out..2n_out-1
        # hold neuron k down (suppression of the other classes while a pattern is taught)
        teacher = b2.SpikeGeneratorGroup(2 * n_out, np.array([], dtype=int), np.array([]) * ms,
                                         dt=self.dt * ms, name="plc_teacher")
        teach_syn = b2.Synapses(teacher, parts["out"], on_pre="teach_until_post = t + teach_dur",
                                namespace={"teach_dur": self.teacher_duration * ms}, dt=self.dt * ms,
                                name="plc_teach_syn")
        teach_syn.connect(i=np.arange(n_out), j=np.arange(n_out))
        supp_syn = b2.Synapses(teacher, parts["out"], on_pre="suppress_until_post = t + suppress_dur",
                               namespace={"suppress_dur": self.t_encode * ms}, dt=self.dt * ms,
                               name="plc_supp_syn")
        supp_syn.connect(i=np.arange(n_out, 2 * n_out), j=np.arange(n_out))
        reset = parts["out"].run_regularly(
            "v = 0\nI = 0\nteach_until = -1*second\nsuppress_until = -1*second\nt_last = -10000*second",
            dt=self.slot_ * ms, when="start", name="plc_reset")
        resets = [reset]
        if parts["state"]:  # traces and pairing memory of the rule start afresh with each pattern
            resets.append(parts["plastic"].run_regularly(reset_statement(parts["state"]), dt=self.slot_ * ms,
                                                         when="start", name="plc_syn_reset"))
        net = b2.Network(*(parts[k] for k in ("out", "inp", "plastic", "static", "inhib", "mon")),
                         teacher, teach_syn, supp_syn, *resets)
        parts.update(teacher=teacher, teach_syn=teach_syn, net=net)
        self._parts = parts
        self.transmit_ = parts["transmit"]
        parts["out"].teach_amp = self.teacher_amp
        parts["out"].suppress_amp = self.suppress

        trains = self.encoder_.spike_trains(X)
        self.n_input_spikes_ = float(np.mean([len(ix) for ix, _ in trains]))
        epochs = int(self.epochs)
        self.train_output_spikes_ = np.zeros(epochs)
        self.train_accuracy_ = np.zeros(epochs)
        t_start = time.perf_counter()
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs, desc="epochs", leave=False)
        for ep in range(epochs):
            order = rng.permutation(len(X))
            first, counts = self._present(trains, order, teach=y_idx[order])
            pred = self._decode(first, counts)
            self.train_accuracy_[ep] = float(np.mean(pred == y_idx[order]))
            self.train_output_spikes_[ep] = float(counts.sum(axis=1).mean())
            if self.normalize:
                self._normalize()
            if bar is not None:
                bar.set_postfix(train_acc=f"{self.train_accuracy_[ep]:.3f}")
                bar.update(1)
        if bar is not None:
            bar.close()
        self.fit_seconds_ = time.perf_counter() - t_start
        self.weights_ = get_weights(rule, parts["plastic"]).reshape(n_in, n_out)
        counts = np.bincount(y_idx, minlength=len(self.classes_))
        self.prior_class_ = int(np.argmax(counts))
        self.simulated_seconds_ = float(net.t / b2.second)
        return self

    def _normalize(self):
        lo, hi = weight_bounds(self.rule_)
        plastic = self._parts["plastic"]
        n_out = len(self.group_of_)
        w = (get_weights(self.rule_, plastic).reshape(-1, n_out) - lo) / (hi - lo)
        mean = w.mean(axis=0)
        target = mean.mean()
        w = np.clip(w * (target / np.where(mean > 0, mean, 1.0))[None, :], 0.0, 1.0)
        set_weights(self.rule_, plastic, (lo + (hi - lo) * w).ravel())

    def _present(self, trains, order, teach=None):
        """Run the network once over the patterns ``trains[order]``; return first-spike times (ms from the
        slot start, inf when silent) and spike counts, both (n_patterns, n_out)."""
        import brian2 as b2
        from brian2 import ms

        p = self._parts
        net = p["net"]
        slot = self.slot_
        t0 = float(net.t / ms)
        idx, times = [], []
        t_idx, t_times = [], []
        for k, s in enumerate(order):
            ix, tt = trains[s]
            idx.append(ix)
            times.append(t0 + k * slot + tt)
            if teach is not None:
                onset = (tt.min() if len(tt) else 0.0) + self.teacher_delay
                members = np.flatnonzero(self.group_of_ == teach[k])
                t_idx.append(members)
                t_times.append(np.full(len(members), t0 + k * slot + onset))
                if self.anti_teach:
                    # the other classes' neurons are made to fire at the very start of the slot, before
                    # the inputs: post-before-pre pairs, so the rule depresses their synapses from this pattern
                    others = np.flatnonzero(self.group_of_ != teach[k])
                    t_idx.append(others)
                    t_times.append(np.full(len(others), t0 + k * slot))
                elif self.suppress > 0:
                    others = np.flatnonzero(self.group_of_ != teach[k])
                    t_idx.append(len(self.group_of_) + others)
                    t_times.append(np.full(len(others), t0 + k * slot))
        idx = np.concatenate(idx).astype(int) if idx else np.array([], dtype=int)
        times = np.concatenate(times) if times else np.array([])
        # keep spike times on the simulation grid and strictly inside their slot
        times = np.round(times / self.dt) * self.dt
        p["inp"].set_spikes(idx, times * ms)
        if teach is not None:
            p["teacher"].set_spikes(np.concatenate(t_idx).astype(int),
                                    np.round(np.concatenate(t_times) / self.dt) * self.dt * ms)
        else:
            p["teacher"].set_spikes(np.array([], dtype=int), np.array([]) * ms)
        p["plastic"].active = teach is not None
        p["static"].active = teach is None
        if teach is None:
            lo, hi = weight_bounds(self.rule_)
            p["static"].w = (get_weights(self.rule_, p["plastic"]) - lo) / (hi - lo)
        mon = p["mon"]
        n_before = mon.num_spikes
        net.run(len(order) * slot * ms)
        si = np.asarray(mon.i[n_before:])
        st = np.asarray(mon.t[n_before:] / ms) - t0
        slot_k = np.minimum((st // slot).astype(int), len(order) - 1)
        rel = st - slot_k * slot
        n_out = len(self.group_of_)
        first = np.full((len(order), n_out), np.inf)
        counts = np.zeros((len(order), n_out), dtype=int)
        np.add.at(counts, (slot_k, si), 1)
        np.minimum.at(first, (slot_k, si), rel)
        return first, counts

    def _decode(self, first, counts):
        """Class index per pattern from per-neuron first-spike times / counts (per class: best neuron)."""
        n_cls = len(self.classes_)
        cls_first = np.full((len(first), n_cls), np.inf)
        cls_count = np.zeros((len(first), n_cls))
        for c in range(n_cls):
            m = self.group_of_ == c
            cls_first[:, c] = first[:, m].min(axis=1)
            cls_count[:, c] = counts[:, m].sum(axis=1)
        prior = getattr(self, "prior_class_", 0)
        if self.decoding == "first_spike":
            # earliest first spike; ties broken by spike count, then by class order
            best = cls_first.min(axis=1, keepdims=True)
            tied = cls_first == best
            score = np.where(tied, cls_count, -1.0)
            pred = np.argmax(score, axis=1)
        else:
            pred = np.argmax(cls_count, axis=1)
        silent = counts.sum(axis=1) == 0
        pred[silent] = prior
        return pred

    # ------------------------------------------------------------------ predict
    def predict_details(self, X):
        """Predictions plus what the network did: dict with ``first_spike`` (ms, inf = silent) and
        ``counts`` per sample and output neuron, ``input_spikes`` per sample and ``silent`` samples."""
        check_is_fitted(self, "weights_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        trains = self.encoder_.spike_trains(X)
        first, counts = self._present(trains, np.arange(len(X)), teach=None)
        pred = self._decode(first, counts)
        info = dict(
            first_spike=first, counts=counts,
            input_spikes=np.array([len(ix) for ix, _ in trains]),
            silent=int(np.sum(counts.sum(axis=1) == 0)),
        )
        return self.classes_[pred], info

    def predict(self, X):
        return self.predict_details(X)[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    def __getstate__(self):
        # The Brian2 network cannot be pickled; a pickled classifier keeps its learned weights only.
        state = self.__dict__.copy()
        state.pop("_parts", None)
        return state


# ---------------------------------------------------------------------- cross-validation -> xarray
def cross_validate(estimator, X, y, *, folds=5, seed=0, progress=False, dataset="data", folds_iter=None):
    """Stratified ``folds``-fold cross-validation of a SpikingClassifier (same folds for the same seed).

    Returns an xarray Dataset: ``f1`` (F1-micro) over ``fold``; ``confusion`` over ``fold``, ``true``,
    ``predicted``; mean input / output spikes per test sample, silent test samples, fit and predict wall
    time per fold; ``weights`` of each fold's trained layer over ``fold``, ``input``, ``neuron``; all
    hyperparameters, the rule's equations, the seed and package versions in attrs.
    """
    import xarray as xr
    from sklearn.base import clone
    from sklearn.metrics import confusion_matrix, f1_score
    from sklearn.model_selection import StratifiedKFold

    from ..store import provenance

    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    classes = np.unique(y)
    splits = list(folds_iter) if folds_iter is not None else list(
        StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y))
    f1, conf, in_spk, out_spk, silent, fit_s, pred_s, weights, train_acc = [], [], [], [], [], [], [], [], []
    iterator = splits
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(splits), desc=f"{dataset} folds", unit="fold")
    for k, (tr, te) in enumerate(iterator):
        est = clone(estimator).set_params(random_state=seed + k)
        t0 = time.perf_counter()
        est.fit(X[tr], y[tr])
        t1 = time.perf_counter()
        pred, info = est.predict_details(X[te])
        t2 = time.perf_counter()
        f1.append(f1_score(y[te], pred, average="micro"))
        conf.append(confusion_matrix(y[te], pred, labels=classes))
        in_spk.append(info["input_spikes"].mean())
        out_spk.append(info["counts"].sum(axis=1).mean())
        silent.append(info["silent"])
        fit_s.append(t1 - t0)
        pred_s.append(t2 - t1)
        weights.append(est.weights_)
        train_acc.append(est.train_accuracy_)
        if bar is not None:
            bar.set_postfix(f1=f"{f1[-1]:.3f}", mean=f"{np.mean(f1):.3f}")
            bar.update(1)
    if bar is not None:
        bar.close()
    rule = est.rule_
    labels = [str(c) for c in classes]
    ds = xr.Dataset(
        {
            "f1": (("fold",), np.array(f1), {"long_name": "F1 (micro) on the test fold"}),
            "confusion": (("fold", "true", "predicted"), np.array(conf), {"long_name": "confusion matrix"}),
            "input_spikes": (("fold",), np.array(in_spk), {"long_name": "mean input spikes per test sample"}),
            "output_spikes": (("fold",), np.array(out_spk), {"long_name": "mean output spikes per test sample"}),
            "silent": (("fold",), np.array(silent), {"long_name": "test samples with no output spike"}),
            "fit_seconds": (("fold",), np.array(fit_s), {"units": "s"}),
            "predict_seconds": (("fold",), np.array(pred_s), {"units": "s"}),
            "train_accuracy": (("fold", "epoch"), np.array(train_acc),
                               {"long_name": "accuracy of the taught network during training"}),
            "weights": (("fold", "input", "neuron"), np.array(weights),
                        {"long_name": "learned weights", "units": weight_unit_expr(rule)}),
        },
        coords={"fold": np.arange(len(splits)), "true": labels, "predicted": labels,
                "neuron_class": ("neuron", [labels[g] for g in est.group_of_])},
    )
    params = {k: v for k, v in estimator.get_params().items() if k not in ("rule", "progress")}
    ds.attrs.update(provenance(rule=rule, seed=seed, dataset=dataset, folds=len(splits),
                               estimator="SpikingClassifier", hyperparameters=params,
                               n_features=X.shape[1], n_fields=estimator.n_fields,
                               transmit=est.transmit_))
    return ds


def cross_validate_sklearn(estimator, X, y, *, folds=5, seed=0, folds_iter=None):
    """F1-micro per fold of a classic scikit-learn estimator on the same stratified folds."""
    from sklearn.base import clone
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    splits = list(folds_iter) if folds_iter is not None else list(
        StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y))
    scores = []
    for tr, te in splits:
        est = clone(estimator)
        if "random_state" in est.get_params():
            est.set_params(random_state=seed)
        scores.append(f1_score(y[te], est.fit(X[tr], y[tr]).predict(X[te]), average="micro"))
    return np.array(scores)
