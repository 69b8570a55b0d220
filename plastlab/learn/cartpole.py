"""Closed-loop control: CartPole-v1 (gymnasium, 200-step cap) with a plastic spiking layer
(:mod:`plastlab.brian.layer`).

One Brian2 network (:class:`plastlab.brian.control.ControlNetwork`, built from the settings here), one run for
the whole training; :meth:`CartPoleLearner.step` runs at every slot boundary and closes the loop with the
environment. Each environment step is one slot
of ``t_encode + t_gap`` ms:

* **decision** layer: the receptive-field encoded state (4 features) drives 2 action neurons through a static
  copy of the current plastic weights; the first action neuron to spike chooses the action (no spike or a tie:
  a random action, the only exploration there is);
* **teaching** layer: in the same slot the previous state is presented again (its input spikes ``teach_lead``
  ms late) to a second pair of action neurons through the plastic synapses (the rule), with a teacher current
  into the neuron of the action that was taken, ``teacher_delay`` ms after the earliest input spike; when the
  step moved the system toward failure (the distance to failure shrank), the other action's neuron is taught
  instead. The neuron that is not taught is held down (``suppress``) or, with ``anti_teach``, made to fire at the
  slot start, before all input spikes (its active synapses are depressed).

The published protocol (Vlasov et al. 2023) is the default: the distance to failure is the *current* state's,
no model of the cart's future, and the learning rate and the teacher current are scaled by ``1 - R / R_max``.

* ``failure_distance``: ``"state"`` (default), the mean margin of the four state variables (cart position and
  pole angle to the environment's thresholds, the velocities to ``state_bounds``); ``"position"``, the smaller
  margin of angle and position only. gymnasium integrates with explicit Euler: a step moves the positions with
  the old velocities and then changes the velocities by the force, so the positions after a step do not depend
  on its action and a teacher that reads only them is at chance; the velocities respond at once.
* ``horizon`` (option, 0 by default): the positions taken ``horizon`` seconds ahead at the current velocities, a
  model-based look-ahead the paper's network did not have.
* ``judge_delay`` (option, 0 by default): each step's verdict goes to the action ``judge_delay`` steps earlier
  (its state is the one presented), e.g. 1: an action judged by the first change of the positions it causes.
* ``anneal``: with R the running reward (EMA 0.05) and R_max ``reward_max`` (default: the step cap),
  ``"rate+amplitude"`` (default) multiplies the rule's weight changes and the teacher current by
  ``1 - R / R_max``; ``"rate"`` or ``"amplitude"`` one of them, ``"off"`` neither, ``"probability"`` skips a
  teaching presentation with probability ``R / R_max``. ``learning_rate`` multiplies the rule's changes too.
* ``plasticity = false``: the control without learning (the weights stay at their initial values).

Each output neuron fires at most once per slot; at each slot start the neurons and every state variable of the
plastic synapses but ``w`` (traces, last-spike times) are reset, so presentations do not interact.
Success as the Sboev group measures it: the running reward (EMA 0.05 of episode lengths) above 199.9.
"""

import time

import numpy as np

from ..brian.control import ControlNetwork
from ..brian.layer import check_rule, initial_fractions
from ..brian.taught import scope
from ..config import Param, validate
from .encoding import GaussianRFEncoder

ANNEAL = ("off", "amplitude", "rate", "rate+amplitude", "probability")
EMA = 0.05  # the group's running reward: R <- (1 - EMA) R + EMA * episode reward
SOLVED_MARGIN = 0.1  # solved when the running reward exceeds max_steps - 0.1 (199.9 with the 200-step cap)

