"""A scikit-learn classifier made of one plastic layer of LIF neurons trained with any plastlab rule.

Network (Sboev et al. 2021; :mod:`plastlab.brian.layer`): receptive-field latency-encoded inputs -> all-to-all
plastic synapses (the rule) -> LIF output neurons, ``neurons_per_class`` per class, with static lateral inhibition
between classes. While a training pattern is presented, a teacher current drives the neurons of the correct
class ``teacher_delay`` ms after the pattern's earliest input spike. At test time a static copy of the synapses
carries the learned weights (plasticity off) and the teacher is silent; the class whose neuron fires first wins
(``decoding="first_spike"``) or the one with the most spikes (``decoding="count"``).

Two protocols (``protocol``), each a table of settings (``PROTOCOLS``); a parameter left at None takes its
protocol's value:

* ``"plastlab"``: features Yeo-Johnson power-transformed, then min-max scaled (skewed features spread over the
  fields), weights start low, the teacher comes half an encoding window after the earliest input, the other
  classes are held down, every pattern starts from a reset network, and five independently trained copies of the
  layer (``members``) decide by their mean first-spike times;
* ``"sboev"``: the group's protocol (``../shared/reference/temporal-classification.md`` and their code): weights
  start at W_max, the teacher makes the correct neuron spike at once at the earliest input spike, no class is
  held down, 40 fields with sigma^2 = 0.005 on per-sample L2-normalised features, spikes within the first 5.6 ms
  of each 25 ms pattern, 1 pA weights (gain 24), dt 0.1 ms, no reset between patterns. Learning works by
  depressing the inputs that come late; with their rule as NEST runs it (``stdp_sboev_nest``).

Three parts: this module is the estimator and the batched fit around it; the Brian2 networks are built in
``plastlab.brian`` from what this module describes (:class:`plastlab.brian.taught.TaughtCopies` for training,
:class:`plastlab.brian.layer.FrozenCopies` for predicting); search and cross-validation are
:mod:`plastlab.learn.model_selection`. The network is built once per ``fit`` (inside
:func:`plastlab.brian.taught.scope`, so no global Brian2 or numpy state changes): every epoch is one run over all
its patterns, presented one after another in slots of ``t_encode + t_gap`` ms. ``fit_many`` trains several
classifiers as independent copies in one network, and ``predict_many`` runs every test pattern as its own copy of
the frozen layer in one short run, because Brian2's per-step and per-run overhead, not arithmetic, is what a layer
this small costs.
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..brian.layer import FrozenCopies, check_rule, initial_fractions, read_noise
from ..brian.taught import TaughtCopies, TeachingSpec, scope
from ..config import check_times, validate
from ..errors import ConfigError
from .classifier_params import (
    CALIBRATION,
    FIELD_WIDTH,
    PARAMS,
    PROTOCOLS,
    SILENT_WARNING,
    TEACHER_DELAY_FRACTION,
)
from .competitive import assign_labels
from .encoding import GaussianRFEncoder, PoissonRateEncoder


class SilentOutputWarning(UserWarning):
    """Many samples made no output neuron fire: their prediction is the most frequent class, not the network's."""


def _plain(value):
    """numpy scalars (from search spaces) as Python numbers, so the table's types apply."""
    return value.item() if isinstance(value, np.generic) else value


def resolve_settings(params, *, where="classifier"):
    """The classifier's settings: its parameters checked against PARAMS, None filled from the protocol."""
    table = {k: _plain(v) for k, v in params.items() if k in PARAMS}
    checked = check_times(validate(table, PARAMS, section=where), PARAMS, section=where)
    base = PROTOCOLS[checked["protocol"]]
    settings = {k: (base[k] if v is None and k in base else v) for k, v in checked.items()}
    if settings["teacher_delay"] is None:
        settings["teacher_delay"] = TEACHER_DELAY_FRACTION * settings["t_encode"]
    if settings["sigma"] is None:
        settings["sigma"] = FIELD_WIDTH / (settings["n_fields"] - 1)
    steps = (settings["t_encode"] + settings["t_gap"]) / settings["dt"]
    if abs(steps - round(steps)) > 1e-9:
        raise ConfigError(f"t_encode + t_gap ({settings['t_encode'] + settings['t_gap']} ms) must be a whole number "
                          f"of dt ({settings['dt']} ms)", section=where)
    if settings["teacher_duration"] < 2 * settings["dt"] - 1e-12:  # it flows from the step after the teacher spike
        raise ConfigError(f"teacher_duration ({settings['teacher_duration']} ms) must be at least 2 dt "
                          f"({2 * settings['dt']} ms), or the teacher current never flows", section=where)
    if settings["homeostasis"] and settings["training"] != "competitive":
        raise ConfigError("homeostasis needs training = \"competitive\" (taught layers hold their neurons down "
                          "with the same current)", section=where, key="homeostasis")
    if settings["device"] != "runtime":
        from ..brian.device import check_device

        check_device(settings["device"], section=where)
        if not settings["reset"] or settings["normalize"]:  # both need Python between the runs of a fit
            raise ConfigError(f"device '{settings['device']}' needs reset = true and normalize = false (one program "
                              "runs every epoch; use device 'runtime')", section=where, key="device")
    return settings


