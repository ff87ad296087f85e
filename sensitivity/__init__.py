"""Sensitivity and uncertainty: exact path gradients, Sobol indices over parameter uncertainty as batched
solves, arviz summaries, resumable sweeps. Builds on ``noreg_jax`` (the model) and names outcomes with
:mod:`sensitivity.outcomes`."""
