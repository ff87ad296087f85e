"""Newton-type root finding with implicit differentiation. Knows no economics.

``solve(residual, x0, args)`` finds x* with residual(x*, args) = 0 and returns it together with a
:class:`SolveStatus`. Derivatives of x* with respect to ``args`` (any pytree) follow from the
implicit function theorem, dx*/dθ = -J⁻¹ ∂F/∂θ, through :func:`jax.lax.custom_root`; the iterations
are never unrolled. Works under ``jit``, ``vmap``, ``grad``, ``jvp``.

The iteration (all inside one ``lax.while_loop``):

1. Newton step d = -J⁻¹F from LU factors of the Jacobian, clipped to ``max_step`` in the ∞-norm (the
   unknowns are logs, so this is a box on relative changes and keeps exp() from overflowing far from
   the solution). The factors are reused across iterations (chord steps) while ‖F‖ contracts by at
   least ``refresh_ratio`` per step, and refreshed otherwise: the Jacobian (by ``jacfwd``) is the
   expensive part, so reuse is where the speed comes from;
2. the full step is taken if it decreases the merit ½‖F‖² enough; otherwise a vectorised backtracking
   line search evaluates the merit at all shorter step lengths at once and takes the longest that does;
3. if no step length decreases the merit even with a fresh Jacobian, Levenberg–Marquardt steps
   -(JᵀJ + λ·diag)⁻¹JᵀF for a ladder of λ are tried, again all at once, and the best is taken.

Convergence: max|F| ≤ ``tol`` and every entry finite (a NaN never counts as converged; a row-wise
max can ignore NaN on XLA:CPU, so finiteness is tested separately).
"""

from typing import Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax import lax


class SolverOptions(NamedTuple):
    """Tuning of :func:`solve`. ``tol`` is on max|F| (the model's residuals are relative)."""

    tol: float = 1e-10
    max_iter: int = 100
    max_step: float = 1.0
    step_lengths: tuple = (0.5, 0.25, 0.1, 0.03, 0.01)  # tried when the full step is rejected
    armijo: float = 1e-4
    refresh_ratio: float = 0.5  # refresh the Jacobian when ‖F‖ falls by less than this factor
    lm_damping: tuple = (1e-4, 1e-2, 1.0, 1e2)


class SolveStatus(eqx.Module):
    """Outcome of one solve. A caller must look at ``converged`` before using the solution."""

    converged: jax.Array  # bool
    iterations: jax.Array  # int: iterations taken
    max_residual: jax.Array  # max|F(x*)|, inf if not finite
    jacobians: jax.Array  # int: Jacobian evaluations (LU factorisations)
    lm_steps: jax.Array  # int: iterations that fell back to Levenberg–Marquardt


def _max_abs(f):
    finite = jnp.all(jnp.isfinite(f))
    return jnp.where(finite, jnp.max(jnp.abs(f)), jnp.inf)


def _merit(f):
    return jnp.where(jnp.all(jnp.isfinite(f)), 0.5 * jnp.sum(f * f), jnp.inf)