class SpikingClassifier(ClassifierMixin, BaseEstimator):
    """Spiking classifier trained with a plasticity rule from ``rules/`` (or any rule file).

    Defaults are the values, as scikit-learn has it, where both protocols use the same one. The settings the
    two protocols set differently (``PROTOCOLS``: encoder, weights, gain, time constants, teacher, timing,
    ``members``, ``reset``, ``calibrate``) default to None, which means "the chosen ``protocol``'s value": a
    concrete default there would be the plastlab protocol's and would silently override ``protocol="sboev"``.
    ``sigma`` and ``teacher_delay`` stay None for a second reason: protocol "plastlab" derives them from
    ``n_fields`` and ``t_encode``. Any setting may be None. The resolved values are ``settings_`` after ``fit``.
    Times in ms, voltages and currents in units of the threshold scale.

    Parameters
    ----------
    rule : str or Rule
        Rule name (``rules/NAME.toml``), path to a rule file, or a loaded Rule.
    protocol : {"plastlab", "sboev"}
        Where the unset parameters come from (see the module docstring).
    encoding : {"latency", "poisson"}
        Gaussian receptive-field latency code (one spike per field) or Poisson rate code.
    n_fields, sigma, t_encode, drop_late, scaling, sample_norm
        Encoder settings (:class:`plastlab.learn.encoding.GaussianRFEncoder`); ``t_encode`` is the window.
        Protocol "plastlab": ``sigma`` is ``FIELD_WIDTH / (n_fields - 1)`` (the centres' spacing) unless set.
    max_rate : float
        Peak rate (Hz) for ``encoding="poisson"``.
    epochs : int
        Passes over the training set (shuffled each epoch).
    neurons_per_class : int
    members : int
        Independently trained copies of the layer (each with its own first weights and pattern order, side by
        side in one network): the class with the earliest mean first spike over the members wins (a silent member
        counts the slot's end). Protocol "plastlab": ``MEMBERS``.
    w_init, w_spread : float
        Initial weights as a fraction of the rule's weight range, plus uniform noise of width ``w_spread``.
    gain : float
        Synaptic current jump for a full-scale weight, times the number of features (the jump per synapse is
        ``gain / n_features``, so the drive per pattern does not grow with the dimension).
    tau_m, tau_syn, t_ref, v_th : float
        LIF membrane and synaptic time constants, refractory period, threshold (rest and reset at 0).
    teacher_amp, teacher_delay, teacher_duration : float
        Teacher current into the correct class's neurons from the step after ``teacher_delay`` ms past the
        pattern's earliest input spike until ``teacher_duration`` ms past it (so at least 2 dt). Protocol
        "plastlab": ``teacher_delay`` is ``TEACHER_DELAY_FRACTION * t_encode`` unless set.
    suppress : float
        During training, an inhibitory current holding the other classes' neurons down for the whole window.
    anti_teach : bool
        Instead, drive the other classes' neurons at the slot start (before the inputs): depression.
    inhibition : float
        Lateral inhibition: drop of the other classes' membrane potential per spike.
    decoding : {"first_spike", "count"}
    t_gap : float
        Silence between patterns.
    dt : float
        Simulation time step.
    normalize : bool
        After each epoch, rescale each output neuron's weights to a common mean (synaptic scaling).
    reset : bool
        Reset the neurons and the rule's traces at the start of every pattern.
    plasticity : bool
        False: the ablation "no plasticity" -- the weights stay at their initial values.
    calibrate : bool
        After training, scale the readout gain (plasticity off) by the factor of ``CALIBRATION`` that gives the
        best accuracy on the training data, trying larger factors only while more than 5 % of the training
        samples leave every output neuron silent. Uses the training data only.
    training : {"taught", "competitive"}
        ``"taught"``: the teacher drives the correct class's neurons. ``"competitive"``: unsupervised
        winner-take-all (:mod:`plastlab.learn.competitive`): no teacher current and nobody held down during
        training, every output neuron inhibits every other one (``inhibition``), and after training each neuron
        is labelled with the class of the training samples it wins most often (frozen network); the label of the
        first neuron to fire names the class. ``neurons_per_class`` times the number of classes neurons.
    homeostasis, homeostasis_tau : float
        ``"competitive"`` only: an adaptive threshold during training (Diehl & Cook 2015), each spike of a neuron
        raises its own inhibitory current by ``homeostasis`` and the current decays by exp(-1/homeostasis_tau)
        per pattern, so a neuron that wins often must be driven harder to win again (0: off). The frozen network
        (labelling, predicting) has no such current.
    teacher_jitter : float
        Width (ms) of the uniform noise added to each training pattern's teacher time: 0 keeps the teacher's
        precise timing; larger values leave the post spike's time less set by the teacher.
    target : {"cython", "numpy"}
        Brian2's code-generation target for this classifier's network.
    device : {"runtime", "cpp_standalone", "cuda_standalone"}
        Brian2's device. ``"cpp_standalone"``: each network (training: all epochs in one C++ program; predicting
        and calibrating: the frozen copies) is built once per structure and run again with new patterns and
        weights (``run_args``), the same predictions as ``"runtime"``; builds are cached on disk by content
        (:mod:`plastlab.brian.device`). Needs ``reset`` and no ``normalize``. ``"cuda_standalone"`` where
        Brian2CUDA is installed.
    random_state : int, RandomState or None
    progress : bool
        Show tqdm bars over epochs (with the frozen network's training accuracy, teacher silent), calibration
        and prediction.
    """

    def __init__(self, rule="nc_memristor", *, protocol="plastlab", encoding="latency", n_fields=None, sigma=None,
                 t_encode=None, drop_late=None, scaling=None, sample_norm=None, max_rate=200.0, epochs=5,
                 neurons_per_class=1, members=None, w_init=None, w_spread=None, gain=None, tau_m=6.0, tau_syn=None,
                 t_ref=None, v_th=8.0, teacher_amp=None, teacher_delay=None, teacher_duration=None, suppress=None,
                 anti_teach=False, inhibition=5.0, decoding="first_spike", t_gap=None, dt=None, normalize=False,
                 reset=None, plasticity=True, calibrate=None, training="taught", homeostasis=0.0, homeostasis_tau=100.0,
                 teacher_jitter=0.0, target="cython",
                 device="runtime", random_state=None, progress=False):
        self.rule = rule
        self.protocol = protocol
        self.encoding = encoding
        self.n_fields = n_fields
        self.sigma = sigma
        self.t_encode = t_encode
        self.drop_late = drop_late
        self.scaling = scaling
        self.sample_norm = sample_norm
        self.max_rate = max_rate
        self.epochs = epochs
        self.neurons_per_class = neurons_per_class
        self.members = members
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
        self.reset = reset
        self.plasticity = plasticity
        self.calibrate = calibrate
        self.training = training
        self.homeostasis = homeostasis
        self.homeostasis_tau = homeostasis_tau
        self.teacher_jitter = teacher_jitter
        self.target = target
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ fit
    def _check_params(self):
        """The resolved settings (ConfigError for an unknown value, a wrong type or a value out of range)."""
        return resolve_settings(self.get_params(deep=False))

    def _encoder(self, s, seed):
        if s["encoding"] == "latency":
            return GaussianRFEncoder(s["n_fields"], s["sigma"], s["t_encode"], s["drop_late"], scaling=s["scaling"],
                                     sample_norm=s["sample_norm"])
        return PoissonRateEncoder(s["n_fields"], s["sigma"], s["max_rate"], s["t_encode"], random_state=seed,
                                  scaling=s["scaling"], sample_norm=s["sample_norm"])

    def fit(self, X, y):
        fit_many([self], [(X, y)], progress=self.progress)
        return self

    def _prepare(self, X, y):
        """Everything one fit needs before the network runs (and every check): a ``_Job``."""
        s = self.settings_ = self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"need samples of at least 2 classes to train, got 1 class ({self.classes_[0]!r})")
        self.rule_ = check_rule(self.rule, "the spiking classifier")
        self.__dict__.pop("_network", None)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(2**31 - 1))
        self.seed_ = seed  # the networks' Brian2 seed: training, and predicting when the device has read noise
        self.encoder_ = self._encoder(s, seed).fit(X)
        member = np.repeat(np.arange(len(self.classes_)), s["neurons_per_class"])
        self.group_of_ = np.tile(member, s["members"])
        self.member_of_ = np.repeat(np.arange(s["members"]), len(member))
        # whom each neuron inhibits: the other classes' neurons, or (competitive) every other neuron
        self.rival_of_ = np.tile(np.arange(len(member)), s["members"]) if s["training"] == "competitive" \
            else self.group_of_
        self.prior_class_ = int(np.argmax(np.bincount(y_idx, minlength=len(self.classes_))))
        initial = [initial_fractions(self.encoder_.n_outputs_ * len(member), s["w_init"], s["w_spread"], rng)
                   for _ in range(s["members"])]
        trains = self._trains(X)
        self.n_input_spikes_ = float(np.mean([len(ix) for ix, _ in trains]))
        return _Job(self, X, y_idx, rng, seed, trains, initial)

    def _network_key(self):
        """What estimators fitted side by side in one network must share (see ``fit_many``)."""
        # a Rule object by what it is, not by identity: clone() deep-copies it, and the copies of one rule (folds,
        # search candidates) belong in one network
        rule = self.rule if isinstance(self.rule, str) else repr(self.rule_.__getstate__())
        return (rule, self.n_features_in_) + tuple(self.settings_[k] for k in NETWORK_SETTINGS)

    def _copies(self):
        """The layers this classifier trains: one (number of inputs, class of each output neuron) per member."""
        rival_of = getattr(self, "rival_of_", self.group_of_)  # (fitted before the setting existed: by class)
        return [(self.encoder_.n_outputs_, rival_of[self.member_of_ == m]) for m in range(self.settings_["members"])]

    def _member_weights(self):
        """Each member's learned weights, (inputs, its output neurons)."""
        return [self.weights_[:, self.member_of_ == m] for m in range(self.settings_["members"])]

    def _responses_in_turn(self, trains, factor):
        """First-spike times and counts of the frozen network, readout gain times ``factor``, pattern after
        pattern: without a reset each pattern starts from the state the previous one left."""
        s = self.settings_
        if not hasattr(self, "_network"):  # fitted with others, or unpickled: a network around the learned weights
            self._network = TaughtCopies(self.rule_, self._teaching(), self._copies(),
                                         gain=s["gain"] / self.n_features_in_)
            self._network.set_fractions([w.ravel() for w in self._member_weights()])
        self._network.set_readout_gain(factor * s["gain"] / self.n_features_in_)
        members = self._network.present([trains] * s["members"], [np.arange(len(trains))] * s["members"])
        return _members_side_by_side(members)

    def _teach(self, y):
        """The group the teacher drives in each slot: the pattern's class, or (competitive) -1: nobody."""
        return np.full(len(y), -1) if self.settings_["training"] == "competitive" else y

    def _delays(self, n, rng):
        """The teacher's delay (ms after the earliest input): one number, or with ``teacher_jitter`` one per slot
        (uniform noise of that width, drawn from the fit's random stream; none drawn without jitter)."""
        s = self.settings_
        if not s["teacher_jitter"]:
            return s["teacher_delay"]
        return np.maximum(s["teacher_delay"] + s["teacher_jitter"] * (rng.random_sample(n) - 0.5), 0.0)

    def _frozen_key(self):
        """What frozen networks run side by side in one FrozenCopies network must share."""
        s = self.settings_
        return tuple(s[k] for k in ("dt", "tau_m", "tau_syn", "t_ref", "v_th", "inhibition", "t_encode", "t_gap",
                                    "device")) + (
            s["gain"] / self.n_features_in_, read_noise(self.rule_))

    def _trains(self, X, random_state=None):
        """Input spikes per sample; Poisson spikes at most one per neuron and time step."""
        if self.settings_["encoding"] == "poisson":
            return self.encoder_.spike_trains(X, dt=self.settings_["dt"], random_state=random_state)
        return self.encoder_.spike_trains(X)

    def _brian(self, seed=None):
        """Scoped Brian2 settings for this classifier's networks."""
        return scope(target=self.settings_["target"], dt=self.settings_["dt"], seed=seed)

    def _teaching(self):
        """What the taught network needs (``plastlab.brian.taught``): the teacher holds the others down for the
        encoding window, the slot is the window plus the gap; a competitive layer is never taught: its winner
        holds the others down with the same current (``suppress``) for the rest of the pattern."""
        s = self.settings_
        competitive = s["training"] == "competitive"
        return TeachingSpec(dt=s["dt"], slot=float(s["t_encode"] + s["t_gap"]), tau_m=s["tau_m"], tau_syn=s["tau_syn"],
                            t_ref=s["t_ref"], v_th=s["v_th"], inhibition=s["inhibition"],
                            teacher_amp=s["teacher_amp"], teacher_duration=s["teacher_duration"],
                            suppress=s["suppress"], hold=s["t_encode"], anti_teach=s["anti_teach"] and not competitive,
                            reset=s["reset"], winner_holds=competitive, homeostasis=s["homeostasis"],
                            homeostasis_tau=s["homeostasis_tau"])

    def _decode(self, first, counts, one_member=False):
        """Class index per pattern from per-neuron first-spike times / counts, the columns those of every member's
        neurons (or, ``one_member``, of one member's). Per member and class its best neuron; the members' first
        spikes averaged, a silent member's counted at the slot's end."""
        s = self.settings_
        group_of, member_of = self.group_of_, self.member_of_
        if one_member:
            group_of, member_of = group_of[member_of == 0], member_of[member_of == 0]
        n_cls, slot = len(self.classes_), s["t_encode"] + s["t_gap"]
        member_first = [[np.minimum(first[:, (group_of == c) & (member_of == m)].min(axis=1, initial=np.inf), slot)
                         for c in range(n_cls)] for m in np.unique(member_of)]  # (member, class, pattern)
        cls_first = np.mean(member_first, axis=0).T
        cls_count = np.stack([counts[:, group_of == c].sum(axis=1) for c in range(n_cls)], axis=1)
        if s["decoding"] == "first_spike":
            # earliest first spike; ties broken by spike count, then by class order
            tied = cls_first == cls_first.min(axis=1, keepdims=True)
            pred = np.argmax(np.where(tied, cls_count, -1.0), axis=1)
        else:
            pred = np.argmax(cls_count, axis=1)
        pred[counts.sum(axis=1) == 0] = self.prior_class_
        return pred

    # ------------------------------------------------------------------ predict
    def _details(self, first, counts, trains):
        info = dict(first_spike=first, counts=counts, input_spikes=np.array([len(ix) for ix, _ in trains]),
                    silent=int(np.sum(counts.sum(axis=1) == 0)))
        return self._decode(first, counts), info

    def predict_details(self, X):
        """Predictions plus what the network did: dict with ``first_spike`` (ms, inf = silent) and ``counts``
        per sample and output neuron, ``input_spikes`` per sample and the number of ``silent`` samples."""
        pred, info = predict_many([self], [X], progress=self.progress)[0]
        self._warn_silent(info["silent"] / max(len(pred), 1), "test")
        return pred, info

    def predict(self, X):
        return self.predict_details(X)[0]

    @staticmethod
    def _warn_silent(fraction, what):
        if fraction > SILENT_WARNING:
            warnings.warn(f"{100 * fraction:.0f} % of the {what} samples made no output neuron fire (predicted as "
                          "the most frequent class); try a larger gain or a longer teacher_delay",
                          SilentOutputWarning, stacklevel=3)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    def __getstate__(self):
        # The Brian2 network cannot be pickled; predict rebuilds it from the learned weights.
        return {k: v for k, v in self.__dict__.items() if k != "_network"}