CONTROLLER = {
    "n_fields": Param(int, 10, low=2, high=200),
    "sigma": Param(float, None, low=0, strict=True, nullable=True),
    "t_encode": Param(float, 10.0, low=0, strict=True),
    "drop_late": Param(float, 0.95, low=0, high=1, strict=True),
    "t_gap": Param(float, 8.0, low=0),
    "dt": Param(float, 0.5, low=0, high=5, strict=True),
    "w_init": Param(float, 0.05, low=0, high=1),
    "w_spread": Param(float, 0.02, low=0, high=2),
    "gain": Param(float, 40.0, low=0),
    "tau_m": Param(float, 4.0, low=0, strict=True),
    "tau_syn": Param(float, 3.0, low=0, strict=True),
    "v_th": Param(float, 8.0, low=0, strict=True),
    "teacher_amp": Param(float, 30.0, low=0),
    "teacher_delay": Param(float, 12.0, low=0),
    "teacher_duration": Param(float, 4.0, low=0, strict=True),
    "teach_lead": Param(float, 2.0, low=0),
    "suppress": Param(float, 100.0, low=0),
    "anti_teach": Param(bool, True),
    "inhibition": Param(float, 5.0, low=0),
    "anneal": Param(str, "rate+amplitude", choices=ANNEAL,
                    doc="scaling by 1 - R/reward_max (R the running reward): of the learning rate, of the teacher "
                        "current, both (the published protocol), neither; or teaching skipped with probability "
                        "R/reward_max"),
    "learning_rate": Param(float, 1.0, low=0,
                           doc="factor on every weight change of the rule (before the annealing)"),
    "reward_max": Param(float, None, low=0, strict=True, nullable=True,
                        doc="R_max of the annealing (default: max_steps)"),
    "failure_distance": Param(str, "state", choices=("state", "position"),
                              doc="distance to failure: the mean margin of all four state variables (velocities "
                                  "relative to state_bounds), or the smaller margin of pole angle and cart position"),
    "judge_delay": Param(int, 0, low=0, high=10,
                         doc="each step's change of the distance to failure judges the action this many steps "
                             "earlier (its state is the one taught); 0: the action just taken"),
    "horizon": Param(float, 0.0, low=0, high=10,
                     doc="look-ahead in s: positions taken this far ahead at the current velocities (a model of the "
                         "cart the published network did not have); 0: the current state"),
    "max_steps": Param(int, 200, low=1, high=100_000),
    "stop_when_solved": Param(bool, False),
    "plasticity": Param(bool, True),
    "state_bounds": Param(list, [2.4, 1.5, 0.2095, 2.0], length=4, item=Param(float, low=0, strict=True)),
}


def controller_settings(settings, *, file=None, section="controller"):
    """``settings`` checked against the declared table, defaults filled in (ConfigError on any problem)."""
    settings = dict(settings)
    if settings.get("anneal") is True or settings.get("anneal") is False:  # older files: anneal = true / false
        settings["anneal"] = "amplitude" if settings["anneal"] else "off"
    return validate(settings, CONTROLLER, file=file, section=section)


def running_reward(lengths):
    """The group's running reward after each episode: R <- (1 - 0.05) R + 0.05 * length, from R = 0."""
    ema, value = np.empty(len(lengths)), 0.0
    for k, length in enumerate(lengths):
        value = (1 - EMA) * value + EMA * length
        ema[k] = value
    return ema


