"""The economic blocks of one year's equilibrium: production, trade, households, government.

Each block is a set of pure functions of (benchmark, parameters, prices, quantities) that returns
named prices and quantities. They know nothing of the solver; ``noreg_jax.equilibrium`` assembles
them into the square system F(x; θ) = 0.
"""
