"""Evolution campaigns: evolve/*.toml -> generations of GP on a task family, checkpoints, results.

A campaign file names a task family, its parameters, the training and validation instances, the GP settings and the
budget. ``run_campaign`` evolves with a μ+λ loop (DEAP), evaluates every generation's *new* canonical expressions
in batches (one Brian2 network per batch) on Dask workers (optionally behind a hurdle: first on a few training
instances, on all only when among the best so far; ``Campaign.simulate``), writes an atomic JSON checkpoint after
every generation (``--resume`` continues from it and reproduces an uninterrupted run exactly), and at the end
writes ``campaign.nc``, ``fitness.png`` and the champion as a rule file in ``champions/``.
"""
import hashlib
import json
import math
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import sympy as sp
from deap import tools

from .. import interrupts
from ..config import NAME_PATTERN, Param, parse_json, parse_toml, validate
from ..errors import ConfigError, PlastlabError, RuleError
from ..store import atomic_write_text
from . import gp
from .evaluate import Evaluator, connect, evaluate_task  # noqa: F401 (connect: campaign.connect for callers)
from .rng import SearchRandom
from .tasks import get_family

MAX_POPULATION = 100_000  # mu, lambda, initial: beyond this one generation would not fit in memory
MAX_HEIGHT = 17  # tree heights (DEAP's own static limit in its examples)
MAX_GENERATIONS = 1_000_000
MAX_INSTANCES = 10_000  # training / validation instances
MAX_SEED = 2**31 - 1  # the GP seed: offset per worker and generation, it must stay a valid numpy seed
# instance seeds name task instances (the authors' are STREAM*1000 + trial, e.g. 11214247000); families draw from
# numpy Generators seeded with them (any non-negative integer) or from RandomState(STREAM)
MAX_INSTANCE_SEED = 10**15
VARIATION_ROUNDS = 16  # rounds of λ offspring a generation may take to find new_per_generation new expressions
GP_SCHEMA = {
    "mu": Param(int, 16, low=1, high=MAX_POPULATION, doc="parents kept (mu + lambda, elitist)"),
    "lambda": Param(int, 32, low=1, high=MAX_POPULATION, doc="offspring per generation"),
    "initial": Param(int, 0, low=0, high=MAX_POPULATION, doc="size of the random initial population (at least mu)"),
    "tournament": Param(int, 3, low=1, high=MAX_POPULATION),
    "new_per_generation": Param(int, 0, low=0, high=MAX_POPULATION,
                                doc="vary until this many never-evaluated expressions"),
    "escalate_after": Param(int, 0, low=0, high=VARIATION_ROUNDS - 1,
                            doc="0: off; n: once n rounds of variation leave new_per_generation unmet, each "
                                "further round r mutates every offspring r - n more times (escalating variation)"),
    "cxpb": Param(float, 0.4, low=0.0, high=1.0),
    "mutpb": Param(float, 0.5, low=0.0, high=1.0),
    "init_min_depth": Param(int, 1, low=0, high=MAX_HEIGHT),
    "init_max_depth": Param(int, 3, low=0, high=MAX_HEIGHT),
    "mutation_max_depth": Param(int, 2, low=0, high=MAX_HEIGHT),
    "max_height": Param(int, 5, low=1, high=MAX_HEIGHT),
    "max_size": Param(int, 21, low=3, high=200, doc="nodes of a tree (3: one operator and two leaves)"),
    "constants": Param(list, [1], high=100, item=Param(float, low=-1e6, high=1e6)),
    "operators": Param(list, ["add", "sub", "mul", "div"], low=1, item=Param(str, choices=tuple(gp.SYMBOLIC))),
}
GP_DEFAULTS = {key: param.default for key, param in GP_SCHEMA.items()}
CAMPAIGN_SCHEMA = {
    "name": Param(str, "", pattern=f"({NAME_PATTERN})?",
                  doc="a plain name of letters, digits, '_', '.', '-': it names the output folder and champions"),
    "family": Param(str, doc="a task family: error, reward, correlation, fit, or one registered from above "
                             "(classification)"),
    "seed": Param(int, 1, low=0, high=MAX_SEED),
    "generations": Param(int, 10, low=0, high=MAX_GENERATIONS),
}
INSTANCES_SCHEMA = {
    "train_seeds": Param(list, list(range(1000, 1015)), low=1, high=MAX_INSTANCES,
                         item=Param(int, low=0, high=MAX_INSTANCE_SEED)),
    "validation_seeds": Param(list, list(range(5000, 5015)), low=1, high=MAX_INSTANCES,
                              item=Param(int, low=0, high=MAX_INSTANCE_SEED)),
}
EVALUATION_SCHEMA = {
    "batch_size": Param(int, 64, low=1, high=MAX_POPULATION),
    "hurdle_instances": Param(int, 0, low=0, doc="0: no hurdle; else a new candidate is first scored on this many "
                                                 "training instances (the first ones)"),
    "hurdle_fraction": Param(float, 0.5, low=0.0, high=1.0, strict=True,
                             doc="... and goes on to all instances only if its first score is within this best "
                                 "fraction of all first scores so far"),
    "device": Param(str, "runtime", choices=("runtime", "cpp_standalone", "cuda_standalone"),
                    doc="Brian2 device of the batched networks: runtime, or cpp_standalone (one C++ build per batch "
                        "size and instance set, cached on disk; identical results), cuda_standalone (Brian2CUDA)"),
}
# the paper's operator sets and constants (hal-cgp runs of Jordan et al. 2021): defaults of a campaign file's [gp]
PAPER_GP = {"error": {"operators": ["add", "sub", "mul", "div"], "constants": [1]},
            "reward": {"operators": ["add", "sub", "mul", "div"], "constants": [0.1, 1, 10]},
            "correlation": {"operators": ["add", "sub", "mul", "div", "pow"], "constants": [0.1, 1, 10]},
            # not a paper's task: symbolic fits of measured windows (tasks/fit.py), scored in closed form
            "fit": {"operators": ["add", "sub", "mul", "div", "exp"], "constants": [-1, 1, 2]}}
