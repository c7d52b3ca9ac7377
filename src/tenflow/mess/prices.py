"""Electricity prices per charger bus and hour (mess.md §5, Appendix A).

Sources (``prices.source``):

* ``table`` — ``prices.csv`` (§5.1);
* ``prototype`` — the Co-OPT MESS prototype's price model made deterministic (§5.2):
  λ_b(h) = [DA(h)·mult_b(h) + loss_b(h) + tariff(h) + ΔRT(h)·include_rt]/100 $/kWh with the Appendix A
  columns (bus 11: mult = loss = 1), DA = ``da_series_cents`` (24 values) or
  0.6·``numpy.random.default_rng(da_seed).uniform(30, 60, 24)`` or ``da_fixed_cents``;
* ``opf`` — bus LMPs of tenflow's distribution-grid OPF (§5.3, :class:`OpfPriceProvider`).

Every source implements the :class:`PriceProvider` protocol ``prices(buses, hours) -> DataFrame`` with
columns ``bus`` (str), ``hour`` (int), ``price_per_kwh`` ($/kWh). The depot uses ``depot.price_flat`` or
the price of ``depot.price_bus``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from tenflow.errors import CaseError, TenflowError
from tenflow.mess.case import MessCase, NodeId

HOURS = tuple(range(24))

# Appendix A (¢/kWh; dev in MW): h, tariff, α b6, α b10, dev b6, dev b10, mult b6, mult b10, loss b6, loss b10,
# Σ loss MW, ΔRT
_APPENDIX_A = """\
0 8 -0.008163 -0.010271 -1.971568 -1.973777 1.016093 1.020272 0.999592 0.999486 0.072489 0.010725
1 8 -0.008158 -0.010268 -1.988376 -1.990604 1.016220 1.020439 0.999592 0.999487 0.073859 0.010739
2 8 -0.008143 -0.010260 -2.037850 -2.040134 1.016594 1.020931 0.999593 0.999487 0.077980 0.010780
3 8 -0.008118 -0.010245 -2.118790 -2.121164 1.017200 1.021732 0.999594 0.999488 0.085009 0.010850
4 8 -0.008079 -0.010223 -2.239133 -2.241642 1.018090 1.022916 0.999596 0.999489 0.096137 0.010961
5 8 -0.008011 -0.010183 -2.436948 -2.439678 1.019521 1.024842 0.999599 0.999491 0.116262 0.011163
6 15 -0.007879 -0.010101 -2.768410 -2.771512 1.021813 1.027995 0.999606 0.999495 0.155482 0.011555
7 15 -0.007676 -0.009966 -3.184044 -3.187612 1.024441 1.031769 0.999616 0.999502 0.215567 0.012156
8 15 -0.007516 -0.009854 -3.450243 -3.454109 1.025931 1.034035 0.999624 0.999507 0.261333 0.012613
9 8 -0.007545 -0.009875 -3.405007 -3.408822 1.025691 1.033661 0.999623 0.999506 0.253117 0.012531
10 8 -0.007670 -0.009962 -3.195326 -3.198906 1.024508 1.031868 0.999617 0.999502 0.217384 0.012174
11 8 -0.007752 -0.010018 -3.041111 -3.044518 1.023574 1.030499 0.999612 0.999499 0.193428 0.011934
12 8 -0.007781 -0.010037 -2.981705 -2.985046 1.023201 1.029962 0.999611 0.999498 0.184694 0.011847
13 8 -0.007792 -0.010044 -2.959841 -2.963157 1.023063 1.029763 0.999610 0.999498 0.181547 0.011815
14 8 -0.007793 -0.010045 -2.956533 -2.959845 1.023041 1.029733 0.999610 0.999498 0.181074 0.011811
15 8 -0.007766 -0.010027 -3.013117 -3.016493 1.023399 1.030247 0.999612 0.999499 0.189279 0.011893
16 8 -0.007672 -0.009964 -3.190961 -3.194537 1.024482 1.031830 0.999616 0.999502 0.216680 0.012167
17 15 -0.007490 -0.009835 -3.488891 -3.492800 1.026132 1.034351 0.999626 0.999508 0.268500 0.012685
18 15 -0.007280 -0.009679 -3.769386 -3.773609 1.027443 1.036526 0.999636 0.999516 0.324878 0.013249
19 15 -0.007242 -0.009650 -3.815565 -3.819840 1.027631 1.036861 0.999638 0.999518 0.334940 0.013349
20 15 -0.007467 -0.009818 -3.522940 -3.526887 1.026305 1.034627 0.999627 0.999509 0.274931 0.012749
21 8 -0.007766 -0.010027 -3.012794 -3.016170 1.023397 1.030244 0.999612 0.999499 0.189231 0.011892
22 8 -0.007981 -0.010164 -2.517658 -2.520479 1.020092 1.025619 0.999601 0.999492 0.125158 0.011252
23 8 -0.008096 -0.010233 -2.188479 -2.190931 1.017717 1.022419 0.999595 0.999488 0.091353 0.010914
"""

APPENDIX_A: pd.DataFrame = pd.read_csv(
    io.StringIO(_APPENDIX_A), sep=" ", header=None,
    names=["hour", "tariff", "alpha_6", "alpha_10", "dev_6", "dev_10", "mult_6", "mult_10", "loss_6", "loss_10",
           "sum_loss_mw", "delta_rt"],
).set_index("hour")

PROTOTYPE_BUSES = ("6", "10", "11")


@runtime_checkable
class PriceProvider(Protocol):
    """Source of hourly prices: ``prices(buses, hours)`` → DataFrame ``bus, hour, price_per_kwh`` ($/kWh)."""

    def prices(self, buses: Sequence[str], hours: Sequence[int]) -> pd.DataFrame: ...


def _frame(buses: Sequence[str], hours: Sequence[int], values: np.ndarray) -> pd.DataFrame:
    b = [str(x) for x in buses]
    h = np.asarray(list(hours), dtype=np.int64)
    return pd.DataFrame({"bus": np.repeat(np.asarray(b, dtype=object), len(h)),
                         "hour": np.tile(h, len(b)),
                         "price_per_kwh": np.asarray(values, dtype=float).reshape(len(b) * len(h))})


def da_cents(fixed: float = 27.0, series: Sequence[float] | None = None, seed: int | None = None) -> np.ndarray:
    """Day-ahead price DA(h), h = 0…23, in ¢/kWh (§5.2): series, else seeded draw, else constant."""
    if series is not None:
        arr = np.asarray(series, dtype=float)
        if arr.shape != (24,):
            raise CaseError("da_series_cents must have 24 values", field="prices.prototype.da_series_cents",
                            code="E-PRICE")
        return arr
    if seed is not None:
        return 0.6 * np.random.default_rng(int(seed)).uniform(30.0, 60.0, size=24)
    return np.full(24, float(fixed))


class PrototypePriceProvider:
    """§5.2 deterministic prototype price model (Appendix A)."""

    def __init__(self, da: np.ndarray | float = 27.0, include_rt: bool = True) -> None:
        self.da = np.broadcast_to(np.asarray(da, dtype=float), (24,)).copy()
        self.include_rt = bool(include_rt)

    @classmethod
    def from_case(cls, case: MessCase) -> PrototypePriceProvider:
        p = case.config["prices"]["prototype"]
        return cls(da_cents(p["da_fixed_cents"], p.get("da_series_cents"), p.get("da_seed")), p["include_rt"])

    def cents(self, bus: str, hours: np.ndarray) -> np.ndarray:
        a = APPENDIX_A.loc[hours]
        b = str(bus)
        if b == "11":
            mult, loss = np.ones(len(hours)), np.ones(len(hours))
        elif b in ("6", "10"):
            mult, loss = a[f"mult_{b}"].to_numpy(), a[f"loss_{b}"].to_numpy()
        else:
            raise CaseError(f"bus {b}: the prototype price model knows buses {', '.join(PROTOTYPE_BUSES)} only",
                            file="chargers.csv", field="bus", code="E-PRICE")
        rt = a["delta_rt"].to_numpy() if self.include_rt else 0.0
        return self.da[hours] * mult + loss + a["tariff"].to_numpy() + rt

    def prices(self, buses: Sequence[str], hours: Sequence[int]) -> pd.DataFrame:
        h = np.asarray(list(hours), dtype=np.int64) % 24
        vals = np.stack([self.cents(b, h) / 100.0 for b in buses]) if len(buses) else np.zeros((0, len(h)))
        return _frame(buses, list(hours), vals)


class TablePriceProvider:
    """§5.1 prices from ``prices.csv``; a missing (bus, hour) is E-PRICE."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.map = {(str(b), int(h)): float(p) for b, h, p in
                    zip(table["bus"], table["hour"], table["price_per_kwh"], strict=True)}

    def prices(self, buses: Sequence[str], hours: Sequence[int]) -> pd.DataFrame:
        vals = np.empty((len(buses), len(hours)))
        for i, b in enumerate(buses):
            for j, h in enumerate(hours):
                key = (str(b), int(h) % 24)
                if key not in self.map:
                    raise CaseError(f"bus {b}: no price for hour {int(h) % 24}", file="prices.csv",
                                    field="price_per_kwh", code="E-PRICE")
                vals[i, j] = self.map[key]
        return _frame(buses, hours, vals)


