"""Newton-type root finding with implicit differentiation. Knows no economics.

``solve(residual, x0, args)`` finds x* with residual(x*, args) = 0 and returns it together with a
:class:`SolveStatus`. Derivatives of x* with respect to ``args`` (any pytree, and anything the residual
closes over) follow from the implicit function theorem, dx*/dθ = -J⁻¹ ∂F/∂θ, by a ``jax.custom_jvp``
rule; the iterations are never unrolled. Works under ``jit``, ``vmap``, ``grad``, ``jvp``.

The linear system of a derivative pass, J ẋ = -∂F/∂θ·θ̇ (forward mode) or Jᵀλ = ḡ (reverse mode, by
``lax.custom_linear_solve``'s transpose), is solved by GMRES with the solve's own final quasi-Newton
inverse H ≈ J⁻¹ (or Hᵀ) as preconditioner: a few Jacobian–vector (or vector–Jacobian) products instead
of a dense n × n Jacobian per solve. If GMRES falls short of ``tangent_tol`` the dense Jacobian is
built and factorised after all, so the derivative is exact to the tolerance either way.

The iteration (all inside one ``lax.while_loop``):

1. quasi-Newton step d = -H F, clipped to ``max_step`` in the ∞-norm (the unknowns are logs, so this
   is a box on relative changes and keeps exp() from overflowing far from the solution). H is the
   inverse of a Jacobian (LU factors, by ``jacfwd``) taken at an earlier point, corrected by
   limited-memory Broyden updates; it is refreshed only when progress stalls. The Jacobian is the
   expensive part, so its reuse (across iterations, and across the years of a path) is where the
   speed comes from;
2. the full step is taken if it decreases the merit ½‖F‖² enough; otherwise a vectorised backtracking
   line search evaluates the merit at all shorter step lengths at once and takes the longest that does;
3. if no step length decreases the merit even with a fresh Jacobian, Levenberg–Marquardt steps
   -(JᵀJ + λ·diag)⁻¹JᵀF for a ladder of λ are tried, again all at once, and the best is taken (J is
   rebuilt from the fresh LU factors, J = P L U, rather than evaluated again).

The loop body evaluates the residual at three sites only (the full step; the trial points of step 2 and
3, one site for both; the Jacobian): compile time grows with the number of copies of the residual in the
program, and the residual is most of it.

``SolverOptions(linear="krylov")`` replaces steps 1–3 by a matrix-free inexact Newton iteration (GMRES on
Jacobian–vector products, preconditioned by LU factors of the Jacobian's diagonal blocks given by
``partition``; :func:`_iterate_krylov`), with the dense iteration as its rescue (docs/model.md, "Solver").

Convergence: max|F| ≤ ``tol`` and every entry finite (a NaN never counts as converged; a row-wise
max can ignore NaN on XLA:CPU, so finiteness is tested separately).
"""

from functools import partial
from typing import Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import jax.scipy.sparse.linalg  # noqa: F401  (gmres)
import numpy as np
from jax import lax


class SolverOptions(NamedTuple):
    """Tuning of :func:`solve`. ``tol`` is on max|F| (the model's residuals are relative)."""

    tol: float = 1e-10
    max_iter: int = 100
    max_step: float = 1.0
    step_lengths: tuple = (0.5, 0.25, 0.1, 0.03, 0.01)  # tried when the full step is rejected
    armijo: float = 1e-4
    refresh_ratio: float = 0.9  # refresh the Jacobian when ‖F‖ falls by less than this factor in a step
    broyden_memory: int = 50  # rank-one updates kept before the Jacobian is refreshed
    lm_damping: tuple = (1e-4, 1e-2, 1.0, 1e2)
    tangent_tol: float = 1e-12  # relative residual ‖Jẋ − b‖/‖b‖ of the derivative passes' linear solves
    tangent_restart: int = 30  # GMRES Krylov dimension before a restart
    tangent_restarts: int = 4  # GMRES restarts before the dense fallback
    # linear algebra of the Newton steps: "dense" (jacfwd Jacobian, LU, Broyden updates) or "krylov"
    # (matrix-free Newton–GMRES on Jacobian–vector products, preconditioned by the LU of the Jacobian's
    # diagonal blocks; ``partition`` gives each unknown's block, −1 for unknowns coupled to all blocks);
    # "auto": krylov above AUTO_KRYLOV_UNKNOWNS unknowns when a partition is given, else dense
    linear: str = "auto"
    partition: tuple = ()
    krylov_restart: int = 40  # GMRES Krylov dimension before a restart (Newton steps, krylov mode)
    krylov_restarts: int = 5  # GMRES restarts per Newton step (and per derivative pass, krylov mode)
    refresh_matvecs: int = 60  # refresh the block preconditioner when a Newton step needs more products
    # krylov mode: the dense iteration takes over where it stops short; compiles ≈ 2× longer, and the program holds
    # the buffers of a jacfwd Jacobian even when it never runs (≈ 41 GB at 88 regions); None: on up to
    # DENSE_RESCUE_UNKNOWNS unknowns
    dense_rescue: bool | None = None


