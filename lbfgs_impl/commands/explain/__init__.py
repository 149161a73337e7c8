"""``lbfgs-bench explain``: where an iteration's instructions go, what XLA runs per iteration, the floor.

``command.py`` (arguments, body), ``static.py`` (HLO figures and native counts, no valgrind),
``probes.py`` (the floor's one-evaluation and L-BFGS-algebra probes), ``runner.py`` (the
callgrind part), ``document.py`` (explain.md, explain.json).
"""
