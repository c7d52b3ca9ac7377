"""Canonical program and solver backends (HiGHS for LP/MILP, Clarabel for conic, optional SCIP/Gurobi)."""

from tenflow.solve.clarabel_backend import ClarabelSolver, solve_clarabel
from tenflow.solve.highs import HighsSolver, solve_highs
from tenflow.solve.program import Cone, Program, RowBlock, Solution, VarBlock

__all__ = ["ClarabelSolver", "Cone", "HighsSolver", "Program", "RowBlock", "Solution", "VarBlock", "solve_clarabel", "solve_highs"]