#: ``linear="auto"`` chooses the krylov solver above this many unknowns (a partition given): there the dense
#: Jacobian is what a path costs (22 regions, 1,673 unknowns: path 8.3 s dense, 3.1 s krylov; README, Benchmarks);
#: at and below the 11 counties (837) the dense solver stays, the one the test suite runs everywhere.
AUTO_KRYLOV_UNKNOWNS = 1000
#: ``dense_rescue=None`` keeps the dense rescue up to this many unknowns (its Jacobian's buffers: 41 GB at 6,689).
DENSE_RESCUE_UNKNOWNS = 4000


def resolve_options(options: SolverOptions, n: int) -> SolverOptions:
    """``options`` with its automatic choices (``linear="auto"``, ``dense_rescue=None``) made for n unknowns."""
    if options.linear == "auto":
        krylov = n > AUTO_KRYLOV_UNKNOWNS and len(options.partition) == n
        options = options._replace(linear="krylov" if krylov else "dense")
    if options.dense_rescue is None:
        options = options._replace(dense_rescue=n <= DENSE_RESCUE_UNKNOWNS)
    return options


class SolveStatus(eqx.Module):
    """Outcome of one solve. A caller must look at ``converged`` before using the solution."""

    converged: jax.Array  # bool
    iterations: jax.Array  # int: iterations taken
    max_residual: jax.Array  # max|F(x*)|, inf if not finite
    jacobians: jax.Array  # int: Jacobian evaluations (LU factorisations)
    lm_steps: jax.Array  # int: iterations that fell back to Levenberg–Marquardt
    matvecs: jax.Array  # int: Jacobian–vector products of the Newton steps (krylov mode; 0 in dense mode)


def _max_abs(f):
    finite = jnp.all(jnp.isfinite(f))
    return jnp.where(finite, jnp.max(jnp.abs(f)), jnp.inf)


def _merit(f):
    return jnp.where(jnp.all(jnp.isfinite(f)), 0.5 * jnp.sum(f * f), jnp.inf)


def _when(pred, fn, default):
    """``fn()`` where ``pred``, else ``default`` (same structure): ``lax.cond`` that stays lazy under ``vmap``.

    Under ``vmap`` a ``lax.cond`` with a batched predicate becomes a select that runs both branches for
    every lane, every time. A ``while_loop`` with a batched predicate instead runs its body only while
    some lane needs it (for all lanes, keeping each lane's result only where its predicate holds), so
    an expensive rare branch (a Jacobian refresh, Levenberg–Marquardt, a dense fallback) costs nothing in
    a batch where no lane takes it.
    """
    return lax.while_loop(lambda c: c[0], lambda c: (jnp.zeros_like(c[0]), fn()), (jnp.asarray(pred), default))[1]


def _clip(d, max_step):
    """d scaled down to ∞-norm ``max_step`` (the unknowns are logs: a box on relative changes); zero if not finite."""
    size = jnp.max(jnp.abs(d))
    ok = jnp.isfinite(size)
    scale = jnp.where(ok & (size > max_step), max_step / jnp.where(ok, size, 1.0), 1.0)
    return jnp.where(ok, d * scale, jnp.zeros_like(d))


def _apply_inverse(factors, y, transpose: bool = False):
    """H y (or Hᵀ y) for the quasi-Newton inverse H = J₀⁻¹ + Σ u_k v_kᵀ held in ``factors``."""
    lu, piv, u, v, _ = factors
    if transpose:
        return jsl.lu_solve((lu, piv), y, trans=1) + v.T @ (u @ y)
    return jsl.lu_solve((lu, piv), y) + u.T @ (v @ y)


