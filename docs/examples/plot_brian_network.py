"""
A rule in a Brian2 network
==========================

100 Poisson inputs drive one LIF neuron through synapses running weight-dependent STDP.
"""
import matplotlib.pyplot as plt
import numpy as np
from brian2 import Hz, Network, NeuronGroup, PoissonGroup, ms, prefs, seed

import plastlab

prefs.codegen.target = "numpy"  # no compilation for a short example
seed(1)
rule = plastlab.load_rule("stdp_weight_dependent")
inputs = PoissonGroup(100, rates=15 * Hz)
neuron = NeuronGroup(1, "dv/dt = -v/(10*ms) : 1", threshold="v > 1", reset="v = 0", refractory=2 * ms,
                     method="exact")
syn = plastlab.synapses(rule, inputs, neuron, transmit="v_post += 0.25*w")
syn.connect()
syn.w = 0.5
before = np.array(syn.w[:])
Network(inputs, neuron, syn).run(2000 * ms)
after = np.array(syn.w[:])
print(f"mean weight {before.mean():.3f} -> {after.mean():.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(after, bins=20, range=(0, 1), color="C0")
ax.axvline(0.5, color="k", ls=":", label="initial weight")
ax.set_xlabel("w after 2 s")
ax.set_ylabel("synapses")
ax.legend()
plt.show()