# ---------------------------------------------------------------------- fitting, alone or side by side
# Settings that shape the network itself: estimators fitted side by side in one network must agree on them. The
# others (encoder, teacher delay, initial weights, decoding, calibration, seed) may differ from copy to copy.
NETWORK_SETTINGS = ("dt", "tau_m", "tau_syn", "t_ref", "v_th", "teacher_amp", "teacher_duration", "suppress",
                    "anti_teach", "inhibition", "gain", "t_encode", "t_gap", "reset", "epochs", "plasticity",
                    "normalize", "neurons_per_class", "target", "device", "training", "homeostasis",
                    "homeostasis_tau")


@dataclass
class _Job:
    """One estimator's share of a fit: its data (class indices), random stream, encoded patterns, first weights."""

    est: SpikingClassifier
    X: np.ndarray
    y: np.ndarray
    rng: np.random.RandomState
    seed: int
    trains: list
    initial: list  # per member


def fit_many(estimators, data, *, progress=False):
    """Fit SpikingClassifiers, each on its own ``(X, y)``, as independent copies side by side in one Brian2
    network per group of estimators that agree on ``NETWORK_SETTINGS``.

    A layer this small spends most of its time in Brian2's per-time-step overhead, so k copies in one network
    train in little more than the time of one. Each copy learns what it would learn alone: exactly when the
    copies have equally many patterns, and otherwise too when the layer resets at every pattern and the rule
    changes weights only at spikes (a shorter copy idles through the extra slots; tested). The nested
    cross-validation trains all fits of its inner searches this way. Every estimator is checked before anything
    is simulated.
    """
    jobs = [est._prepare(X, y) for est, (X, y) in zip(estimators, data, strict=True)]
    groups = {}
    for job in jobs:
        groups.setdefault(job.est._network_key(), []).append(job)
    for group in groups.values():
        _fit_side_by_side(group, progress)
    return estimators


