"""Every figure of the suite, in one style (:mod:`~lbfgs_impl.plots.style`).

* :mod:`~lbfgs_impl.plots.profiles`: Dolan-Moré performance profiles;
* :mod:`~lbfgs_impl.plots.report`: the figures of ``lbfgs-bench report``;
* :mod:`~lbfgs_impl.plots.study`: the instruction-count study's figures.
"""