class OpfPriceProvider:
    """§5.3 prices from tenflow's IV-ACOPF: active-power LMP per bus converted to $/kWh.

    ``tenflow.opf.bus_prices(grid)`` returns LMPs in $ per p.u. power per step (columns ``bus, step, lmp``);
    they are divided by S_base[MVA]·1000·Δt_h. The grid's steps are mapped to hours of the day
    (step k covers hours [k·Δt_h, (k+1)·Δt_h), Δt_h = 24 / number of steps, unless the grid states its
    step length). ``feedback`` (re-solving with the MESS charging loads) is not handled here.
    """

    def __init__(self, grid_case: str, *, opf_kwargs: dict[str, Any] | None = None) -> None:
        self.grid_case = grid_case
        self.opf_kwargs = dict(opf_kwargs or {})
        self._table: pd.DataFrame | None = None

    @staticmethod
    def _opf_module() -> Any:
        try:
            import tenflow.opf as opf
        except ImportError as exc:
            raise TenflowError(f"prices.source = 'opf' needs tenflow.opf, which is not available ({exc})") from None
        if not hasattr(opf, "bus_prices"):
            raise TenflowError("prices.source = 'opf' needs tenflow.opf.bus_prices, which is not available")
        return opf

    def hourly_table(self) -> pd.DataFrame:
        """All (bus, hour, price_per_kwh) of the grid, cached."""
        if self._table is not None:
            return self._table
        opf = self._opf_module()
        grid = opf.load_grid(self.grid_case) if hasattr(opf, "load_grid") else self.grid_case
        raw = opf.bus_prices(grid, **self.opf_kwargs)
        self._table = lmp_to_hourly(raw, s_base_mva=_s_base(grid), step_hours=_step_hours(grid, raw))
        return self._table

    def prices(self, buses: Sequence[str], hours: Sequence[int]) -> pd.DataFrame:
        return TablePriceProvider(self.hourly_table()).prices(buses, hours)


