"""Schema of the OMTEPF case format: ``case.toml`` sections and the CSV component tables.

Every attribute of the case format is declared exactly once here (name, type, unit, default, description,
range); the declarations drive reading/typing (:func:`tenflow.case.schema.read_table`), default filling,
validation and the generated reference ``docs/case-format.md``. The content follows omtepf.md §8.1
(general TEN input format) and §2 (parameters and their defaults).

Identifier convention: **every id is a string** (``"1"``, ``"R10"``, ``"EV7"``); references between tables
(``roads.a`` → ``buffers.id``, ``loads.bus`` → ``buffers.id`` with ``is_bus``, ``itineraries.ev`` → ``evs.id``,
...) compare strings exactly.

Attributes whose default is ``None`` inherit a case-level value when left empty (documented per attribute,
e.g. ``roads.cost`` ← ``costs.c_T``); after loading every such cell holds the resolved value.
"""

from __future__ import annotations

import math

from tenflow.case.schema import REQUIRED, Attr, Component, Section

#: the per-firing current unit phasor of omtepf.md §2.2 (pf 0.9 lagging): u = 0.9 - j 0.43589
PF_DEFAULT = 0.9

# ---------------------------------------------------------------------------------------------- case.toml

META = Section(
    "meta",
    (
        Attr("name", "str", "", REQUIRED, "Case name (short, used in reports and file names)."),
        Attr("kind", "str", "", "omtepf", "Case kind; tenflow's OMTEPF format.", choices=("omtepf",)),
        Attr("description", "str", "", "", "Free text."),
        Attr("start_time", "str", "HH:MM", "06:00", "Clock time of the start of step k = 0 (omtepf.md §1.1)."),
        Attr("step_minutes", "int", "min", 15, "Length of one time step.", positive=True),
        Attr("K", "int", "steps", 57, "Number of firing steps k = 0..K-1 (markings at 0..K).", positive=True,
             max=100_000),
        Attr("s_base_mva", "float", "MVA", 1.0, "Per-unit power base.", positive=True),
        Attr("v_base_kv", "float", "kV", 1.0, "Per-unit voltage base.", positive=True),
    ),
    "Identification and time grid of the case.",
)

OPTIONS = Section(
    "options",
    (
        Attr("wireless_net_soc", "int", "SoC units", 0,
             "Semantics of an electrified (inductive/wire) traversal in the operand net (omtepf.md §3.4): "
             "0 = semantics A (charge `charge_rate` AND discharge `depletion`; net = rate - depletion), "
             "2 = semantics B (charge only, Table V literally).", min=0, max=2),
        Attr("revenue_mode", "str", "", "ccp", "Demand-revenue treatment (omtepf.md §3.10).",
             choices=("ccp", "exact", "tangent")),
        Attr("secant_theta_deg", "float", "deg", 0.0, "Secant angle of the voltage lower bound (eq. 57).",
             min=0.0, max=89.0),
        Attr("one_way_lines", "bool", "", True,
             "Default of `lines.one_way`: real part of every line current >= 0 (radial grids only)."),
        Attr("v_min", "float", "p.u.", 0.9, "Lower voltage magnitude limit.", positive=True),
        Attr("v_max", "float", "p.u.", 1.1, "Upper voltage magnitude limit.", positive=True),
    ),
    "Modelling options.",
)

COSTS = Section(
    "costs",
    (
        Attr("c_T", "float", "per traversal", 0.05, "Transport cost per road traversal (eq. 59); default of `roads.cost`.", min=0.0),
        Attr("c_Q", "float", "per EV-step", 0.05, "Queueing cost per queued EV-step (eq. 60).", min=0.0),
        Attr("c_C", "float", "per charge unit", 0.025,
             "Charging revenue per charge unit (eq. 63); default of `chargers.revenue_per_unit`.", min=0.0),
        Attr("lambda_S", "float", "per p.u.·step", 0.146,
             "Solar reporting price; default of `variable_generators.price_report`.", min=0.0),
    ),
    "Cost coefficients (omtepf.md §2.1, §3.8).",
)