def _iterate(fun: Callable, x0, options: SolverOptions, factors, attempt=True):
    """Quasi-Newton iteration on fun: R^n -> R^n. Returns (x, status, factors).

    The inverse Jacobian is approximated by H = J₀⁻¹ + Σ u_k v_kᵀ: LU factors of a Jacobian J₀ taken
    at some earlier point, plus limited-memory "good Broyden" rank-one updates (Sherman–Morrison in
    inverse form) from the steps since. The factors are refreshed (a new ``jacfwd`` Jacobian and LU,
    the memory cleared) when no step length is accepted, when ‖F‖ falls by less than
    ``refresh_ratio`` in a step, or when the memory is full. ``factors`` is this state to start from
    (a Jacobian at x0, or the final state of a nearby problem, e.g. last year's). With ``attempt``
    false no iteration is taken and the status is "not converged" (a path skips the years after a
    failed one this way).
    """
    m = options.broyden_memory
    alphas = jnp.asarray(options.step_lengths, dtype=x0.dtype)
    lambdas = jnp.asarray(options.lm_damping, dtype=x0.dtype)

    clip = partial(_clip, max_step=options.max_step)

    def factorise(x):
        return jsl.lu_factor(jax.jacfwd(fun)(x))

    n_trials = max(len(options.step_lengths), len(options.lm_damping))
    trial_alphas = jnp.zeros(n_trials, x0.dtype).at[:alphas.shape[0]].set(alphas)
    alpha_valid = jnp.arange(n_trials) < alphas.shape[0]
    trial_lambdas = jnp.full(n_trials, lambdas[-1]).at[:lambdas.shape[0]].set(lambdas)
    lambda_valid = jnp.arange(n_trials) < lambdas.shape[0]

    def levenberg_marquardt_points(x, f, lu, piv):
        """x + (JᵀJ + λ·diag)⁻¹(−JᵀF) for the ladder of λ, with J = P L U rebuilt from the LU factors of the
        Jacobian just taken at x (Levenberg–Marquardt is only tried right after a refresh), so the loop holds
        one Jacobian evaluation, not two."""
        n = x.shape[0]
        lower_upper = (jnp.tril(lu, -1) + jnp.eye(n, dtype=lu.dtype)) @ jnp.triu(lu)
        jac = jnp.zeros_like(lu).at[lax.linalg.lu_pivots_to_permutation(piv, n)].set(lower_upper)
        jtj, jtf = jac.T @ jac, jac.T @ f
        diag = jnp.maximum(jnp.diag(jtj), 1e-12)
        steps = jax.vmap(lambda lam: clip(jnp.linalg.solve(jtj + lam * jnp.diag(diag), -jtf)))(trial_lambdas)
        return x[None, :] + steps

    def rescue(x, f, d, merit, lu, piv, fresh):
        """After a rejected full step: shorter steps along d (all step lengths at once, the longest that
        decreases the merit enough is taken); if none does and the Jacobian is fresh, Levenberg–Marquardt
        steps (all λ at once, the best is taken if it decreases the merit). Both phases evaluate their trial
        points at one site (a loop over the phases), which keeps the compiled program small.
        Returns (line search accepted, Levenberg–Marquardt accepted, x, F)."""

        def cond(c):
            return ~c[0]

        def body(c):
            _, phase, _, _, best_x, best_f = c
            line_search = phase == 0
            points = _when(~line_search, lambda: levenberg_marquardt_points(x, f, lu, piv),
                           x[None, :] + trial_alphas[:, None] * d[None, :])
            trial_f = jax.vmap(fun)(points)
            trial_m = jax.vmap(_merit)(trial_f)
            armijo_ok = alpha_valid & jnp.isfinite(trial_m) \
                & (trial_m <= merit * (1.0 - 2.0 * options.armijo * trial_alphas))
            lm_m = jnp.where(lambda_valid, trial_m, jnp.inf)
            j = jnp.where(line_search, jnp.argmax(armijo_ok), jnp.argmin(lm_m))
            found = jnp.where(line_search, jnp.any(armijo_ok), lm_m[j] < merit)
            done = found | ~line_search | ~fresh
            return (done, phase + 1, line_search & found, ~line_search & found,
                    jnp.where(found, points[j], best_x), jnp.where(found, trial_f[j], best_f))

        init = (jnp.asarray(False), jnp.asarray(0), jnp.asarray(False), jnp.asarray(False), x, f)
        _, _, ok, lm_ok, x_new, f_new = lax.while_loop(cond, body, init)
        return ok, lm_ok, x_new, f_new

    def cond(state):
        f, it = state[1], state[8]
        return attempt & (it < options.max_iter) & ~(_max_abs(f) <= options.tol)

    def body(state):
        x, f, lu, piv, u, v, k, need, it, njac, lm = state
        lu, piv = _when(need, lambda: factorise(x), (lu, piv))
        u = jnp.where(need, 0.0, u)
        v = jnp.where(need, 0.0, v)
        k = jnp.where(need, 0, k)
        fresh = need
        apply_h = lambda y: _apply_inverse((lu, piv, u, v, k), y)
        apply_ht = lambda z: _apply_inverse((lu, piv, u, v, k), z, transpose=True)
        merit = _merit(f)
        d = clip(-apply_h(f))
        full_x = x + d
        full_f = fun(full_x)
        full_m = _merit(full_f)
        full_ok = jnp.isfinite(full_m) & (full_m <= merit * (1.0 - 2.0 * options.armijo))

        # the full step first; shorter steps, then Levenberg–Marquardt, only when it is rejected
        ok, lm_ok, x_new, f_new = _when(~full_ok, lambda: rescue(x, f, d, merit, lu, piv, fresh),
                                        (full_ok, jnp.asarray(False), full_x, full_f))
        # good Broyden update of the inverse Jacobian: H ← H + (s − H y) sᵀH / (sᵀ H y)
        s_step, y_step = x_new - x, f_new - f
        hy = apply_h(y_step)
        denom = jnp.dot(s_step, hy)
        usable = ok & (k < m) & (jnp.abs(denom) > 1e-12 * jnp.linalg.norm(s_step) * jnp.linalg.norm(hy)) \
            & jnp.all(jnp.isfinite(hy))
        slot = jnp.minimum(k, m - 1)
        u = jnp.where(usable, u.at[slot].set((s_step - hy) / jnp.where(usable, denom, 1.0)), u)
        v = jnp.where(usable, v.at[slot].set(apply_ht(s_step)), v)
        k = k + usable.astype(k.dtype)
        ratio = jnp.sqrt(_merit(f_new) / jnp.maximum(merit, 1e-300))
        need_new = ~ok | lm_ok | (ratio > options.refresh_ratio) | (k >= m)
        stalled = ~ok & fresh & ~lm_ok
        it_new = jnp.where(stalled, options.max_iter, it + 1)
        return (x_new, f_new, lu, piv, u, v, k, need_new, it_new, njac + fresh.astype(njac.dtype),
                lm + lm_ok.astype(lm.dtype))

    lu0, piv0, u0, v0, k0 = factors
    need0 = jnp.asarray(k0) < 0  # empty factors (initial_factors): the first iteration takes a Jacobian
    f0 = fun(x0)
    init = (x0, f0, lu0, piv0, u0, v0, jnp.asarray(k0), need0, jnp.asarray(0), jnp.asarray(0), jnp.asarray(0))
    x, f, lu, piv, u, v, k, _, it, njac, lm = lax.while_loop(cond, body, init)
    max_res = _max_abs(f)
    status = SolveStatus(converged=attempt & (max_res <= options.tol), iterations=it, max_residual=max_res,
                         jacobians=njac, lm_steps=lm, matvecs=jnp.asarray(0))
    return x, status, (lu, piv, u, v, k)


