"""A user's objective from outside the repository, on the command line and from Python."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

USER_MODULE = textwrap.dedent(
    """
    import jax.numpy as jnp

    def f(x):
        # strictly convex (diagonally dominant Hessian): one minimum, which every solver must reach
        weights = jnp.arange(1, x.shape[0] + 1)
        return jnp.sum(weights * (x - 1.0) ** 2) + 0.1 * jnp.sum(x[1:] * x[:-1])
    """
)


@pytest.mark.slow  # three solvers' first calls in a process of its own (~45 s)
def test_compare_runs_the_seed_variants_on_a_users_module_to_the_same_minimum(tmp_path):
    """``lbfgs-bench compare --problem mymodule:f --n 50``, the module outside the repository."""
    (tmp_path / "mymodule.py").write_text(USER_MODULE)
    out = tmp_path / "compare.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(tmp_path)]))
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl", "compare", "--problem", "mymodule:f", "--n", "50",
         "--repeats", "2", "--first-call-repeats", "1", "--no-pin", "--json", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    rows = {r["solver"]: r for r in doc["results"]}
    assert list(rows) == ["scipy", "optax_loop", "optax_while"]
    for row in rows.values():
        assert row["converged"] and row["grad_inf_norm"] <= 1e-5, row["status"]
        assert row["n"] == 50 and row["problem"] == "mymodule:f"
    values = [r["final_loss"] for r in rows.values()]
    # the same minimum: with ||g||_inf <= 1e-5 and curvature >= 1.8, f is within ~1e-9 of it
    assert max(values) - min(values) <= 1e-8 * max(1.0, abs(min(values)))
    assert doc["meta"]["problem"]["origin"] == {
        "kind": "module", "target": "mymodule:f", "distribution": None, "version": None,
    }  # fmt: skip
    assert doc["meta"]["problem"]["origin"] and "f_star" not in doc["meta"]["problem"]


@pytest.mark.slow  # the page's example times three solvers (~35 s)
def test_the_python_example_of_the_plugins_page_runs_as_written(capsys):
    """The first ``python`` block of docs/howto/plugins.md, run as it stands."""
    page = (REPO / "docs" / "howto" / "plugins.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 10  # blank lines as ruff formats them
    exec(compile(code, "docs/howto/plugins.md", "exec"), {"__name__": "__plugins_example__"})
    table = capsys.readouterr().out
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == [
        "scipy", "optax_loop", "optax_while",
    ]  # fmt: skip