SECTIONS: tuple[Section, ...] = (META, OPTIONS, COSTS)

# ---------------------------------------------------------------------------------------------- tables

BUFFERS = Component(
    "buffers",
    (
        Attr("id", "str", "", REQUIRED, "Buffer (node) id."),
        Attr("name", "str", "", "", "Display name."),
        Attr("kind", "str", "", "other", "What the buffer is.",
             choices=("neighbourhood", "commercial", "intersection", "plant", "other")),
        Attr("x", "float", "", math.nan, "Map x coordinate (empty = none)."),
        Attr("y", "float", "", math.nan, "Map y coordinate (empty = none)."),
        Attr("is_bus", "bool", "", True, "The buffer is also an electrical bus of the distribution grid."),
    ),
    "Buffers: the nodes shared by the transportation network (places of the EV operands) and, when "
    "`is_bus`, the electrical grid (places of the current operands I^r, I^i). omtepf.md §1.2.",
)

ROADS = Component(
    "roads",
    (
        Attr("id", "str", "", REQUIRED, "Road id."),
        Attr("a", "str", "", REQUIRED, "End A (buffer id)."),
        Attr("b", "str", "", REQUIRED, "End B (buffer id)."),
        Attr("two_way", "bool", "", True, "Two directed arcs A→B and B→A (else only A→B)."),
        Attr("capacity", "int", "vehicles per direction per step", REQUIRED,
             "Road capacity per direction per step (eq. 20, §3.6 item 1).", min=0),
        Attr("travel_steps", "int", "steps", 1, "Traversal duration d^T.", positive=True),
        Attr("depletion", "float", "SoC units", 2.0, "SoC depletion per traversal (δ).", min=0.0),
        Attr("cost", "float", "per traversal", None, "Cost per traversal; empty = `costs.c_T`.", min=0.0),
        Attr("charge_mode", "str", "", "none",
             "Electrified road: `inductive` = wireless charging while driving, `wire` = charging by wire "
             "while moving (catenary). Each arc of an electrified road adds one charging capability per EV.",
             choices=("none", "inductive", "wire")),
        Attr("charge_rate", "float", "SoC units per traversal", 0.0, "Charge units gained per electrified traversal.",
             min=0.0),
        Attr("current_re", "float", "p.u. per firing", 0.0, "Real part of the current drawn per electrified traversal."),
        Attr("current_im", "float", "p.u. per firing", 0.0, "Imaginary part of that current."),
        Attr("charge_bus", "str", "", "origin",
             "Bus the current is drawn at: `origin` / `destination` buffer of the traversed arc, or a bus id."),
    ),
    "Roads (transporters of EVs). Arc 2i-1 of road i is A→B, arc 2i is B→A (omtepf.md §1.4).",
)

PARKING = Component(
    "parking",
    (
        Attr("id", "str", "", REQUIRED, "Parking lot id."),
        Attr("buffer", "str", "", REQUIRED, "Buffer of the lot."),
        Attr("capacity", "int", "vehicles", REQUIRED, "Spaces (parking + charging at this buffer, §3.6 item 2).", min=0),
        Attr("eligible", "str", "", "all",
             "Which EVs may park: `all`, `home` (EVs whose home is this buffer) or ';'-separated EV ids."),
    ),
    "Parking lots: one parking capability per (EV, lot) (omtepf.md §1.4).",
)