def initial_factors(n: int, options: SolverOptions = SolverOptions(), dtype=jnp.float64):
    """Empty solver state (count −1), so that the first iteration builds its own: LU factors and Broyden memory
    (dense mode) or the LU factors of the diagonal blocks (krylov mode)."""
    options = resolve_options(options, n)
    if options.linear == "krylov":
        index = _block_layout(options, n)[0]
        n_blocks, size = index.shape
        return (jnp.zeros((n_blocks, size, size), dtype), jnp.zeros((n_blocks, size), jnp.int32),
                jnp.asarray(-1))
    zeros = jnp.zeros((options.broyden_memory, n), dtype)
    return jnp.zeros((n, n), dtype), jnp.zeros(n, jnp.int32), zeros, zeros, jnp.asarray(-1)


def jacobian_factors(residual: Callable, x, args, memory: int = SolverOptions().broyden_memory):
    """Quasi-Newton state at x: LU factors of the Jacobian of residual(·, args), empty Broyden memory. No
    derivative flows through it (its inputs are held constant, so none is traced either)."""
    args = jax.tree_util.tree_map(lax.stop_gradient, args)
    lu, piv = jsl.lu_factor(jax.jacfwd(residual)(lax.stop_gradient(x), args))
    zeros = jnp.zeros((memory, x.shape[0]), x.dtype)
    return lu, piv, zeros, zeros, jnp.asarray(0)


