"""NOREG-JAX: a differentiable regional CGE model of Norway (11 counties x 24 industries x 4 education groups).

Importing the package turns on float64 in JAX (``jax_enable_x64``): every equilibrium is solved in
double precision. Dimension order is fixed everywhere: (region, sector/good, education, year).
"""

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
