"""
A rule's equations
==================

Load a rule, print its equations as text and draw them as LaTeX.
"""
import matplotlib.pyplot as plt

import plastlab

rule = plastlab.load_rule("stdp_weight_dependent")
print(rule.equations_text())
print({name: str(value) for name, value in rule.parameters.items()})

lines = [line for line in rule.latex().splitlines() if line.strip()]
fig, ax = plt.subplots(figsize=(7, 0.6 + 0.55 * len(lines)))
ax.axis("off")
for k, line in enumerate(lines):
    ax.text(0.0, 1 - (k + 0.5) / len(lines), f"${line}$", fontsize=11, va="center")
ax.set_title(f"{rule.name} ({rule.form})", loc="left")
plt.show()
