"""Brian2's STDP example network (examples/synapses/STDP.py), hand-written or driven by a rule file.

Kept in the library so the acceptance test and the overhead benchmark run exactly the same network.
"""
import numpy as np
from brian2 import Hz, Network, NeuronGroup, PoissonGroup, Synapses, ms, mV

from ..rules.files import load_rule
from .codegen import synapses
from .settings import brian_settings

HAND_WRITTEN_MODEL = """w : 1
                dApre/dt = -Apre / taupre : 1 (event-driven)
                dApost/dt = -Apost / taupost : 1 (event-driven)"""
HAND_WRITTEN_ON_PRE = """ge += w
                    Apre += dApre
                    w = clip(w + Apost, 0, gmax)"""
HAND_WRITTEN_ON_POST = """Apost += dApost
                     w = clip(w + Apre, 0, gmax)"""


def song_abbott_network(rule=None):
    """1000 Poisson inputs at 15 Hz onto one conductance-based neuron with additive STDP.

    ``rule=None`` builds the example's hand-written Synapses; otherwise the rule (name, path or Rule) is
    compiled with ``transmit="ge += w"``. Call ``brian2.seed`` first for reproducible inputs and weights.
    Returns (Network, Synapses).
    """
    N, taum, taupre, Ee, vt, vr, El, taue, F, gmax = (1000, 10 * ms, 20 * ms, 0 * mV, -54 * mV, -60 * mV, -74 * mV,
                                                      5 * ms, 15 * Hz, .01)
    taupost, dApre = taupre, .01
    dApost = -dApre * taupre / taupost * 1.05
    dApost *= gmax
    dApre *= gmax
    inputs = PoissonGroup(N, rates=F)
    neurons = NeuronGroup(1, """dv/dt = (ge * (Ee-vr) + El - v) / taum : volt
                                dge/dt = -ge / taue : 1""", threshold="v>vt", reset="v = vr", method="exact",
                          namespace=dict(taum=taum, Ee=Ee, vt=vt, vr=vr, El=El, taue=taue))
    if rule is None:
        plastic = Synapses(inputs, neurons, HAND_WRITTEN_MODEL, on_pre=HAND_WRITTEN_ON_PRE,
                           on_post=HAND_WRITTEN_ON_POST,
                           namespace=dict(taupre=taupre, taupost=taupost, dApre=dApre, dApost=dApost, gmax=gmax))
    else:
        plastic = synapses(load_rule(rule), inputs, neurons, transmit="ge += w")
    plastic.connect()
    plastic.w = "rand() * gmax" if rule is None else f"rand() * {gmax!r}"
    return Network(inputs, neurons, plastic), plastic


def final_weights(rule, duration, seed_value):
    with brian_settings(target=None, seed=seed_value):
        net, plastic = song_abbott_network(rule)
        net.run(duration, namespace={})
    return np.array(plastic.w)
