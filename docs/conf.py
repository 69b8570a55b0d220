"""Sphinx configuration of plastlab's documentation.

Build (from the repository root): ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
The CLI reference, the settings tables and the reproduction pages are generated at the start of every build
(``_ext/plastlab_docs.py``); the gallery's examples run during the build.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import plastlab  # noqa: E402

project = "plastlab"
author = "the plastlab authors"
copyright = "2026, the plastlab authors"
release = version = plastlab.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
    "plastlab_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "generated/cli.rst", "generated/settings.rst",  # included by guide/cli, guide/settings
                    "results/**/*.md", "generated/*_figures", "examples/README.txt",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
suppress_warnings = ["config.cache"]  # sphinx-gallery's config holds a function; the build is always fresh

html_theme = "furo"
html_title = f"plastlab {release}"
html_static_path = []

autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_default_options = {"undoc-members": False}

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "within_subsection_order": "FileNameSortKey",
}