# --------------------------------------------------------------------------------------------------------------
# Newton–Krylov (options.linear == "krylov"): matrix-free steps, region-block preconditioner


def _block_layout(options: SolverOptions, n: int):
    """The partition as (index (B, b), colour (B, b), number of colours), numpy, fixed at trace time.

    Block k holds the unknowns index[k, :] (padded with n); the unknowns with partition −1 (coupled to every
    block, e.g. a budget-closing scalar) form one extra block. An unknown's colour is its rank within its
    block, the extra block's colours following all others, so one Jacobian–vector product per colour
    probes every block's columns at once (see :func:`_block_factors`).
    """
    part = np.asarray(options.partition, dtype=np.int64)
    if part.shape != (n,):
        raise ValueError(f"SolverOptions.partition has {part.size} entries for {n} unknowns; linear='krylov' needs "
                         "one block id per unknown (−1 for one coupled to all blocks)")
    groups = [np.flatnonzero(part == i) for i in np.unique(part[part >= 0])]
    width = max((g.size for g in groups), default=0)
    coupled = np.flatnonzero(part < 0)
    offsets = [0] * len(groups)
    if coupled.size:
        groups.append(coupled)
        offsets.append(width)
    size = max(g.size for g in groups)
    index = np.full((len(groups), size), n, dtype=np.int64)
    colour = np.zeros((len(groups), size), dtype=np.int64)
    for k, (g, offset) in enumerate(zip(groups, offsets)):
        index[k, :g.size] = g
        colour[k, :g.size] = offset + np.arange(g.size)
    return index, colour, width + coupled.size


def _block_factors(jvp, x, options: SolverOptions):
    """LU factors of the Jacobian's diagonal blocks, probed by one Jacobian–vector product per colour.

    The probe of colour c is J·(Σ e_j over the unknowns j of colour c); its rows in block k hold J[i, j] of
    block k's own column of colour c plus the other blocks' columns of that colour, which are folded in
    (they are the cross-region terms; small, and the preconditioner need not be exact). Padding is identity.
    """
    index, colour, n_colours = _block_layout(options, x.shape[0])
    n, valid = x.shape[0], index < x.shape[0]
    seeds = np.zeros((n_colours, n))
    seeds[colour[valid], index[valid]] = 1.0
    probes = jax.vmap(jvp)(jnp.asarray(seeds, x.dtype))  # (colours, n)
    rows = np.minimum(index, n - 1)
    blocks = probes[colour[:, None, :], rows[:, :, None]]  # blocks[k, a, c] = J[index[k, a], index[k, c]]
    mask = valid[:, :, None] & valid[:, None, :]
    blocks = jnp.where(mask, blocks, jnp.eye(index.shape[1], dtype=x.dtype))
    return jax.vmap(jsl.lu_factor)(blocks)


def _apply_blocks(factors, y, options: SolverOptions, transpose: bool = False):
    """M⁻¹ y (or M⁻ᵀ y) for M the block-diagonal preconditioner held in ``factors``."""
    lu, piv, _ = factors
    index = jnp.asarray(_block_layout(options, y.shape[0])[0])
    rhs = y.at[index].get(mode="fill", fill_value=0.0)
    z = jax.vmap(lambda l, p, r: jsl.lu_solve((l, p), r, trans=int(transpose)))(lu, piv, rhs)
    return jnp.zeros_like(y).at[index].set(z, mode="drop")


