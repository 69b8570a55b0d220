"""Error-driven family: a student neuron learns to imitate a teacher (Jordan et al. 2021, Fig. 4).

The paper's task (authors' code, ``../shared/reference/evolving-rules.md``): one instance has ``n_inputs``
Poisson inputs (rates uniform in [``rate_low``, ``rate_high``]) that drive, all-to-all with a ``delay``, a
teacher with fixed random weights (uniform in [``teacher_w_low``, ``teacher_w_high``] pA) and a student whose
weights start at ``w0`` pA. Both neurons are NEST ``iaf_psc_exp`` without reset (E_L = -70 mV, tau_m = 10 ms,
C_m = 250 pF, tau_syn = 2 ms), so their potentials are smooth read-outs. Potentials are plain numbers in mV,
weights plain numbers in pA. The rule reads

* ``v_teacher``: the teacher's potential as the authors' synapse sees it: sampled and held every
  ``teacher_hold`` ms (5 ms, their simulation step),
* ``v_student``: the student's membrane potential,
* ``pre_trace``: the presynaptic PSP trace s̄ (x jumps by 1 at each input spike and decays with tau_syn, s̄
  follows x through tau_m; v_student = E_L + (tau_m/C_m) * sum_j w_j s̄_j, so the authors' PSP in mV per pA is
  0.04 * s̄ and their eta = 1.7 becomes ``eta`` = 0.068 per ms for this dimensionless s̄),

and, every ``rule_dt``, Δ = f(v_teacher, v_student, pre_trace) enters the low-pass filter tau_I dI/dt = -I + Δ
and w += eta * I * rule_dt (Euler steps). Fitness: -(1/K) sum_k sqrt(sum_t (u_t - v_t)^2), potentials sampled
every ms after dropping the first ``t_drop`` s.

Named departures from the paper (for speed; their effect is measured by benchmarks/task_baselines.py):
``dt`` = 0.1 ms (paper 0.01 ms) for neurons and traces, ``rule_dt`` = 1 ms for the rule's Euler step (the
paper integrates the rule every 0.01 ms). Input spikes are Poisson times rounded to the ``dt`` grid, at most
one per input and step.

Batching: one Brian2 network holds all candidates x instances; inputs and teachers exist once per instance, each
candidate has one student per instance. The candidate is *data*: a postfix program of its canonical form
(``programs.to_program``) that every synapse evaluates in place of f in ``rule_document``, so the network compiles
once per machine. ``evaluate_rule`` runs the same network with the plastic synapses compiled from a rule file.
"""
import numpy as np
import sympy as sp

from ...brian.programs import ProgramCalls
from ...brian.requirements import Offer
from ...brian.tasknets import (
    Connection,
    NetworkSpec,
    Neurons,
    Operation,
    Quantity,
    Run,
    SpikeSource,
    StateProbe,
    simulate,
)
from ...config import Param
from ...errors import ConfigError
from .base import Check, ProgramBatch, TaskFamily, evolved_rule_header, rule_from_document, with_nonce

_SCHEMA = {
    "n_inputs": Param(int, 5, low=1),
    "rate_low": Param(float, 150.0, low=0.0, doc="Hz"),
    "rate_high": Param(float, 850.0, low=0.0, doc="Hz"),
    "teacher_w_low": Param(float, -5.0, doc="pA"),
    "teacher_w_high": Param(float, 35.0, doc="pA"),
    "w0": Param(float, 5.0, doc="student's initial weights, pA"),
    "E_L": Param(float, -70.0, doc="mV"),
    "tau_m": Param(float, 10.0, low=0.0, strict=True, doc="ms"),
    "tau_s": Param(float, 2.0, low=0.0, strict=True, doc="ms"),
    "C_m": Param(float, 250.0, low=0.0, strict=True, doc="pF"),
    "tau_I": Param(float, 100.0, low=0.0, strict=True, doc="ms"),
    "eta": Param(float, 0.068, doc="per ms: the authors' 1.7 times their PSP unit 0.04 mV/pA"),
    "duration": Param(float, 10.0, low=0.0, strict=True, doc="s per instance"),
    "t_drop": Param(float, 1.0, low=0.0, doc="s dropped before scoring"),
    "dt": Param(float, 0.1, low=0.0, strict=True, doc="ms; paper 0.01 (departure for speed)"),
    "rule_dt": Param(float, 1.0, low=0.0, strict=True, doc="ms: the rule's Euler step (departure for speed)"),
    "teacher_hold": Param(float, 5.0, low=0.0, strict=True, doc="ms: sample-and-hold of the teacher potential"),
    "delay": Param(float, 1.0, low=0.0, doc="ms: input delay to teacher and student"),
    "instance_draw": Param(str, "plastlab", choices=("plastlab", "authors"),
                           doc="authors: seed S draws instance S exactly as the authors' sim.py does (numpy's legacy "
                               "RandomState(S); their training seeds are 1235 + trial, validation 817818273 + "
                               "trial); plastlab: numpy's Generator([S, 7])"),
}

