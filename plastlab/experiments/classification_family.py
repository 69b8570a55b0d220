"""The ``classification`` task family: learning windows evolved for what a spiking classifier learns with them.

A candidate is a pair of shapes (f+, f-) of ``dt`` = x = |Δt|/τ and ``w`` (the weight before the pair), as in the
``fit`` family: the window rule

    Δw = amplitude · f+(Δt/τ+, w)   for 0 < Δt ≤ max_interval      (Δt = t_post - t_pre)
    Δw = amplitude · f-(-Δt/τ-, w)  for -max_interval ≤ Δt < 0

with the signs in the shapes (the flat-window control is the pair (1, -alpha) and the group's STDP amplitudes
(lam, alpha) are the defaults). Its fitness is the classifier's accuracy on held-out folds: every instance seed
is one stratified ``folds``-fold split of the family's data set (subsampled to ``max_samples``, stratified, from
the same seed), every fold trains a :class:`~plastlab.learn.classifier.SpikingClassifier` with the candidate on
its training part and scores it on its held-out part, and the fitness is the mean accuracy over instances and
folds. All fits of a candidate train side by side in one network (``fit_many``).

The family composes a learning network (``learn``) with evolution (``evolve``), two packages on one floor, so it
lives here on the experiments floor, which imports both; ``plastlab.experiments`` registers it with the task
families when imported (``plastlab evolve`` does so), and campaign workers receive the family object itself.
Campaign file: ``evolve/classification.toml``; its champion is a window rule for ``plastlab classify --rule``.
"""
import math

import numpy as np
import sympy as sp

from ..config import Param
from ..errors import ConfigError, PlastlabError
from ..evolve.tasks import register_family
from ..evolve.tasks.base import TaskFamily, evolved_rule_header, failure, rule_from_document, zero_division

_SCHEMA = {
    "dataset": Param(str, "wine", doc="data set the candidates learn (a built-in name or a CSV path); report "
                                       "champions on others"),
    "folds": Param(int, 3, low=2, high=10, doc="stratified folds of each instance: train on all but one, score on it"),
    "max_samples": Param(int, 0, low=0, doc="stratified subsample of the data set per instance (0: all samples)"),
    "amplitude": Param(float, 0.03, low=0, strict=True, doc="Δw scale of the shapes (the group's lam)"),
    "tau_plus": Param(float, 20.0, low=0, strict=True, doc="ms: time scale of the potentiation shape"),
    "tau_minus": Param(float, 20.0, low=0, strict=True, doc="ms: time scale of the depression shape"),
    "max_interval": Param(float, 50.0, low=0, strict=True, doc="ms: pairs further apart change nothing"),
    "classifier": Param(dict, {}, doc="SpikingClassifier settings of every fit (as in an experiment's "
                                      "[classifier] table; rule and random_state are the family's)"),
}
ALPHA = 0.65  # the group's depression-to-potentiation ratio (rules/stdp_sboev.toml, rules/stdp_flat.toml)