SECTIONS = {"campaign": Param(dict), "gp": Param(dict, {}), "family": Param(dict, {}),
            "instances": Param(dict, {}), "evaluation": Param(dict, {})}
CHECKPOINT = "checkpoint.json"
EQUIVALENT_R2 = 0.99  # champion ~ c * paper's rule with R^2 >= this and c > 0 counts as a rediscovery


# --- campaign files ------------------------------------------------------------------------------------------

def load_campaign(path):
    """Read and validate a campaign file (ConfigError naming file, table and key); every default filled in."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such campaign file", file=path)
    try:
        data = parse_toml(path.read_text(encoding="utf-8"), file=path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"not valid TOML: {err}", file=path) from None
    data = validate(data, SECTIONS, file=path)
    head = validate(data["campaign"], CAMPAIGN_SCHEMA, file=path, section="campaign")
    try:
        family = get_family(head["family"])
    except PlastlabError as err:
        raise ConfigError(str(err), file=path, section="campaign", key="family") from None
    spec = {"name": head["name"] or path.stem, "family": head["family"], "seed": head["seed"],
            "generations": head["generations"], "source": str(path)}
    gp_defaults = PAPER_GP.get(head["family"], getattr(family, "GP_DEFAULTS", {}))
    spec["gp"] = validate({**gp_defaults, **data["gp"]}, GP_SCHEMA, file=path, section="gp")
    g = spec["gp"]
    if not g["init_min_depth"] <= g["init_max_depth"] <= g["max_height"]:
        raise ConfigError("needs init_min_depth <= init_max_depth <= max_height (no tree could be grown)",
                          file=path, section="gp", key="init_max_depth")
    spec["family_params"] = family.params_with_defaults(data["family"], file=path)
    inst = validate(data["instances"], INSTANCES_SCHEMA, file=path, section="instances")
    spec["train_seeds"], spec["validation_seeds"] = inst["train_seeds"], inst["validation_seeds"]
    evaluation = validate(data["evaluation"], EVALUATION_SCHEMA, file=path, section="evaluation")
    spec["batch_size"] = evaluation["batch_size"]
    spec["hurdle"] = {"instances": evaluation["hurdle_instances"], "fraction": evaluation["hurdle_fraction"]}
    from ..brian.device import check_device

    spec["device"] = check_device(evaluation["device"], file=path, section="evaluation")
    if spec["hurdle"]["instances"] >= len(spec["train_seeds"]):
        raise ConfigError(f"hurdle_instances ({spec['hurdle']['instances']}) must be fewer than the "
                          f"{len(spec['train_seeds'])} training instances (0 turns hurdles off)",
                          file=path, section="evaluation", key="hurdle_instances")
    return spec


CHECKPOINT_KEYS = {"digest": str, "seed": int, "generation": int, "population": list, "rng": list, "cache": dict,
                   "cache_counts": list, "history": list, "evaluations": list, "content_digest": str}


def content_digest(state):
    """sha256 of a checkpoint's content: a file edited by hand or cut short no longer matches it."""
    body = {k: v for k, v in state.items() if k != "content_digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def read_checkpoint(path, expected_spec_digest):
    """A checkpoint checked before use: readable JSON, every key of the right type, content digest intact,
    written by this campaign. ConfigError (one line) otherwise -- never a traceback, never a silent misuse."""
    if not path.is_file():
        raise ConfigError("--resume: no checkpoint here", file=path)
    try:
        state = parse_json(path.read_text(encoding="utf-8"), file=path, what="damaged checkpoint")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"damaged checkpoint (not readable JSON: {err})", file=path) from None
    if not isinstance(state, dict):
        raise ConfigError("damaged checkpoint (not a JSON object)", file=path)
    for key, kind in CHECKPOINT_KEYS.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise ConfigError(f"damaged checkpoint: '{key}' missing or not a {kind.__name__}", file=path)
    if state["content_digest"] != content_digest(state):
        raise ConfigError("damaged checkpoint: its content does not match its digest (edited or cut short)",
                          file=path)
    if state["digest"] != expected_spec_digest:
        raise ConfigError("--resume: this checkpoint was written by a different campaign or seed", file=path)
    check_checkpoint_meaning(state, path)
    return state