CHARGERS = Component(
    "chargers",
    (
        Attr("id", "str", "", REQUIRED, "Charger id."),
        Attr("buffer", "str", "", REQUIRED, "Buffer (and bus) of the charger."),
        Attr("type", "str", "", REQUIRED,
             "`home` (private residential), `commercial`, `v2g` (discharging / vehicle-to-grid).",
             choices=("home", "commercial", "v2g")),
        Attr("rate", "float", "SoC units per step", REQUIRED,
             "Charge units per step; for `v2g` the units discharged per step.", positive=True),
        Attr("current_re", "float", "p.u. per firing", REQUIRED,
             "Real part of the current drawn per firing; for `v2g` the injected current (drawn = -current)."),
        Attr("current_im", "float", "p.u. per firing", REQUIRED, "Imaginary part of that current."),
        Attr("plugs", "int", "", 0, "Simultaneous EVs (0 = unlimited).", min=0),
        Attr("eligible", "str", "", "all", "Which EVs may use it: `all`, `home` or ';'-separated EV ids."),
        Attr("revenue_per_unit", "float", "per charge unit", None,
             "Revenue per charge unit (empty = `costs.c_C`); for `v2g` the value to the system of each unit "
             "discharged (R_C counts `c_C` on the net charge plus this price on discharged units, so eq. 66 holds for the net charge)."),
    ),
    "Charging stations (omtepf.md §1.4, §2.2, Table I). Together with electrified roads they express the five "
    "charging modalities: private residential (`home`), commercial, by-wire while moving (`roads.charge_mode=wire`), "
    "inductive (`roads.charge_mode=inductive`), discharging / V2G (`v2g`).",
    required=False,
    allow_empty=True,
)

LINES = Component(
    "lines",
    (
        Attr("id", "str", "", REQUIRED, "Line id."),
        Attr("from", "str", "", REQUIRED, "From bus (line orientation; one-way lines carry I^r >= 0 from → to)."),
        Attr("to", "str", "", REQUIRED, "To bus."),
        Attr("g", "float", "p.u.", REQUIRED, "Series conductance.", min=0.0),
        Attr("b", "float", "p.u.", REQUIRED, "Series susceptance (negative = inductive)."),
        Attr("b_shunt", "float", "p.u.", 0.0, "Total line-charging susceptance of the pi model.", min=0.0),
        Attr("tap", "float", "", 1.0, "Off-nominal tap ratio at the from end.", positive=True),
        Attr("i_max", "float", "p.u.", math.nan, "Thermal current limit |I| (empty = none).", positive=True),
        Attr("one_way", "bool", "", None, "I^r >= 0 in the from → to direction; empty = `options.one_way_lines`."),
    ),
    "Distribution lines (transporters of current, omtepf.md §2.3, §3.7).",
    required=False,
    allow_empty=True,
)

GENERATORS = Component(
    "generators",
    (
        Attr("id", "str", "", REQUIRED, "Generator id."),
        Attr("bus", "str", "", REQUIRED, "Bus."),
        Attr("cost_a", "float", "per p.u.^4", 0.0, "Quartic cost coefficient a_g (in |I|^4).", min=0.0),
        Attr("cost_b", "float", "per p.u.^2", 0.0, "Quadratic cost coefficient b_g (in |I|^2).", min=0.0),
        Attr("cost_c", "float", "per step", 0.0, "Fixed cost c_g per step."),
        Attr("ir_min", "float", "p.u.", 0.0, "Lower bound of I^r."),
        Attr("ir_max", "float", "p.u.", 5.0, "Upper bound of I^r."),
        Attr("ii_min", "float", "p.u.", -5.0, "Lower bound of I^i."),
        Attr("ii_max", "float", "p.u.", 5.0, "Upper bound of I^i."),
    ),
    "Dispatchable generators (controllable current injections, omtepf.md §2.3, eq. 62).",
    required=False,
    allow_empty=True,
)

VARIABLE_GENERATORS = Component(
    "variable_generators",
    (
        Attr("id", "str", "", REQUIRED, "Variable generator (PV) id."),
        Attr("bus", "str", "", REQUIRED, "Bus."),
        Attr("profile", "str", "", REQUIRED, "Name of a column of profiles.csv (shape σ(k), multiplies i_max)."),
        Attr("i_max", "float", "p.u.", REQUIRED, "Peak current magnitude.", min=0.0),
        Attr("pf", "float", "", PF_DEFAULT, "Power factor: I_s[k] = i_max σ(k) (pf - j sqrt(1 - pf²)).", positive=True,
             max=1.0),
        Attr("price_report", "float", "per p.u.·step", None, "Reporting price; empty = `costs.lambda_S`.", min=0.0),
    ),
    "Variable (exogenous) generators such as PV (omtepf.md §4.5).",
    required=False,
    allow_empty=True,
)

