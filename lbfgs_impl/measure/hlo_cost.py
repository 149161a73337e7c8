"""XLA's cost analysis (flops, bytes accessed) of one computation of an HLO module's text.

Used by :mod:`lbfgs_impl.measure.hlo`; jaxlib has no public API for it (:func:`cost_api`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

#: ``(flops, bytes accessed)`` of a computation, or the reason it is missing (``"missing: ..."``)
Cost = tuple[float | None, float | None] | str


def reroot(text: str, computation: str) -> str:
    """The module's text with ``computation`` as its entry (to cost one loop body on its own)."""
    text = re.sub(r"^ENTRY ", "", text, flags=re.M)
    return re.sub(rf"^(%{re.escape(computation)} \()", r"ENTRY \1", text, count=1, flags=re.M)


@functools.cache
def cost_api() -> tuple[Callable[[str], Any], Callable[[Any], dict[str, float]]] | str:
    """This jaxlib's ``(module from HLO text, XLA cost analysis of a module)``, or why it has none.

    Both are private jaxlib APIs (nothing public parses HLO text). Tried in order: jaxlib >= 0.7
    (``jaxlib._hlo.hlo_module_from_text``, ``jax._src.lib._jax.hlo_module_cost_analysis``), then
    older jaxlib (the same two functions on ``jax._src.lib.xla_client._xla``). Where neither is
    there, the reason (``"missing: ..."``) is what every cost figure reports instead of a number.
    """
    import jax

    client = jax.devices("cpu")[0].client
    tried = []
    try:
        from jax._src.lib import _jax
        from jaxlib import _hlo

        new_api = (_hlo.hlo_module_from_text, _jax.hlo_module_cost_analysis)
    except (ImportError, AttributeError) as exc:
        tried.append(f"jaxlib._hlo/jax._src.lib._jax ({type(exc).__name__}: {exc})")
    else:
        return new_api[0], lambda module: new_api[1](client, module)
    try:
        from jax._src.lib import xla_client

        old_api = (xla_client._xla.hlo_module_from_text, xla_client._xla.hlo_module_cost_analysis)
    except (ImportError, AttributeError) as exc:
        tried.append(f"jax._src.lib.xla_client._xla ({type(exc).__name__}: {exc})")
    else:
        return old_api[0], lambda module: old_api[1](client, module)
    return f"missing: this jaxlib has no HLO-text cost analysis; tried {'; '.join(tried)}"


def xla_cost_or_reason(text: str, computation: str) -> Cost:
    """XLA's cost analysis ``(flops, bytes accessed)`` of ``computation`` as the module's entry.

    ``"missing: <reason>"`` where this jaxlib lacks the private API (:func:`cost_api`) or XLA
    refuses the text; never a silent ``None``.
    """
    api = cost_api()
    if isinstance(api, str):
        return api
    from_text, analyse = api
    try:
        analysis = analyse(from_text(reroot(text, computation)))
    except Exception as exc:  # XLA's parser or cost analysis rejected the module
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"missing: XLA's cost analysis failed ({type(exc).__name__}: {first[:200]})"
    return analysis.get("flops"), analysis.get("bytes accessed")


def xla_cost(text: str, computation: str) -> tuple[float | None, float | None]:
    """:func:`xla_cost_or_reason` as numbers only: ``(None, None)`` where it gives a reason."""
    found = xla_cost_or_reason(text, computation)
    return (None, None) if isinstance(found, str) else found
