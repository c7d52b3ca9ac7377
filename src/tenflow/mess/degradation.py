"""Battery degradation cost models for MESS (mess.md §4).

All product models are **additive over DP transitions** with state (SoC, time) (mess.md §4.1, §6.1):

* calendar terms are SoC-dependent rates ``r(s)`` in $/h; over an interval of ``h`` hours in which the SoC moves
  linearly from ``s1`` to ``s2`` the cost is ``h·(R(s2) − R(s1))/(s2 − s1)`` with ``R`` the antiderivative of ``r``
  (``h·r(s1)`` if ``s1 = s2``). ``R`` is evaluated exactly (closed form or exact piecewise integration);
* cycle terms depend on the SoC increment, its position in the SoC range and (LFP) its C-rate. Depth-dependent wear is
  charged on discharge increments with the cycle-depth rule ``Φ((s_ref − s2)⁺) − Φ((s_ref − s1)⁺)`` (Xu et al. 2018
  SoC-segment construction); charging costs no depth wear.

Models (names accepted by :func:`make_model`):

``nmc``
    Schmalstieg et al. (2014), Sanyo UR18650E, mess.md §4.2.
``lfp``
    Naumann et al. (2018) calendar + Wang et al. (2011) cycle with C-rate dependence, mess.md §4.3.
``generalized`` (alias ``dod``)
    ``N(D) = β0·D^−β1·e^{β2(1−D)}``, ``Φ(D) = cost/N(D)``, mess.md §4.4.
``proto-m1-nmc``, ``proto-m2-lfp``, ``proto-m3-gen``
    The Co-OPT MESS prototype's functions including their quirks, applied per travel leg only (mess.md §4.5).

All functions are vectorised over numpy arrays (inputs broadcast); scalar inputs give numpy scalars.

The informational ex-post assessment of mess.md §4.7 (rainflow counting, discharge episodes, exact nonlinear fade
increment) is :func:`ex_post`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from tenflow.errors import CaseError, TenflowError

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

__all__ = [
    "MODEL_NAMES",
    "BatteryParams",
    "DegradationModel",
    "GeneralizedModel",
    "LfpModel",
    "NmcModel",
    "ProtoM1Nmc",
    "ProtoM2Lfp",
    "ProtoM3Gen",
    "SocTrajectory",
    "calendar_excess",
    "ex_post",
    "idle_pack_cost",
    "make_model",
    "soc_trajectory",
]

#: accepted values of ``battery.model`` (mess.md §2.2)
MODEL_NAMES: tuple[str, ...] = (
    "nmc",
    "lfp",
    "generalized",
    "dod",
    "proto-m1-nmc",
    "proto-m2-lfp",
    "proto-m3-gen",
)

_SOC_TOL = 1e-9
_KELVIN = 273.15


# ----------------------------------------------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatteryParams:
    """Pack parameters of the degradation models (mess.md §2.2 ``battery.*``, §4.6 defaults).

    Parameters
    ----------
    capacity_kwh
        Pack energy capacity in kWh (the truck's / site's ``mess_kwh``).
    cost_usd
        Pack replacement cost in $.
    eol_fade
        Capacity fade at end of life (fraction); models a, b cost ``cost_usd/eol_fade`` per unit fade.
    age_days
        Calendar age (days) at which marginal calendar wear is evaluated (§4.1).
    efc_lifetime
        Equivalent full cycles already done; sets the throughput at which marginal cycle wear is evaluated (§4.1).
    temperature_c
        Cell temperature in °C.
    s_ref
        Reference top SoC of the cycle-depth rule (§4.1).
    beta0, beta1, beta2
        Generalized cycle-life coefficients (§4.4).
    throughput_ref_kwh
        ``A₀`` argument of the prototype presets (``battery.proto.throughput_ref_kwh``, §4.5).
    """

    capacity_kwh: float = 350.0
    cost_usd: float = 60000.0
    eol_fade: float = 0.20
    age_days: float = 365.0
    efc_lifetime: float = 300.0
    temperature_c: float = 25.0
    s_ref: float = 1.0
    beta0: float = 4901.0
    beta1: float = 1.98
    beta2: float = 0.016
    throughput_ref_kwh: float = 0.0

    #: case.toml key of each field (for error messages)
    _KEYS: ClassVar[dict[str, str]] = {
        "capacity_kwh": "mess_kwh",
        "cost_usd": "battery.cost_usd",
        "eol_fade": "battery.eol_fade",
        "age_days": "battery.age_days",
        "efc_lifetime": "battery.efc_lifetime",
        "temperature_c": "battery.temperature_c",
        "s_ref": "battery.s_ref",
        "beta0": "battery.generalized.beta0",
        "beta1": "battery.generalized.beta1",
        "beta2": "battery.generalized.beta2",
        "throughput_ref_kwh": "battery.proto.throughput_ref_kwh",
    }

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise CaseError(
                    f"{v!r} is not a number", file="case.toml", field=self._KEYS[f.name], code="E-BATTERY"
                ) from None
            if not math.isfinite(fv):
                raise CaseError(
                    f"{v!r} is not finite", file="case.toml", field=self._KEYS[f.name], code="E-BATTERY"
                )
            object.__setattr__(self, f.name, fv)

        def bad(name: str, reason: str) -> None:
            raise CaseError(
                f"{getattr(self, name)!r}: {reason}",
                file="case.toml",
                field=self._KEYS[name],
                code="E-BATTERY",
            )

        if self.capacity_kwh <= 0:
            bad("capacity_kwh", "pack capacity must be > 0 kWh")
        if self.cost_usd < 0:
            bad("cost_usd", "must be >= 0")
        if not 0 < self.eol_fade < 1:
            bad("eol_fade", "end-of-life fade must be in (0, 1)")
        if self.age_days <= 0:
            bad("age_days", "marginal wear is evaluated at the pack's age, which must be > 0 days")
        if self.efc_lifetime <= 0:
            bad(
                "efc_lifetime",
                "marginal cycle wear is evaluated at the lifetime throughput, which must be > 0 EFC",
            )
        if not -50.0 <= self.temperature_c <= 100.0:
            bad("temperature_c", "cell temperature must be within [-50, 100] °C")
        if not 0 < self.s_ref <= 1:
            bad("s_ref", "reference top SoC must be in (0, 1]")
        if self.beta0 <= 0:
            bad("beta0", "must be > 0")
        if self.beta1 <= 0:
            bad("beta1", "must be > 0 (Φ(0) = 0 needs a positive depth exponent)")
        # Φ(D) ∝ D^β1·e^{β2·D} is convex on (0, 1] iff g(D) = β1(β1−1) + 2β1β2D + β2²D² >= 0 there (§4.1 needs a
        # convex Φ for the superadditivity argument); g is a convex quadratic, check its minimum over [0, 1].
        b1, b2 = self.beta1, self.beta2
        cand = [0.0, 1.0] + ([min(1.0, max(0.0, -b1 / b2))] if b2 != 0 else [])
        if min(b1 * (b1 - 1) + 2 * b1 * b2 * d + b2 * b2 * d * d for d in cand) < -1e-12:
            bad(
                "beta1",
                f"with beta2 = {b2} the depth-stress function Φ(D) = cost/N(D) is not convex on [0, 1]",
            )
        if self.throughput_ref_kwh < 0:
            bad("throughput_ref_kwh", "must be >= 0")

    @classmethod
    def from_mapping(
        cls, battery: Mapping[str, Any], capacity_kwh: float, *, file: str = "case.toml"
    ) -> BatteryParams:
        """Build from the ``[battery]`` table of ``case.toml`` (mess.md §2.2).

        Parameters
        ----------
        battery
            Mapping with keys ``cost_usd``, ``eol_fade``, ``age_days``, ``efc_lifetime``, ``temperature_c``,
            ``s_ref``, optional sub-tables ``generalized`` (``beta0/1/2``) and ``proto``
            (``throughput_ref_kwh``); ``model`` is ignored here. Missing keys take the defaults.
        capacity_kwh
            Pack capacity in kWh.
        file
            File name used in error messages.
        """
        kw: dict[str, Any] = {"capacity_kwh": capacity_kwh}
        simple = ("cost_usd", "eol_fade", "age_days", "efc_lifetime", "temperature_c", "s_ref")
        known = set(simple) | {"model", "generalized", "proto"}
        for k in battery:
            if k not in known:
                raise CaseError(f"unknown key '{k}'", file=file, field=f"battery.{k}", code="E-KEY")
        for k in simple:
            if k in battery:
                kw[k] = battery[k]
        gen = battery.get("generalized", {}) or {}
        for k in gen:
            if k not in ("beta0", "beta1", "beta2"):
                raise CaseError(
                    f"unknown key '{k}'", file=file, field=f"battery.generalized.{k}", code="E-KEY"
                )
            kw[k] = gen[k]
        proto = battery.get("proto", {}) or {}
        for k in proto:
            if k != "throughput_ref_kwh":
                raise CaseError(f"unknown key '{k}'", file=file, field=f"battery.proto.{k}", code="E-KEY")
            kw[k] = proto[k]
        return cls(**kw)

    @property
    def k_fade(self) -> float:
        """``K = cost_usd/eol_fade``: $ per unit capacity fade (§4.1)."""
        return self.cost_usd / self.eol_fade

    @property
    def temperature_k(self) -> float:
        """Cell temperature in kelvin."""
        return self.temperature_c + _KELVIN


# ----------------------------------------------------------------------------------------------------------------
# input helpers
# ----------------------------------------------------------------------------------------------------------------
def _soc(x: ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.size and (np.any(a < -_SOC_TOL) or np.any(a > 1.0 + _SOC_TOL)):
        bad = a[(a < -_SOC_TOL) | (a > 1.0 + _SOC_TOL)].ravel()[0]
        raise TenflowError(f"degradation: {name} = {bad!r} is not a SoC fraction in [0, 1]")
    return np.clip(a, 0.0, 1.0)


def _nonneg(x: ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.size and np.any(a < 0):
        raise TenflowError(f"degradation: {name} = {a[a < 0].ravel()[0]!r} must be >= 0")
    return a


def _out(a: FloatArray) -> FloatArray:
    """Return 0-d results as numpy scalars, arrays unchanged."""
    return a[()] if a.ndim == 0 else a  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------------------------
# base class
# ----------------------------------------------------------------------------------------------------------------
class DegradationModel:
    """Base class of all degradation cost models (mess.md §4).

    Attributes
    ----------
    name
        Model name as given to :func:`make_model` (``dod`` is reported as ``generalized``).
    params
        The :class:`BatteryParams`.
    is_leg_model
        ``True`` for the prototype presets, which charge wear only per travel leg (:meth:`leg`); for them
        :meth:`calendar_rate`, :meth:`calendar`, :meth:`cycle` and :meth:`transition` return 0.
    """

    name: str = "base"
    is_leg_model: bool = False

    def __init__(self, params: BatteryParams | None = None) -> None:
        self.params: BatteryParams = params if params is not None else BatteryParams()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, params={self.params!r})"

    # ---- calendar -------------------------------------------------------------------------------------------
    def calendar_rate(self, s: ArrayLike) -> FloatArray:
        """Calendar wear rate r(s) in $/h at SoC fraction ``s`` (mess.md §4.1)."""
        s_ = _soc(s, "s")
        return _out(self._rate(s_))

    def calendar(self, s1: ArrayLike, s2: ArrayLike, hours: ArrayLike) -> FloatArray:
        """Calendar wear in $ over ``hours`` with SoC linear from ``s1`` to ``s2`` (mess.md §4.1).

        ``hours·(R(s2) − R(s1))/(s2 − s1)`` with ``R(s) = ∫₀ˢ r(u) du`` evaluated exactly, ``hours·r(s1)`` if
        ``s1 = s2``. Arguments broadcast.
        """
        a, b = _soc(s1, "s1"), _soc(s2, "s2")
        h = _nonneg(hours, "hours")
        return _out(h * self._mean_rate(a, b))

    # ---- cycle ----------------------------------------------------------------------------------------------
    def phi(self, depth: ArrayLike) -> FloatArray:
        """Depth-stress function Φ(D) in $ of one full cycle of depth D (convex, Φ(0) = 0; mess.md §4.1)."""
        d = _soc(depth, "depth")
        return _out(self._phi(d))

    def cycle(self, s1: ArrayLike, s2: ArrayLike, c_rate: ArrayLike | None = None) -> FloatArray:
        """Cycle wear in $ of the SoC increment ``s1 → s2`` (charge or discharge).

        Parameters
        ----------
        s1, s2
            Start and end SoC fractions (arrays broadcast).
        c_rate
            Discharge C-rate (1/h) of the increment; used by ``lfp`` only (``None`` = the low-rate limit 0.5 C,
            the lower clamp of Wang et al. 2011).
        """
        a, b = _soc(s1, "s1"), _soc(s2, "s2")
        c = None if c_rate is None else _nonneg(c_rate, "c_rate")
        return _out(np.asarray(self._cycle(a, b, c), dtype=np.float64))

    def transition(
        self, s1: ArrayLike, s2: ArrayLike, hours: ArrayLike, c_rate: ArrayLike | None = None
    ) -> FloatArray:
        """What one DP arc pays: :meth:`calendar` + :meth:`cycle` (mess.md §4.1, §6.1)."""
        a, b = _soc(s1, "s1"), _soc(s2, "s2")
        h = _nonneg(hours, "hours")
        c = None if c_rate is None else _nonneg(c_rate, "c_rate")
        return _out(self._transition(a, b, h, c))

    def leg(self, s_i: ArrayLike, s_f: ArrayLike, t0_h: ArrayLike, t1_h: ArrayLike) -> FloatArray:
        """Wear in $ of one travel leg from clock time ``t0_h`` to ``t1_h`` (hours), SoC ``s_i → s_f`` (fractions).

        For the prototype presets this is the preset function of mess.md §4.5; for the product models it is
        :meth:`transition` over ``t1_h − t0_h`` hours (``lfp`` at the default C-rate).
        """
        t0, t1 = _nonneg(t0_h, "t0_h"), _nonneg(t1_h, "t1_h")
        if np.any(t1 < t0):
            raise TenflowError("degradation: a leg must end no earlier than it starts (t1_h < t0_h)")
        return self.transition(s_i, s_f, t1 - t0)

    # ---- to implement ---------------------------------------------------------------------------------------
    def _transition(self, s1: FloatArray, s2: FloatArray, h: FloatArray, c: FloatArray | None) -> FloatArray:
        return h * self._mean_rate(s1, s2) + self._cycle(s1, s2, c)

    def _rate(self, s: FloatArray) -> FloatArray:
        return np.zeros_like(s)

    def _mean_rate(self, s1: FloatArray, s2: FloatArray) -> FloatArray:
        return np.zeros(np.broadcast(s1, s2).shape)

    def _phi(self, d: FloatArray) -> FloatArray:
        return np.zeros_like(d)

    def _cycle(self, s1: FloatArray, s2: FloatArray, c: FloatArray | None) -> FloatArray:
        return np.zeros(np.broadcast(s1, s2).shape)

    def _depth_rule(self, s1: FloatArray, s2: FloatArray) -> FloatArray:
        """§4.1 cycle-depth rule: Φ((s_ref − s2)⁺) − Φ((s_ref − s1)⁺) on discharge, 0 on charge."""
        sr = self.params.s_ref
        d1 = np.maximum(sr - s1, 0.0)
        d2 = np.maximum(sr - s2, 0.0)
        # multiply (not np.where) so that NaN entries propagate; charge/flat entries give exactly 0
        return (self._phi(d2) - self._phi(d1)) * (s2 < s1) + 0.0


# ----------------------------------------------------------------------------------------------------------------
# (a) NMC — Schmalstieg et al. 2014
# ----------------------------------------------------------------------------------------------------------------
class NmcModel(DegradationModel):
    """NMC (Sanyo UR18650E) after Schmalstieg et al. (2014), mess.md §4.2.

    fade = α(V, T)·t^0.75 + β(V̄, ΔDOD)·√Q (t in days, Q in Ah per cell), with
    α = (7.543·V − 23.75)·10⁶·exp(−6976/T) and β = 7.348·10⁻³(V̄ − 3.667)² + 7.6·10⁻⁴ + 4.081·10⁻³·ΔDOD.
    Marginal rates at the lifetime state (age_days, Q_L = 2·efc_lifetime·C_cell):

    * calendar rate r(s) = K·0.75·α(V(s), T)·age^−0.25/24 $/h (piecewise linear in s, integrated exactly);
    * cycle, per increment: K/(2√Q_L)·C_cell·|∫ β_V(V(u)) du| with β_V = 7.348·10⁻³(V − 3.667)² + 7.6·10⁻⁴
      (piecewise quadratic, integrated exactly), plus on discharge the depth rule with
      Φ(D) = K·4.081·10⁻³·C_cell·D²/√Q_L.
    """

    name = "nmc"
    C_CELL: ClassVar[float] = 2.05
    SOC_GRID: ClassVar[FloatArray] = np.linspace(0.0, 1.0, 11)
    OCV: ClassVar[FloatArray] = np.array(
        [3.3310, 3.4910, 3.5812, 3.6267, 3.6552, 3.6974, 3.7747, 3.8688, 3.9649, 4.0730, 4.1620]
    )
    A_V: ClassVar[float] = 7.543
    B_V: ClassVar[float] = -23.75
    C_T: ClassVar[float] = -6976.0
    BQ_A: ClassVar[float] = 7.348e-3
    BQ_V0: ClassVar[float] = 3.667
    BQ_C: ClassVar[float] = 7.6e-4
    BQ_DOD: ClassVar[float] = 4.081e-3

    def __init__(self, params: BatteryParams | None = None) -> None:
        super().__init__(params)
        p = self.params
        x, v = self.SOC_GRID, self.OCV
        # α is affine in V and V piecewise linear in s: r(s) = r_a + r_b·V(s), mean r = r_a + r_b·mean V (exact)
        self._r_b = float(
            self._rate_of_v(np.array(1.0), p.temperature_k) - self._rate_of_v(np.array(0.0), p.temperature_k)
        )
        self._r_a = float(self._rate_of_v(np.array(0.0), p.temperature_k))
        self._slope = np.diff(v) / np.diff(x)
        self._pcum = np.concatenate(
            [[0.0], np.cumsum(np.diff(x) * 0.5 * (v[:-1] + v[1:]))]
        )  # ∫ V ds at knots
        # exact ∫ β_V(V(u)) du at the knots: mean of (a + b u)² over a piece = (e0² + e0 e1 + e1²)/3
        e = v - self.BQ_V0
        seg = np.diff(x) * (self.BQ_A * (e[:-1] ** 2 + e[:-1] * e[1:] + e[1:] ** 2) / 3.0 + self.BQ_C)
        self._bcum = np.concatenate([[0.0], np.cumsum(seg)])
        self.q_l = 2.0 * p.efc_lifetime * self.C_CELL  # Ah per cell at the lifetime state
        self._cyc_k = p.k_fade * self.C_CELL / (2.0 * math.sqrt(self.q_l))

    # public helpers ---------------------------------------------------------------------------------------
    def ocv(self, s: ArrayLike) -> FloatArray:
        """Cell OCV in V at SoC ``s`` (piecewise linear on the Sanyo table)."""
        return _out(np.interp(_soc(s, "s"), self.SOC_GRID, self.OCV))

    def alpha(self, v: ArrayLike, temperature_k: float | None = None) -> FloatArray:
        """Calendar coefficient α(V, T) = (7.543·V − 23.75)·10⁶·exp(−6976/T) (fade per day^0.75)."""
        t = self.params.temperature_k if temperature_k is None else temperature_k
        return _out((self.A_V * np.asarray(v, dtype=np.float64) + self.B_V) * 1e6 * math.exp(self.C_T / t))

    def beta_v(self, v: ArrayLike) -> FloatArray:
        """Voltage part of the cycle coefficient β_V = 7.348·10⁻³(V − 3.667)² + 7.6·10⁻⁴ (per √Ah)."""
        v_ = np.asarray(v, dtype=np.float64)
        return _out(self.BQ_A * (v_ - self.BQ_V0) ** 2 + self.BQ_C)

    def beta_v_integral(self, s: ArrayLike) -> FloatArray:
        """Exact ``∫₀ˢ β_V(V(u)) du`` (piecewise quadratic integrand)."""
        s_ = _soc(s, "s")
        return _out(self._bint(s_))

    # internals --------------------------------------------------------------------------------------------
    def _rate_of_v(self, v: FloatArray, tk: float) -> FloatArray:
        p = self.params
        alpha = (self.A_V * v + self.B_V) * 1e6 * math.exp(self.C_T / tk)
        return p.k_fade * 0.75 * alpha * p.age_days**-0.25 / 24.0

    def _seg(self, s: FloatArray) -> tuple[npt.NDArray[np.intp], FloatArray, FloatArray]:
        """Piece index k, offset u = s − x_k and OCV V(s) on the uniform 0.1 grid (s already in [0, 1])."""
        with np.errstate(invalid="ignore"):
            k = np.clip((s * 10.0).astype(np.intp), 0, 9)  # NaN -> any piece, result stays NaN
        u = s - self.SOC_GRID[k]
        return k, u, self.OCV[k] + u * self._slope[k]

    def _rate(self, s: FloatArray) -> FloatArray:
        _k, _u, v = self._seg(s)
        return self._r_a + self._r_b * v

    def _mean_v(self, s1: FloatArray, s2: FloatArray, g1: tuple, g2: tuple) -> FloatArray:  # type: ignore[type-arg]
        """Exact mean of V(s) over [s1, s2] (V itself if |s2 − s1| ≤ 1e-9, error ≤ 1e-9·max slope)."""

        def prim(g: tuple) -> FloatArray:  # type: ignore[type-arg]
            k, u, v = g
            return self._pcum[k] + u * (self.OCV[k] + v) * 0.5

        ds = s2 - s1
        small = np.abs(ds) <= 1e-9
        mean = (prim(g2) - prim(g1)) / np.where(small, 1.0, ds)
        return np.where(small, 0.5 * (g1[2] + g2[2]), mean)

    def _mean_rate(self, s1: FloatArray, s2: FloatArray) -> FloatArray:
        # r is affine in V (α affine in V): mean r = r_a + r_b·mean V
        return self._r_a + self._r_b * self._mean_v(s1, s2, self._seg(s1), self._seg(s2))

    def _bint_seg(self, g: tuple) -> FloatArray:  # type: ignore[type-arg]
        k, u, v = g
        e0 = self.OCV[k] - self.BQ_V0
        e1 = v - self.BQ_V0
        return self._bcum[k] + u * (self.BQ_A * (e0 * e0 + e0 * e1 + e1 * e1) / 3.0 + self.BQ_C)

    def _bint(self, s: FloatArray) -> FloatArray:
        return self._bint_seg(self._seg(s))

    def _phi(self, d: FloatArray) -> FloatArray:
        p = self.params
        return p.k_fade * self.BQ_DOD * self.C_CELL * d * d / math.sqrt(self.q_l)

    def _cycle(self, s1: FloatArray, s2: FloatArray, c: FloatArray | None) -> FloatArray:
        return self._cyc_k * np.abs(self._bint(s2) - self._bint(s1)) + self._depth_rule(s1, s2)

    def _transition(self, s1: FloatArray, s2: FloatArray, h: FloatArray, c: FloatArray | None) -> FloatArray:
        g1, g2 = self._seg(s1), self._seg(s2)
        cal = h * (self._r_a + self._r_b * self._mean_v(s1, s2, g1, g2))
        cyc = self._cyc_k * np.abs(self._bint_seg(g2) - self._bint_seg(g1)) + self._depth_rule(s1, s2)
        return cal + cyc


# ----------------------------------------------------------------------------------------------------------------
# (b) LFP — Naumann et al. 2018 (calendar) + Wang et al. 2011 (cycle)
# ----------------------------------------------------------------------------------------------------------------
class LfpModel(DegradationModel):
    """LFP: Naumann et al. (2018) calendar + Wang et al. (2011) cycle, mess.md §4.3.

    * Calendar fade = k_T·k_SoC(s)·√t (t in s), k_T = 1.2571·10⁻⁵·exp(−17126/8.3144598·(1/T − 1/298.15)),
      k_SoC(s) = 2.8575(s − 0.5)³ + 0.60225; marginal rate r(s) = K·k_T·k_SoC(s)/(2√t_age)·3600 $/h, integrated
      exactly over linear SoC (cubic mean in closed form).
    * Cycle (discharge only, depth independent): fade % = B(C)·exp((−31700 + 370.3·C)/(8.314·T))·A^0.55 with A the
      discharged Ah of the 2.2 Ah cell, C clamped to [0.5, 10], B piecewise linear through (0.5, 31630), (2, 21681),
      (6, 12934), (10, 15512); marginal cost K·0.01·0.55·B(C)·exp(…)·A_L^−0.45·ΔA, A_L = efc_lifetime·2.2,
      ΔA = (s1 − s2)·2.2.
    """

    name = "lfp"
    C_CELL: ClassVar[float] = 2.2
    KT_REF: ClassVar[float] = 1.2571e-5
    EA_CAL: ClassVar[float] = 17126.0
    R_CAL: ClassVar[float] = 8.3144598
    KSOC_A: ClassVar[float] = 2.8575
    KSOC_B: ClassVar[float] = 0.60225
    B_C: ClassVar[FloatArray] = np.array([0.5, 2.0, 6.0, 10.0])
    B_VAL: ClassVar[FloatArray] = np.array([31630.0, 21681.0, 12934.0, 15512.0])
    EA_CYC: ClassVar[float] = 31700.0
    EA_C: ClassVar[float] = 370.3
    R_CYC: ClassVar[float] = 8.314
    Z: ClassVar[float] = 0.55
    C_MIN: ClassVar[float] = 0.5
    C_MAX: ClassVar[float] = 10.0

    def __init__(self, params: BatteryParams | None = None) -> None:
        super().__init__(params)
        p = self.params
        tk = p.temperature_k
        self.k_t = self.KT_REF * math.exp(-self.EA_CAL / self.R_CAL * (1.0 / tk - 1.0 / 298.15))
        self.t_age_s = p.age_days * 86400.0
        self._r0 = p.k_fade * self.k_t / (2.0 * math.sqrt(self.t_age_s)) * 3600.0
        self.a_l = p.efc_lifetime * self.C_CELL
        # $ per (unit SoC discharged × unit fade-fraction coefficient): K·0.55·A_L^−0.45·2.2
        self._cyc0 = p.k_fade * self.Z * self.a_l ** (self.Z - 1.0) * self.C_CELL

    def k_soc(self, s: ArrayLike) -> FloatArray:
        """k_SoC(s) = 2.8575(s − 0.5)³ + 0.60225 (Naumann et al. 2018)."""
        x = _soc(s, "s") - 0.5
        return _out(self.KSOC_A * x**3 + self.KSOC_B)

    def b_of_c(self, c_rate: ArrayLike) -> FloatArray:
        """B(C): piecewise linear through the Wang et al. points, C clamped to [0.5, 10]."""
        c = np.clip(np.asarray(c_rate, dtype=np.float64), self.C_MIN, self.C_MAX)
        return _out(np.interp(c, self.B_C, self.B_VAL))

    def cycle_coefficient(self, c_rate: ArrayLike | None = None) -> FloatArray:
        """Fade fraction per Ah^0.55: 0.01·B(C)·exp((−31700 + 370.3·C)/(8.314·T)), C clamped to [0.5, 10]."""
        c = np.clip(
            np.asarray(self.C_MIN if c_rate is None else c_rate, dtype=np.float64), self.C_MIN, self.C_MAX
        )
        b = np.interp(c, self.B_C, self.B_VAL)
        return _out(
            0.01 * b * np.exp((-self.EA_CYC + self.EA_C * c) / (self.R_CYC * self.params.temperature_k))
        )

    def _rate(self, s: FloatArray) -> FloatArray:
        x = s - 0.5
        return self._r0 * (self.KSOC_A * x**3 + self.KSOC_B)

    def _mean_rate(self, s1: FloatArray, s2: FloatArray) -> FloatArray:
        # mean of x³ over [x1, x2] = (x1 + x2)(x1² + x2²)/4 (exact, also for x1 = x2)
        x1, x2 = s1 - 0.5, s2 - 0.5
        return self._r0 * (self.KSOC_A * (x1 + x2) * (x1 * x1 + x2 * x2) / 4.0 + self.KSOC_B)

    def _cycle(self, s1: FloatArray, s2: FloatArray, c: FloatArray | None) -> FloatArray:
        coef = np.asarray(self.cycle_coefficient(c))
        return self._cyc0 * coef * np.maximum(s1 - s2, 0.0)

    def _phi(self, d: FloatArray) -> FloatArray:
        # depth-independent: one full cycle of depth D discharges D·2.2 Ah (at the default C-rate)
        return self._cycle(np.ones_like(d), 1.0 - d, None)


# ----------------------------------------------------------------------------------------------------------------
# (c) generalized DoD model
# ----------------------------------------------------------------------------------------------------------------
class GeneralizedModel(DegradationModel):
    """Generalized depth-of-discharge cycle-life model, mess.md §4.4.

    N(D) = β0·D^−β1·e^{β2(1−D)} full cycles to end of life at depth D; Φ(D) = cost_usd/N(D) (Φ(0) = 0), used with
    the cycle-depth rule of §4.1. No calendar term.
    """

    name = "generalized"

    def cycles_to_eol(self, depth: ArrayLike) -> FloatArray:
        """N(D) = β0·D^−β1·e^{β2(1−D)} (inf at D = 0)."""
        d = _soc(depth, "depth")
        p = self.params
        with np.errstate(divide="ignore"):
            return _out(p.beta0 * d**-p.beta1 * np.exp(p.beta2 * (1.0 - d)))

    def _phi(self, d: FloatArray) -> FloatArray:
        p = self.params
        return p.cost_usd / p.beta0 * d**p.beta1 * np.exp(-p.beta2 * (1.0 - d))

    def _cycle(self, s1: FloatArray, s2: FloatArray, c: FloatArray | None) -> FloatArray:
        return self._depth_rule(s1, s2)


# ----------------------------------------------------------------------------------------------------------------
# prototype presets (mess.md §4.5)
# ----------------------------------------------------------------------------------------------------------------
class _ProtoModel(DegradationModel):
    """Common part of the prototype presets: per travel leg only, 0 for s_f > 85 %, clipped to [0, 1000] $."""

    is_leg_model = True
    Q_KWH: ClassVar[float] = 350.0
    S_F_MAX: ClassVar[float] = 85.0
    CLIP: ClassVar[float] = 1000.0

    def leg(self, s_i: ArrayLike, s_f: ArrayLike, t0_h: ArrayLike, t1_h: ArrayLike) -> FloatArray:
        """Wear in $ of one travel leg (mess.md §4.5).

        Parameters
        ----------
        s_i, s_f
            Start and end SoC as **fractions** in [0, 1] (the prototype's percentages are 100·s).
        t0_h, t1_h
            The leg's clock start and end time in hours of the day (grid times in P_Δ); the prototype uses clock
            time as battery age.
        """
        si = _soc(s_i, "s_i") * 100.0
        sf = _soc(s_f, "s_f") * 100.0
        t0, t1 = _nonneg(t0_h, "t0_h"), _nonneg(t1_h, "t1_h")
        if np.any(t1 < t0):
            raise TenflowError("degradation: a leg must end no earlier than it starts (t1_h < t0_h)")
        si, sf, t0, t1 = np.broadcast_arrays(si, sf, t0, t1)
        raw = self._raw(si, sf, t0, t1)
        out = np.where(sf > self.S_F_MAX, 0.0, np.clip(raw, 0.0, self.CLIP))
        return _out(np.asarray(out, dtype=np.float64))

    def _raw(self, si: FloatArray, sf: FloatArray, t0: FloatArray, t1: FloatArray) -> FloatArray:
        raise NotImplementedError


class ProtoM3Gen(_ProtoModel):
    """``proto-m3-gen``: C = 60 000 $, β = (4901, 1.98, 0.016); deg = C/N(1 − s_f/100) − C/N(0.15) for s_f < 85.

    Quirk reproduced: the start SoC is ignored (hard-wired 85 %).
    """

    name = "proto-m3-gen"
    C_USD: ClassVar[float] = 60000.0
    BETA: ClassVar[tuple[float, float, float]] = (4901.0, 1.98, 0.016)

    @classmethod
    def _n(cls, d: FloatArray) -> FloatArray:
        b0, b1, b2 = cls.BETA
        with np.errstate(divide="ignore"):
            return b0 * d**-b1 * np.exp(b2 * (1.0 - d))

    def _raw(self, si: FloatArray, sf: FloatArray, t0: FloatArray, t1: FloatArray) -> FloatArray:
        d = 1.0 - sf / 100.0
        n_ref = float(self._n(np.array(0.15)))
        return np.where(sf < self.S_F_MAX, self.C_USD / self._n(d) - self.C_USD / n_ref, 0.0)

    def _phi(self, d: FloatArray) -> FloatArray:
        b0, b1, b2 = self.BETA
        return self.C_USD / b0 * d**b1 * np.exp(-b2 * (1.0 - d))


class ProtoM2Lfp(_ProtoModel):
    """``proto-m2-lfp`` (mess.md §4.5), including the quirks: the current in A (437.5) multiplies the per-C-rate
    coefficient so the cycle term is ≈ 10⁻³³ (calendar only), and clock time is used as battery age.

    cal = z·B_cal(s_i)·exp(−E_cal/RT)·t₀'^(z−1)·Δ (0 if t₀' = 0), t₀' = t₀/24, Δ = (t₁ − t₀)/24;
    cyc = z·B_cyc(I)·exp(−(E_cyc + α·I)/RT)·A₀^(z−1)·(A₁ − A₀) (0 if A₀ = 0 or A₀ ≥ 875 000),
    A₁ = A₀ + |s_i − s_f|·Q/100; deg = (cal + cyc)/100·10 000.
    """

    name = "proto-m2-lfp"
    R: ClassVar[float] = 8.314
    T: ClassVar[float] = 308.15
    E_CAL: ClassVar[float] = 26500.0
    E_CYC: ClassVar[float] = 32000.0
    Z: ClassVar[float] = 0.5
    ALPHA: ClassVar[float] = 370.3
    I_A: ClassVar[float] = 0.5 * 875.0
    A_MAX: ClassVar[float] = 875000.0

    @staticmethod
    def b_cal(si: ArrayLike) -> FloatArray:
        """B_cal(s_i), s_i in %: 7.34e5 up to 30, linear to 6.75e5 at 65, linear to 2.18e5 at 100."""
        return _out(
            np.interp(np.asarray(si, dtype=np.float64), [30.0, 65.0, 100.0], [7.34e5, 6.75e5, 2.18e5])
        )

    @staticmethod
    def b_cyc(i_a: ArrayLike) -> FloatArray:
        """B_cyc(I): 3.16e4 (I ≤ 1), linear to 2.17e4 (4), 1.29e4 (12), 1.55e4 (20), 1.0e4 above 20."""
        i = np.asarray(i_a, dtype=np.float64)
        v = np.interp(i, [1.0, 4.0, 12.0, 20.0], [3.16e4, 2.17e4, 1.29e4, 1.55e4])
        return _out(np.where(i > 20.0, 1.0e4, v))

    def _raw(self, si: FloatArray, sf: FloatArray, t0: FloatArray, t1: FloatArray) -> FloatArray:
        rt = self.R * self.T
        t0d = t0 / 24.0
        dlt = (t1 - t0) / 24.0
        with np.errstate(divide="ignore", invalid="ignore"):
            cal = np.where(
                t0d > 0,
                self.Z
                * self.b_cal(si)
                * math.exp(-self.E_CAL / rt)
                * np.where(t0d > 0, t0d, 1.0) ** (self.Z - 1.0)
                * dlt,
                0.0,
            )
        a0 = self.params.throughput_ref_kwh
        da = np.abs(si - sf) * self.Q_KWH / 100.0
        if a0 == 0.0 or a0 >= self.A_MAX:
            cyc = np.zeros_like(da)
        else:
            cyc = (
                self.Z
                * float(self.b_cyc(self.I_A))
                * math.exp(-(self.E_CYC + self.ALPHA * self.I_A) / rt)
                * a0 ** (self.Z - 1.0)
                * da
            )
        return (cal + cyc) / 100.0 * 10000.0


class ProtoM1Nmc(_ProtoModel):
    """``proto-m1-nmc`` (historical Model 1, mess.md §4.5), including the quirks: 10⁻⁶ instead of 10⁶ (calendar
    ≈ 0), pack voltage in α but pack voltage/100 in β, DoD in percent points, throughput in kWh.

    V(s) = 360 + 0.4·s, ψ = 350/3.6, T = 308.15; α_cal = (7.543·V(s_i) − 23.75)·10⁻⁶·exp(−6976/T)/ψ;
    β = (7.348e-3·(V̄/100 − 3.667)² + 7.6e-4 + 4.081e-3·|s_f − s_i|)/ψ, V̄ = (V(s_i) + V(s_f))/2;
    cal = 0.75·α_cal·t₀'^−0.25·Δ (0 if t₀' = 0); A₁ = A₀ + |s_i − s_f|·Q/100;
    cyc = β/(2√A₀)·(A₁ − A₀) if A₀ > 0 else (β/2)·√A₁; deg = (cal + cyc)·10 000.
    """

    name = "proto-m1-nmc"
    T: ClassVar[float] = 308.15
    PSI: ClassVar[float] = 350.0 / 3.6

    def _raw(self, si: FloatArray, sf: FloatArray, t0: FloatArray, t1: FloatArray) -> FloatArray:
        def v(s: FloatArray) -> FloatArray:
            return 360.0 + 0.4 * s

        alpha = (7.543 * v(si) - 23.75) * 1e-6 * math.exp(-6976.0 / self.T) / self.PSI
        vbar = 0.5 * (v(si) + v(sf))
        beta = (7.348e-3 * (vbar / 100.0 - 3.667) ** 2 + 7.6e-4 + 4.081e-3 * np.abs(sf - si)) / self.PSI
        t0d = t0 / 24.0
        dlt = (t1 - t0) / 24.0
        cal = np.where(t0d > 0, 0.75 * alpha * np.where(t0d > 0, t0d, 1.0) ** -0.25 * dlt, 0.0)
        a0 = self.params.throughput_ref_kwh
        da = np.abs(si - sf) * self.Q_KWH / 100.0
        if a0 > 0:
            cyc = beta / (2.0 * math.sqrt(a0)) * da
        else:
            cyc = beta / 2.0 * np.sqrt(da)
        return (cal + cyc) * 10000.0


# ----------------------------------------------------------------------------------------------------------------
# factory and accounting helpers
# ----------------------------------------------------------------------------------------------------------------
_REGISTRY: dict[str, type[DegradationModel]] = {
    "nmc": NmcModel,
    "lfp": LfpModel,
    "generalized": GeneralizedModel,
    "dod": GeneralizedModel,
    "proto-m1-nmc": ProtoM1Nmc,
    "proto-m2-lfp": ProtoM2Lfp,
    "proto-m3-gen": ProtoM3Gen,
}


def make_model(name: str, params: BatteryParams | None = None) -> DegradationModel:
    """Create the degradation model ``name`` (one of :data:`MODEL_NAMES`, mess.md §2.2 ``battery.model``).

    Raises
    ------
    CaseError
        ``E-BATTERY`` naming ``battery.model`` if the name is unknown.
    """
    key = str(name).strip().lower()
    if key not in _REGISTRY:
        raise CaseError(
            f"unknown degradation model {name!r} (expected one of {', '.join(MODEL_NAMES)})",
            file="case.toml",
            field="battery.model",
            code="E-BATTERY",
        )
    return _REGISTRY[key](params)


def idle_pack_cost(model: DegradationModel, s_dep: float, n_packs: float, hours: float) -> float:
    """Constant calendar term of idle packs held at ``s_dep``: N·H·r(s_dep) in $ (mess.md §4.1).

    Trip transitions then carry only :func:`calendar_excess`. Zero for leg models and models without calendar wear.
    """
    if n_packs < 0 or hours < 0:
        raise TenflowError("degradation: idle_pack_cost needs n_packs >= 0 and hours >= 0")
    return float(n_packs * hours * float(model.calendar_rate(s_dep)))


def calendar_excess(
    model: DegradationModel, s1: ArrayLike, s2: ArrayLike, hours: ArrayLike, s_dep: float
) -> FloatArray:
    """Calendar wear of a trip arc relative to an idle pack at ``s_dep``: calendar − hours·r(s_dep) (mess.md §4.1).

    May be negative (a pack below ``s_dep`` ages slower than the idle pack it replaces).
    """
    h = _nonneg(hours, "hours")
    return _out(
        np.asarray(model.calendar(s1, s2, h), dtype=np.float64) - h * float(model.calendar_rate(s_dep))
    )


# ----------------------------------------------------------------------------------------------------------------
# ex-post assessment (mess.md §4.7)
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SocTrajectory:
    """A pack's SoC trajectory, linear between the given points (mess.md §4.7).

    Attributes
    ----------
    times_h
        Non-decreasing times in hours.
    soc
        SoC fractions at those times.
    """

    times_h: FloatArray
    soc: FloatArray


def soc_trajectory(times_h: ArrayLike, soc: ArrayLike) -> SocTrajectory:
    """Validate and build a :class:`SocTrajectory` (times non-decreasing, same length, SoC in [0, 1])."""
    t = np.asarray(times_h, dtype=np.float64).ravel()
    s = _soc(np.asarray(soc, dtype=np.float64).ravel(), "soc")
    if t.shape != s.shape:
        raise TenflowError(f"degradation: soc_trajectory needs equal lengths (times {t.size}, soc {s.size})")
    if t.size < 1:
        raise TenflowError("degradation: soc_trajectory needs at least one point")
    if not np.all(np.isfinite(t)):
        raise TenflowError("degradation: soc_trajectory times must be finite")
    if np.any(np.diff(t) < 0):
        i = int(np.argmax(np.diff(t) < 0))
        raise TenflowError(
            f"degradation: soc_trajectory times decrease at point {i + 1} ({t[i]} -> {t[i + 1]} h)"
        )
    return SocTrajectory(times_h=t, soc=s)


def _episodes(soc: FloatArray) -> tuple[list[float], list[float]]:
    """Depths of discharge episodes and heights of charge episodes (maximal monotone runs, flats ignored)."""
    d = np.diff(soc)
    d = d[d != 0]
    if d.size == 0:
        return [], []
    sign = np.sign(d)
    brk = np.flatnonzero(sign[1:] != sign[:-1]) + 1
    starts = np.concatenate([[0], brk])
    ends = np.concatenate([brk, [d.size]])
    dis: list[float] = []
    chg: list[float] = []
    for a, b in zip(starts, ends, strict=True):
        tot = float(d[a:b].sum())
        (dis if tot < 0 else chg).append(abs(tot))
    return dis, chg


def nmc_fade_increment(
    model: NmcModel, traj: SocTrajectory, age_days: float, q_ah: float
) -> dict[str, float]:
    """Exact nonlinear Schmalstieg fade increment F(age + Δt, Q + ΔQ) − F(age, Q) along ``traj`` (§4.7).

    F(t, Q) = ᾱ·t^0.75 + β̄·√Q, where ᾱ is the exact time average of α(V(s(t)), T) along the (piecewise linear)
    trajectory and β̄·ΔQ = C_cell·∫ β_V(V) |ds| + Σ_rainflow n·4.081·10⁻³·D·(2·D·C_cell) (each rainflow cycle of
    range D and count n carries throughput 2·n·D·C_cell at stress 4.081·10⁻³·D). Also returns the linearised
    (marginal, as planned) increment for comparison.
    """
    import rainflow

    t, s = traj.times_h, traj.soc
    dt_h = np.diff(t)
    span_h = float(t[-1] - t[0])
    # time-integral of alpha: alpha is affine in V and V piecewise linear in s; mean over each segment exact
    k_rate = model.params.k_fade * 0.75 * model.params.age_days**-0.25 / 24.0  # r = k_rate·α
    alpha_int_h = float(np.sum(dt_h * model._mean_rate(s[:-1], s[1:]))) / k_rate if dt_h.size else 0.0
    alpha_bar = alpha_int_h / span_h if span_h > 0 else 0.0
    dq = model.C_CELL * float(np.sum(np.abs(np.diff(s))))
    bv = model.C_CELL * float(np.sum(np.abs(model._bint(s[1:]) - model._bint(s[:-1])))) if s.size > 1 else 0.0
    dod = sum(
        n * model.BQ_DOD * rng * 2.0 * rng * model.C_CELL for rng, _m, n, _i, _j in rainflow.extract_cycles(s)
    )
    beta_dq = bv + dod
    dt_d = span_h / 24.0
    cal_exact = alpha_bar * ((age_days + dt_d) ** 0.75 - age_days**0.75)
    cal_lin = alpha_bar * 0.75 * age_days**-0.25 * dt_d if age_days > 0 else cal_exact
    beta_bar = beta_dq / dq if dq > 0 else 0.0
    cyc_exact = beta_bar * (math.sqrt(q_ah + dq) - math.sqrt(q_ah))
    cyc_lin = beta_dq / (2.0 * math.sqrt(q_ah)) if q_ah > 0 else cyc_exact
    return {
        "alpha_bar": alpha_bar,
        "beta_bar": beta_bar,
        "throughput_ah_per_cell": dq,
        "fade_calendar_exact": cal_exact,
        "fade_cycle_exact": cyc_exact,
        "fade_exact": cal_exact + cyc_exact,
        "fade_calendar_marginal": cal_lin,
        "fade_cycle_marginal": cyc_lin,
        "fade_marginal": cal_lin + cyc_lin,
    }


def lfp_fade_increment(
    model: LfpModel, traj: SocTrajectory, age_days: float, a_ah: float
) -> dict[str, float]:
    """Exact nonlinear LFP fade increment F(age + Δt, A + ΔA) − F(age, A) along ``traj`` (§4.7).

    Calendar: k_T·k̄_SoC·(√(t + Δt) − √t), t in s, k̄_SoC the exact time average along the trajectory.
    Cycle: c̄·((A + ΔA)^0.55 − A^0.55), c̄ the discharge-weighted mean of 0.01·B(C)·exp(…), C of each discharge
    segment = its SoC slope in 1/h (pack C-rate), A in Ah of the 2.2 Ah cell.
    """
    t, s = traj.times_h, traj.soc
    dt_h = np.diff(t)
    span_h = float(t[-1] - t[0])
    ksoc_int = float(np.sum(dt_h * model._mean_rate(s[:-1], s[1:]))) / model._r0 if dt_h.size else 0.0
    ksoc_bar = ksoc_int / span_h if span_h > 0 else 0.0
    t_age = age_days * 86400.0
    dts = span_h * 3600.0
    cal_exact = model.k_t * ksoc_bar * (math.sqrt(t_age + dts) - math.sqrt(t_age))
    cal_lin = model.k_t * ksoc_bar * dts / (2.0 * math.sqrt(t_age)) if t_age > 0 else cal_exact
    ds = s[:-1] - s[1:]
    dis = ds > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(dt_h > 0, np.abs(ds) / np.where(dt_h > 0, dt_h, 1.0), LfpModel.C_MAX)
    da = np.where(dis, ds, 0.0) * model.C_CELL
    da_tot = float(da.sum())
    coef = np.asarray(model.cycle_coefficient(c))
    c_bar = float(np.sum(coef * da)) / da_tot if da_tot > 0 else 0.0
    z = model.Z
    cyc_exact = c_bar * ((a_ah + da_tot) ** z - a_ah**z)
    cyc_lin = c_bar * z * a_ah ** (z - 1.0) * da_tot if a_ah > 0 else cyc_exact
    return {
        "k_soc_bar": ksoc_bar,
        "cycle_coef_bar": c_bar,
        "discharged_ah_per_cell": da_tot,
        "fade_calendar_exact": cal_exact,
        "fade_cycle_exact": cyc_exact,
        "fade_exact": cal_exact + cyc_exact,
        "fade_calendar_marginal": cal_lin,
        "fade_cycle_marginal": cyc_lin,
        "fade_marginal": cal_lin + cyc_lin,
    }


def ex_post(model: DegradationModel, traj: SocTrajectory) -> dict[str, Any]:
    """Ex-post wear assessment of one pack's SoC trajectory (mess.md §4.7; informational, never optimised).

    Returns a dict with

    * ``rainflow_cycles`` (full-cycle equivalents, ASTM E1049 via the ``rainflow`` package), ``rainflow_full``,
      ``rainflow_half`` (counts of full and half cycles) and ``rainflow_cost`` = Σ n·Φ(range) with the model's Φ;
    * ``discharge_episodes`` / ``charge_episodes`` (half cycles between charge events), ``half_cycles`` (their sum),
      ``episode_depths`` and ``episode_cost`` = Σ Φ(depth) (each discharge episode as one cycle of its own depth);
    * ``planned_calendar``, ``planned_cycle``, ``planned_cost``: the additive product rule of §4.1 along the
      trajectory (per segment, lfp with the segment's SoC slope as C-rate) — for leg models the sum of
      :meth:`DegradationModel.leg` over the discharging/charging segments with their clock times;
    * for ``nmc`` / ``lfp``: ``fade`` (see :func:`nmc_fade_increment` / :func:`lfp_fade_increment`) at the
      pack's lifetime state, ``cost_exact`` = K·fade_exact and ``cost_marginal`` = K·fade_marginal.
    """
    import rainflow

    s, t = traj.soc, traj.times_h
    cycles = list(rainflow.extract_cycles(s)) if s.size > 1 else []
    full = sum(1 for c in cycles if c[2] == 1.0)
    half = sum(1 for c in cycles if c[2] == 0.5)
    phi_of = model.phi
    rf_cost = float(sum(n * float(phi_of(min(rng, 1.0))) for rng, _m, n, _i, _j in cycles))
    dis, chg = _episodes(s)
    ep_cost = float(sum(float(phi_of(min(d, 1.0))) for d in dis))
    out: dict[str, Any] = {
        "model": model.name,
        "rainflow_cycles": float(sum(c[2] for c in cycles)),
        "rainflow_full": full,
        "rainflow_half": half,
        "rainflow_cost": rf_cost,
        "discharge_episodes": len(dis),
        "charge_episodes": len(chg),
        "half_cycles": len(dis) + len(chg),
        "episode_depths": dis,
        "episode_cost": ep_cost,
    }
    dt_h = np.diff(t)
    if model.is_leg_model:
        moving = s[:-1] != s[1:]
        legs = model.leg(s[:-1][moving], s[1:][moving], t[:-1][moving], t[1:][moving]) if s.size > 1 else 0.0
        out.update(planned_calendar=0.0, planned_cycle=0.0, planned_cost=float(np.sum(legs)))
        return out
    if s.size > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(dt_h > 0, np.abs(np.diff(s)) / np.where(dt_h > 0, dt_h, 1.0), LfpModel.C_MAX)
        cal = float(np.sum(model.calendar(s[:-1], s[1:], dt_h)))
        cyc = float(np.sum(model.cycle(s[:-1], s[1:], c)))
    else:
        cal = cyc = 0.0
    out.update(planned_calendar=cal, planned_cycle=cyc, planned_cost=cal + cyc)
    p = model.params
    if isinstance(model, NmcModel):
        f = nmc_fade_increment(model, traj, p.age_days, model.q_l)
    elif isinstance(model, LfpModel):
        f = lfp_fade_increment(model, traj, p.age_days, model.a_l)
    else:
        return out
    out["fade"] = f
    out["cost_exact"] = p.k_fade * f["fade_exact"]
    out["cost_marginal"] = p.k_fade * f["fade_marginal"]
    return out
