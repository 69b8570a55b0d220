"""Closed-loop control: CartPole-v1 (gymnasium, 200-step cap) with a plastic spiking layer.

One Brian2 network, one ``Network.run`` for the whole training; a ``network_operation`` at every slot
boundary closes the loop with the environment. Each environment step is one slot of ``t_encode + t_gap``:

* **decision** network: the receptive-field encoded state (4 features) drives 2 action neurons through a
  static copy of the current plastic weights; the first action neuron to spike chooses the action (no
  spike: a random action, the only exploration there is);
* **teaching** network: in the same slot, the previous state is presented again (its input spikes
  ``teach_lead`` ms late) to a second pair of action neurons through the plastic synapses (the rule), with a
  teacher current into the neuron of the action that was taken, ``teacher_delay`` ms after the earliest input
  spike; when the reward signal (distance to failure: pole angle and cart position) says the step moved the
  system toward failure, the teacher is inverted: the other action's neuron is taught instead. The neuron
  that is not taught is either held down (``suppress``: its synapses do not change) or, with ``anti_teach``,
  made to fire at the slot start, before all input spikes of the state (pre after post: its active synapses
  are depressed), which makes the two action neurons compete for every state;
* the distance to failure looks ``horizon`` seconds ahead at the current velocities (an action changes
  the velocities at once, the positions only a step later, so the distance of the positions alone would
  not depend on the action);
* optionally (``anneal``) teaching fades with the running episode reward R (exponential moving average of
  episode lengths, 0.05): ``"amplitude"`` (or true) scales the teacher current by ``1 - R / R_max``,
  ``"probability"`` skips the teaching presentation of a step with probability ``R / R_max``;
* ``state_bounds``: half-widths of the receptive-field ranges of x, x_dot, theta, theta_dot (values beyond
  them map to the outermost field).

Each output neuron fires at most once per slot, and at each slot start every state variable of the plastic
synapses except ``w`` (traces, last-spike times) is reset, so presentations do not interact.
"""

import time

import numpy as np

from .classifier import (
    check_drivable, get_weights, resolve_rule, set_weights, synapse_state_names, transmit_statement,
    weight_bounds,
)
from .encoding import GaussianRFEncoder
from ..brian.codegen import synapses
from ..errors import PlastlabError

THETA_MAX, X_MAX = 0.2095, 2.4

DEFAULTS = dict(
    n_fields=10, sigma=None, t_encode=10.0, drop_late=0.95, t_gap=8.0, dt=0.5, w_init=0.05, w_spread=0.02,
    gain=40.0, tau_m=4.0, tau_syn=3.0, v_th=8.0, teacher_amp=30.0, teacher_delay=12.0, teacher_duration=4.0,
    suppress=100.0, anti_teach=True, inhibition=5.0, anneal=False, horizon=0.2, max_steps=200, stop_when_solved=False,
    state_bounds=(2.4, 1.5, 0.2095, 2.0), teach_lead=2.0,
)
ANNEAL_MODES = (False, True, "amplitude", "probability")

NEURON_MODEL = """
dv/dt = (I - v + teach_amp * int(t >= teach_from) * int(t < teach_until)
         - suppress_amp * int(t < suppress_until)) / tau_m : 1
dI/dt = -I / tau_syn : 1
teach_from : second
teach_until : second
suppress_until : second
teach_amp : 1
suppress_amp : 1
fired : 1
t_first : second
"""


def check_controller_settings(rule, settings, where="controller"):
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise PlastlabError(f"{where}: unknown setting '{unknown[0]}' (known: {', '.join(sorted(DEFAULTS))})")
    if "anneal" in settings and settings["anneal"] not in ANNEAL_MODES:
        raise PlastlabError(f"{where}: anneal must be false, true, 'amplitude' or 'probability', "
                            f"got {settings['anneal']!r}")
    if "state_bounds" in settings and (len(settings["state_bounds"]) != 4
                                       or not all(float(b) > 0 for b in settings["state_bounds"])):
        raise PlastlabError(f"{where}: state_bounds must be 4 positive half-widths (x, x_dot, theta, theta_dot)")
    check_drivable(rule, provides={"v": "1", "I": "1"})


def _raw(group, name):
    """The value array behind a Brian2 variable (no copy, no units: seconds for times)."""
    return group.variables[name].get_value()