def _fit_side_by_side(jobs, progress):
    lead = jobs[0].est
    s = lead.settings_
    epochs = s["epochs"] if s["plasticity"] else 0
    for job in jobs:
        job.est.train_output_spikes_, job.est.train_accuracy_ = np.zeros(epochs), np.zeros(epochs)
    owner = [job for job in jobs for _ in range(job.est.settings_["members"])]  # the job of each copy
    t_start = time.perf_counter()
    copies, gain, initial = [c for j in jobs for c in j.est._copies()], s["gain"] / lead.n_features_in_, \
        [w for j in jobs for w in j.initial]
    standalone = s["device"] != "runtime"  # every epoch in one program: the epochs' patterns drawn first
    plan = []

    def score(ep, orders, responses):
        for job, order, (first, counts) in zip(owner, orders, responses):
            share = 1.0 / job.est.settings_["members"]  # the members' mean
            job.est.train_accuracy_[ep] += share * np.mean(job.est._decode(first, counts, True) == job.y[order])
            job.est.train_output_spikes_[ep] += share * counts.sum(axis=1).mean()

    with lead._brian(jobs[0].seed):
        if not standalone:
            net = TaughtCopies(lead.rule_, lead._teaching(), copies, gain=gain)
            net.set_fractions(initial)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs, desc="epochs" if len(jobs) == 1 else f"epochs ({len(jobs)} fits)", leave=False)
        for ep in range(epochs):
            for job in jobs:
                if s["encoding"] == "poisson":  # fresh Poisson spikes every epoch, reproducible by seed
                    job.trains = job.est._trains(job.X, random_state=job.rng)
            orders = [job.rng.permutation(len(job.X)) for job in owner]  # each member its own order
            args = ([j.trains for j in owner], orders, [j.est._teach(j.y[o]) for j, o in zip(owner, orders)],
                    [j.est._delays(len(o), j.rng) for j, o in zip(owner, orders)])
            if standalone:
                plan.append(args)
                continue
            score(ep, orders, net.present(*args))
            if s["normalize"]:
                net.normalize()
            if bar is not None:
                if s["reset"]:  # taught, train_accuracy_ is ~1 by construction: show the frozen network's instead
                    bar.set_postfix(train_acc=f"{_frozen_accuracy(jobs, net.fractions()):.3f}")
                bar.update(1)
        if standalone:
            results, final, transmit = TaughtCopies.train_standalone(
                lead.rule_, lead._teaching(), copies, gain=gain, initial=initial, epochs=plan, device=s["device"])
            for ep, (args, responses) in enumerate(zip(plan, results)):
                score(ep, args[1], responses)
                if bar is not None:
                    bar.update(1)
        else:
            final, transmit = net.fractions(), net.transmit
        if bar is not None:
            bar.close()
        weights = iter(final)
        for job in jobs:
            est = job.est
            est.weights_ = np.hstack([next(weights).reshape(n_in, len(group_of)) for n_in, group_of in est._copies()])
            est.simulated_seconds_ = epochs * len(job.X) * float(s["t_encode"] + s["t_gap"]) / 1000.0
            est.transmit_ = transmit
            if len(jobs) == 1 and not standalone:
                est._network = net
        _label_competitive([j for j in jobs if j.est.settings_["training"] == "competitive"])
        # frozen passes over the training data: how many samples leave the trained network silent, and
        # (calibrate) the readout gain that suits the learned weights best on the training data
        _calibrate([j.est for j in jobs], [j.est._trains(j.X) for j in jobs], [j.y for j in jobs], progress=progress)
    wall = time.perf_counter() - t_start
    for job in jobs:
        job.est.fit_seconds_ = wall  # of the whole side-by-side fit
        job.est._warn_silent(job.est.train_silent_fraction_, "training")


