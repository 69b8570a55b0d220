"""The classifier's declared settings: one table of every setting (type, range, default, unit) and the two
protocols' values, apart from the estimator so that ``plastlab classify --help`` can list them without importing
scikit-learn or Brian2."""
import math

from ..config import Param

CALIBRATION = (1.0, 1.5, 2.25, 3.4, 5.0, 7.5)  # readout gain factors tried when calibrate = True
SILENT_WARNING = 0.10  # warn when more than this fraction of samples leaves every output neuron silent
# protocol "plastlab": the teacher comes this fraction of the encoding window after the earliest input spike, so
# the inputs it potentiates are those whose fields respond at least half as strongly as the best one, whatever
# t_encode is (teacher_delay None: derived)
TEACHER_DELAY_FRACTION = 0.5
# protocol "plastlab": each receptive field's sd in units of the spacing of the field centres (sigma None: derived).
# At 1 a value halfway between two centres still drives both to 88 % of their peak, so neighbouring fields spike
# early together and a class's weights spread over the fields its values cover; the encoder's own default
# (2/3 / (n - 2), 0.78 spacings for 8 fields) left Iris and wine 0.01-0.07 lower for most rules (README)
FIELD_WIDTH = 1.0
# protocol "plastlab": independently trained copies of the layer whose mean first-spike times decide. One layer's
# result depends on its first weights and the order of its patterns; on the development folds (CV seeds 1-2) five
# such layers raised the six rules' mean F1 from 0.946 to 0.950 on Iris, 0.909 to 0.925 on wine and (four rules)
# 0.930 to 0.938 on breast cancer, the worst cases most (PPX on wine 0.88 -> 0.95). The copies run side by side in
# one network, so five cost far less than five times one (README)
MEMBERS = 5


# One declared table: every classifier setting, its type, range and default -- the constructor's. A default of None
# is the protocol's value (the protocols disagree, or it is derived); None is accepted for every setting.
def _p(kind, low=None, high=None, *, default=None, **kw):
    return Param(kind, default, low=low, high=high, nullable=True, **kw)