def train_cartpole(rule, *, episodes=1000, seed=0, progress=False, log=None, **settings):
    """Train on CartPole-v1 for ``episodes`` episodes; xarray Dataset with ``episode_length`` over ``episode``.

    Reproducible: ``seed`` fixes the environment, Brian2's and numpy's random numbers. ``log``: a list that
    receives one ``(previous state, action, taught action, first-spike times)`` tuple per step (diagnostics).
    """
    import brian2 as b2
    import gymnasium as gym
    import xarray as xr
    from brian2 import ms, second

    from ..store import provenance

    rule = resolve_rule(rule)
    check_controller_settings(rule, settings)
    p = dict(DEFAULTS, **settings)
    rng = np.random.RandomState(seed)
    b2.seed(seed)
    env = gym.make("CartPole-v1", max_episode_steps=int(p["max_steps"]))
    hi_b = np.asarray(p["state_bounds"], dtype=float)
    enc = GaussianRFEncoder(p["n_fields"], p["sigma"], p["t_encode"], p["drop_late"],
                            bounds=(-hi_b, hi_b)).fit(np.vstack([-hi_b, hi_b]))
    n_in, n_out = enc.n_outputs_, 2
    dt = p["dt"]
    slot = p["t_encode"] + p["t_gap"]
    n_per_slot = int(round(slot / dt))
    slot = n_per_slot * dt
    clock = b2.Clock(dt * ms, name="ctl_clock")
    ns = {"tau_m": p["tau_m"] * ms, "tau_syn": p["tau_syn"] * ms, "v_th": p["v_th"]}

    def inputs(name):
        g = b2.NeuronGroup(n_in, "t_spike : second", threshold="abs(t - t_spike) < 0.5*dt", clock=clock,
                           name=name)
        g.t_spike = -1 * second
        return g

    def outputs(name):
        g = b2.NeuronGroup(n_out, NEURON_MODEL, threshold="v > v_th and fired == 0",
                           reset="v = 0\nfired = 1\nt_first = t", method="euler", namespace=ns, clock=clock,
                           name=name)
        g.teach_from = g.teach_until = g.suppress_until = -1 * second
        g.teach_amp, g.suppress_amp = p["teacher_amp"], p["suppress"]
        return g

    in_dec, in_teach = inputs("ctl_in_dec"), inputs("ctl_in_teach")
    out_dec, out_teach = outputs("ctl_out_dec"), outputs("ctl_out_teach")
    transmit, transmit_ns = transmit_statement(rule, p["gain"] / 4.0)
    try:
        plastic = synapses(rule, in_teach, out_teach, transmit=transmit, namespace=transmit_ns, clock=clock,
                                name="ctl_plastic")
    except PlastlabError:
        raise
    except Exception as exc:
        raise PlastlabError(f"rule '{rule.name}' cannot drive this network: {str(exc).splitlines()[0]}") from exc
    plastic.connect()
    static = b2.Synapses(in_dec, out_dec, "w : 1", on_pre="I_post += transmit_gain * w", clock=clock,
                         namespace={"transmit_gain": p["gain"] / 4.0}, name="ctl_static")
    static.connect()
    inhib = []
    for g in (out_dec, out_teach):
        s = b2.Synapses(g, g, on_pre=f"v_post -= {float(p['inhibition'])!r}", clock=clock, name=f"{g.name}_inhib")
        s.connect(condition="i != j")
        inhib.append(s)
    lo, hi = weight_bounds(rule)
    frac = np.clip(p["w_init"] + p["w_spread"] * (rng.random_sample(len(plastic)) - 0.5), 0, 1)
    set_weights(rule, plastic, lo + (hi - lo) * frac)
    # every synaptic state variable but the weight is reset at each slot start
    state = {k: plastic.variables[k].get_value().copy() for k in synapse_state_names(plastic)}

    # ------------------------------------------------------------------ the loop, one call per slot
    lengths, silent_ep, ties_ep = [], [], []
    loop = dict(obs=None, steps=0, episode=0, random_actions=0, decisions=0, silent=0, ties=0, running=0.0)
    obs, _ = env.reset(seed=seed)
    loop["obs"] = obs
    w_plastic = plastic.variables["w"]
    w_static = static.variables["w"]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=episodes, desc=f"CartPole {rule.name}", unit="ep")

    def distance(s):
        # distance to failure, looking ``horizon`` seconds ahead (at the current velocities): the action
        # changes the velocities at once but the positions only one step later
        h = p["horizon"]
        return min(1 - abs(s[2] + h * s[3]) / THETA_MAX, 1 - abs(s[0] + h * s[1]) / X_MAX)

    def present(group, s, t0):
        times = enc.transform(s[None, :])[0] + (p["teach_lead"] if group is in_teach else 0.0)
        ts = _raw(group, "t_spike")
        ts[:] = np.where(np.isnan(times), -1.0, (t0 + np.round(times / dt) * dt) * 1e-3)
        return np.nanmin(times) if np.any(~np.isnan(times)) else 0.0

    def reset_outputs(g):
        _raw(g, "v")[:] = 0
        _raw(g, "I")[:] = 0
        _raw(g, "fired")[:] = 0
        _raw(g, "t_first")[:] = 1e9
        _raw(g, "teach_from")[:] = -1
        _raw(g, "teach_until")[:] = -1
        _raw(g, "suppress_until")[:] = -1

    @b2.network_operation(clock=b2.Clock(slot * ms, name="ctl_loop_clock"), when="start", name="ctl_loop")
    def step(t):
        t0 = float(t / ms)
        teach_target = None
        if t0 > 0:
            # 1. the decision of the previous slot
            first = _raw(out_dec, "t_first")
            if np.all(first > 1e8):
                action = int(rng.randint(2))
                loop["random_actions"] += 1
                loop["silent"] += 1
            elif first[0] == first[1]:
                action = int(rng.randint(2))
                loop["random_actions"] += 1
                loop["ties"] += 1
            else:
                action = int(np.argmin(first))
            loop["decisions"] += 1
            prev = loop["obs"]
            obs, reward, terminated, truncated, _ = env.step(action)
            loop["steps"] += 1
            worse = terminated or distance(obs) < distance(prev)
            teach_target = (action if not worse else 1 - action, prev)
            if log is not None:
                log.append((prev.copy(), action, teach_target[0], first.copy()))
            if terminated or truncated:
                lengths.append(loop["steps"])
                silent_ep.append(loop["silent"])
                ties_ep.append(loop["ties"])
                loop["silent"] = loop["ties"] = 0
                loop["running"] = 0.95 * loop["running"] + 0.05 * loop["steps"] if lengths[:-1] else loop["steps"]
                loop["steps"] = 0
                loop["episode"] += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(len=lengths[-1], mean100=f"{np.mean(lengths[-100:]):.1f}")
                obs, _ = env.reset(seed=int(rng.randint(2**31 - 1)))
                done = loop["episode"] >= episodes or (
                    p["stop_when_solved"] and len(lengths) >= 100 and np.mean(lengths[-100:]) >= 195)
                if done:
                    step_net.stop()
                    return
            loop["obs"] = obs
        # 2. fresh slot: reset neurons and synaptic pairing state
        reset_outputs(out_dec)
        reset_outputs(out_teach)
        for k, v in state.items():
            plastic.variables[k].get_value()[:] = v
        # 3. teaching presentation of the previous state (annealed: skipped with probability R / R_max)
        if teach_target is not None and p["anneal"] == "probability" and (
                rng.random_sample() < loop["running"] / p["max_steps"]):
            teach_target = None
        if teach_target is not None:
            target, s_prev = teach_target
            onset = present(in_teach, s_prev, t0)
            amp = p["teacher_amp"]
            if p["anneal"] in (True, "amplitude"):
                amp *= max(0.0, 1.0 - loop["running"] / p["max_steps"])
            _raw(out_teach, "teach_amp")[:] = amp
            # the teacher current starts teacher_delay after the earliest input spike
            start = t0 + onset + p["teacher_delay"]
            _raw(out_teach, "teach_from")[target] = start * 1e-3
            _raw(out_teach, "teach_until")[target] = (start + p["teacher_duration"]) * 1e-3
            if p["anti_teach"]:
                # inverted teacher: the other action's neuron fires before the inputs (depression)
                _raw(out_teach, "teach_from")[1 - target] = t0 * 1e-3
                _raw(out_teach, "teach_until")[1 - target] = (t0 + p["teacher_duration"]) * 1e-3
            else:
                _raw(out_teach, "suppress_until")[1 - target] = (t0 + slot) * 1e-3
        else:
            _raw(in_teach, "t_spike")[:] = -1.0
        # 4. decision presentation of the current state with the current weights
        w_static.get_value()[:] = (np.asarray(w_plastic.get_value(), dtype=float) - lo) / (hi - lo)
        present(in_dec, loop["obs"], t0)

    step_net = b2.Network(in_dec, in_teach, out_dec, out_teach, plastic, static, *inhib, step)
    t_start = time.perf_counter()
    max_slots = episodes * int(p["max_steps"]) + episodes + 2
    step_net.run(max_slots * slot * ms)
    wall = time.perf_counter() - t_start
    if bar is not None:
        bar.close()
    env.close()
    lengths = np.array(lengths, dtype=int)
    run100 = np.array([lengths[max(0, k - 99):k + 1].mean() for k in range(len(lengths))])
    ds = xr.Dataset(
        {
            "episode_length": (("episode",), lengths, {"long_name": "episode length (steps)"}),
            "mean_100": (("episode",), run100, {"long_name": "mean length of the last 100 episodes"}),
            "silent_steps": (("episode",), np.array(silent_ep, dtype=int),
                             {"long_name": "steps with both action neurons silent (random action)"}),
            "tied_steps": (("episode",), np.array(ties_ep, dtype=int),
                           {"long_name": "steps with both first spikes in the same time step (random action)"}),
        },
        coords={"episode": np.arange(len(lengths))},
    )
    ds["weights"] = (("input", "neuron"), get_weights(rule, plastic).reshape(n_in, n_out),
                     {"long_name": "learned weights"})
    ds.attrs.update(provenance(rule=rule, seed=seed, task="CartPole-v1", episodes=episodes,
                               settings={k: v for k, v in p.items()}, wall_seconds=wall,
                               simulated_seconds=float(step_net.t / second),
                               random_actions=loop["random_actions"], decisions=loop["decisions"],
                               mean_last_100=float(lengths[-100:].mean()) if len(lengths) else float("nan"),
                               best_mean_100=float(run100.max()) if len(run100) else float("nan")))
    return ds