def _s_base(grid: Any) -> float:
    base = getattr(grid, "base", None)
    if isinstance(base, dict) and "s_mva" in base:
        return float(base["s_mva"])
    for attr in ("s_base_mva", "sn_mva"):
        if hasattr(grid, attr):
            return float(getattr(grid, attr))
    raise TenflowError("the OPF grid does not state its power base (S_base in MVA); cannot convert LMPs to $/kWh")


def _step_hours(grid: Any, raw: pd.DataFrame) -> float:
    for attr in ("step_hours", "dt_h"):
        if hasattr(grid, attr):
            return float(getattr(grid, attr))
    n = raw["step"].nunique()
    if n == 0:
        raise TenflowError("the OPF returned no steps; cannot map them to the 24 hours of the day")
    return 24.0 / n


def lmp_to_hourly(raw: pd.DataFrame, *, s_base_mva: float, step_hours: float) -> pd.DataFrame:
    """Convert OPF LMPs ($ per p.u. power per step; columns ``bus, step, lmp``) to $/kWh per hour (§5.3).

    Per step: price = lmp / (S_base·1000·Δt_h); the k-th distinct step (in order of appearance) covers
    hours [k·Δt_h, (k+1)·Δt_h). The price of hour h is the overlap-weighted mean of the step prices
    covering [h, h+1) (energy bought uniformly over the hour); hours not covered are left out.
    """
    steps = list(dict.fromkeys(raw["step"]))
    k = np.array([{s: i for i, s in enumerate(steps)}[s] for s in raw["step"]], dtype=float)
    price = raw["lmp"].to_numpy(float) / (s_base_mva * 1000.0 * step_hours)
    a, b = k * step_hours, (k + 1) * step_hours
    hours = np.arange(24, dtype=float)
    # overlap (hours) of every row's step with every hour of the day
    ov = np.clip(np.minimum(b[:, None], hours[None, :] + 1) - np.maximum(a[:, None], hours[None, :]), 0.0, None)
    buses = np.asarray([str(x) for x in raw["bus"]], dtype=object)
    out = []
    for bus in dict.fromkeys(buses):
        m = buses == bus
        w = ov[m].sum(axis=0)
        val = (ov[m] * price[m, None]).sum(axis=0)
        for h in np.flatnonzero(w > 1e-12):
            out.append((bus, int(h), float(val[h] / w[h])))
    return pd.DataFrame(out, columns=["bus", "hour", "price_per_kwh"])


