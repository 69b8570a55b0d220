"""Simulated spike-pair windows equal the closed forms (window rules: F clipped; trace rules: pair integral)."""
import numpy as np
import pytest
import xarray as xr
from brian2 import ms

from plastlab import PlastlabError
from plastlab.brian.protocols import pair_window, time_grid
from plastlab.plots import plot_window
from plastlab.store import write_dataset

CLOSED_FORM = ["stdp_additive", "stdp_weight_dependent", "stdp_nearest", "nc_memristor", "ppx_memristor",
               "stdp_homeostatic"]


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_simulated_window_equals_closed_form_within_1e_9(name):
    w0 = [0.2, 0.5, 0.8] if name != "stdp_additive" else [0.002, 0.005, 0.008]
    ds = pair_window(name, time_grid(-100, 100, 1), w0)
    assert ds.dw.dims == ("delta_t", "w0") and ds.delta_t.attrs["units"] == "ms"
    assert np.any(ds.dw.values != 0)
    scale = np.abs(ds.dw_analytic).max().item()
    np.testing.assert_allclose(ds.dw, ds.dw_analytic, rtol=1e-9, atol=1e-12 * scale)


def test_dataset_round_trips_through_netcdf_with_provenance(tmp_path):
    ds = pair_window("nc_memristor", time_grid(-20, 20, 5), [0.5])
    path = write_dataset(ds, tmp_path / "window.nc")
    back = xr.open_dataset(path)
    np.testing.assert_array_equal(back.dw, ds.dw)
    assert back.attrs["rule"] == "nc_memristor" and "tanh" in back.attrs["rule_equations"]
    assert "brian2" in back.attrs["package_versions"]
    plot_window(ds, tmp_path / "window.png")
    assert (tmp_path / "window.png").stat().st_size > 10_000


def test_off_grid_delta_t_and_unknown_inputs_are_refused():
    with pytest.raises(PlastlabError, match="multiples"):
        pair_window("nc_memristor", np.array([0.05]) * ms, [0.5])
    with pytest.raises(PlastlabError, match="time units"):
        pair_window("nc_memristor", np.array([1.0]), [0.5])
    with pytest.raises(PlastlabError, match="no input 'dopamine'"):
        pair_window("rstdp_eligibility", np.array([1.0]) * ms, [0.5], inputs={"dopamine": 1})
