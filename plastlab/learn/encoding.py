"""Turn feature vectors into spikes: Gaussian receptive-field latency code and Poisson rate code.

Both encoders are scikit-learn transformers. ``fit`` learns how to scale each feature to [0, 1]: its
min-max range (``scaling="minmax"``), or its empirical quantiles (``scaling="quantile"``, scikit-learn's
``QuantileTransformer``: each feature's ranks, so skewed features spread over all fields instead of piling
into the first few), or the min-max range after a Yeo-Johnson power transform (``scaling="power"``,
scikit-learn's ``PowerTransformer`` on z-scores: skewed features made near-symmetric, symmetric ones nearly
unchanged); ``transform`` returns one number per input neuron and sample:

* :class:`GaussianRFEncoder`: the spike time in ms (NaN: the field stays silent);
* :class:`PoissonRateEncoder`: the firing rate in Hz.

``spike_trains(X)`` turns either into explicit spikes, one ``(indices, times_ms)`` pair per sample, which
is what the spiking networks in :mod:`plastlab.learn.classifier` and :mod:`plastlab.learn.cartpole` consume.
Input neuron ``k = feature * n_fields + field``.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

SCALINGS = ("minmax", "quantile", "power", "none")
SAMPLE_NORMS = (None, "none", "l2")


class _RangeScaler(BaseEstimator):
    """Per-feature scaling to [0, 1] learned in ``fit`` (min-max range, quantiles, min-max after a power
    transform, or none: the values as they are); values are clipped to [0, 1] after scaling.
    ``sample_norm="l2"`` first divides each sample by its Euclidean norm (scikit-learn's ``normalize``, as the
    Sboev group does)."""

    def _normalized(self, X):
        if self.sample_norm == "l2":
            from sklearn.preprocessing import normalize

            return normalize(X)
        return X

    def _fit_range(self, X, bounds=None):
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite=True)
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {self.scaling!r}")
        if self.sample_norm not in SAMPLE_NORMS:
            raise ValueError(f"sample_norm must be 'none' or 'l2', got {self.sample_norm!r}")
        X = self._normalized(X)
        if self.scaling == "quantile":
            if bounds is not None:
                raise ValueError("bounds apply to scaling='minmax' only")
            from sklearn.preprocessing import QuantileTransformer

            self.quantiles_ = QuantileTransformer(n_quantiles=min(1000, len(X))).fit(X)
        if self.scaling == "power":
            if bounds is not None:
                raise ValueError("bounds apply to scaling='minmax' only")
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import MaxAbsScaler, PowerTransformer, StandardScaler

            # in units of the feature's sd (of x / max|x|: no overflow), not centred: Yeo-Johnson sees the same
            # numbers whatever the feature's unit, and a positive feature stays positive
            self.power_ = make_pipeline(MaxAbsScaler(), StandardScaler(with_mean=False), PowerTransformer()).fit(X)
            X = self.power_.transform(X)
        if bounds is not None:
            lo, hi = bounds
            lo = np.broadcast_to(np.asarray(lo, dtype=float), (X.shape[1],)).copy()
            hi = np.broadcast_to(np.asarray(hi, dtype=float), (X.shape[1],)).copy()
        elif self.scaling == "none":
            lo, hi = np.zeros(X.shape[1]), np.ones(X.shape[1])
        else:
            lo, hi = X.min(axis=0), X.max(axis=0)
        span = hi - lo
        span[span == 0] = 1.0  # constant feature: everything maps to 0
        self.data_min_, self.data_range_ = lo, span
        return X

    def _scaled(self, X):
        check_is_fitted(self, "data_min_")
        X = self._normalized(validate_data(self, X, dtype=np.float64, reset=False, ensure_all_finite=True))
        if self.scaling == "quantile":
            return np.clip(self.quantiles_.transform(X), 0.0, 1.0)
        if self.scaling == "power":
            X = self.power_.transform(X)
        return np.clip((X - self.data_min_) / self.data_range_, 0.0, 1.0)


class GaussianRFEncoder(TransformerMixin, _RangeScaler):
    """Gaussian receptive-field latency encoder (one spike per field per sample, or none).

    Each feature, scaled to [0, 1], is covered by ``n_fields`` Gaussian fields with centres evenly spaced
    on [0, 1]. A field responding with ``G`` (``G_max = 1`` at its centre) spikes at
    ``t = t_max * (1 - G)`` ms: strongly responding fields spike early.

    Parameters
    ----------
    n_fields : int
        Fields per feature (>= 2).
    sigma : float or None
        Width of each field in scaled units. None: ``(2/3) / (n_fields - 2)`` (or ``1 / n_fields`` when
        ``n_fields <= 3``).
    t_max : float
        Encoding window in ms.
    drop_late : float or None
        Drop spikes with ``t >= drop_late * t_max`` (fields that barely respond); None keeps them all.
    bounds : None or (lo, hi)
        Fixed feature bounds instead of learning them from the data (scalars or one value per feature;
        ``scaling="minmax"`` only).
    scaling : {"minmax", "quantile", "power", "none"}
        How ``fit`` maps each feature to [0, 1]: its min-max range, its quantiles (ranks), its min-max range
        after a Yeo-Johnson power transform, or not at all.
    sample_norm : {"none", "l2"}
        Divide each sample by its L2 norm before scaling.
    """

    def __init__(self, n_fields=20, sigma=None, t_max=25.0, drop_late=0.95, bounds=None, scaling="minmax",
                 sample_norm="none"):
        self.n_fields = n_fields
        self.sigma = sigma
        self.t_max = t_max
        self.drop_late = drop_late
        self.bounds = bounds
        self.scaling = scaling
        self.sample_norm = sample_norm

    def _check_params(self):
        if int(self.n_fields) != self.n_fields or self.n_fields < 2:
            raise ValueError(f"n_fields must be an integer >= 2, got {self.n_fields!r}")
        if self.sigma is not None and not self.sigma > 0:
            raise ValueError(f"sigma must be positive or None, got {self.sigma!r}")
        if not self.t_max > 0:
            raise ValueError(f"t_max must be positive (ms), got {self.t_max!r}")
        if self.drop_late is not None and not 0 < self.drop_late <= 1:
            raise ValueError(f"drop_late must be in (0, 1] or None, got {self.drop_late!r}")

    @property
    def sigma_(self):
        if self.sigma is not None:
            return float(self.sigma)
        n = int(self.n_fields)
        return (2.0 / 3.0) / (n - 2) if n > 3 else 1.0 / n

    def fit(self, X, y=None):
        self._check_params()
        self._fit_range(X, self.bounds)
        self.centres_ = np.linspace(0.0, 1.0, int(self.n_fields))
        self.n_outputs_ = self.n_features_in_ * int(self.n_fields)
        return self

    def responses(self, X):
        """Gaussian responses in [0, 1], shape (n_samples, n_features * n_fields)."""
        check_is_fitted(self, "centres_")
        Xs = self._scaled(X)
        g = np.exp(-((Xs[:, :, None] - self.centres_[None, None, :]) ** 2) / (2 * self.sigma_**2))
        return g.reshape(len(Xs), -1)

    def transform(self, X):
        """Spike times in ms, shape (n_samples, n_features * n_fields); NaN where a field stays silent."""
        times = self.t_max * (1.0 - self.responses(X))
        if self.drop_late is not None:
            times[times >= self.drop_late * self.t_max] = np.nan
        return times

    def spike_trains(self, X):
        """One ``(indices, times_ms)`` pair per sample, spikes sorted by time."""
        out = []
        for row in self.transform(X):
            idx = np.flatnonzero(~np.isnan(row))
            order = np.argsort(row[idx], kind="stable")
            out.append((idx[order], row[idx][order]))
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "centres_")
        feats = input_features if input_features is not None else [f"x{i}" for i in range(self.n_features_in_)]
        return np.array([f"{f}_rf{k}" for f in feats for k in range(int(self.n_fields))], dtype=object)


class PoissonRateEncoder(TransformerMixin, _RangeScaler):
    """Poisson rate encoder: each feature drives ``n_fields`` neurons (Gaussian fields as above, or one
    neuron per feature with ``n_fields=1``) whose rate is ``max_rate * response`` Hz during ``duration`` ms.

    ``transform`` gives the rates; ``spike_trains`` draws the spikes from ``random_state`` afresh at every call
    (the same data give the same spikes), or from the generator it is given.
    """

    def __init__(self, n_fields=1, sigma=None, max_rate=200.0, duration=25.0, random_state=None, bounds=None,
                 scaling="minmax", sample_norm="none"):
        self.n_fields = n_fields
        self.sigma = sigma
        self.max_rate = max_rate
        self.duration = duration
        self.random_state = random_state
        self.bounds = bounds
        self.scaling = scaling
        self.sample_norm = sample_norm

    def fit(self, X, y=None):
        if int(self.n_fields) != self.n_fields or self.n_fields < 1:
            raise ValueError(f"n_fields must be an integer >= 1, got {self.n_fields!r}")
        if not self.max_rate > 0 or not self.duration > 0:
            raise ValueError("max_rate (Hz) and duration (ms) must be positive")
        self._fit_range(X, self.bounds)
        n = int(self.n_fields)
        self.centres_ = np.linspace(0.0, 1.0, n) if n > 1 else None
        self.n_outputs_ = self.n_features_in_ * n
        self.seed_ = int(check_random_state(self.random_state).randint(2**31 - 1))
        return self

    def transform(self, X):
        """Rates in Hz, shape (n_samples, n_features * n_fields)."""
        check_is_fitted(self, "n_outputs_")
        Xs = self._scaled(X)
        if self.centres_ is None:
            return self.max_rate * Xs
        n = int(self.n_fields)
        sigma = self.sigma if self.sigma is not None else ((2 / 3) / (n - 2) if n > 3 else 1.0 / n)
        g = np.exp(-((Xs[:, :, None] - self.centres_[None, None, :]) ** 2) / (2 * sigma**2))
        return self.max_rate * g.reshape(len(Xs), -1)

    def spike_trains(self, X, dt=0.1, random_state=None):
        """One ``(indices, times_ms)`` pair per sample; at most one spike per neuron per ``dt`` ms bin.

        Without ``random_state`` the spikes come from the seed drawn at ``fit``: repeatable."""
        rates = self.transform(X)
        rng = np.random.RandomState(self.seed_) if random_state is None else check_random_state(random_state)
        n_bins = max(1, int(round(self.duration / dt)))
        out = []
        for r in rates:
            p = np.clip(r * dt * 1e-3, 0.0, 1.0)
            hits = rng.random_sample((n_bins, len(r))) < p[None, :]
            b, idx = np.nonzero(hits)
            out.append((idx, b * dt))
        return out
