"""Unit tests of the economics-free solver: convergence, status, implicit derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.solver import SolverOptions, solve

TIGHT = SolverOptions(tol=1e-13)


def _toy(x, theta):
    # a small nonlinear system in logs with a known root: exp(x) = theta * (1 + 0.1 * sum(exp(x)))
    e = jnp.exp(x)
    return jnp.log(e) - jnp.log(theta * (1.0 + 0.1 * jnp.sum(e)))


def _toy_root(theta):
    s = np.sum(theta) / (1.0 - 0.1 * np.sum(theta))
    return np.log(theta * (1.0 + 0.1 * s))


def test_converges_to_known_root_and_reports_status():
    theta = jnp.array([0.5, 1.0, 2.0])
    x, status = jax.jit(lambda t: solve(_toy, jnp.zeros(3), t, TIGHT))(theta)
    assert bool(status.converged)
    assert float(status.max_residual) <= 1e-13
    assert 1 <= int(status.iterations) < 20
    np.testing.assert_allclose(x, _toy_root(np.asarray(theta)), rtol=1e-12)


def test_far_start_converges():
    theta = jnp.array([0.5, 1.0, 2.0])
    x, status = solve(_toy, jnp.full(3, 8.0), theta, TIGHT)
    assert bool(status.converged)
    np.testing.assert_allclose(x, _toy_root(np.asarray(theta)), rtol=1e-10)


def test_failure_is_reported_not_hidden():
    # no root: exp(x) + 1 = 0
    x, status = solve(lambda x, a: jnp.exp(x) + a, jnp.zeros(2), 1.0, SolverOptions(max_iter=15))
    assert not bool(status.converged)
    assert float(status.max_residual) > 1e-3


def test_implicit_gradient_matches_finite_differences_and_analytic():
    theta = jnp.array([0.5, 1.0, 2.0])
    out = lambda t: solve(_toy, jnp.zeros(3), t, TIGHT)[0][1]
    g = jax.grad(out)(theta)
    g_exact = jax.grad(lambda t: jnp.log(t * (1 + 0.1 * jnp.sum(t) / (1 - 0.1 * jnp.sum(t))))[1])(theta)
    np.testing.assert_allclose(g, g_exact, rtol=1e-9)
    # forward mode too
    jv = jax.jvp(out, (theta,), (jnp.array([1.0, 0.0, 0.0]),))[1]
    np.testing.assert_allclose(jv, g_exact[0], rtol=1e-9)


def test_vmap_matches_loop():
    thetas = jnp.array([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0], [0.2, 0.3, 4.0]])
    xs, st = jax.vmap(lambda t: solve(_toy, jnp.zeros(3), t, TIGHT))(thetas)
    assert bool(jnp.all(st.converged))
    for t, x in zip(thetas, xs):
        np.testing.assert_allclose(x, _toy_root(np.asarray(t)), rtol=1e-10)
    grads = jax.vmap(jax.grad(lambda t: solve(_toy, jnp.zeros(3), t)[0].sum()))(thetas)
    assert np.all(np.isfinite(grads))


def test_reused_factors_skip_the_first_jacobian():
    theta = jnp.array([0.5, 1.0, 2.0])
    x, st, lu = solve(_toy, jnp.zeros(3), theta, TIGHT, return_factors=True)
    x2, st2 = solve(_toy, x + 0.01, theta * 1.01, TIGHT, factors=lu)
    assert bool(st2.converged)
    assert int(st2.jacobians) < int(st2.iterations)
    np.testing.assert_allclose(x2, _toy_root(np.asarray(theta * 1.01)), rtol=1e-12)


def _mixing(x, theta):
    # a non-symmetric coupled system, so that J and Jᵀ differ: x_i + 0.3 tanh(x_{i+1}) - 0.2 x_{i-1}^2 = θ_i
    return x + 0.3 * jnp.tanh(jnp.roll(x, -1)) - 0.2 * jnp.roll(x, 1) ** 2 - theta


@pytest.mark.parametrize("options", [TIGHT, SolverOptions(tol=1e-13, tangent_restart=1, tangent_restarts=1)],
                         ids=["krylov", "dense_fallback"])
def test_derivative_passes_agree_with_a_dense_implicit_derivative(options):
    """Forward and reverse derivatives (preconditioned GMRES, or the dense fallback when GMRES is given
    too few steps to meet its tolerance) equal -J⁻¹ ∂F/∂θ computed densely at the root."""
    _assert_derivatives_are_dense_implicit_ones(_mixing, jnp.linspace(0.1, 0.6, 6), options)


def _assert_derivatives_are_dense_implicit_ones(fun, theta, options):
    """Reverse and forward derivatives of the root of fun(·, θ) equal -J⁻¹ ∂F/∂θ formed densely at the root;
    returns (the forward derivative along w, w)."""
    n = theta.shape[0]
    x = solve(fun, jnp.zeros(n), theta, options)[0]
    dense = -jnp.linalg.solve(jax.jacfwd(fun)(x, theta), jax.jacfwd(fun, argnums=1)(x, theta))
    w = jnp.arange(1.0, n + 1.0)
    reverse = jax.grad(lambda t: jnp.dot(w, solve(fun, jnp.zeros(n), t, options)[0]))(theta)
    np.testing.assert_allclose(reverse, w @ dense, rtol=1e-10)
    forward = jax.jvp(lambda t: solve(fun, jnp.zeros(n), t, options)[0], (theta,), (w,))[1]
    np.testing.assert_allclose(forward, dense @ w, rtol=1e-10)
    return forward, w


def test_an_unattempted_solve_is_not_converged():
    theta = jnp.array([0.5, 1.0, 2.0])
    x, status = solve(_toy, jnp.asarray(_toy_root(np.asarray(theta))), theta, TIGHT, attempt=False)
    assert not bool(status.converged) and int(status.iterations) == 0


def test_levenberg_marquardt_rescues_a_newton_step_that_overshoots():
    """F(x) = ∛(x − a): the Newton step goes to a − 2(x − a) and the only shorter step allowed (0.9) to
    a − 1.7(x − a), both worse; Levenberg–Marquardt (λ = 1 halves the step) must take over and converge."""
    options = SolverOptions(step_lengths=(0.9,), tol=1e-3, max_step=10.0)
    a = jnp.array([0.0, 0.1])
    x, status = jax.jit(lambda a: solve(lambda x, a: jnp.cbrt(x - a), jnp.array([1.0, -0.5]), a, options))(a)
    assert bool(status.converged)
    assert int(status.lm_steps) > 0
    assert int(status.lm_steps) <= int(status.jacobians)  # only right after a refresh
    np.testing.assert_allclose(np.asarray(x), np.asarray(a), atol=1e-8)


# ----------------------------------------------------------------------------------------- krylov mode

def _blocks(x, theta):
    """Three blocks of two unknowns, coupled weakly across blocks and through a last, global unknown."""
    local = x[:6].reshape(3, 2)
    g = x[6]
    own = local + 0.3 * jnp.tanh(local[:, ::-1]) - 0.2 * jnp.roll(local, 1, axis=1) ** 2
    cross = 0.05 * jnp.roll(local, 1, axis=0)
    rows = (own + cross + 0.1 * g).ravel() - theta[:6]
    return jnp.concatenate([rows, jnp.array([g - 0.2 * jnp.sum(jnp.exp(0.1 * x[:6])) - theta[6]])])


KRYLOV = SolverOptions(tol=1e-13, linear="krylov", partition=(0, 0, 1, 1, 2, 2, -1))


def test_krylov_mode_finds_the_dense_root_and_counts_its_products():
    theta = jnp.linspace(0.1, 0.7, 7)
    x_k, st_k = jax.jit(lambda t: solve(_blocks, jnp.zeros(7), t, KRYLOV))(theta)
    x_d, st_d = solve(_blocks, jnp.zeros(7), theta, TIGHT)
    assert bool(st_k.converged) and bool(st_d.converged)
    assert float(st_k.max_residual) <= 1e-13
    assert int(st_k.matvecs) >= int(st_k.iterations) > 0 and int(st_k.jacobians) >= 1
    assert int(st_d.matvecs) == 0
    np.testing.assert_allclose(x_k, x_d, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("options", [KRYLOV, KRYLOV._replace(krylov_restart=1, krylov_restarts=1)],
                         ids=["block_gmres", "dense_fallback"])
def test_krylov_mode_derivatives_agree_with_a_dense_implicit_derivative(options):
    theta = jnp.linspace(0.1, 0.7, 7)
    forward, w = _assert_derivatives_are_dense_implicit_ones(_blocks, theta, options)
    eps = 1e-6
    fd = (solve(_blocks, jnp.zeros(7), theta + eps * w, KRYLOV)[0]
          - solve(_blocks, jnp.zeros(7), theta - eps * w, KRYLOV)[0]) / (2 * eps)
    np.testing.assert_allclose(forward, fd, rtol=1e-6, atol=1e-9)


def test_krylov_mode_under_vmap_and_with_reused_factors():
    thetas = jnp.stack([jnp.linspace(0.1, 0.7, 7), jnp.linspace(0.3, -0.2, 7)])
    xs, st = jax.vmap(lambda t: solve(_blocks, jnp.zeros(7), t, KRYLOV))(thetas)
    assert bool(jnp.all(st.converged))
    for t, x in zip(thetas, xs):
        np.testing.assert_allclose(x, solve(_blocks, jnp.zeros(7), t, TIGHT)[0], rtol=1e-11, atol=1e-13)
    x, _, factors = solve(_blocks, jnp.zeros(7), thetas[0], KRYLOV, return_factors=True)
    x2, st2 = solve(_blocks, x, thetas[0] * 1.01, KRYLOV, factors=factors)
    assert bool(st2.converged) and int(st2.jacobians) == 0  # the blocks of the nearby solve served


def test_krylov_mode_without_a_partition_is_a_clear_error():
    with pytest.raises(ValueError, match="partition has 0 entries for 7 unknowns"):
        solve(_blocks, jnp.zeros(7), jnp.ones(7), SolverOptions(linear="krylov"))
    with pytest.raises(ValueError, match="linear is 'sparse'"):
        solve(_blocks, jnp.zeros(7), jnp.ones(7), SolverOptions(linear="sparse"))


def test_auto_options_choose_by_size():
    from noreg_jax.solver import AUTO_KRYLOV_UNKNOWNS, DENSE_RESCUE_UNKNOWNS, resolve_options

    small, large = AUTO_KRYLOV_UNKNOWNS, AUTO_KRYLOV_UNKNOWNS + 1
    assert resolve_options(SolverOptions(partition=(0,) * small), small).linear == "dense"
    assert resolve_options(SolverOptions(partition=(0,) * large), large).linear == "krylov"
    assert resolve_options(SolverOptions(), large).linear == "dense"  # no partition: no blocks to precondition by
    assert resolve_options(SolverOptions(linear="dense"), large).linear == "dense"  # a choice made stays
    assert resolve_options(SolverOptions(), DENSE_RESCUE_UNKNOWNS).dense_rescue is True
    assert resolve_options(SolverOptions(), DENSE_RESCUE_UNKNOWNS + 1).dense_rescue is False
    assert resolve_options(SolverOptions(dense_rescue=True), DENSE_RESCUE_UNKNOWNS + 1).dense_rescue is True


def test_krylov_mode_hands_a_failed_iteration_to_the_dense_one():
    """F(x) = ∛(x − a): every Newton step overshoots (to a − 2(x − a)) and the one shorter step allowed (0.9) too,
    so the krylov iteration stops; the dense iteration's Levenberg–Marquardt must take over and converge."""
    options = SolverOptions(step_lengths=(0.9,), tol=1e-3, max_step=10.0, linear="krylov", partition=(0, 1))
    a = jnp.array([0.0, 0.1])
    x, status = jax.jit(lambda a: solve(lambda x, a: jnp.cbrt(x - a), jnp.array([1.0, -0.5]), a, options))(a)
    assert bool(status.converged)
    assert int(status.matvecs) > 0 and int(status.lm_steps) > 0 and int(status.jacobians) >= 2
    np.testing.assert_allclose(np.asarray(x), np.asarray(a), atol=1e-8)
    x, status = solve(lambda x, a: jnp.cbrt(x - a), jnp.array([1.0, -0.5]), a, options._replace(dense_rescue=False))
    assert not bool(status.converged) and int(status.lm_steps) == 0  # without the rescue: reported, not hidden
