"""The one place that knows about differences between library versions.

* float64: every comparison with SciPy runs in double precision, so importing
  :mod:`lbfgs_impl` turns on ``jax_enable_x64`` (before any array is made).
* Optax: ``optax.tree`` appeared in 0.2.5; 0.2.4 only has ``optax.tree_utils``,
  and its L-BFGS ``update`` returns some integer state leaves as int32 where
  ``init`` made int64 (x64 mode), which a loop carry or an AOT-compiled step
  cannot accept.
"""

from __future__ import annotations

from typing import Any

import jax
import optax

jax.config.update("jax_enable_x64", True)

if hasattr(optax, "tree") and hasattr(optax.tree, "get"):  # optax >= 0.2.5
    _tree_get = optax.tree.get
else:  # optax 0.2.4
    _tree_get = optax.tree_utils.tree_get


def tree_get(tree: Any, key: str) -> Any:
    """Return the single leaf named ``key`` in an optax state pytree."""
    return _tree_get(tree, key)


def keep_dtypes(new_state: Any, old_state: Any) -> Any:
    """``new_state`` with every leaf cast to the dtype of the same leaf in ``old_state``."""
    return jax.tree.map(lambda new, old: jax.numpy.asarray(new, dtype=old.dtype), new_state, old_state)


def require_x64() -> None:
    """Raise if double precision was switched off after import."""
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            "lbfgs_impl needs jax_enable_x64=True (float64) to compare with SciPy; "
            "something switched it off after lbfgs_impl was imported"
        )
