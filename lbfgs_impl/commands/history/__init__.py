"""``lbfgs-bench history``: instruction counts of one case across Optax and JAX releases."""