def provider(case: MessCase) -> PriceProvider:
    """The price provider configured by ``prices.source``."""
    src = case.config["prices"]["source"]
    if src == "table":
        return TablePriceProvider(case.prices)
    if src == "prototype":
        return PrototypePriceProvider.from_case(case)
    if src == "opf":
        gc = case.config["prices"]["opf"].get("grid_case")
        if not gc:
            raise CaseError("prices.source = 'opf' needs prices.opf.grid_case", file="case.toml",
                            field="prices.opf.grid_case", code="E-PRICE")
        return OpfPriceProvider(str(gc))
    raise CaseError(f"prices.source = '{src}'", file="case.toml", field="prices.source", code="E-PRICE")


def price_buses(case: MessCase) -> list[str]:
    """Buses whose prices a case needs: charger buses and ``depot.price_bus`` (sorted, unique)."""
    buses = {str(b) for b in case.chargers["bus"]}
    pb = case.config["depot"].get("price_bus")
    if pb is not None and case.config["depot"].get("price_flat") is None:
        buses.add(str(pb))
    return sorted(buses, key=lambda s: (0, int(s), s) if s.lstrip("-").isdigit() else (1, 0, s))


def price_table(case: MessCase, source: PriceProvider | None = None) -> pd.DataFrame:
    """Prices of every needed bus and hour 0…23: DataFrame ``bus, hour, price_per_kwh`` ($/kWh)."""
    prov = source or provider(case)
    return prov.prices(price_buses(case), HOURS).reset_index(drop=True)


def depot_prices(case: MessCase, table: pd.DataFrame | None = None) -> np.ndarray:
    """Depot price per hour 0…23 ($/kWh): ``price_flat`` or the price of ``price_bus``; NaN if none."""
    dep = case.config["depot"]
    if dep.get("price_flat") is not None:
        return np.full(24, float(dep["price_flat"]))
    if dep.get("price_bus") is not None:
        t = price_table(case) if table is None else table
        sub = t[t["bus"] == str(dep["price_bus"])].set_index("hour")["price_per_kwh"]
        return sub.reindex(range(24)).to_numpy(float)
    return np.full(24, np.nan)


def node_prices(case: MessCase, times_h: Iterable[float] | np.ndarray,
                table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Price ($/kWh, without fees) at every charger node and the depot at clock times ``times_h``.

    The price of time t is that of the hour containing t (hour = ⌊t⌋ mod 24, §3.5). Rows: node ids
    (chargers in table order, then the depot if it has a charger); columns: ``times_h``.
    """
    t = np.asarray(list(times_h) if not isinstance(times_h, np.ndarray) else times_h, dtype=float)
    hours = np.floor(t + 1e-9).astype(np.int64) % 24
    tab = price_table(case) if table is None else table
    piv = tab.pivot(index="bus", columns="hour", values="price_per_kwh")
    rows: dict[NodeId, np.ndarray] = {}
    for n, b in zip(case.chargers["node"], case.chargers["bus"], strict=True):
        rows[n] = piv.loc[str(b)].reindex(range(24)).to_numpy(float)[hours]
    if float(case.config["depot"]["charger_kw"]) > 0:
        rows[case.depot] = depot_prices(case, tab)[hours]
    return pd.DataFrame.from_dict(rows, orient="index", columns=t)