def _iterate(fun: Callable, x0, options: SolverOptions, factors=None):
    """Newton iteration with Jacobian reuse on fun: R^n -> R^n.

    The LU factors of the Jacobian are kept and reused (chord steps) while ‖F‖ falls fast enough;
    they are refreshed when it does not, or when no step length is accepted. ``factors`` may carry
    the LU factors of a nearby problem (e.g. last year's) to start from. Returns (x, status, factors).
    """
    n = x0.shape[0]
    alphas = jnp.asarray(options.step_lengths, dtype=x0.dtype)
    lambdas = jnp.asarray(options.lm_damping, dtype=x0.dtype)

    def clip(d):
        size = jnp.max(jnp.abs(d))
        ok = jnp.isfinite(size)
        scale = jnp.where(ok & (size > options.max_step), options.max_step / jnp.where(ok, size, 1.0), 1.0)
        return jnp.where(ok, d * scale, jnp.zeros_like(d))

    def factorise(x):
        return jsl.lu_factor(jax.jacfwd(fun)(x))

    def levenberg_marquardt(x, f):
        jac = jax.jacfwd(fun)(x)
        jtj, jtf = jac.T @ jac, jac.T @ f
        diag = jnp.maximum(jnp.diag(jtj), 1e-12)
        steps = jax.vmap(lambda lam: clip(jnp.linalg.solve(jtj + lam * jnp.diag(diag), -jtf)))(lambdas)
        trial_x = x[None, :] + steps
        trial_f = jax.vmap(fun)(trial_x)
        trial_m = jax.vmap(_merit)(trial_f)
        j = jnp.argmin(trial_m)
        return trial_x[j], trial_f[j], trial_m[j] < _merit(f)

    def cond(state):
        x, f, lu, piv, need, it, njac, lm = state
        return (it < options.max_iter) & ~(_max_abs(f) <= options.tol)

    def body(state):
        x, f, lu, piv, need, it, njac, lm = state
        lu, piv = lax.cond(need, factorise, lambda _: (lu, piv), x)
        fresh = need
        merit = _merit(f)
        d = clip(jsl.lu_solve((lu, piv), -f))
        full_x = x + d
        full_f = fun(full_x)
        full_ok = _merit(full_f) <= merit * (1.0 - 2.0 * options.armijo)

        def backtrack(_):
            trial_x = x[None, :] + alphas[:, None] * d[None, :]
            trial_f = jax.vmap(fun)(trial_x)
            accept = jax.vmap(_merit)(trial_f) <= merit * (1.0 - 2.0 * options.armijo * alphas)
            k = jnp.argmax(accept)
            return jnp.any(accept), trial_x[k], trial_f[k]

        # the full step first; the shorter ones (all at once) only when it is rejected
        ok, step_x, step_f = lax.cond(full_ok, lambda _: (full_ok, full_x, full_f), backtrack, None)
        # Levenberg–Marquardt only when even a fresh Jacobian gives no acceptable step
        try_lm = ~ok & fresh
        x_lm, f_lm, lm_ok = lax.cond(try_lm, levenberg_marquardt, lambda x, f: (x, f, jnp.asarray(False)), x, f)
        lm_ok = try_lm & lm_ok
        x_new = jnp.where(ok, step_x, jnp.where(lm_ok, x_lm, x))
        f_new = jnp.where(ok, step_f, jnp.where(lm_ok, f_lm, f))
        ratio = jnp.sqrt(_merit(f_new) / jnp.maximum(merit, 1e-300))
        need_new = ~ok | lm_ok | (ratio > options.refresh_ratio)
        stalled = ~ok & fresh & ~lm_ok
        it_new = jnp.where(stalled, options.max_iter, it + 1)
        return x_new, f_new, lu, piv, need_new, it_new, njac + fresh.astype(njac.dtype), lm + lm_ok.astype(lm.dtype)

    if factors is None:
        lu0, piv0, need0 = jnp.zeros((n, n), x0.dtype), jnp.zeros(n, jnp.int32), jnp.asarray(True)
    else:
        (lu0, piv0), need0 = factors, jnp.asarray(False)
    f0 = fun(x0)
    init = (x0, f0, lu0, piv0, need0, jnp.asarray(0), jnp.asarray(0), jnp.asarray(0))
    x, f, lu, piv, _, it, njac, lm = lax.while_loop(cond, body, init)
    max_res = _max_abs(f)
    status = SolveStatus(converged=max_res <= options.tol, iterations=it, max_residual=max_res,
                         jacobians=njac, lm_steps=lm)
    return x, status, (lu, piv)


def _tangent_solve(g, y):
    return jnp.linalg.solve(jax.jacfwd(g)(y), y)


def solve(residual: Callable, x0, args, options: SolverOptions = SolverOptions(), factors=None,
          return_factors: bool = False):
    """Solve residual(x, args) = 0 for a flat float vector x from x0; differentiable in ``args``.

    Returns (x_star, status), or (x_star, status, factors) with ``return_factors``: the LU factors of
    the last Jacobian, which a later nearby solve may take as ``factors`` to skip its first Jacobian.
    Gradients with respect to ``args`` (and anything the residual closes over) use the implicit
    function theorem at x_star; they are only meaningful when ``status.converged`` is true.
    """
    x0 = jnp.asarray(x0)

    def fun(x):
        return residual(x, args)

    def run(f, guess):
        x, status, lu = _iterate(f, guess, options, factors)
        return x, (status, lu)

    x, (status, lu) = lax.custom_root(fun, x0, run, _tangent_solve, has_aux=True)
    lu = jax.tree_util.tree_map(lax.stop_gradient, lu)
    return (x, status, lu) if return_factors else (x, status)