def _label_competitive(jobs):
    """Competitive layers: each neuron's class (``group_of_``) from the frozen network's responses to the training
    data (:func:`plastlab.learn.competitive.assign_labels`), all side by side."""
    if not jobs:
        return
    responses = frozen_responses([j.est for j in jobs], [j.est._trains(j.X) for j in jobs], [1.0] * len(jobs))
    for job, (first, counts) in zip(jobs, responses):
        est = job.est
        est.group_of_ = assign_labels(first, counts, job.y, len(est.classes_), est.member_of_)


def _frozen_accuracy(jobs, fractions):
    """Mean training accuracy of the fits' current weights (``fractions``, per copy) with plasticity off, the
    teacher silent and the readout gain unscaled: the progress bar's train_acc. One ``FrozenCopies`` run of its
    own (no random numbers, nothing the fit reads), so the fit it watches is the same with the bar on or off
    (tested)."""
    lead = jobs[0].est
    s = lead.settings_
    copies = FrozenCopies(slot=s["t_encode"] + s["t_gap"], dt=s["dt"], gain=s["gain"] / lead.n_features_in_,
                          neuron={k: s[k] for k in ("tau_m", "tau_syn", "t_ref", "v_th")},
                          inhibition=s["inhibition"], prefix="plc_copies")  # the same code as predicting
    fractions = iter(fractions)
    requests = [(np.reshape(next(fractions), (n_in, len(group_of))), group_of, job.trains, 1.0)
                for job in jobs for n_in, group_of in job.est._copies()]
    responses = iter(copies.responses(requests))
    accuracy = []
    for job in jobs:
        first, counts = _members_side_by_side([next(responses) for _ in range(job.est.settings_["members"])])
        accuracy.append(np.mean(job.est._decode(first, counts) == job.y))
    return float(np.mean(accuracy))


