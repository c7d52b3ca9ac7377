"""Clarabel backend (continuous LP / QP / SOCP) for the canonical program.

Maps ``lo <= A x <= hi`` rows, variable bounds and second-order cones of a
:class:`~tenflow.solve.program.Program` to Clarabel's ``A x + s = b, s in K`` form. Integer
variables are rejected (Clarabel is continuous): fix or relax them first.
Row duals follow the convention of :mod:`tenflow.solve.highs` (``d objective / d active bound``).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from tenflow.errors import SolverError
from tenflow.solve.program import Program, Solution

try:  # pragma: no cover - import guard
    import clarabel
except ImportError:  # pragma: no cover
    clarabel = None  # type: ignore[assignment]


class ClarabelSolver:
    """Clarabel data of a :class:`Program` converted once (cones stacked in bulk, one sparse product),
    re-solvable with new linear objective coefficients (a convex–concave iteration changes only ``c`` and
    ``const``). Row duals: ``d objective / d active bound``. Cone matrices narrower than the program
    (cones added before later variables) are padded.
    """

    def __init__(self, prog: Program, tol: float = 1e-9, max_iter: int = 200, *,
                 relax_integers: bool = False, verbose: bool = False) -> None:
        if clarabel is None:  # pragma: no cover
            raise SolverError("clarabel is not installed")
        if prog.is_mip() and not relax_integers:
            raise SolverError(f"program '{prog.name}' has integer variables; Clarabel is continuous")
        self.verbose = verbose
        self.prog = prog
        self.tol = tol
        self.max_iter = max_iter
        n = prog.n
        A = sp.csr_matrix(prog.A)
        lo, hi = prog.row_lo, prog.row_hi
        eq = np.isfinite(lo) & np.isfinite(hi) & (lo == hi)
        ge = np.isfinite(lo) & ~eq
        le = np.isfinite(hi) & ~eq
        lb, ub = prog.lb, prog.ub
        Id = sp.identity(n, format="csr")
        vlo, vhi = np.isfinite(lb), np.isfinite(ub)
        fixed = vlo & vhi & (lb == ub)
        blocks_A = [A[eq], Id[fixed], -A[ge], -Id[vlo & ~fixed], A[le], Id[vhi & ~fixed]]
        blocks_b = [lo[eq], lb[fixed], -lo[ge], -lb[vlo & ~fixed], hi[le], ub[vhi & ~fixed]]
        self.masks = (eq, fixed, ge, vlo & ~fixed, le)
        n_zero = int(eq.sum() + fixed.sum())
        n_nonneg = int(ge.sum() + (vlo & ~fixed).sum() + le.sum() + (vhi & ~fixed).sum())
        cones = prog.cones
        dims: list[int] = []
        if cones:
            def pad(M: sp.csr_matrix) -> sp.csr_matrix:
                M = sp.csr_matrix(M)
                return M if M.shape[1] == n else sp.csr_matrix((M.data, M.indices, M.indptr), shape=(M.shape[0], n))

            Fs = sp.vstack([pad(c.F) for c in cones], format="csr")
            Gs = sp.vstack([pad(c.G) for c in cones], format="csr")
            nF = Fs.shape[0]
            fc = np.concatenate([c.c for c in cones])
            gc = np.concatenate([c.g for c in cones])
            t_rows: list[int] = []
            t_cols: list[int] = []
            t_vals: list[float] = []
            rhs: list[float] = []
            r = f0 = g0 = 0
            s2 = float(np.sqrt(2.0))
            for c in cones:
                nf, ng = c.F.shape[0], c.G.shape[0]
                if c.rotated:
                    t_rows += [r, r, r + 1, r + 1]
                    t_cols += [f0, f0 + 1, f0, f0 + 1]
                    t_vals += [1.0, 1.0, 1.0, -1.0]
                    rhs += [fc[f0] + fc[f0 + 1], fc[f0] - fc[f0 + 1]]
                    r += 2
                    t_rows += list(range(r, r + ng))
                    t_cols += list(range(nF + g0, nF + g0 + ng))
                    t_vals += [s2] * ng
                    rhs += list(s2 * gc[g0:g0 + ng])
                else:
                    t_rows += list(range(r, r + nf + ng))
                    t_cols += list(range(f0, f0 + nf)) + list(range(nF + g0, nF + g0 + ng))
                    t_vals += [1.0] * (nf + ng)
                    rhs += list(fc[f0:f0 + nf]) + list(gc[g0:g0 + ng])
                    r += nf
                r += ng
                dims.append((2 if c.rotated else nf) + ng)
                f0 += nf
                g0 += ng
            T = sp.csr_matrix((t_vals, (t_rows, t_cols)), shape=(r, nF + Gs.shape[0]))
            rows = T @ sp.vstack([Fs, Gs], format="csr")
            blocks_A.append(-rows)
            blocks_b.append(np.asarray(rhs))
        self.Ac = sp.vstack(blocks_A, format="csc")
        self.b = np.concatenate(blocks_b)
        self.cones = []
        if n_zero:
            self.cones.append(clarabel.ZeroConeT(n_zero))
        if n_nonneg:
            self.cones.append(clarabel.NonnegativeConeT(n_nonneg))
        self.cones.extend(clarabel.SecondOrderConeT(d) for d in dims)
        P = prog.P
        self.Pc = sp.triu(P, format="csc") if P is not None else sp.csc_matrix((n, n))
        if prog.sense != "min":
            raise SolverError("the Clarabel backend minimises only (negate the objective)")

    def solve(self) -> Solution:
        """Solve with the program's current linear objective and constant.

        If Clarabel stops with ``InsufficientProgress`` at the requested tolerance (ill-scaled data such as
        the 1111 p.u. lead line inside a current-limit cone), it is re-run once at 100x the tolerance.
        """
        prog = self.prog
        t0 = time.perf_counter()
        for tol in (self.tol, 100 * self.tol):
            settings = clarabel.DefaultSettings()
            settings.verbose = self.verbose
            settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
            settings.max_iter = self.max_iter
            res = clarabel.DefaultSolver(self.Pc, prog.c, self.Ac, self.b, self.cones, settings).solve()
            if "InsufficientProgress" not in str(res.status) and "MaxIterations" not in str(res.status):
                break
        dt = time.perf_counter() - t0
        st = str(res.status)
        if "Solved" in st:
            status = "optimal"
        elif "PrimalInfeasible" in st:
            status = "infeasible"
        elif "DualInfeasible" in st:
            status = "unbounded"
        else:
            status = "error"
        x = np.asarray(res.x, dtype=float)
        z = np.asarray(res.z, dtype=float)
        eq, fixed, ge, vlo_nf, le = self.masks
        duals = np.zeros(prog.m)
        k = 0
        i_eq = np.flatnonzero(eq)
        duals[i_eq] = -z[k:k + len(i_eq)]
        k += len(i_eq) + int(fixed.sum())
        i_ge = np.flatnonzero(ge)
        duals[i_ge] += z[k:k + len(i_ge)]
        k += len(i_ge) + int(vlo_nf.sum())
        i_le = np.flatnonzero(le)
        duals[i_le] -= z[k:k + len(i_le)]
        obj = float(res.obj_val) + prog.const if status == "optimal" else float("nan")
        return Solution(status=status, objective=obj, x=x, row_duals=duals, bound=obj, gap=0.0, solver="clarabel",
                        time_s=dt, program=prog, info={"clarabel_status": st, "iterations": int(res.iterations)})


def solve_clarabel(prog: Program, *, relax_integers: bool = False, verbose: bool = False,
                   tol: float = 1e-9, max_iter: int = 200) -> Solution:
    """Solve ``prog`` once with Clarabel; returns primal values and row duals."""
    return ClarabelSolver(prog, tol, max_iter, relax_integers=relax_integers, verbose=verbose).solve()