class CartPoleLearner:
    """CartPole-v1 with a plastic spiking layer: ``build()``, then ``run(episodes)``, then ``to_dataset()``.

    Reproducible: ``seed`` fixes the environment, the initial weights and the random actions. ``log``: a list that
    receives one ``(previous state, action, taught action, first-spike times)`` tuple per step (diagnostics).
    """

    def __init__(self, rule, *, seed=0, log=None, **settings):
        self.rule = check_rule(rule, "the CartPole controller")
        self.p = controller_settings(settings)
        self.seed = int(seed)
        self.log = log
        self.rng = np.random.RandomState(self.seed)
        self.lengths, self.silent_steps, self.tied_steps = [], [], []
        self.steps = self.silent = self.ties = self.random_actions = self.decisions = 0
        self.running = 0.0  # running reward (EMA 0.05), from 0: solving takes at least 149 episodes of 200 steps
        self.obs = None
        self.recent = []  # (state, action) of the last steps, for judge_delay
        self.episodes = 0
        self.wall_seconds = 0.0

    # ------------------------------------------------------------------ build
    def build(self):
        """The environment, the encoder and the network (call inside ``scope``)."""
        import gymnasium as gym

        p = self.p
        self.env = gym.make("CartPole-v1", max_episode_steps=p["max_steps"])
        # failure thresholds from the environment itself (cart position, pole angle)
        self.x_max = float(self.env.unwrapped.x_threshold)
        self.theta_max = float(self.env.unwrapped.theta_threshold_radians)
        half = np.asarray(p["state_bounds"], dtype=float)
        self.encoder = GaussianRFEncoder(p["n_fields"], p["sigma"], p["t_encode"], p["drop_late"],
                                         bounds=(-half, half)).fit(np.vstack([-half, half]))
        n_in = self.encoder.n_outputs_
        self.slot = round((p["t_encode"] + p["t_gap"]) / p["dt"]) * p["dt"]
        neuron = dict(tau_m=p["tau_m"], tau_syn=p["tau_syn"], t_ref=10 * self.slot, v_th=p["v_th"],
                      teacher_amp=p["teacher_amp"], suppress_amp=p["suppress"])
        initial = initial_fractions(2 * n_in, p["w_init"], p["w_spread"], self.rng)
        self.net = ControlNetwork(self.rule, n_in=n_in, dt=p["dt"], slot=self.slot, neuron=neuron,
                                  gain=p["gain"] / 4.0, inhibition=p["inhibition"], plasticity=p["plasticity"],
                                  initial=initial, on_slot=self.step)
        self.obs, _ = self.env.reset(seed=self.seed)
        return self

    # ------------------------------------------------------------------ one slot
    def distance(self, s):
        """Distance to failure of state ``s``, 1 at the centre: ``failure_distance = "state"``, the mean margin of
        the four state variables (cart position and pole angle to the environment's thresholds, the velocities to
        ``state_bounds``); ``"position"``, the smaller margin of the angle and the position (0 at a threshold).
        The positions are taken ``horizon`` seconds ahead at the current velocities (0: as they are)."""
        h = self.p["horizon"]
        margins = (1 - abs(s[2] + h * s[3]) / self.theta_max, 1 - abs(s[0] + h * s[1]) / self.x_max)
        if self.p["failure_distance"] == "position":
            return min(margins)
        bounds = self.p["state_bounds"]
        return (sum(margins) + 2 - abs(s[1]) / bounds[1] - abs(s[3]) / bounds[3]) / 4

    @property
    def anneal_factor(self):
        """1 - R / R_max (R the running reward, R_max ``reward_max``, by default the step cap), at least 0."""
        r_max = self.p["reward_max"] or self.p["max_steps"]
        return max(0.0, 1.0 - self.running / r_max)

    def decide(self):
        """The action of the previous slot's decision layer: first to spike; silent or tied: random."""
        first = self.net.decision_spikes()
        fired = first > -1.0  # reset to -1e4 s at each slot start
        self.decisions += 1
        if fired.any() and not (fired.all() and first[0] == first[1]):
            return int(np.argmax(np.where(fired, -first, -np.inf))), first.copy()
        self.random_actions += 1
        if fired.any():
            self.ties += 1
        else:
            self.silent += 1
        return int(self.rng.randint(2)), first.copy()

    def act(self, action, first):
        """One environment step; returns (state taught, action taught), or None while the step that
        ``judge_delay`` steps back judges has not come yet, and closes an ended episode."""
        prev = self.obs
        obs, _, terminated, truncated, _ = self.env.step(action)
        self.steps += 1
        self.recent.append((prev, action))
        worse = terminated or self.distance(obs) < self.distance(prev)
        result = None
        if len(self.recent) > self.p["judge_delay"]:  # the step judge_delay steps back, by this step's change
            state, judged = self.recent[-1 - self.p["judge_delay"]]
            result = state, 1 - judged if worse else judged
        if self.log is not None:
            self.log.append((prev.copy(), action, -1 if result is None else result[1], first))
        self.obs = obs
        if terminated or truncated:
            self.recent.clear()
            self.end_episode()
        else:
            del self.recent[:-1 - self.p["judge_delay"]]
        return result

    def end_episode(self):
        self.lengths.append(self.steps)
        self.silent_steps.append(self.silent)
        self.tied_steps.append(self.ties)
        self.running = (1 - EMA) * self.running + EMA * self.steps
        self.steps = self.silent = self.ties = 0
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(len=self.lengths[-1], running=f"{self.running:.1f}")
        self.obs, _ = self.env.reset(seed=int(self.rng.randint(2**31 - 1)))

    @property
    def solved(self):
        return self.running > self.p["max_steps"] - SOLVED_MARGIN

    def present(self, layer, state, t0, lead=0.0):
        """The encoded ``state`` as one spike per field of ``layer`` in the slot starting at ``t0`` ms, on the
        time grid; the earliest time."""
        dt = self.p["dt"]
        times = self.encoder.transform(state[None, :])[0] + lead
        self.net.set_spike_times(layer, t0 + np.round(times / dt) * dt)
        return np.nanmin(times) if np.any(~np.isnan(times)) else 0.0

    def teach(self, state, target, t0):
        """The teaching presentation of ``state`` with ``target`` as the taught action."""
        p = self.p
        onset = self.present("teaching", state, t0, lead=p["teach_lead"])
        factor = self.anneal_factor
        self.net.set_teacher_amp(p["teacher_amp"] * (factor if p["anneal"] in ("amplitude", "rate+amplitude") else 1))
        self.net.set_learning_rate(p["learning_rate"] * (factor if p["anneal"] in ("rate", "rate+amplitude") else 1))
        start = t0 + onset + p["teacher_delay"]  # after the earliest input spike
        self.net.teach(target, start, start + p["teacher_duration"])
        if p["anti_teach"]:  # the other action's neuron fires before the inputs (depression)
            self.net.teach(1 - target, t0, t0 + p["teacher_duration"])
        else:
            self.net.hold_down(1 - target, t0 + self.slot)

    def step(self, t0):
        """One slot boundary (``t0`` ms): act on the previous decision, teach it, present the new state."""
        taught = None
        if t0 > 0:
            taught = self.act(*self.decide())
            if self.episodes_done or (self.p["stop_when_solved"] and self.solved):
                self.net.stop()
                return
        self.net.reset_slot()
        if taught is not None and self.p["anneal"] == "probability" and (
                self.rng.random_sample() < 1 - self.anneal_factor):
            taught = None
        if taught is not None:
            self.teach(taught[0], taught[1], t0)
        else:
            self.net.silence("teaching")
        self.net.copy_weights()
        self.present("decision", self.obs, t0)

    @property
    def episodes_done(self):
        return len(self.lengths) >= self.episodes

    # ------------------------------------------------------------------ run, results
    def run(self, episodes, *, progress=False):
        """Train for ``episodes`` episodes (fewer with ``stop_when_solved``) inside scoped Brian2 settings."""
        self.episodes = int(episodes)
        self.bar = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.episodes, desc=f"CartPole {self.rule.name}", unit="ep")
        t_start = time.perf_counter()
        try:
            with scope(dt=self.p["dt"], seed=self.seed):
                self.build()
                max_slots = self.episodes * (self.p["max_steps"] + 1) + 2
                self.simulated_seconds = self.net.run(max_slots * self.slot) * 1e-3
        finally:
            if self.bar is not None:
                self.bar.close()
            if hasattr(self, "env"):
                self.env.close()
        self.wall_seconds = time.perf_counter() - t_start
        return self

    def to_dataset(self):
        """Episode lengths, running means (100-episode window via xarray's rolling; the EMA 0.05 reward), silent
        and tied steps over ``episode``; learned weights; settings and provenance in attrs."""
        import xarray as xr

        from ..store import provenance

        lengths = np.array(self.lengths, dtype=int)
        ds = xr.Dataset(
            {
                "episode_length": (("episode",), lengths, {"long_name": "episode length (steps)"}),
                "silent_steps": (("episode",), np.array(self.silent_steps, dtype=int),
                                 {"long_name": "steps with both action neurons silent (random action)"}),
                "tied_steps": (("episode",), np.array(self.tied_steps, dtype=int),
                               {"long_name": "steps with both first spikes in the same time step (random action)"}),
            },
            coords={"episode": np.arange(len(lengths))},
        )
        ds["mean_100"] = ds.episode_length.rolling(episode=100, min_periods=1).mean()
        ds["mean_100"].attrs["long_name"] = "mean length of the last 100 episodes"
        ema = running_reward(lengths)
        ds["running_reward"] = (("episode",), ema, {"long_name": f"running reward (EMA {EMA})"})
        ds["weights"] = (("input", "neuron"), self.net.fractions(),
                         {"long_name": "learned weights as fractions of the rule's range"})
        threshold = self.p["max_steps"] - SOLVED_MARGIN
        solved = np.flatnonzero(ema > threshold)
        ds.attrs.update(provenance(
            rule=self.rule, seed=self.seed, task="CartPole-v1", episodes=self.episodes, settings=dict(self.p),
            wall_seconds=self.wall_seconds, simulated_seconds=self.simulated_seconds,
            random_actions=self.random_actions, decisions=self.decisions,
            solved_threshold=threshold, x_threshold=self.x_max, theta_threshold=self.theta_max,
            episodes_to_solve=int(solved[0] + 1) if len(solved) else -1,
            mean_last_100=float(lengths[-100:].mean()) if len(lengths) else float("nan"),
            best_mean_100=float(ds.mean_100.max()) if len(lengths) else float("nan")))
        return ds


def train_cartpole(rule, *, episodes=1000, seed=0, progress=False, log=None, **settings):
    """Train on CartPole-v1 for ``episodes`` episodes; an xarray Dataset (see :meth:`CartPoleLearner.to_dataset`)."""
    return CartPoleLearner(rule, seed=seed, log=log, **settings).run(episodes, progress=progress).to_dataset()
