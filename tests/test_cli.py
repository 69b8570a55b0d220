"""The plastlab command: output on success, one line on stderr and exit code 2 on bad input."""
import subprocess
import sys

import xarray as xr

from plastlab.cli import main


def test_help_explains_itself():
    result = subprocess.run([sys.executable, "-m", "plastlab.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "plasticity rules" in result.stdout and "rules" in result.stdout


def test_rules_list_one_rule_a_line_name_first(capsys):
    assert main(["rules", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("nc_memristor ") and "window" in line for line in lines)
    assert len(lines) >= 8


def test_rules_show_prints_equations_latex_parameters_and_code(capsys):
    assert main(["rules", "show", "stdp_additive"]) == 0
    out = capsys.readouterr().out
    for piece in ("dApre/dt = -Apre/taupre", r"\frac{dApre}{dt}", "taupre", "20. ms", "(event-driven)",
                  "w = clip(Apost + w, 0, gmax)"):
        assert piece in out


def test_rules_check_ok_and_errors(tmp_path, capsys):
    assert main(["rules", "check", "rules/nc_memristor.toml"]) == 0
    assert capsys.readouterr().out.strip() == "ok"
    bad = tmp_path / "bad.toml"
    bad.write_text('[rule]\nname = "bad"\n[parameters]\ntau = "20*ms"\n[traces]\nx = "-x/tau"\n'
                   '[on_post]\nstatements = ["w += x + tau"]\n')
    assert main(["rules", "check", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.toml" in err and "[on_post]" in err and "dimension" in err
    assert main(["rules", "check", str(tmp_path / "missing.toml")]) == 2


def test_rules_window_writes_dataset_and_plot(tmp_path, capsys):
    out, png = tmp_path / "w.nc", tmp_path / "w.png"
    assert main(["rules", "window", "nc_memristor", "--dt-range", "-50,50", "--dt-step", "5", "--w0", "0.3,0.7",
                 "--out", str(out), "--plot", str(png)]) == 0
    ds = xr.open_dataset(out)
    assert ds.dw.dims == ("delta_t", "w0") and list(ds.w0.values) == [0.3, 0.7] and ds.sizes["delta_t"] == 21
    assert png.stat().st_size > 10_000 and "max |simulated - closed form|" in capsys.readouterr().out
    assert main(["rules", "window", "nc_memristor", "--dt-range", "abc"]) == 2


def test_classify_help_lists_every_set_key_with_its_defaults_and_unit():
    """Each classifier setting a user can --set is in `classify --help`, with both protocols' defaults, and the
    help is built without importing scikit-learn or Brian2."""
    from plastlab.learn.classifier_params import PARAMS, PROTOCOLS

    result = subprocess.run([sys.executable, "-m", "plastlab", "classify", "--help"], capture_output=True, text=True)
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:] if line.startswith("  ")}
    for key in set(PARAMS) - {"protocol"}:
        assert key in rows, key
        if isinstance(PROTOCOLS["plastlab"][key], int) and not isinstance(PROTOCOLS["plastlab"][key], bool):
            assert str(PROTOCOLS["plastlab"][key]) in rows[key], key
    assert "ms;" in " ".join(rows["t_encode"]) and "Hz;" in " ".join(rows["max_rate"])
    imported = subprocess.run([sys.executable, "-c", "import sys, io, contextlib\n"
                               "from plastlab.cli.commands import build_parser\n"
                               "try:\n    with contextlib.redirect_stdout(io.StringIO()):\n"
                               "        build_parser().parse_args(['classify', '--help'])\n"
                               "except SystemExit:\n    pass\n"
                               "print(sorted(m for m in ('brian2', 'sklearn') if m in sys.modules))"],
                              capture_output=True, text=True).stdout.strip()
    assert imported == "[]"