def _bar(progress, total, desc):
    """A tqdm bar over a phase (calibrating, predicting) when ``progress``, else None."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def frozen_responses(estimators, trains, factors, bar=None):
    """First-spike times and spike counts of fitted classifiers' frozen networks for the patterns ``trains[e]`` of
    each estimator e, every member m's readout gain times ``factors[e][m]`` (a number: the same for all), its
    neurons' columns side by side. Classifiers that reset at every pattern run side by side, one ``FrozenCopies``
    network per shared setting; the others pattern after pattern, once per distinct factor."""
    out, groups = [None] * len(estimators), {}
    factors = [np.broadcast_to(f, (est.settings_["members"],)) for est, f in zip(estimators, factors)]
    for e, est in enumerate(estimators):
        if est.settings_["reset"]:
            groups.setdefault(est._frozen_key(), []).append(e)
            continue
        gain_of = factors[e][est.member_of_]  # each neuron's readout factor: its member's
        runs = {f: est._responses_in_turn(trains[e], float(f)) for f in np.unique(gain_of)}
        out[e] = tuple(sum(np.where(gain_of == f, run[k], 0) for f, run in runs.items()) for k in (0, 1))
        if bar is not None:
            bar.update(len(trains[e]) * est.settings_["members"])
    for members in groups.values():
        lead = estimators[members[0]]
        s = lead.settings_
        copies = FrozenCopies(slot=s["t_encode"] + s["t_gap"], dt=s["dt"], gain=s["gain"] / lead.n_features_in_,
                              neuron={k: s[k] for k in ("tau_m", "tau_syn", "t_ref", "v_th")},
                              inhibition=s["inhibition"], prefix="plc_copies", device=s["device"],
                              read=read_noise(lead.rule_))  # the device's read noise at the frozen readout
        layers = [(e, w, group_of, f) for e in members for w, (_, group_of), f in
                  zip(estimators[e]._member_weights(), estimators[e]._copies(), factors[e])]
        responses = iter(copies.responses([(w, group_of, trains[e], f) for e, w, group_of, f in layers],
                                          done=None if bar is None else bar.update))
        for e in members:  # the layers come estimator by estimator, member by member
            out[e] = _members_side_by_side([next(responses) for _ in range(estimators[e].settings_["members"])])
    return out


def _members_side_by_side(responses):
    """One estimator's (first-spike times, counts) from its members' own, their neurons' columns side by side."""
    return tuple(np.hstack(part) for part in zip(*responses))