NEURON_MODEL = "dv/dt = (E_L - v + R*Isyn)/tau_m : 1\nIsyn : 1"
TRACE_MODEL = "dx/dt = -x/tau_s : 1\ndsbar/dt = (x - sbar)/tau_m : 1"


class ErrorFamily(TaskFamily):
    """The student-teacher task (module docstring)."""

    NAME = "error"
    INPUTS = ("v_teacher", "v_student", "pre_trace")
    SCHEMA = _SCHEMA
    SCORED = "sqerr"
    OFFER = Offer(network="the error task", pre={"sbar"}, post={"v", "v_target"},
                  forms=("periodic", "continuous", "trace"))
    CHECKS = (Check(("sqerr", "w"), np.isnan, "simulation produced NaN"),
              Check(("sqerr", "w"), np.isinf, "simulation overflowed to inf"))

    def baselines(self):
        """Hand-designed rules by name, as SymPy expressions in the family's input names."""
        v, u, s = self.symbols()
        return {"no_plasticity": sp.Integer(0), "delta_rule": s * (v - u)}

    def reference(self):
        """The paper's rule that functional equivalence is judged against."""
        return self.baselines()["delta_rule"]

    def params_with_defaults(self, params=None, *, file=None):
        p = super().params_with_defaults(params, file=file)
        if p["t_drop"] >= p["duration"]:
            raise ConfigError(f"t_drop ({p['t_drop']} s) must be shorter than duration ({p['duration']} s): "
                              "nothing would be scored", file=file, section="family", key="t_drop")
        return p

    def rule_document(self, expr, name, summary, params=None, *, nonce=None):
        """A rule file (dict in the format of rules/README.md) for ``expr`` exactly as this family runs it.

        Potentials are plain numbers in mV, weights plain numbers in pA, as inside the task network; the
        teacher's potential is the held sample ``v_target``. The rule steps every ``rule_dt`` ([periodic]).
        ``nonce`` (digits) multiplies f by a parameter equal to 1 whose name makes the generated code new
        (benchmarks of compilation).
        """
        from ...rules.expressions import to_code

        p = self.params_with_defaults(params)
        f = to_code(expr)
        parameters = {"tau_I": f"{p['tau_I']!r}*ms", "eta": f"{p['eta']!r}/ms", "rule_dt": f"{p['rule_dt']!r}*ms"}
        f = with_nonce(parameters, f, nonce)
        return {
            "rule": evolved_rule_header("error", name, summary),
            "parameters": parameters,
            "weight": {"unit": "1", "min": "-inf", "max": "inf"},
            "inputs": {
                "v_teacher": {"source": "post", "variable": "v_target", "unit": "1",
                              "description": "a teacher potential"},
                "v_student": {"source": "post", "variable": "v", "unit": "1",
                              "description": "the student's potential"},
                "pre_trace": {"source": "pre", "variable": "sbar", "unit": "1",
                              "description": "a presynaptic PSP trace"},
            },
            "state": {"I": "1"},
            "periodic": {"interval": "rule_dt",
                         "statements": ["w += eta*I*rule_dt", f"I += (rule_dt/tau_I)*(({f}) - I)"]},
        }

    def program_calls(self, p, table):
        """Every ``rule_dt`` each synapse evaluates its student's candidate on (v_target, v, sbar); a NaN value
        (division by zero, pow outside its domain) is counted in ``zerodiv`` (Cython would raise on a division)."""
        return ProgramCalls(table, {"f": ("cand_post", self.INPUTS)})

    def sample_instance(self, p, seed):
        """One task instance from an integer seed: input spike steps and teacher weights (spike times are drawn on
        the authors' 0.01 ms grid or in continuous time, then put on the ``dt`` grid, at most one spike per input and
        step, so an instance is the same for every ``dt``)."""
        draw = _authors_draw if p["instance_draw"] == "authors" else _plastlab_draw
        rates, times_ms, teacher_w = draw(p, int(seed))
        steps, idx = [], []
        on_grid = 1e-6 if p["instance_draw"] == "authors" else 0.0  # the authors' 0.01 ms grid times stay on their step
        for j, t_ms in enumerate(times_ms):
            s = np.unique(np.floor(t_ms / p["dt"] + on_grid).astype(np.int64))
            steps.append(s)
            idx.append(np.full(s.size, j))
        return {"seed": int(seed), "rates": rates, "steps": np.concatenate(steps), "indices": np.concatenate(idx),
                "teacher_w": teacher_w}

    def score(self, sqerr):
        err = np.sqrt(sqerr)
        return float(-err.mean()), err.tolist()

    def network(self, p, insts, plasticity, record_w=None, record_inputs=None):
        """The spec of all candidates x instances: instance k owns inputs k*n_in ... k*n_in + n_in - 1, its
        teacher k and the students c*K + k of every candidate c."""
        C, K, n_in = plasticity.n_candidates, len(insts), p["n_inputs"]
        batched = isinstance(plasticity, ProgramBatch)
        ms = lambda value: Quantity(value, "ms")  # noqa: E731
        idx = np.concatenate([inst["indices"] + k * n_in for k, inst in enumerate(insts)])
        steps = np.concatenate([inst["steps"] for inst in insts])
        ns = {"tau_m": ms(p["tau_m"]), "tau_s": ms(p["tau_s"]), "E_L": p["E_L"], "R": p["tau_m"] / p["C_m"],
              "tau_I": ms(p["tau_I"]), "eta": Quantity(p["eta"], "/ms"), "t_drop": Quantity(p["t_drop"], "second"),
              "rule_dt": ms(p["rule_dt"])}
        student_model = "\n".join([NEURON_MODEL, "v_teacher : 1", "v_target : 1", "sqerr : 1",
                                   "cand : integer (constant)" if batched else ""])
        students = Neurons("students", C * K, student_model, values=dict(
            {"v": p["E_L"]}, **({"cand": np.repeat(np.arange(C), K)} if batched else {})))
        pre_i = np.arange(K * n_in)
        post = np.repeat(np.arange(C * K), n_in)  # student n = c*K + k receives the inputs of instance k
        ssyn = self.plastic(p, plasticity, name="ssyn", source="traces", target="students",
                            extra_model="Isyn_post = w*x_pre : 1 (summed)", periodic_order=2,  # after the hold
                            network_namespace=False,
                            connect={"i": (post % K) * n_in + np.tile(np.arange(n_in), C * K), "j": post},
                            values={"w": p["w0"]})
        probes = []
        if record_w:
            probes.append(StateProbe("w_monitor", "ssyn", ("w",), every=ms(record_w)))
        if record_inputs:
            probes += [StateProbe("watch_students", "students", ("v_target", "v", "v_teacher"), record=np.arange(K),
                                  every=ms(record_inputs), when="end", order=4),
                       StateProbe("watch_traces", "traces", ("sbar",), every=ms(record_inputs), when="end", order=4)]
        return NetworkSpec(
            dt=ms(p["dt"]), namespace=ns,
            sources=(SpikeSource("inputs", K * n_in, idx, steps),),
            neurons=(Neurons("traces", K * n_in, TRACE_MODEL),
                     Neurons("teachers", K, NEURON_MODEL, values={"v": p["E_L"]}), students),
            connections=(
                Connection("feed", "inputs", "traces", on_pre="x_post += 1", connect={"j": "i"}, delay=ms(p["delay"])),
                # the teacher's potential reaches its students through a (summed) copy; the rule sees it held
                Connection("copy", "teachers", "students", "v_teacher_post = v_pre : 1 (summed)",
                           connect={"i": np.tile(np.arange(K), C), "j": np.arange(C * K)}),
                Connection("tsyn", "traces", "teachers", "w : 1\nIsyn_post = w*x_pre : 1 (summed)",
                           connect={"i": pre_i, "j": pre_i // n_in},
                           values={"w": np.concatenate([inst["teacher_w"] for inst in insts])})),
            plastic=(ssyn,),
            operations=(Operation("hold", "students", "v_target = v_teacher", every=ms(p["teacher_hold"]), order=0),
                        Operation("sampler", "students", "sqerr += (v - v_teacher)**2 * int(t >= t_drop)",
                                  every=ms(1), order=3)),
            probes=tuple(probes), runs=(Run(Quantity(p["duration"], "second")),),
            read=(("students", "sqerr"), ("ssyn", "w")) + ((("ssyn", "zerodiv"),) if batched else ()))

    def run(self, p, insts, plasticity, record_w=None, record_inputs=None):
        """Simulate all candidates of ``plasticity`` x instances ``insts``; sums of squared errors per candidate
        and instance, final weights, zero-denominator counts, (if ``record_w`` ms) the weight trajectories and (if
        ``record_inputs`` ms) the rule inputs (v_target, v, sbar) of every synapse after t_drop, candidate 0, and
        the held and the continuous teacher potential of the first student."""
        C, K, n_in = plasticity.n_candidates, len(insts), p["n_inputs"]
        got = simulate(self.network(p, insts, plasticity, record_w, record_inputs))
        zerodiv = got.get("ssyn.zerodiv")
        inputs = held = teacher = None
        if record_inputs:
            students, traces = got["watch_students"], got["watch_traces"]
            held, teacher = students["v_target"][0], students["v_teacher"][0]
            keep = students["t"] >= p["t_drop"]
            owner = np.arange(K * n_in) // n_in  # the instance (= student of candidate 0) of every input
            inputs = np.stack([students["v_target"][owner][:, keep].ravel(), students["v"][owner][:, keep].ravel(),
                               traces["sbar"][:, keep].ravel()])
        return {"inputs": inputs, "held": held, "teacher": teacher, "sqerr": got["students.sqerr"].reshape(C, K),
                "w": got["ssyn.w"].reshape(C, K * n_in),
                "zerodiv": None if zerodiv is None else zerodiv.reshape(C, K * n_in),
                "w_trajectory": got["w_monitor"]["w"] if record_w else None}

    def equivalence_samples(self, seeds, params=None, n=2000, seed=0):
        """Rule inputs (v_teacher, v_student, pre_trace) visited on instances ``seeds`` while the paper's rule
        learns (after t_drop): the input range on which a champion is compared with the paper's rule."""
        p = self.params_with_defaults(params)
        rule = rule_from_document(self.rule_document(self.reference(), "reference", "", p))
        rec = self.run(p, self.instances(p, seeds), self.rule_plasticity(rule), record_inputs=10.0)["inputs"]
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, rec.shape[1], size=n)
        return rec[:, pick]


