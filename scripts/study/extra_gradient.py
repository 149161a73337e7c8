"""A real code change for the nightly study and tests: one extra value-and-gradient per optax iteration.

:func:`apply` edits ``lbfgs_impl/solvers/optax_lbfgs.py`` in a *copy* of the repository
(never this checkout): ``_lbfgs_step`` (the body of optax_while's ``lax.while_loop``, and
each Python iteration of optax_loop) evaluates ``value_and_grad`` once more at the new
point and folds the result into the evaluation count in a way XLA cannot remove (a NaN
test: it adds 0 for finite values). Committed on top of the baseline, it is a genuine
regression of the kind the nightly must catch.
"""

from __future__ import annotations

from pathlib import Path

ANCHOR = '    n_eval = must_evaluate.astype(jnp.int64) + tree_get(state, "num_linesearch_steps")\n'
EXTRA = (
    "    extra_value, extra_grad = jax.value_and_grad(fun)(params)  # the injected regression\n"
    "    n_eval = n_eval + jnp.isnan(extra_value + jnp.sum(extra_grad)).astype(jnp.int64)\n"
)


def apply(repo: Path) -> Path:
    """Insert the extra evaluation into ``repo``'s optax solver; returns the edited file."""
    path = Path(repo) / "lbfgs_impl" / "solvers" / "optax_lbfgs.py"
    text = path.read_text()
    if ANCHOR not in text:
        raise RuntimeError(f"{path}: the line to extend is gone; update scripts/study/extra_gradient.py")
    path.write_text(text.replace(ANCHOR, ANCHOR + EXTRA, 1))
    return path
