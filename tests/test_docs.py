"""The README's and rules/README.md's examples run as written."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plastlab.rules.files import rule_from_toml

ROOT = Path(__file__).resolve().parents[1]


def blocks(path, language):
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("k", range(2))
def test_rule_file_examples_are_valid_rule_files(k):
    text = blocks(ROOT / "rules" / "README.md", "toml")[k]
    name = re.search(r'name = "(\w+)"', text).group(1)
    rule = rule_from_toml(text, source=f"{name}.toml")
    assert rule.name == name


def test_readme_python_examples_run_as_written(tmp_path):
    """The 'In Python' section of README.md, run as one script the way a reader would paste it."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## In Python", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(code) >= 2
    script = tmp_path / "readme_example.py"
    script.write_text("\n".join(code) + "\nprint('last rule:', rule.name)\n")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("last rule: toy")