def _authors_draw(p, seed):
    """The authors' draw (``experiments/error_driven/sim.py``, ``np.random.seed(seed + trial)``): rates, one
    Poisson count and sorted uniform times in [0.01, T) per input floored to the 0.01 ms grid, one discarded
    draw (their random teacher-weight shift, always +15), then teacher weights uniform in [low - 15, high - 15]
    shifted by +15."""
    rs = np.random.RandomState(seed)
    duration_ms, grid = p["duration"] * 1000.0, 0.01
    rates = rs.uniform(p["rate_low"], p["rate_high"], size=p["n_inputs"])
    times = []
    for rate in rates:
        count = rs.poisson(duration_ms * 1e-3 * rate, 1)[0]
        t = np.sort(rs.uniform(grid, duration_ms, size=count))
        times.append(t - (t % grid))
    rs.rand()  # the authors' coin for the sign of the teacher-weight shift (never negative)
    shift = 15.0
    teacher_w = np.array([rs.uniform(p["teacher_w_low"] - shift, p["teacher_w_high"] - shift) + shift
                          for _ in range(p["n_inputs"])])
    return rates, times, teacher_w


def _plastlab_draw(p, seed):
    rng = np.random.default_rng([seed, 7])
    rates = rng.uniform(p["rate_low"], p["rate_high"], size=p["n_inputs"])
    teacher_w = rng.uniform(p["teacher_w_low"], p["teacher_w_high"], size=p["n_inputs"])
    times = []
    for rate in rates:
        n = rng.poisson(rate * p["duration"])
        times.append(rng.uniform(0.0, p["duration"] * 1000.0, size=n))
    return rates, times, teacher_w
