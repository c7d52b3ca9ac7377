"""Site demand from the excavators (mess.md §3.4).

D_i(t) = cumulative energy drawn from site i's installed pack since the horizon start: continuous and
piecewise linear (constant power within each demand step of length Δ_d from ``work_start``; the last
step is shortened to ``work_end``; zero draw outside work hours).

* ``threshold`` (prototype rule): per step, every excavator e first consumes c_e·Δ_d (floored at 0); if
  its SoC is then ≤ trigger it charges E_e = min((target − s_e)·B_e, P_exc·Δ_d) from the pack. The pack
  draws Σ E_e, or ``idle_kw``·Δ_d if Σ E_e = 0.
* ``direct``: the pack supplies Σ_e c_e during work hours.

Energies are tracked in kWh (not SoC fractions) so that thresholds are hit exactly on the data's round
numbers; comparisons use a 1e-9 kWh tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tenflow.errors import CaseError
from tenflow.mess.case import MessCase, NodeId

_TOL = 1e-9


@dataclass(frozen=True)
class Demand:
    """Cumulative site demand D(t) (kWh) as a piecewise-linear function of clock time (hours).

    Attributes
    ----------
    site
        Site node id.
    times
        Breakpoints (hours, increasing): work start, step ends, work end.
    cum_kwh
        D at the breakpoints (D = 0 before the first, constant after the last).
    step_kwh
        Energy drawn in each demand step (len(times) − 1).
    excavator_soc
        Excavator SoCs at the breakpoints (rows = breakpoints, columns = excavator ids); empty for ``direct``.
    """

    site: NodeId
    times: np.ndarray
    cum_kwh: np.ndarray
    step_kwh: np.ndarray
    excavator_soc: pd.DataFrame = field(default_factory=pd.DataFrame)

    def D(self, t: np.ndarray | float) -> np.ndarray:  # noqa: N802 - spec notation
        """Cumulative energy drawn up to clock time ``t`` (vectorised)."""
        if len(self.times) == 0:
            return np.zeros(np.shape(t))
        return np.interp(np.asarray(t, dtype=float), self.times, self.cum_kwh, left=0.0, right=self.cum_kwh[-1])

    __call__ = D

    @property
    def total_kwh(self) -> float:
        return float(self.cum_kwh[-1]) if len(self.cum_kwh) else 0.0

    def power_kw(self, t: np.ndarray | float) -> np.ndarray:
        """Draw (kW) at clock time ``t`` (right-continuous; 0 outside work hours)."""
        tt = np.asarray(t, dtype=float)
        if len(self.times) < 2:
            return np.zeros(tt.shape)
        k = np.searchsorted(self.times, tt, side="right") - 1
        inside = (k >= 0) & (k < len(self.step_kwh))
        kk = np.clip(k, 0, len(self.step_kwh) - 1)
        p = self.step_kwh[kk] / np.diff(self.times)[kk]
        return np.where(inside, p, 0.0)

    def time_reaching(self, kwh: np.ndarray | float) -> np.ndarray:
        """Earliest clock time at which D(t) ≥ ``kwh`` (``inf`` if never; work start for kwh ≤ 0)."""
        x = np.asarray(kwh, dtype=float)
        if len(self.times) == 0:
            return np.where(x <= 0, -np.inf, np.inf)
        c = self.cum_kwh
        # index of the first breakpoint with cum >= x
        j = np.searchsorted(c, x - _TOL, side="left")
        out = np.full(x.shape, np.inf)
        ok = j < len(c)
        jj = np.clip(j, 1, len(c) - 1)
        c0, c1 = c[jj - 1], c[jj]
        t0, t1 = self.times[jj - 1], self.times[jj]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(c1 > c0, (x - c0) / (c1 - c0), 1.0)
        t = t0 + np.clip(frac, 0.0, 1.0) * (t1 - t0)
        t = np.where(j == 0, self.times[0], t)
        out = np.where(ok, t, out)
        return out

    def depletion_time(self, energy_kwh: float, installed_h: float, reserve_kwh: float) -> float:
        """Clock time at which a pack of ``energy_kwh`` installed at ``installed_h`` reaches ``reserve_kwh``."""
        target = float(self.D(installed_h)) + energy_kwh - reserve_kwh
        if energy_kwh < reserve_kwh:
            return float(installed_h)
        return max(float(installed_h), float(self.time_reaching(target)))


def site_demand(case: MessCase, site: NodeId, policy: str | None = None) -> Demand:
    """Simulate site ``site`` of ``case`` (mess.md §3.4); ``policy`` defaults to ``excavators.policy``."""
    sites = case.sites
    m = sites["node"] == site
    if not m.any():
        raise CaseError(f"site {site} not in sites.csv", file="sites.csv", field="node", code="E-NODE-UNKNOWN")
    s = sites[m].iloc[0]
    pol = policy or str(case.config["excavators"]["policy"])
    dstep = float(case.config["time"]["demand_step_min"]) / 60.0
    w0, w1 = float(s["work_start"]), float(s["work_end"])
    n = int(np.ceil((w1 - w0) / dstep - 1e-9))
    times = np.minimum(w0 + dstep * np.arange(n + 1), w1)
    times[-1] = w1
    lengths = np.diff(times)
    ex = case.excavators[case.excavators["site"] == site]
    cons = ex["consumption_kwh_per_h"].to_numpy(float)
    if pol == "direct":
        step = cons.sum() * lengths
        cum = np.concatenate([[0.0], np.cumsum(step)])
        return Demand(site, times, cum, step)
    if pol != "threshold":
        raise CaseError(f"excavators.policy = '{pol}'", file="case.toml", field="excavators.policy", code="E-PARAM")
    cap = ex["battery_kwh"].to_numpy(float)
    e = ex["soc_init"].to_numpy(float) * cap
    trig = ex["trigger_soc"].to_numpy(float) * cap
    targ = ex["target_soc"].to_numpy(float) * cap
    pexc = ex["charge_kw"].to_numpy(float)
    idle = float(s["idle_kw"])
    step = np.zeros(n)
    socs = np.zeros((n + 1, len(cap)))
    socs[0] = e / cap
    # sequential by nature (state carried over steps); vectorised over excavators
    for k in range(n):
        h = lengths[k]
        e = np.maximum(0.0, e - cons * h)
        need = e <= trig + _TOL
        ch = np.where(need, np.minimum(np.maximum(targ - e, 0.0), pexc * h), 0.0)
        e = np.where(need, np.minimum(targ, e + ch), e)
        tot = float(ch.sum())
        step[k] = tot if tot > 0 else idle * h
        socs[k + 1] = e / cap
    cum = np.concatenate([[0.0], np.cumsum(step)])
    soc_df = pd.DataFrame(socs, index=pd.Index(times, name="time_h"),
                          columns=[str(x) for x in ex["excavator"]])
    return Demand(site, times, cum, step, soc_df)
