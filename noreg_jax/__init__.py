"""NOREG-JAX: a differentiable regional CGE model of Norway (11 counties x 24 industries x 4 education groups).

Importing the package turns on float64 in JAX (``jax_enable_x64``): every equilibrium is solved in
double precision. Dimension order is fixed everywhere: (region, sector/good, education, year).
"""

import importlib

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

# The public API: ``import noreg_jax as nj`` and then, for example (tests/test_api.py runs this example)::
#
#     model = nj.reference_model(regions="trondelag_rest.csv")  # shipped data and drivers; None: 11 counties
#     reference = nj.run_reference(model)                      # xarray.Dataset; raises unless every year converged
#     [scenario] = nj.run_scenarios(model, ["scenarios/trondelag_vocational.toml"])
#     change = nj.compare(scenario, reference)                 # scenario − reference, absolute and in %
#     nj.save(reference, "results/api")                        # results/api/reference.nc and CSV summaries
#     again = nj.load("results/api/reference.nc")
#
# Each name is imported from its module on first use, so ``import noreg_jax`` stays light.
_API = {
    "load_economy": "noreg_jax.parameters",
    "reference_model": "noreg_jax.drivers",
    "simulate": "noreg_jax.dynamics",
    "run_reference": "noreg_jax.runs",
    "cached_reference": "noreg_jax.runs",
    "run_scenarios": "noreg_jax.runs",
    "parse_scenarios": "noreg_jax.scenarios",
    "apply_scenario": "noreg_jax.scenarios",
    "to_dataset": "noreg_jax.results",
    "compare": "noreg_jax.results",
    "save": "noreg_jax.results",
    "load": "noreg_jax.results",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'noreg_jax' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