def check_checkpoint_meaning(state, path):
    """What a checkpoint says must hang together, whatever its digest (recomputed by hand, it proves nothing):
    a generation index >= 0 that is the last one of its history (one record per generation, 0, 1, ..., in
    order), evaluations made in those generations, consistent cache counts, a non-empty population of names.
    The population's order against its fitness is checked once fitness is known (``Campaign._restore``)."""
    def fail(message):
        raise ConfigError(f"damaged checkpoint: {message}", file=path)

    generation, history = state["generation"], state["history"]
    if generation < 0:
        fail(f"generation {generation} is negative")
    if len(history) != generation + 1:
        fail(f"generation {generation} but a history of {len(history)} generation(s)")
    recorded = [h.get("generation") if isinstance(h, dict) else None for h in history]
    if recorded != list(range(generation + 1)):
        fail("the history's generations are not 0, 1, ... in order")
    made = [e.get("generation") if isinstance(e, dict) else None for e in state["evaluations"]]
    if any(not isinstance(g, int) or not 0 <= g <= generation for g in made) or made != sorted(made):
        fail(f"evaluations must come from generations 0..{generation}, in order")
    counts = state["cache_counts"]
    if len(counts) != 2 or not all(isinstance(c, int) and c >= 0 for c in counts) or counts[0] > counts[1]:
        fail("cache_counts must be [hits, lookups] with 0 <= hits <= lookups")
    population = state["population"]
    if not population or not all(isinstance(ind, list) and ind and all(isinstance(n, str) for n in ind)
                                 for ind in population):
        fail("the population must be a non-empty list of trees (lists of primitive names)")


def check_population_order(population, mu, path):
    """The parents as selection leaves them (``gp.select_distinct``): mu of them, distinct expressions best first
    (duplicates only after them). A population reordered by hand would make a worse candidate the parent of
    choice; refused."""
    if len(population) != mu:
        raise ConfigError(f"damaged checkpoint: {len(population)} parents, but mu = {mu}", file=path)
    seen, firsts = set(), []
    for ind in population:
        if ind.key not in seen:
            seen.add(ind.key)
            firsts.append(ind.fitness.values[0])
    if any(later > earlier for earlier, later in zip(firsts, firsts[1:])):
        raise ConfigError("damaged checkpoint: the population is not ordered best first (edited by hand?)",
                          file=path)


DIGEST_OMITTED_WHEN_OFF = {"escalate_after": 0}  # [gp] options added later: off, they leave the digest as it was
FAMILY_DIGEST_OMITTED_WHEN_OFF = {"rate_per_neuron": False}  # [family] options added later, likewise