def _calibrate(estimators, trains, ys, progress=False):
    """Each member's readout gain factor (of CALIBRATION, or 1 without ``calibrate``): the member's best training
    accuracy among the factors tried in order while more than 5 % of the training samples leave it silent. Sets
    ``readout_scale_`` (per member) and ``train_silent_fraction_`` (samples no member answers); all estimators'
    factors run side by side. ``progress``: a bar over the factors tried."""
    best = [[(-1.0, 1.0, None)] * est.settings_["members"] for est in estimators]
    pending = [(e, m) for e, est in enumerate(estimators) for m in range(est.settings_["members"])]
    bar = _bar(progress, len(CALIBRATION) if any(est.settings_["calibrate"] for est in estimators) else 1,
               "calibrating" if len(estimators) == 1 else f"calibrating ({len(estimators)} fits)")
    for n, factor in enumerate(CALIBRATION):
        pending = [(e, m) for e, m in pending if n == 0 or estimators[e].settings_["calibrate"]]
        if not pending:
            break
        asked = sorted({e for e, _ in pending})
        responses = dict(zip(asked, frozen_responses([estimators[e] for e in asked], [trains[e] for e in asked],
                                                     [factor] * len(asked))))
        if bar is not None:
            bar.update(1)
        for e, m in list(pending):
            est = estimators[e]
            first, counts = (part[:, est.member_of_ == m] for part in responses[e])
            silent = counts.sum(axis=1) == 0
            accuracy = float(np.mean(est._decode(first, counts, one_member=True) == ys[e]))
            if accuracy > best[e][m][0]:
                best[e][m] = (accuracy, factor, silent)
            if silent.sum() <= 0.05 * len(trains[e]):
                pending.remove((e, m))
    if bar is not None:
        bar.close()
    for est, chosen in zip(estimators, best):
        est.readout_scale_ = np.array([factor for _, factor, _ in chosen])
        est.train_silent_fraction_ = float(np.mean(np.logical_and.reduce([silent for *_, silent in chosen])))