class ClassificationFamily(TaskFamily):
    NAME = "classification"
    INPUTS = ("dt", "w")
    OUTPUTS = ("potentiation", "depression")
    SCHEMA = _SCHEMA
    SCORED = "accuracy"
    GP_DEFAULTS = {"operators": ["add", "sub", "mul", "div", "exp"], "constants": [-1, 1, 2]}  # as the fit family

    def __reduce__(self):  # to a campaign's worker: the registered object, whose module registers it there too
        return (_registered, ())

    def params_with_defaults(self, params=None, *, file=None):
        from ..learn.classifier import resolve_settings

        p = super().params_with_defaults(params, file=file)
        reserved = {"rule", "random_state", "progress"} & set(p["classifier"])
        if reserved:
            raise ConfigError(f"'{sorted(reserved)[0]}' is set by the family, not in its classifier table",
                              file=file, section="family.classifier", key=sorted(reserved)[0])
        resolve_settings(p["classifier"], where="family.classifier")  # ConfigError naming the key, now
        return p

    def baselines(self):
        dt, _ = self.symbols()
        return {"flat_window": sp.Tuple(1, -ALPHA), "exponential": sp.Tuple(sp.exp(-dt), -ALPHA * sp.exp(-dt))}

    def reference(self):
        return None

    def sample_instance(self, p, seed):
        """(X, y, splits) of one instance: the data set, stratified-subsampled, and its stratified folds."""
        from sklearn.model_selection import StratifiedKFold, train_test_split

        from ..datasets import load_dataset

        X, y, _ = load_dataset(p["dataset"], folds=p["folds"])
        if p["max_samples"] and p["max_samples"] < len(y):
            X, _, y, _ = train_test_split(X, y, train_size=p["max_samples"], stratify=y, random_state=seed)
        splits = list(StratifiedKFold(p["folds"], shuffle=True, random_state=seed).split(X, y))
        return X, y, splits

    def rule_document(self, expr, name, summary, params=None, *, nonce=None):
        """The window rule of the pair ``expr`` = (f+, f-): weights in [0, 1] and the window table's default
        pairing, as ``rules/stdp_flat.toml`` (which the pair (1, -alpha) is)."""
        from ..rules.expressions import to_code

        p = self.params_with_defaults(params)
        dt, _ = self.symbols()
        delta_t = sp.Symbol("delta_t", real=True)
        tau_plus, tau_minus = sp.Symbol("tau_plus", positive=True), sp.Symbol("tau_minus", positive=True)
        f_plus, f_minus = expr  # a SymPy Tuple: its parts are SymPy expressions
        header = dict(evolved_rule_header(self.NAME, name, summary),
                      citation=f"evolved with plastlab (classification family: held-out accuracy on {p['dataset']})")
        return {
            "rule": header,
            "parameters": {"amplitude": p["amplitude"], "tau_plus": f"{p['tau_plus']!r}*ms",
                           "tau_minus": f"{p['tau_minus']!r}*ms"},
            "weight": {"unit": "1", "min": "0", "max": "1"},
            "window": {"potentiation": f"amplitude*({to_code(f_plus.xreplace({dt: delta_t / tau_plus}))})",
                       "depression": f"amplitude*({to_code(f_minus.xreplace({dt: -delta_t / tau_minus}))})",
                       "max_interval": f"{p['max_interval']!r}*ms"},
            "metadata": {"evolved": {"family": self.NAME, "dataset": p["dataset"], "folds": p["folds"],
                                     "max_samples": p["max_samples"], "shape_potentiation": str(f_plus),
                                     "shape_depression": str(f_minus), "shape_input": "dt = |delta_t|/tau"}},
        }

    def evaluate_batch(self, exprs, seeds, params=None, device="runtime"):
        """Accuracy on held-out folds of every candidate (one side-by-side network per candidate)."""
        p = self.params_with_defaults(params)
        insts = self.instances(p, seeds)
        out = []
        for expr in exprs:
            if expr is sp.nan:
                out.append(failure("expression is not finite (division by zero)"))
                continue
            if not isinstance(expr, sp.Tuple) or len(expr) != 2:
                out.append(failure("a candidate is two shapes (potentiation, depression)"))
                continue
            try:
                rule = rule_from_document(self.rule_document(expr, "candidate", "", p))
            except PlastlabError as err:
                out.append(failure(f"not a valid window rule: {err}"))
                continue
            out.append(self.score_rule(rule, insts, seeds, p, device))
        return out

    def evaluate_rule(self, rule, seeds, params=None):
        p = self.params_with_defaults(params)
        return self.score_rule(rule, self.instances(p, seeds), seeds, p, "runtime")

    def score_rule(self, rule, insts, seeds, p, device):
        """Mean held-out accuracy of ``rule`` over the instances' folds; per instance its folds' mean."""
        from ..learn.classifier import SpikingClassifier, fit_many, predict_many

        estimators, train, test = [], [], []
        for (X, y, splits), seed in zip(insts, seeds):
            for k, (tr, te) in enumerate(splits):
                settings = dict(p["classifier"], device=device)
                estimators.append(SpikingClassifier(rule, random_state=int(seed) * 100 + k, **settings))
                train.append((X[tr], y[tr]))
                test.append((X[te], y[te]))
        try:
            with np.errstate(all="ignore"):
                fit_many(estimators, train)
                predictions = predict_many(estimators, [X for X, _ in test])
        except (PlastlabError, FloatingPointError, ValueError) as err:
            return failure(f"the classifier failed with this rule: {err}")
        except Exception as exc:  # noqa: BLE001 - only a division by zero inside the rule is a result
            if zero_division(exc):
                return failure("division by zero during the simulation")
            raise
        accuracy = [float(np.mean(pred == y)) for (pred, _), (_, y) in zip(predictions, test)]
        if not all(math.isfinite(a) for a in accuracy):
            return failure("no finite accuracy")
        per = np.asarray(accuracy).reshape(len(insts), -1).mean(axis=1)
        return {"fitness": float(per.mean()), "reason": "", "per_instance": [float(v) for v in per]}


def _registered():
    return classification


classification = ClassificationFamily()
register_family(classification)