def _gmres(matvec, b, precondition, rtol, restart: int, max_restarts: int):
    """x ≈ A⁻¹ b by right-preconditioned restarted GMRES from x = 0. Returns (x, converged, matvecs).

    Solves A M z = b on a Krylov basis of A M (classical Gram–Schmidt applied twice, Givens rotations), x = M z.
    A cycle stops when its estimate of ‖b − A x‖₂ falls to rtol·‖b‖₂; convergence is then judged on the
    true residual, evaluated once per cycle (so the count of products is exact, and the stop honest).
    """
    n, dtype = b.shape[0], b.dtype
    target = rtol * jnp.linalg.norm(b)
    positions = jnp.arange(restart + 1)

    def arnoldi(j, basis, hess, cos, sin, g):
        w = matvec(precondition(basis[j]))
        h = jnp.zeros(restart + 1, dtype)
        for _ in range(2):  # CGS2: the second pass restores orthogonality lost in the first
            proj = jnp.where(positions <= j, basis @ w, 0.0)
            w = w - basis.T @ proj
            h = h + proj
        w_norm = jnp.linalg.norm(w)
        h = h.at[j + 1].set(w_norm)
        basis = basis.at[j + 1].set(w / jnp.where(w_norm > 0, w_norm, 1.0))

        def rotate(i, h):
            hi, hn = h[i], h[i + 1]
            return h.at[i].set(cos[i] * hi + sin[i] * hn).at[i + 1].set(-sin[i] * hi + cos[i] * hn)

        h = lax.fori_loop(0, j, rotate, h)
        r = jnp.hypot(h[j], h[j + 1])
        safe = jnp.where(r > 0, r, 1.0)
        c = jnp.where(r > 0, h[j] / safe, 1.0)
        s = jnp.where(r > 0, h[j + 1] / safe, 0.0)
        h = h.at[j].set(r).at[j + 1].set(0.0)
        g = g.at[j + 1].set(-s * g[j]).at[j].set(c * g[j])
        return basis, hess.at[:, j].set(h), cos.at[j].set(c), sin.at[j].set(s), g

    def cycle(state):
        x, r, _, cycles, products = state
        r_norm = jnp.linalg.norm(r)
        basis = jnp.zeros((restart + 1, n), dtype).at[0].set(r / jnp.where(r_norm > 0, r_norm, 1.0))
        init = (jnp.asarray(0), basis, jnp.zeros((restart + 1, restart), dtype), jnp.zeros(restart, dtype),
                jnp.zeros(restart, dtype), jnp.zeros(restart + 1, dtype).at[0].set(r_norm))

        def go_on(c):
            j, g = c[0], c[5]
            return (j < restart) & (jnp.abs(g[j]) > target) & jnp.isfinite(g[j])

        def step(c):
            return (c[0] + 1, *arnoldi(*c))

        j, basis, hess, _, _, g = lax.while_loop(go_on, step, init)
        active = jnp.arange(restart) < j
        upper = jnp.where(active[:, None] & active[None, :], hess[:restart], jnp.eye(restart, dtype=dtype))
        z = jsl.solve_triangular(upper, jnp.where(active, g[:restart], 0.0), lower=False)
        x = x + precondition(basis[:restart].T @ z)
        r = b - matvec(x)
        return x, r, jnp.linalg.norm(r), cycles + 1, products + j + 1

    def more(state):
        _, _, r_norm, cycles, _ = state
        return (cycles < max_restarts) & (r_norm > target) & jnp.isfinite(r_norm)

    init = (jnp.zeros_like(b), b, jnp.linalg.norm(b), jnp.asarray(0), jnp.asarray(0))
    x, _, r_norm, _, products = lax.while_loop(more, cycle, init)
    ok = jnp.isfinite(r_norm) & (r_norm <= target) & jnp.all(jnp.isfinite(x))
    return x, ok, products


