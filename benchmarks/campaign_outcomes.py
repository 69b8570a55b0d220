"""Outcome table of finished campaigns: champion, training and validation fitness, functional equivalence to the
paper's rule (least-squares c and R^2 on recorded rule inputs, stored by ``plastlab evolve``), whether it is the
paper's rule up to a positive factor symbolically, or at least as fit; wall time. Ends with a Markdown table.

    PYTHONPATH=. python benchmarks/campaign_outcomes.py DIR [DIR ...]

Each DIR holds a campaign.nc written by ``plastlab evolve``. Families with several evolved functions (correlation)
compare champion and baseline on the validation instances, as their target asks. Wall time is the campaign
process's own time (``wall_seconds_this_process``: from start to the last generation, without Dask start-up and
validation).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402
import xarray as xr  # noqa: E402

from plastlab.evolve import gp  # noqa: E402
from plastlab.evolve.tasks import get_family  # noqa: E402


def matches_known_rule(family_name, expr):
    """error: c*pre_trace*(v_teacher - v_student); reward: c*eligibility*(reward - 1) on reward in {-1, +1}."""
    fam = get_family(family_name)
    if family_name == "error":
        v, u, s = fam.symbols()
        return gp.equivalent_up_to_positive_factor(gp.canonical(expr), s * (v - u))
    if family_name == "reward":
        r, e = fam.symbols()
        at_plus = sp.cancel(expr.subs(r, 1))
        at_minus = sp.cancel(expr.subs(r, -1) / (-2 * e))
        return at_plus == 0 and at_minus.is_number and bool(at_minus.is_positive)
    return False


def main(dirs):
    known = {"error": "delta_rule", "reward": "eligibility_reward_minus_1", "correlation": "homeostatic_stdp"}
    hits, rows = 0, []
    for d in dirs:
        ds = xr.open_dataset(Path(d) / "campaign.nc")
        a = ds.attrs
        fam = get_family(a["family"])
        symbols = {str(s): s for s in fam.symbols()}
        # the champion expression is our own SymPy output; rebuild it through the whitelist parser
        from plastlab.rules.expressions import parse_expression

        outputs = [name.strip() for name in a.get("family_outputs", "").split(",") if name.strip()]
        if outputs:  # several evolved functions: compared on the validation instances (the family's target)
            same = False
            ref = a.get(f"validation_fitness_{known[a['family']]}")
            as_fit = ref is not None and a["validation_fitness_champion"] >= ref
        else:
            expr = parse_expression(a["champion_expression"], symbols, allow_units=False)
            same = matches_known_rule(a["family"], expr)
            ref = a.get(f"train_fitness_{known.get(a['family'], '')}")
            as_fit = ref is not None and a["champion_fitness"] >= ref
        hits += bool(same or as_fit)
        wall = a.get("wall_seconds_this_process", float("nan"))
        print(f"{d}: seed {a['seed']}  generations {a['generations']}  wall {wall:.0f} s  "
              f"champion {a['champion_readable']}  train {a['champion_fitness']:.4g}  "
              f"validation {a.get('validation_fitness_champion', float('nan')):.4g}  "
              f"known rule: train {a.get('train_fitness_' + known.get(a['family'], ''), float('nan')):.4g} validation "
              f"{a.get('validation_fitness_' + known.get(a['family'], ''), float('nan')):.4g}  "
              f"equivalent {same}  at least as fit {as_fit}")
        eq = (f"{a['equivalence_c']:.3g} | {a['equivalence_r2']:.4f} | "
              f"{'yes' if a['equivalent_to_paper_rule'] else 'no'}") if "equivalence_c" in a else "– | – | –"
        champion = (f"`{a['champion_f_fac']}` ; `{a['champion_f_dep']}`" if outputs
                    else f"`{a['champion_readable']}`")
        rows.append(f"| {a['seed']} | {champion} | {a['champion_fitness']:.4g} | "
                    f"{a.get('validation_fitness_champion', float('nan')):.4g} | {eq} | "
                    f"{a.get('wall_seconds_this_process', float('nan')):.0f} s |")
        ds.close()
    print(f"target met in {hits} of {len(dirs)} campaigns")
    print("| seed | champion | training | validation | c | R² | equivalent | wall (evolution) |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
