"""Unsupervised competitive learning with the shared layer: the labels of a winner-take-all layer.

``SpikingClassifier(training="competitive")`` trains the layer without a teacher: every output neuron inhibits
every other one, so the first neuron to fire on a pattern is its winner, and only the rule decides which inputs
the winner keeps (as in the Sboev group's winner-take-all networks and Diehl & Cook 2015). After training the
neurons are labelled from the frozen network's responses to the training data (this module), and the label of
the first neuron to fire names a test pattern's class. Nothing here builds a network: the training runs in
:class:`plastlab.brian.taught.TaughtCopies` with every slot untaught, the responses in
:class:`plastlab.brian.layer.FrozenCopies`.
"""
import numpy as np

__all__ = ["winners", "assign_labels"]


def winners(first):
    """(samples, neurons) booleans: the neurons that fired first on each sample (ties: all of them; a silent
    sample has no winner). ``first``: first-spike times, inf when silent."""
    first = np.asarray(first, dtype=float)
    earliest = first.min(axis=1, keepdims=True, initial=np.inf)
    return (first == earliest) & np.isfinite(first)


def assign_labels(first, counts, y, n_classes, member_of):
    """Each neuron's class: the class of whose training samples it wins the largest fraction (per member of
    the layer, among that member's neurons). A neuron that never wins takes the class on whose samples it spikes
    most; one that never spikes, the most frequent class (it never decides a prediction).

    ``first``, ``counts``: first-spike times (inf: silent) and spike counts, (samples, neurons); ``y``: class
    indices of the samples; ``member_of``: the member (independent layer) of each neuron."""
    first, counts, y = np.asarray(first, dtype=float), np.asarray(counts, dtype=float), np.asarray(y)
    member_of = np.asarray(member_of)
    labels = np.zeros(first.shape[1], dtype=int)
    present = [c for c in range(n_classes) if np.any(y == c)]
    prior = int(np.argmax(np.bincount(y, minlength=n_classes)))
    for m in np.unique(member_of):
        cols = np.flatnonzero(member_of == m)
        won = winners(first[:, cols])
        share = np.zeros((n_classes, len(cols)))
        spikes = np.zeros((n_classes, len(cols)))
        for c in present:
            share[c] = won[y == c].mean(axis=0)
            spikes[c] = counts[y == c][:, cols].mean(axis=0)
        score = np.where(won.any(axis=0)[None, :], share, spikes)
        labels[cols] = np.where((score > 0).any(axis=0), np.argmax(score, axis=0), prior)
    return labels