def predict_many(estimators, Xs, *, progress=False):
    """(predictions, details) of fitted classifiers, each on its own data, their frozen networks side by side;
    ``progress``: a bar over the patterns shown."""
    trains = []
    for est, X in zip(estimators, Xs, strict=True):
        check_is_fitted(est, "weights_")
        trains.append(est._trains(validate_data(est, X, dtype=np.float64, reset=False)))
    if not estimators:
        return []
    total = sum(len(t) * est.settings_["members"] for est, t in zip(estimators, trains))
    bar = _bar(progress, total, "predicting" if len(estimators) == 1 else f"predicting ({len(estimators)} fits)")
    # reads with a device's read noise draw Brian2 random numbers: seeded by the (first) fit's seed, so predicting
    # again gives the same answer; without read noise nothing is drawn and the seed is left alone
    noisy = any(read_noise(est.rule_)[0] for est in estimators)
    with estimators[0]._brian(getattr(estimators[0], "seed_", None) if noisy else None):
        responses = frozen_responses(estimators, trains, [est.readout_scale_ for est in estimators], bar=bar)
    if bar is not None:
        bar.close()
    results = []
    for est, (first, counts), patterns in zip(estimators, responses, trains):
        pred, info = est._details(first, counts, patterns)
        results.append((est.classes_[pred], info))
    return results