def spec_digest(spec):
    """Identifies what a checkpoint was computed with (everything except the generation budget). A later [gp]
    option at its "off" value is left out, so checkpoints written before it existed can still be resumed."""
    core = {k: v for k, v in spec.items() if k not in ("generations", "source", "device")}  # devices agree
    if "gp" in core:
        core["gp"] = {k: v for k, v in core["gp"].items() if DIGEST_OMITTED_WHEN_OFF.get(k, object()) != v}
    if "family_params" in core:
        core["family_params"] = {k: v for k, v in core["family_params"].items()
                                 if FAMILY_DIGEST_OMITTED_WHEN_OFF.get(k, object()) != v}
    return hashlib.sha256(json.dumps(core, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --- the loop --------------------------------------------------------------------------------------------------

def selection_fitness(entry):
    """The fitness selection ranks by: a candidate the hurdle stopped (no full fitness) ranks last."""
    return entry["fitness"] if not math.isnan(entry["fitness"]) else -math.inf


def _finite_mean(values):
    finite = np.asarray(values)[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def population_statistics():
    """DEAP Statistics of a population's selection fitness: best, and mean over finite values (a failed
    simulation's -inf would make every mean -inf)."""
    stats = tools.Statistics(key=lambda ind: ind.fitness.values[0])
    stats.register("best_fitness", lambda values: float(np.max(values)))
    stats.register("mean_fitness", _finite_mean)
    return stats


class Campaign:
    """One GP search on a task family: generations of μ + λ with a cache of canonical expressions.

    DEAP's ``algorithms.eaMuPlusLambda`` is not used because a generation here evaluates only never-seen
    canonical expressions in batches (optionally behind a hurdle), may vary until n of them are new, and is
    checkpointed to JSON after every generation; the parts are DEAP's: the toolbox, ``tools.Statistics``,
    ``tools.Logbook`` (``logbook``) and ``tools.HallOfFame`` (``hall_of_fame``). The search draws from its own
    stream (``random``, rng.py), never from the caller's."""

    def __init__(self, spec, out_dir, *, seed=None, generations=None, evaluator=None, progress=True):
        self.spec = dict(spec)
        if seed is not None:
            self.spec["seed"] = int(seed)
        if generations is not None:
            self.spec["generations"] = int(generations)
        self.out = Path(out_dir)
        self.family = get_family(self.spec["family"])
        g = self.spec["gp"]
        self.genome = gp.Genome(self.family.INPUTS, g["constants"], g["operators"],
                                getattr(self.family, "OUTPUTS", ()))
        self.toolbox = gp.make_toolbox(self.genome, init_min=g["init_min_depth"], init_max=g["init_max_depth"],
                                       mut_max=g["mutation_max_depth"], max_height=g["max_height"],
                                       max_size=g["max_size"])
        self.evaluator = evaluator
        self.progress = progress
        self.random = SearchRandom(self.spec["seed"])  # drawn from by variation only; saved in checkpoints
        self.cache = gp.ExpressionCache()
        self.logbook = tools.Logbook()  # one record per generation
        self.stats = population_statistics()
        self.hall_of_fame = tools.HallOfFame(1)
        self.evaluations = []  # one dict per simulated candidate
        self.population = []
        self.generation = -1
        self._canon = {}  # str(tree) -> (canonical expression, cache key)
        self.variation_rounds = 0  # rounds of variation of the generation being run (0: the random population)
        self._mark = time.perf_counter()  # when the last generation was recorded (run() restarts it)

    # evaluation with the cache ---------------------------------------------------------------------------
    def evaluate(self, individuals):
        keys, new, new_keys = [], [], []
        for ind in individuals:
            expr, key = self.canonical_key(ind)
            keys.append(key)
            if key in new_keys:  # a duplicate within this generation: simulated once, counts as a hit
                self.cache.lookups += 1
                self.cache.hits += 1
            elif self.cache.get(key) is None:
                new_keys.append(key)
                new.append(expr)
        start = time.perf_counter()
        finite = [(k, e) for k, e in zip(new_keys, new) if e is not sp.nan]
        results = self.simulate([e for _, e in finite]) if finite else []
        wall = time.perf_counter() - start
        by_key = dict(zip([k for k, _ in finite], results))
        for key, expr in zip(new_keys, new):
            r = by_key.get(key) or {"fitness": self.family.WORST, "reason": "expression is not finite",
                                    "per_instance": [], "seconds": 0.0, "stage": "all",
                                    "hurdle_fitness": self.family.WORST, "instances": 0}
            entry = {"expression": str(expr), "readable": str(gp.readable(expr)), "fitness": float(r["fitness"]),
                     "reason": r["reason"], "seconds": float(r.get("seconds", 0.0)), "stage": r["stage"],
                     "hurdle_fitness": float(r["hurdle_fitness"]), "instances": int(r["instances"])}
            self.cache.put(key, entry)
            self.evaluations.append(dict(entry, generation=self.generation + 1))
        for ind, key in zip(individuals, keys):
            ind.fitness.values = (selection_fitness(self.cache.entries[key]),)
            ind.key = key
        return len(new), wall

    def simulate(self, exprs):
        """Results for new expressions: on all training instances, or (with hurdles) first on the first
        ``hurdle.instances`` of them and on all only when that first score is within the best
        ``hurdle.fraction`` of every first score so far (this generation's included). A candidate stopped by the
        hurdle has no full fitness (NaN, stage "hurdle"): selection ranks it below every fully scored one, so
        champions and reported fitness always come from all instances. A simulation that fails on the first
        instances fails on all of them (the worst fitness is then the full fitness)."""
        n_all, k, fraction = len(self.spec["train_seeds"]), self.spec["hurdle"]["instances"], \
            self.spec["hurdle"]["fraction"]
        if not k:
            return [dict(r, stage="all", hurdle_fitness=r["fitness"], instances=n_all) for r in self.evaluator(exprs)]
        first = self.evaluator(exprs, seeds=self.spec["train_seeds"][:k])
        scores = [e["hurdle_fitness"] for e in self.evaluations] + [r["fitness"] for r in first]
        scores = np.asarray([x for x in scores if math.isfinite(x)])
        self.hurdle_threshold = float(np.quantile(scores, 1.0 - fraction)) if scores.size else math.inf
        passed = [i for i, r in enumerate(first)
                  if math.isfinite(r["fitness"]) and r["fitness"] >= self.hurdle_threshold]
        full = dict(zip(passed, self.evaluator([exprs[i] for i in passed]))) if passed else {}
        out = []
        for i, r in enumerate(first):
            if i in full:
                out.append(dict(full[i], stage="all", hurdle_fitness=r["fitness"], instances=k + n_all,
                                seconds=r["seconds"] + full[i]["seconds"]))
            else:
                failed = not math.isfinite(r["fitness"])
                out.append(dict(r, fitness=r["fitness"] if failed else math.nan, stage="hurdle",
                                hurdle_fitness=r["fitness"], instances=k))
        return out

    # one generation ---------------------------------------------------------------------------------------
    def _record(self, n_new, wall):
        now = time.perf_counter()
        new = self.evaluations[len(self.evaluations) - n_new:] if n_new else []
        stats = self.stats.compile(self.population)
        self.logbook.record(
            generation=self.generation, best_fitness=stats["best_fitness"], mean_fitness=stats["mean_fitness"],
            best_expression=self.champion()["readable"], new_evaluations=int(n_new),
            evaluations_per_second=float(n_new / wall) if wall > 0 and n_new else 0.0,
            cache_hit_rate=float(self.cache.hit_rate), wall_seconds=float(wall),
            instance_evaluations=int(sum(e["instances"] for e in new)),
            passed_hurdle=int(sum(e["stage"] == "all" for e in new)),
            variation_rounds=int(self.variation_rounds), generation_seconds=float(now - self._mark))
        self._mark = now

    def _checkpoint(self):
        state = {
            "digest": spec_digest(self.spec), "seed": self.spec["seed"], "generation": self.generation,
            "population": [self.genome.to_names(ind) for ind in self.population],
            "rng": self.random.to_json(), "cache": self.cache.entries,
            "cache_counts": [self.cache.hits, self.cache.lookups],
            "history": self.logbook, "evaluations": self.evaluations,
        }
        atomic_write_text(self.out / CHECKPOINT, json.dumps(dict(state, content_digest=content_digest(state))))

    def _restore(self):
        state = read_checkpoint(self.out / CHECKPOINT, spec_digest(self.spec))
        self.generation = state["generation"]
        self.cache = gp.ExpressionCache(state["cache"])
        self.cache.hits, self.cache.lookups = state["cache_counts"]
        self.logbook = tools.Logbook()
        self.logbook.extend(state["history"])
        self.evaluations = state["evaluations"]
        self.random = SearchRandom.from_json(state["rng"])
        try:
            self.population = [self.genome.from_names(names) for names in state["population"]]
            for ind in self.population:  # fitness from the cache (no simulation)
                key = sp.srepr(gp.canonical(self.genome.to_sympy(ind)))
                ind.fitness.values = (selection_fitness(self.cache.entries[key]),)
                ind.key = key
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ConfigError(f"damaged checkpoint: population does not match its cache ({err})",
                              file=self.out / CHECKPOINT) from None
        check_population_order(self.population, self.spec["gp"]["mu"], self.out / CHECKPOINT)
        self.hall_of_fame.update(self.population)  # selection is elitist: the best ever is among the parents

    def canonical_key(self, ind):
        text = str(ind)
        if text not in self._canon:
            expr = gp.canonical(self.genome.to_sympy(ind))
            self._canon[text] = (expr, sp.srepr(expr))
        return self._canon[text]

    def offspring(self):
        """λ offspring; with ``new_per_generation`` = n > 0, more rounds of λ until n of them are expressions
        never evaluated before (at most VARIATION_ROUNDS rounds). A batch costs little more for more candidates,
        so this spends the batch on new expressions instead of cached duplicates. With ``escalate_after`` = e > 0,
        round r > e mutates each offspring r - e more times: once the parents have converged, their one- and
        two-step neighbourhood is all cached, and the further steps reach unseen expressions still near them.
        Drawn from the campaign's stream (``self.random``); sets ``self.variation_rounds``."""
        with self.random:
            out = self._vary()
            self.variation_rounds = 1
            if self.spec["gp"]["new_per_generation"] > 0:
                self._vary_until_new(out)
        return out

    def _vary(self, extra_mutations=0):
        g = self.spec["gp"]
        return gp.vary(self.population, self.toolbox, g["lambda"], g["cxpb"], g["mutpb"], g["tournament"],
                       extra_mutations=extra_mutations)

    def _vary_until_new(self, out):
        """Appends to ``out`` further rounds' offspring that are new, until ``new_per_generation`` are."""
        g = self.spec["gp"]
        want = g["new_per_generation"]
        new = {self.canonical_key(ind)[1] for ind in out} - set(self.cache.entries)
        rounds = 1
        while len(new) < want and rounds < VARIATION_ROUNDS:
            rounds += 1
            extra = rounds - g["escalate_after"] if g["escalate_after"] else 0
            for ind in self._vary(max(0, extra)):
                key = self.canonical_key(ind)[1]
                if key not in self.cache.entries and key not in new and len(new) < want:
                    new.add(key)
                    out.append(ind)
        self.variation_rounds = rounds

    def run(self, resume=False):
        """Generations up to the budget, a checkpoint after each. The campaign's stream is lent to DEAP's
        ``random`` for the whole loop and saved in every checkpoint, so ``--resume`` continues it exactly and the
        caller's ``random`` is as it was afterwards."""
        from tqdm import tqdm

        t0 = time.perf_counter()
        if resume:
            self._restore()
        total = self.spec["generations"]
        self._mark = time.perf_counter()  # each generation's loop time runs from the previous one's record
        bar = tqdm(total=total + 1, initial=self.generation + 1, desc=f"evolve {self.spec['name']}",
                   unit="gen", file=sys.stderr, disable=not self.progress, dynamic_ncols=True)
        with self.random:
            while self.generation < total:
                interrupts.raise_if_pending()  # a Ctrl-C the garbage collector swallowed stops here
                self._next_generation()
                self._show(bar)
        bar.close()
        self.wall_seconds = time.perf_counter() - t0
        return self.champion()

    def _next_generation(self):
        """μ + λ: the random initial population (generation 0) or offspring, the new ones evaluated, the μ best
        distinct expressions of parents and offspring kept; recorded and checkpointed."""
        g = self.spec["gp"]
        if self.generation < 0:
            candidates = self.toolbox.population(n=max(g["mu"], g["initial"]))
            self.variation_rounds = 0
        else:
            candidates = self.offspring()
        n_new, wall = self.evaluate(candidates)
        pool = candidates if self.generation < 0 else self.population + candidates
        self.population = self.toolbox.select(pool, g["mu"])
        self.hall_of_fame.update(self.population)
        self.generation += 1
        self._record(n_new, wall)
        self._checkpoint()

    def _show(self, bar):
        from tqdm import tqdm

        h = self.logbook[-1]
        bar.update(1)
        bar.set_postfix(best=f"{h['best_fitness']:.4g}", hit=f"{h['cache_hit_rate']:.0%}",
                        evals_s=f"{h['evaluations_per_second']:.2f}")
        if self.progress:
            tqdm.write(f"gen {h['generation']:3d}  best {h['best_fitness']:.4g}  mean {h['mean_fitness']:.4g}  "
                       f"cache hits {h['cache_hit_rate']:.0%}  new {h['new_evaluations']}  "
                       f"{h['evaluations_per_second']:.2f} eval/s  best: {h['best_expression']}",
                       file=sys.stderr)

    def champion(self):
        """The best individual ever evaluated (DEAP's HallOfFame) and its cache entry."""
        best = self.hall_of_fame[0]
        entry = self.cache.entries[best.key]
        return {"expression": entry["expression"], "readable": entry["readable"], "fitness": entry["fitness"],
                "key": best.key, "tree": str(best)}

    def champion_expression(self):
        return gp.canonical(self.genome.to_sympy(self.hall_of_fame[0]))

    # results ------------------------------------------------------------------------------------------------
    def write_results(self, validation=None):
        """campaign.nc (per generation and per evaluation, provenance and validation in attrs), fitness.png and
        the champion's rule file."""
        from .. import plots, store

        ds = self.results_dataset()
        ds.attrs.update(self._result_attrs(validation))
        store.write_dataset(ds, self.out / "campaign.nc")
        plots.plot_fitness(ds, self.out / "fitness.png", baselines=train_baselines(self, validation))
        write_champion(self, self.champion())
        return ds

    def results_dataset(self):
        """The logbook (dimension ``generation``) and every simulated candidate (``evaluation``) as a Dataset."""
        import xarray as xr

        log, evaluations = self.logbook, self.evaluations
        per_generation = {name: log.select(name) for name in GENERATION_VARIABLES}
        # records from before a column was kept lack it: -1 / NaN stand for "not recorded"
        per_generation["variation_rounds"] = [h.get("variation_rounds", -1) for h in log]
        per_generation["best_expression"] = log.select("best_expression")
        data = {name: ("generation", values) for name, values in per_generation.items()}
        data.update({name: ("evaluation", [e[key] for e in evaluations]) for name, key in EVALUATION_VARIABLES.items()})
        data["evaluation_seconds"] = ("generation", log.select("wall_seconds"))
        data["generation_seconds"] = ("generation", [h.get("generation_seconds", np.nan) for h in log])
        ds = xr.Dataset(data, coords={"generation": log.select("generation"),
                                      "evaluation": np.arange(len(evaluations))})
        for name, units in UNITS.items():
            ds[name].attrs["units"] = units
        for name, text in DESCRIPTIONS.items():
            ds[name].attrs["description"] = text
        return ds

    def _result_attrs(self, validation):
        from .. import store

        champ, spec = self.champion(), self.spec
        attrs = store.provenance(seed=spec["seed"], family=spec["family"], campaign=spec["name"],
                                 campaign_file=spec["source"], gp=spec["gp"], family_params=spec["family_params"],
                                 train_seeds=spec["train_seeds"], validation_seeds=spec["validation_seeds"],
                                 hurdle_instances=spec["hurdle"]["instances"],
                                 hurdle_fraction=spec["hurdle"]["fraction"])
        attrs.update(champion_expression=champ["expression"], champion_readable=champ["readable"],
                     champion_fitness=champ["fitness"], champion_tree=champ["tree"],
                     generations=int(self.generation), family_inputs=", ".join(self.family.INPUTS))
        outputs = getattr(self.family, "OUTPUTS", ())
        if outputs:  # several evolved functions: the champion expression is their tuple; each one by name too
            attrs["family_outputs"] = ", ".join(outputs)
            attrs.update({f"champion_{name}": str(part) for name, part in zip(outputs, self.champion_expression())})
        if getattr(self, "wall_seconds", None) is not None:
            attrs["wall_seconds_this_process"] = float(self.wall_seconds)
        attrs.update(validation or {})
        return attrs


# campaign.nc's variables: per generation (logbook keys), per evaluation (name: key of an evaluation record)
GENERATION_VARIABLES = ("best_fitness", "mean_fitness", "evaluations_per_second", "new_evaluations",
                        "cache_hit_rate", "instance_evaluations", "passed_hurdle")
EVALUATION_VARIABLES = {"expression": "expression", "fitness": "fitness", "seconds": "seconds",
                        "evaluated_in_generation": "generation", "failure_reason": "reason", "stage": "stage",
                        "hurdle_fitness": "hurdle_fitness", "instances_simulated": "instances"}
UNITS = {"evaluations_per_second": "1/s", "seconds": "s", "evaluation_seconds": "s", "generation_seconds": "s"}
DESCRIPTIONS = {
    "mean_fitness": "mean over the population's finite evaluations",
    "seconds": "simulation wall time per candidate (its batch's time / batch size)",
    "stage": ("'all': fitness from all training instances; 'hurdle': stopped after the first hurdle_instances "
              "(fitness NaN unless the simulation failed)"),
    "hurdle_fitness": "fitness on the first hurdle_instances training instances",
    "instance_evaluations": "candidate x instance simulations this generation",
    "variation_rounds": ("rounds of lambda offspring this generation's variation took (0: the random initial "
                         "population; -1: not recorded, a generation run before this was kept)"),
    "new_evaluations": "expressions simulated for the first time this generation",
    "evaluation_seconds": "time this generation's batches took (simulation)",
    "generation_seconds": ("evolution-loop time of this generation (variation, evaluation, selection, the previous "
                           "checkpoint; NaN: run before this was kept)"),
}

def train_baselines(campaign, validation):
    return {k[len("train_fitness_"):]: v for k, v in (validation or {}).items()
            if k.startswith("train_fitness_") and k != "train_fitness_champion"}


def write_champion(campaign, champ):
    expr = campaign.champion_expression()
    name = f"evolved_{campaign.spec['name']}_seed{campaign.spec['seed']}"
    summary = (f"Evolved by plastlab evolve ({campaign.spec['family']} family, seed {campaign.spec['seed']}, "
               f"{campaign.generation} generations): {champ['readable']}; training fitness {champ['fitness']:.6g}")
    return write_rule_file(campaign.family, expr, campaign.out / "champions" / f"{name}.toml", summary,
                           campaign.spec["family_params"])


def rule_document(family, expr, name, summary, params):
    """The rule file of ``expr`` (the family's ``rule_document``: an ordinary rule, no batched-network
    placeholders), checked as ``plastlab rules check`` would check the file (RuleError otherwise)."""
    import tomli_w

    from ..rules.files import rule_from_toml

    doc = family.rule_document(expr, name, summary, params)
    rule_from_toml(tomli_w.dumps(doc), source=f"{name}.toml")
    return doc


def write_rule_file(family, expr, path, summary, params):
    """``expr`` as the rule file ``path`` (its name is the file's stem), written atomically; returns the path."""
    import tomli_w

    path = Path(path)
    atomic_write_text(path, tomli_w.dumps(rule_document(family, expr, path.stem, summary, params)))
    return path


def check_rule_out(path):
    """``--rule-out F.toml``, checked before anything is scored: a .toml path that can be written whose stem is a
    valid rule name (rules are found by file name). Returns the Path."""
    from .. import outputs
    from ..rules.checks import check_new_name

    path = outputs.check_output_path(path, option="--rule-out", directory=False, suffixes=(".toml",))
    try:
        check_new_name(path.stem, "rule")
    except RuleError as err:
        raise ConfigError(f"'{path.name}' cannot name a rule: {err.message} (the file name is the rule's name)",
                          key="--rule-out") from None
    return path


def run_campaign(path, *, generations=None, seed=None, workers=None, scheduler=None, out=None, resume=False,
                 validate=True, progress=True, overwrite=False, device=None):
    """The ``plastlab evolve`` entry point (``device`` overrides the file's ``[evaluation] device``). Returns
    (campaign, dataset)."""
    spec = load_campaign(path)
    if device is not None:
        from ..brian.device import check_device

        spec["device"] = check_device(device, section="--device")
    if seed is not None:
        spec["seed"] = int(seed)
    out = Path(out) if out else Path("out") / f"evolve-{spec['name']}-seed{spec['seed']}"
    check_output_directory(out, spec, resume=resume, overwrite=overwrite)
    evaluator = Evaluator(spec["family"], spec["train_seeds"], spec["family_params"], spec["batch_size"],
                          workers=workers, scheduler=scheduler, device=spec["device"])
    try:
        camp = Campaign(spec, out, generations=generations, evaluator=evaluator, progress=progress)
        camp.run(resume=resume)
        validation = {}
        if validate:
            validation = validation_report(camp, evaluator)
        ds = camp.write_results(validation)
    finally:
        evaluator.close()
    return camp, ds


def check_output_directory(out, spec, *, resume, overwrite):
    """Before any evaluation: an existing campaign is continued only with --resume (its checkpoint checked
    first) and replaced only with --overwrite; anything else would lose its checkpoint."""
    from .. import outputs

    outputs.claim(out)  # first: two campaigns in one directory would overwrite each other's checkpoints
    checkpoint = out / CHECKPOINT
    if resume:
        read_checkpoint(checkpoint, spec_digest(spec))
    elif checkpoint.exists() and not overwrite:
        raise ConfigError("holds a campaign already: continue it with --resume, replace it with --overwrite, or "
                          "choose another --out", file=out)


def validation_report(camp, evaluator):
    """Champion and baselines on the training and validation instances, and the champion's equivalence to the
    paper's rule. The instances are passed per call (the caller's evaluator is not changed); anything drawn from
    ``random`` meanwhile comes from the campaign's stream, as it did when the stream was the global one."""
    with camp.random:
        return _validation_report(camp, evaluator)


def _validation_report(camp, evaluator):
    names = list(camp.family.baselines())
    champion = camp.champion_expression()
    exprs = [champion] + [camp.family.baselines()[n] for n in names]
    out = {}
    for label, seeds in (("train", camp.spec["train_seeds"]), ("validation", camp.spec["validation_seeds"])):
        results = evaluator(exprs, seeds=seeds)
        for name, r in zip(["champion"] + names, results):
            out[f"{label}_fitness_{name}"] = r["fitness"]
            if r["per_instance"]:  # the spread over instances (fitness may be their mean or their minimum)
                out[f"{label}_instance_mean_{name}"] = float(np.mean(r["per_instance"]))
                out[f"{label}_instance_sd_{name}"] = float(np.std(r["per_instance"]))
    eq = equivalence(camp.family, champion, camp.spec["family_params"], camp.spec["train_seeds"][:3])
    if eq is not None:
        out.update({"equivalence_c": eq["c"], "equivalence_r2": eq["r2"],
                    "equivalent_to_paper_rule": int(eq["equivalent"]), "equivalence_samples": eq["samples"],
                    "equivalence_reference": str(camp.family.reference())})
    return out


def evaluate_expression(path, text, *, instances="train", rule_out=None):
    """``plastlab evolve FILE --evaluate EXPR``: one expression on the campaign's training (or validation)
    instances. Names the family does not have, or the wrong number of functions, are refused (PlastlabError
    naming the family's inputs) before anything is simulated. ``rule_out`` (a .toml path, checked first): the
    expression's rule file, the document a champion would be, written after scoring (``result["rule_file"]``)."""
    from ..rules.expressions import canonical, parse_expression

    rule_out = None if rule_out is None else check_rule_out(rule_out)
    spec = load_campaign(path)
    family = get_family(spec["family"])
    symbols = dict(zip(family.INPUTS, family.symbols()))
    outputs = getattr(family, "OUTPUTS", ())
    inputs = ", ".join(family.INPUTS)
    texts = str(text).split(";")
    wanted = len(outputs) or 1
    if len(texts) != wanted:
        shape = f"{len(outputs)} functions \"{'; '.join(outputs)}\"" if outputs else "one expression (no ';')"
        raise PlastlabError(f"--evaluate: the {spec['family']} family takes {shape} of its inputs {inputs}; "
                            f"got {len(texts)}")
    try:
        parts = [parse_expression(t, symbols, section="--evaluate", allow_units=False) for t in texts]
    except RuleError as err:
        raise PlastlabError(f"--evaluate: {err.message} (in '{err.term}'); the {spec['family']} family's inputs "
                            f"are {inputs}") from None
    expr = sp.Tuple(*parts) if outputs else parts[0]
    written = None
    if rule_out is not None:  # the document is built (and checked) before scoring: a refusal costs no simulation
        written = canonical(expr)
        if written is sp.nan:
            raise PlastlabError(f"--rule-out: '{text}' is not finite (it divides by zero): no rule file to write")
        rule_document(family, written, rule_out.stem, "", spec["family_params"])
    seeds = spec["train_seeds"] if instances == "train" else spec["validation_seeds"]
    print(f"evaluating on {len(seeds)} {instances} instances of the {spec['family']} family "
          f"(one Brian2 network; the first run compiles it) ...", file=sys.stderr, flush=True)
    result = evaluate_task(spec["family"], [expr], seeds, spec["family_params"])[0]
    if rule_out is not None:
        fitness = f"{result['fitness']:.6g}" + (f" ({result['reason']})" if result["reason"] else "")
        summary = (f"Scored by plastlab evolve --evaluate ({spec['family']} family, campaign {spec['name']}, "
                   f"{len(seeds)} {instances} instances): {gp.readable(written)}"
                   f"; fitness {fitness}")
        result = dict(result, rule_file=str(write_rule_file(family, written, rule_out, summary,
                                                            spec["family_params"])))
    return expr, result


def equivalence(family, expr, params, seeds, n=2000):
    """Least-squares c and R^2 of ``expr`` ~ c * (the paper's rule) on rule inputs recorded from the family's
    simulations of the paper's rule (``family.equivalence_samples``): the paper's criterion of rediscovery,
    functional equivalence on the visited input range. None for families without one reference rule."""
    from .tasks import programs

    if not hasattr(family, "equivalence_samples") or isinstance(expr, sp.Tuple):
        return None
    samples = family.equivalence_samples(seeds, params, n=n)

    def values(e):
        return programs.values(e, family.symbols(), list(samples))

    f, b = values(expr), values(family.reference())
    if f is None or not np.all(np.isfinite(f)):
        return {"c": float("nan"), "r2": float("nan"), "equivalent": False, "samples": int(samples.shape[1])}
    c = float(np.dot(f, b) / np.dot(b, b))
    spread = float(np.sum((f - f.mean()) ** 2))
    r2 = 1.0 - float(np.sum((f - c * b) ** 2)) / spread if spread > 0 else float("nan")
    return {"c": c, "r2": r2, "equivalent": bool(c > 0 and r2 >= EQUIVALENT_R2), "samples": int(samples.shape[1])}