LOADS = Component(
    "loads",
    (
        Attr("id", "str", "", REQUIRED, "Load id."),
        Attr("bus", "str", "", REQUIRED, "Bus."),
        Attr("g_profile", "str", "", REQUIRED, "Name of a column of profiles.csv: conductance G[k] in p.u."),
        Attr("pf", "float", "", PF_DEFAULT, "Power factor: B[k] = -G[k] tan(acos pf) (inductive).", positive=True,
             max=1.0),
        Attr("alpha_p", "float", "", 0.0, "Demand revenue coefficient of P² (eq. 64)."),
        Attr("beta_p", "float", "", 0.0, "Demand revenue coefficient of P."),
        Attr("alpha_q", "float", "", 0.0, "Demand revenue coefficient of Q²."),
        Attr("beta_q", "float", "", 0.0, "Demand revenue coefficient of Q."),
        Attr("gamma", "float", "", 0.0, "Constant demand revenue per step."),
    ),
    "Exogenous admittance loads (omtepf.md §3.7, eqs. 52–54).",
    required=False,
    allow_empty=True,
)

EVS = Component(
    "evs",
    (
        Attr("id", "str", "", REQUIRED, "EV id."),
        Attr("home", "str", "", REQUIRED, "Home buffer (must have a parking lot the EV may use)."),
        Attr("battery", "float", "SoC units", 18.0, "Battery capacity (100 % SoC).", positive=True),
        Attr("soc_init", "float", "SoC units", 18.0, "SoC at k = 0.", min=0.0),
        Attr("soc_final", "float", "SoC units", 18.0, "Required SoC at k = K.", min=0.0),
    ),
    "Electric vehicles: one operand per EV (omtepf.md §1.2, §1.5).",
)

ITINERARIES = Component(
    "itineraries",
    (
        Attr("ev", "str", "", REQUIRED, "EV id."),
        Attr("seq", "int", "", REQUIRED, "Sequence number of the window within the EV's day.", min=0),
        Attr("k_from", "int", "step", REQUIRED, "First step of the window.", min=0),
        Attr("k_to", "int", "step", REQUIRED, "Last step of the window (inclusive).", min=0),
        Attr("activity", "str", "", REQUIRED,
             "`stay`: parked (or charging, if `charge`) at `buffer` each step; `travel`: move from the previous "
             "window's buffer (home for the first window) to `buffer`, may queue anywhere and park/charge at the "
             "destination after arriving, no parking elsewhere.", choices=("stay", "travel")),
        Attr("buffer", "str", "", REQUIRED, "Stay: where the EV must be. Travel: the destination."),
        Attr("charge", "bool", "", False, "Charging allowed at `buffer` during this window."),
    ),
    "Itinerary windows (omtepf.md §3.5). Windows of one EV must not overlap and must lie inside 0..K-1; "
    "steps covered by no window are unrestricted (all eligible capabilities). Several workplaces / trips per day "
    "are just more rows.",
    key=("ev", "seq"),
    required=False,
    allow_empty=True,
)

#: profiles.csv is special-cased (dynamic columns); this declaration documents it and its `k` column.
PROFILES = Component(
    "profiles",
    (
        Attr("k", "int", "step", REQUIRED, "Step index 0..K-1 (one row per step, in order)."),
        Attr("<name>", "float", "", REQUIRED,
             "One column per named profile (referenced by `loads.g_profile`, `variable_generators.profile`); "
             "numeric and finite."),
    ),
    "Time profiles: K rows. Column names other than `k` are profile names.",
    key=(),
    required=False,
    allow_empty=True,
)

#: regular tables in file order (profiles handled separately)
TABLES: tuple[Component, ...] = (
    BUFFERS, ROADS, PARKING, CHARGERS, LINES, GENERATORS, VARIABLE_GENERATORS, LOADS, EVS, ITINERARIES,
)
TABLE_NAMES: tuple[str, ...] = tuple(c.name for c in TABLES) + ("profiles",)
