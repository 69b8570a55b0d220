"""One spike-triggered update of a rule, on its own so that the rule and the pairing schemes that rewrite its
updates (:mod:`plastlab.rules.pairing`) both build on it."""
from dataclasses import dataclass

import sympy as sp

__all__ = ["Statement"]


@dataclass(frozen=True)
class Statement:
    """One update ``target op expr`` executed on a spike (op is one of = += -= *= /=)."""

    target: str
    op: str
    expr: sp.Expr

    def new_value(self):
        """The target's value after the statement, as an expression of the old one."""
        old = sp.Symbol(self.target)
        return {"=": self.expr, "+=": old + self.expr, "-=": old - self.expr, "*=": old * self.expr,
                "/=": old / self.expr}[self.op]

    def __str__(self):
        return f"{self.target} {self.op} {self.expr}"
