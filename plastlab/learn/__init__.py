"""LEARN: networks that learn with a rule (classifier, CartPole, SuperSpike, dis-inhibitory circuit)."""