PARAMS = {
    "protocol": Param(str, "plastlab", choices=("plastlab", "sboev"),
        doc="where unset settings come from: plastlab's protocol or the Sboev group's"),
    "encoding": _p(str, choices=("latency", "poisson"), default="latency",
        doc="receptive-field latency code (one spike per field) or Poisson rate code"),
    "n_fields": _p(int, 2, 1000,
        doc="receptive fields per feature"),
    "sigma": _p(float, 0, strict=True,
        doc="receptive-field sd, in units of the feature's scaled range (plastlab: FIELD_WIDTH/(n_fields - 1))"),
    "t_encode": _p(float, 0, strict=True,
        doc="ms; the encoding window: the latest input spike time"),
    "drop_late": _p(float, 0, 1, strict=False,
        doc="fraction of t_encode after which a field's spike is dropped (weak responses stay silent)"),
    "scaling": _p(str, choices=("minmax", "quantile", "power", "none"),
        doc="feature scaling before the fields (power: Yeo-Johnson, then min-max)"),
    "sample_norm": _p(str, choices=("none", "l2"),
        doc="per-sample normalisation of the features before scaling"),
    "max_rate": _p(float, 0, strict=True, default=200.0,
        doc="Hz; peak rate of the Poisson code"),
    "epochs": _p(int, 0, 10_000, default=5,
        doc="passes over the training set (shuffled each epoch)"),
    "neurons_per_class": _p(int, 1, 1000, default=1,
        doc="output neurons per class"),
    "members": _p(int, 1, 100,
        doc="independently trained copies of the layer, deciding by their mean first spike"),
    "w_init": _p(float, 0, 1,
        doc="initial weight, as a fraction of the rule's weight range"),
    "w_spread": _p(float, 0, 2,
        doc="width of the uniform noise on the initial weights (fraction of the range)"),
    "gain": _p(float, 0,
        doc="jump of the synaptic current I for a full-scale weight, times the number of features (dimensionless)"),
    "tau_m": _p(float, 0, strict=True, default=6.0,
        doc="ms; membrane time constant"),
    "tau_syn": _p(float, 0, strict=True,
        doc="ms; synaptic current time constant"),
    "t_ref": _p(float, 0,
        doc="ms; refractory period"),
    "v_th": _p(float, 0, strict=True, default=8.0,
        doc="firing threshold of the dimensionless potential v (rest and reset at 0)"),
    "teacher_amp": _p(float, 0,
        doc="teacher current into the correct class's neurons (dimensionless, like v and the synaptic current I)"),
    "teacher_delay": _p(float, 0,
        doc="ms after the pattern's earliest input spike (plastlab: TEACHER_DELAY_FRACTION*t_encode)"),
    "teacher_duration": _p(float, 0, strict=True,
        doc="ms; the teacher current lasts until this long after its delay (at least 2 dt)"),
    "suppress": _p(float, 0,
        doc="inhibitory current holding the other classes' neurons down during training"),
    "anti_teach": _p(bool, default=False,
        doc="instead of holding them down, drive the other classes' neurons at the slot start"),
    "inhibition": _p(float, 0, default=5.0,
        doc="lateral inhibition: drop of the other classes' potential per spike"),
    "decoding": _p(str, choices=("first_spike", "count"), default="first_spike",
        doc="the class of the first neuron to fire, or of the most spikes"),
    "t_gap": _p(float, 0,
        doc="ms; silence between patterns"),
    "dt": _p(float, 0, 5, strict=True,
        doc="ms; simulation time step"),
    "normalize": _p(bool, default=False,
        doc="after each epoch, rescale each output neuron's weights to a common mean"),
    "reset": _p(bool,
        doc="reset neurons and the rule's traces at the start of every pattern"),
    "plasticity": _p(bool, default=True,
        doc="false: the ablation 'no plasticity' (weights stay at their initial values)"),
    "calibrate": _p(bool,
        doc="after training, scale the readout gain by the factor of CALIBRATION best on the training data"),
    "target": _p(str, choices=("cython", "numpy"), default="cython",
        doc="Brian2's code-generation target for this classifier's network"),
    "training": _p(str, choices=("taught", "competitive"), default="taught",
        doc="taught: a teacher drives the correct class's neurons; competitive: no teacher, every output neuron "
            "inhibits every other (winner-take-all), labels assigned after training by the neurons' responses"),
    "homeostasis": _p(float, 0, default=0.0,
        doc="competitive: rise of a neuron's own inhibitory current per spike during training, an adaptive "
            "threshold (0: off)"),
    "homeostasis_tau": _p(float, 0, strict=True, default=100.0,
        doc="patterns; decay time of the homeostatic current (one factor exp(-1/homeostasis_tau) per pattern)"),
    "teacher_jitter": _p(float, 0, default=0.0,
        doc="ms; width of the uniform noise added to each training pattern's teacher time (0: precise timing)"),
    "device": Param(str, "runtime", choices=("runtime", "cpp_standalone", "cuda_standalone"),
        doc="Brian2 device: runtime (from Python), cpp_standalone (one C++ program per network structure, "
            "rerun with new data; needs reset and no normalize), cuda_standalone (Brian2CUDA)"),
}
PROTOCOLS = {
    "plastlab": dict(
        encoding="latency", n_fields=8, sigma=None, t_encode=25.0, drop_late=0.95, scaling="power",
        sample_norm="none", max_rate=200.0, epochs=5, neurons_per_class=1, members=MEMBERS, w_init=0.05,
        w_spread=0.1, gain=60.0, tau_m=6.0, tau_syn=5.0, t_ref=30.0, v_th=8.0, teacher_amp=30.0,
        teacher_delay=None, teacher_duration=5.0, suppress=100.0, anti_teach=False, inhibition=5.0,
        decoding="first_spike", t_gap=10.0, dt=0.5, normalize=False, reset=True, plasticity=True, calibrate=True,
        target="cython", training="taught", homeostasis=0.0, homeostasis_tau=100.0,
        teacher_jitter=0.0, device="runtime"),
    "sboev": dict(
        encoding="latency", n_fields=40, sigma=math.sqrt(0.005), t_encode=5.6, drop_late=None, scaling="none",
        sample_norm="l2", max_rate=200.0, epochs=5, neurons_per_class=1, members=1, w_init=1.0,
        w_spread=0.0, gain=24.0, tau_m=6.0, tau_syn=2.0, t_ref=19.0, v_th=8.0, teacher_amp=1000.0,
        teacher_delay=0.0, teacher_duration=0.2, suppress=0.0, anti_teach=False, inhibition=5.0,
        decoding="first_spike", t_gap=19.4, dt=0.1, normalize=False, reset=False, plasticity=True, calibrate=False,
        target="cython", training="taught", homeostasis=0.0, homeostasis_tau=100.0,
        teacher_jitter=0.0, device="runtime"),
}