def _iterate_krylov(fun: Callable, x0, options: SolverOptions, factors, attempt=True):
    """Inexact Newton iteration on fun: R^n -> R^n with GMRES steps. Returns (x, status, factors).

    Each step solves J d = −F to the relative residual η = min(0.1, √‖F‖₂) (superlinear convergence; never
    tighter than the tolerance needs) on products J v of one ``jax.linearize`` at x, preconditioned by the LU
    factors of J's diagonal blocks (:func:`_block_factors`). The step is clipped to ``max_step``; the full
    step is taken if it decreases ½‖F‖² enough, otherwise the longest of ``step_lengths`` that does. The
    preconditioner is kept across iterations (and, via ``factors``, across the years of a path) and rebuilt
    when a step is rejected, when GMRES misses η, or when it needs more than ``refresh_matvecs`` products.
    A step that fails with a fresh preconditioner stops the iteration; the dense iteration then takes over
    from there (:func:`_dense_rescue`).
    """
    alphas = jnp.asarray(options.step_lengths, dtype=x0.dtype)

    clip = partial(_clip, max_step=options.max_step)

    def line_search(x, f, d, merit):
        points = x[None, :] + alphas[:, None] * d[None, :]
        trial_f = jax.vmap(fun)(points)
        trial_m = jax.vmap(_merit)(trial_f)
        good = jnp.isfinite(trial_m) & (trial_m <= merit * (1.0 - 2.0 * options.armijo * alphas))
        j = jnp.argmax(good)
        found = jnp.any(good)
        return found, jnp.where(found, points[j], x), jnp.where(found, trial_f[j], f)

    def cond(state):
        f, it = state[1], state[6]
        return attempt & (it < options.max_iter) & ~(_max_abs(f) <= options.tol)

    def body(state):
        x, f, lu, piv, count, need, it, nprec, nmv = state
        _, jvp = jax.linearize(fun, x)
        lu, piv = _when(need, lambda: _block_factors(jvp, x, options), (lu, piv))
        fresh = need
        precondition = lambda y: _apply_blocks((lu, piv, count), y, options)
        f_norm = jnp.linalg.norm(f)
        eta = jnp.clip(f_norm, 0.01 * options.tol / jnp.maximum(f_norm, 1e-300), 0.1)
        d, linear_ok, products = _gmres(jvp, -f, precondition, eta, options.krylov_restart, options.krylov_restarts)
        d = clip(d)
        merit = _merit(f)
        full_x = x + d
        full_f = fun(full_x)
        full_m = _merit(full_f)
        full_ok = jnp.isfinite(full_m) & (full_m <= merit * (1.0 - 2.0 * options.armijo))
        ok, x_new, f_new = _when(~full_ok, lambda: line_search(x, f, d, merit), (full_ok, full_x, full_f))
        need_new = ~ok | ~linear_ok | (products > options.refresh_matvecs)
        stalled = ~ok & fresh
        it_new = jnp.where(stalled, options.max_iter, it + 1)
        return (x_new, f_new, lu, piv, jnp.maximum(count, 0), need_new, it_new,
                nprec + fresh.astype(nprec.dtype), nmv + products)

    lu0, piv0, count0 = factors
    need0 = jnp.asarray(count0) < 0
    f0 = fun(x0)
    zero = jnp.asarray(0)
    init = (x0, f0, lu0, piv0, jnp.asarray(count0), need0, zero, zero, zero)
    x, f, lu, piv, count, _, it, nprec, nmv = lax.while_loop(cond, body, init)
    max_res = _max_abs(f)
    status = SolveStatus(converged=attempt & (max_res <= options.tol), iterations=it, max_residual=max_res,
                         jacobians=nprec, lm_steps=zero, matvecs=nmv)
    return x, status, (lu, piv, count)


def _dense_solve(matvec, b):
    return jnp.linalg.solve(jax.jacfwd(matvec)(b), b)


def _tangent_gmres(matvec, b, precondition, options: SolverOptions):
    """x with matvec(x) = b by preconditioned GMRES (:func:`_gmres`, to ``tangent_tol`` on the true residual); the
    dense Jacobian and LU where it falls short. One GMRES for both modes: JAX's own
    (``jax.scipy.sparse.linalg.gmres``, used here until 2026-12-04) took ≈ 40 % longer to trace and compile."""
    krylov = options.linear == "krylov"
    restart = options.krylov_restart if krylov else options.tangent_restart
    restarts = options.krylov_restarts if krylov else options.tangent_restarts
    x, ok, _ = _gmres(matvec, b, precondition, options.tangent_tol, restart, restarts)
    return _when(~ok, lambda: _dense_solve(matvec, b), x)


def _tangent_linear_solve(matvec, b, factors, options: SolverOptions):
    """J⁻¹ b with J the linear map ``matvec``, transposable for reverse mode (solve Jᵀ λ = ḡ), preconditioned
    by the forward solve's final state (its quasi-Newton inverse, or its block factors in krylov mode)."""
    factors = jax.tree_util.tree_map(lax.stop_gradient, factors)
    if options.linear == "krylov":
        inverse = lambda y, transpose: _apply_blocks(factors, y, options, transpose=transpose)
    else:
        inverse = lambda y, transpose: _apply_inverse(factors, y, transpose)
    solve_j = lambda mv, rhs: _tangent_gmres(mv, rhs, lambda y: inverse(y, False), options)
    solve_jt = lambda vm, rhs: _tangent_gmres(vm, rhs, lambda y: inverse(y, True), options)
    return lax.custom_linear_solve(matvec, b, solve_j, transpose_solve=solve_jt)


def _zero_tangent(a):
    a = jnp.asarray(a)
    if jnp.issubdtype(a.dtype, jnp.inexact):
        return jnp.zeros_like(a)
    return np.zeros(a.shape, dtype=jax.dtypes.float0)


@partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _root(fun, options, x0, factors, attempt, consts):
    f = lambda x: fun(x, *consts)
    if options.linear != "krylov":
        return _iterate(f, x0, options, factors, attempt)
    x, status, final = _iterate_krylov(f, x0, options, factors, attempt)
    if not options.dense_rescue:
        return x, status, final
    return (*_dense_rescue(f, x, status, options, attempt), final)


def _dense_rescue(fun, x, status, options: SolverOptions, attempt):
    """Where the krylov iteration stopped short (its step failed with a fresh preconditioner, or ``max_iter``), the
    dense iteration (Jacobian, line search, Levenberg–Marquardt) from where it stopped; its counts are added. Lazy
    (:func:`_when`): a batch in which every solve converged never forms a Jacobian."""
    rescue = attempt & ~status.converged
    zero = jnp.zeros_like(status.iterations)

    def dense():
        x_d, st, _ = _iterate(fun, x, options, initial_factors(x.shape[0], options._replace(linear="dense"),
                                                              x.dtype), True)
        return x_d, st.converged, st.iterations, st.max_residual, st.jacobians, st.lm_steps

    x, converged, its, max_res, jacs, lm = _when(rescue, dense, (x, status.converged, zero, status.max_residual,
                                                                 zero, zero))
    merged = SolveStatus(converged=attempt & converged, iterations=status.iterations + its, max_residual=max_res,
                         jacobians=status.jacobians + jacs, lm_steps=lm, matvecs=status.matvecs)
    return x, merged


@_root.defjvp
def _root_jvp(fun, options, primals, tangents):
    """Implicit function theorem at the root: ẋ = -J⁻¹ (∂F/∂θ) θ̇; the guess and factors get no tangent."""
    x0, factors, attempt, consts = primals
    consts_dot = tangents[3]
    x, status, final = _root(fun, options, x0, factors, attempt, consts)
    # one linearisation of F in (x, θ) at the root gives both ∂F/∂θ·θ̇ and the matvec v -> J v
    _, linear = jax.linearize(lambda y, c: fun(y, *c), x, consts)
    rhs = linear(jnp.zeros_like(x), consts_dot)
    no_dot = jax.tree_util.tree_map(_zero_tangent, consts)
    matvec = lambda v: linear(v, no_dot)
    x_dot = -_tangent_linear_solve(matvec, rhs, final, options)
    zeros = jax.tree_util.tree_map(_zero_tangent, (status, final))
    return (x, status, final), (x_dot, *zeros)


def _check_options(options: SolverOptions, n: int):
    if options.linear not in ("auto", "dense", "krylov"):
        raise ValueError(f"SolverOptions.linear is {options.linear!r}; expected 'auto', 'dense' or 'krylov'")
    if options.linear == "krylov":
        _block_layout(options, n)


def solve(residual: Callable, x0, args, options: SolverOptions = SolverOptions(), factors=None,
          return_factors: bool = False, attempt=True):
    """Solve residual(x, args) = 0 for a flat float vector x from x0; differentiable in ``args``.

    Returns (x_star, status), or (x_star, status, factors) with ``return_factors``: the quasi-Newton
    state (LU factors of the last Jacobian and the Broyden updates since), which a later nearby solve
    may take as ``factors`` to skip its first Jacobian (see :func:`jacobian_factors`).
    Gradients with respect to ``args`` (and anything the residual closes over) use the implicit
    function theorem at x_star; they are only meaningful when ``status.converged`` is true.
    ``attempt`` (a bool, may be traced): when false nothing is solved and ``status.converged`` is false.
    """
    x0 = jnp.asarray(x0)
    _check_options(options, x0.shape[0])
    options = resolve_options(options, x0.shape[0])
    fun, consts = jax.closure_convert(lambda x: residual(x, args), x0)
    if factors is None and options.linear == "krylov":
        factors = initial_factors(x0.shape[0], options, x0.dtype)  # the first iteration builds the blocks
    elif factors is None:
        # the first Jacobian outside the loop: a cold solve took 384 ms with it inside, 257 ms outside (11
        # counties, XLA:CPU, 2026-12-03); inside a path's scan (initial_factors) it costs nothing measurable
        factors = jacobian_factors(lambda x, c: fun(x, *c), x0, tuple(consts), options.broyden_memory)
    factors = jax.tree_util.tree_map(lax.stop_gradient, factors)
    x, status, final = _root(fun, options, x0, factors, jnp.asarray(attempt), tuple(consts))
    final = jax.tree_util.tree_map(lax.stop_gradient, final)
    return (x, status, final) if return_factors else (x, status)
