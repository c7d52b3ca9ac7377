"""Schema declarations of the MESS case format (mess.md §2.1–§2.3).

One declaration per ``case.toml`` key (:class:`~tenflow.case.schema.Section`) and per CSV column
(:class:`~tenflow.case.schema.Component`) drives validation, defaults, IO and the generated
documentation ``docs/mess-case-format.md`` (:func:`case_format_markdown`).

Clock times are written ``"HH:MM"`` in files (``"24:00"`` allowed) and are held as float hours of
the day in a loaded :class:`tenflow.mess.case.MessCase` (frames and ``config``).
"""

from __future__ import annotations

import math

from tenflow.case.schema import REQUIRED, Attr, Component, Section, attr_markdown_row, schema_markdown

INF = math.inf
NAN = math.nan

#: columns (per table) and ``case.toml`` keys holding clock times "HH:MM"
TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "sites": ("window_start", "window_end", "work_start", "work_end"),
    "trucks": ("avail_start", "avail_end"),
}

# ---------------------------------------------------------------------------------------------
# case.toml sections
# ---------------------------------------------------------------------------------------------

SECTIONS: tuple[Section, ...] = (
    Section(
        "case",
        (
            Attr("kind", "str", "", "mess", "case kind (dispatch key of tenflow.cases.load)", choices=("mess",)),
            Attr("name", "str", "", REQUIRED, "case name"),
            Attr("description", "str", "", "", "free text"),
        ),
        "Identity.",
    ),
    Section(
        "time",
        (
            Attr("start", "str", "HH:MM", "05:00", "planning horizon start (within one calendar day)"),
            Attr("end", "str", "HH:MM", "24:00", "planning horizon end ('24:00' allowed)"),
            Attr("step_min", "int", "min", 5, "grid step Δ; must divide 60", positive=True),
            Attr("demand_step_min", "int", "min", 15, "step of the excavator simulation (§3.4)", positive=True),
        ),
        "Planning horizon and time grid.",
    ),
    Section(
        "soc",
        (Attr("bucket", "float", "fraction", 0.01, "SoC bucket; 1/bucket must be an integer", positive=True, max=1.0),),
        "SoC discretisation.",
    ),
    Section(
        "depot",
        (
            Attr("node", "str", "", REQUIRED, "depot node id"),
            Attr("s_dep", "float", "fraction", 0.90, "SoC of every pack leaving the depot; minimum SoC of every pack returned", min=0.0, max=1.0),
            Attr("charger_kw", "float", "kW", 0.0, "depot charger power (0 = no charger)", min=0.0),
            Attr("plugs", "int", "", 0, "depot charger plugs (0 = unlimited)", min=0),
            Attr("efficiency", "float", "", 0.95, "depot charger efficiency (0, 1]", positive=True, max=1.0),
            Attr("price_flat", "float", "$/kWh", None, "flat depot tariff (give this or price_bus)", min=0.0),
            Attr("price_bus", "str", "", None, "price-source bus of the depot (give this or price_flat)"),
        ),
        "Depot and its charger.",
    ),
    Section(
        "costs",
        (
            Attr("toll_per_km", "float", "$/km", 0.20, "toll per km driven", min=0.0),
            Attr("maintenance_per_km", "float", "$/km", 0.21, "maintenance per km driven", min=0.0),
            Attr("charge_fee_per_kwh", "float", "$/kWh", 0.0, "added to every grid kWh bought", min=0.0),
            Attr("service_min", "float", "min", 30.0, "duration of a swap at a site", min=0.0),
            Attr("end_energy_credit_per_kwh", "float", "$/kWh", 0.0, "credit for energy left in site packs at work end", min=0.0),
        ),
        "Cost coefficients.",
    ),
    Section(
        "physics",
        (
            Attr("model", "str", "", "truck", "energy model (§3.1 truck, §3.2 prototype)", choices=("truck", "prototype")),
            Attr("g", "float", "m/s²", 9.81, "gravity", positive=True),
            Attr("rho_air", "float", "kg/m³", 1.2, "air density", min=0.0),
            Attr("prototype_phi", "float", "", 1.0, "φ of the prototype energy preset", min=0.0),
        ),
        "Vehicle energy model.",
    ),
    Section(
        "traffic",
        (
            Attr("model", "str", "", "fifo", "travel-time model (§3.3)", choices=("fifo", "prototype", "none")),
            Attr("default_segment", "str", "", None, "time segment covering all times not in `segments`"),
            Attr("default_zone", "int", "", 1, "zone of arcs without zone_km"),
        ),
        "Traffic. Also `segments`: list of `{name, start, end}` tables (times \"HH:MM\", interval [start, end)).",
    ),
    Section(
        "excavators",
        (Attr("policy", "str", "", "threshold", "site demand policy (§3.4)", choices=("threshold", "direct")),),
        "Excavator simulation.",
    ),
    Section(
        "battery",
        (
            Attr("model", "str", "", "generalized", "degradation model (§4)",
                 choices=("nmc", "lfp", "generalized", "dod", "proto-m1-nmc", "proto-m2-lfp", "proto-m3-gen")),
            Attr("cost_usd", "float", "$", 60000.0, "pack replacement cost", min=0.0),
            Attr("eol_fade", "float", "", 0.20, "capacity fade at end of life", positive=True, max=1.0),
            Attr("age_days", "float", "d", 365.0, "lifetime age at which marginal wear is evaluated", positive=True),
            Attr("efc_lifetime", "float", "", 300.0, "lifetime equivalent full cycles at which marginal wear is evaluated", positive=True),
            Attr("temperature_c", "float", "°C", 25.0, "cell temperature", min=-40.0, max=80.0),
            Attr("s_ref", "float", "fraction", 1.0, "reference top of the cycle-depth rule", min=0.0, max=1.0),
        ),
        "Battery degradation.",
    ),
    Section(
        "battery.generalized",
        (
            Attr("beta0", "float", "", 4901.0, "N(D) = β0·D^−β1·e^{β2(1−D)}", positive=True),
            Attr("beta1", "float", "", 1.98, "", min=0.0),
            Attr("beta2", "float", "", 0.016, ""),
        ),
        "Generalized DoD model (§4.4).",
    ),
    Section(
        "battery.proto",
        (Attr("throughput_ref_kwh", "float", "kWh", 0.0, "A₀ of the prototype presets (§4.5)", min=0.0),),
        "Prototype presets.",
    ),
    Section(
        "prices",
        (Attr("source", "str", "", "prototype", "price source (§5)", choices=("table", "prototype", "opf")),),
        "Electricity prices.",
    ),
    Section(
        "prices.prototype",
        (
            Attr("da_fixed_cents", "float", "¢/kWh", 27.0, "constant day-ahead price", min=0.0),
            Attr("da_seed", "int", "", None, "seed of DA = 0.6·default_rng(seed).uniform(30, 60, 24)"),
            Attr("include_rt", "bool", "", True, "add the ΔRT term"),
        ),
        "Prototype price model (§5.2). Also `da_series_cents`: list of 24 day-ahead prices in ¢/kWh.",
    ),
    Section(
        "prices.opf",
        (
            Attr("grid_case", "str", "", None, "grid case of the OPF price source"),
            Attr("feedback", "bool", "", False, "add MESS charging loads and iterate"),
            Attr("max_iter", "int", "", 5, "maximum feedback iterations", positive=True),
        ),
        "OPF prices (§5.3).",
    ),
    Section(
        "solver",
        (
            Attr("time_limit_s", "float", "s", 60.0, "time limit", positive=True),
            Attr("gap_abs", "float", "$", 1e-6, "absolute optimality gap", min=0.0),
            Attr("threads", "int", "", 2, "threads", positive=True),
            Attr("seed", "int", "", 0, "random seed", min=0),
            Attr("max_enum_columns", "int", "", 200000, "closure enumeration limit", positive=True),
        ),
        "Solver options (§6.2).",
    ),
    Section(
        "baselines",
        (
            Attr("min_delivery_soc", "float", "fraction", 0.5, "minimum SoC of a delivered pack", min=0.0, max=1.0),
            Attr("charge_to", "float", "fraction", 0.9, "charging target of the baselines", min=0.0, max=1.0),
        ),
        "Baselines (§6.5).",
    ),
)

SECTION_BY_NAME: dict[str, Section] = {s.name: s for s in SECTIONS}

#: keys handled outside the Attr machinery (lists)
LIST_KEYS: dict[str, tuple[str, ...]] = {
    "traffic": ("segments",),
    "prices.prototype": ("da_series_cents",),
}

# ---------------------------------------------------------------------------------------------
# CSV tables
# ---------------------------------------------------------------------------------------------

NODES = Component(
    "nodes",
    (
        Attr("id", "str", "", REQUIRED, "node id (integers if all ids are integers, else strings); unique"),
        Attr("name", "str", "", "", "label"),
        Attr("role", "str", "", REQUIRED, "node role", choices=("depot", "charger", "site", "junction")),
        Attr("x", "float", "", NAN, "plot coordinate (optional)"),
        Attr("y", "float", "", NAN, "plot coordinate (optional)"),
    ),
    "Road network nodes.",
    key=("id",),
)

ARCS = Component(
    "arcs",
    (
        Attr("from", "str", "", REQUIRED, "tail node id"),
        Attr("to", "str", "", REQUIRED, "head node id (arcs are directed)"),
        Attr("length_km", "float", "km", REQUIRED, "length (must be > 0, error E-ARC-LENGTH)"),
        Attr("grade_pct", "float", "%", 0.0, "road grade γ in percent (θ = atan(γ/100))"),
        Attr("zone_km", "str", "", "",
             "traffic zone pieces in driving order, e.g. `1:2;2:19;3:19`; must sum to length_km ± 1e-9; "
             "empty = whole arc in traffic.default_zone"),
        Attr("free_speed_kmh", "float", "km/h", INF, "speed limit; truck speed = min(speed_kmh, free_speed_kmh)·factor", positive=True),
    ),
    "Directed roads (duplicate (from, to) is error E-ARC-DUP).",
    key=(),
)

SPEED_FACTORS = Component(
    "speed_factors",
    (
        Attr("zone", "int", "", REQUIRED, "traffic zone"),
        Attr("segment", "str", "", REQUIRED, "time segment name"),
        Attr("factor", "float", "", REQUIRED, "multiplies the truck speed", positive=True),
    ),
    "Traffic speed factors per zone and time segment (needed unless traffic.model = \"none\").",
    key=("zone", "segment"),
    required=False,
    allow_empty=True,
)

CHARGERS = Component(
    "chargers",
    (
        Attr("node", "str", "", REQUIRED, "charger node (role charger)"),
        Attr("bus", "str", "", REQUIRED, "bus of the price source"),
        Attr("power_kw", "float", "kW", REQUIRED, "charger power", positive=True),
        Attr("plugs", "int", "", 0, "plugs (0 = unlimited)", min=0),
        Attr("efficiency", "float", "", 0.95, "charging efficiency (0, 1]", positive=True, max=1.0),
        Attr("fee_per_kwh", "float", "$/kWh", 0.0, "fee per grid kWh", min=0.0),
    ),
    "En-route chargers.",
    key=("node",),
    required=False,
    allow_empty=True,
)

SITES = Component(
    "sites",
    (
        Attr("node", "str", "", REQUIRED, "site node (role site)"),
        Attr("name", "str", "", "", "label"),
        Attr("mess_kwh", "float", "kWh", REQUIRED, "installed pack capacity", positive=True),
        Attr("soc_init", "float", "fraction", REQUIRED, "SoC of the installed pack at the horizon start", min=0.0, max=1.0),
        Attr("reserve_soc", "float", "fraction", 0.20, "the installed pack never falls below this SoC", min=0.0, max=1.0),
        Attr("window_start", "str", "HH:MM", REQUIRED, "earliest truck arrival for a swap"),
        Attr("window_end", "str", "HH:MM", REQUIRED, "latest swap completion"),
        Attr("work_start", "str", "HH:MM", REQUIRED, "excavator work start"),
        Attr("work_end", "str", "HH:MM", REQUIRED, "excavator work end"),
        Attr("idle_kw", "float", "kW", 2.0, "site draw in a demand step without excavator charging", min=0.0),
        Attr("end_soc_min", "float", "fraction", NAN, "minimum SoC of the last pack at work end (empty = reserve_soc)", min=0.0, max=1.0),
    ),
    "Construction sites (one MESS pack each).",
    key=("node",),
)

EXCAVATORS = Component(
    "excavators",
    (
        Attr("site", "str", "", REQUIRED, "site node"),
        Attr("excavator", "str", "", REQUIRED, "excavator id within the site"),
        Attr("battery_kwh", "float", "kWh", REQUIRED, "excavator battery capacity", positive=True),
        Attr("consumption_kwh_per_h", "float", "kWh/h", REQUIRED, "consumption while working", min=0.0),
        Attr("soc_init", "float", "fraction", 1.0, "SoC at work start", min=0.0, max=1.0),
        Attr("charge_kw", "float", "kW", 170.0, "charging power from the site pack", min=0.0),
        Attr("trigger_soc", "float", "fraction", 0.20, "charging starts at or below this SoC", min=0.0, max=1.0),
        Attr("target_soc", "float", "fraction", 0.90, "charging target", min=0.0, max=1.0),
    ),
    "Electric excavators (§3.4).",
    key=("site", "excavator"),
    required=False,
    allow_empty=True,
)

TRUCKS = Component(
    "trucks",
    (
        Attr("type", "str", "", REQUIRED, "truck type (all trucks of one type identical)"),
        Attr("ids", "str", "", "", "comma-separated truck ids, e.g. `1,2,9` (count = number of ids)"),
        Attr("count", "int", "", 0, "number of trucks if ids is empty (ids are then `<type>-1`, ...)", min=0),
        Attr("mess_kwh", "float", "kWh", REQUIRED, "carried pack capacity (= traction battery)", positive=True),
        Attr("speed_kmh", "float", "km/h", REQUIRED, "cruise speed", positive=True),
        Attr("mass_kg", "float", "kg", REQUIRED, "mass", positive=True),
        Attr("wage_per_h", "float", "$/h", REQUIRED, "driver wage", min=0.0),
        Attr("soc_min", "float", "fraction", 0.05, "minimum pack SoC", min=0.0, max=1.0),
        Attr("soc_max", "float", "fraction", 1.0, "maximum pack SoC", min=0.0, max=1.0),
        Attr("max_charge_kw", "float", "kW", INF, "maximum charging power", positive=True),
        Attr("avail_start", "str", "HH:MM", "", "availability start (empty = horizon start)"),
        Attr("avail_end", "str", "HH:MM", "", "availability end (empty = horizon end)"),
        Attr("crr", "float", "", 0.006, "rolling-resistance coefficient c_rr", min=0.0),
        Attr("cda_m2", "float", "m²", 6.0, "drag area C_d·A", min=0.0),
        Attr("eta_drive", "float", "", 0.90, "drivetrain efficiency (0, 1]", positive=True, max=1.0),
        Attr("eta_regen", "float", "", 0.60, "regeneration efficiency [0, 1]", min=0.0, max=1.0),
        Attr("p_aux_kw", "float", "kW", 3.0, "auxiliary power", min=0.0),
        Attr("p_regen_max_kw", "float", "kW", 250.0, "regeneration power cap", min=0.0),
        Attr("flat_kwh_per_km", "float", "kWh/km", NAN, "e_k of the prototype preset (§3.2)", min=0.0),
        Attr("aux_kwh_per_leg", "float", "kWh", 0.0, "a_k of the prototype preset (§3.2)", min=0.0),
    ),
    "Battery trucks, one row per type (several rows of one type must be identical apart from ids).",
    key=(),
)

PRICES = Component(
    "prices",
    (
        Attr("bus", "str", "", REQUIRED, "bus"),
        Attr("hour", "int", "h", REQUIRED, "hour of the day", min=0, max=23),
        Attr("price_per_kwh", "float", "$/kWh", REQUIRED, "price"),
    ),
    "Hourly prices per bus (used when prices.source = \"table\"; a missing (bus, hour) is error E-PRICE).",
    key=("bus", "hour"),
    required=False,
    allow_empty=True,
)

COMPONENTS: tuple[Component, ...] = (NODES, ARCS, SPEED_FACTORS, CHARGERS, SITES, EXCAVATORS, TRUCKS, PRICES)
COMPONENT_BY_NAME: dict[str, Component] = {c.name: c for c in COMPONENTS}

#: canonical row order used by writers that create cases (importer)
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "nodes": ("id",),
    "arcs": ("from", "to"),
    "speed_factors": ("zone", "segment"),
    "chargers": ("node",),
    "sites": ("node",),
    "excavators": ("site", "excavator"),
    "prices": ("bus", "hour"),
}


def _fmt_default(a: Attr) -> str:
    if a.required:
        return "**required**"
    if a.default is None:
        return "–"
    return f"`{a.default}`"


def case_format_markdown() -> str:
    """Render ``docs/mess-case-format.md`` from the declarations above."""
    out = [
        "# MESS case format",
        "",
        "Generated from `src/tenflow/mess/tables.py` (`tenflow.mess.tables.case_format_markdown()`); "
        "normative description: mess.md §2.",
        "",
        "A case is a folder with `case.toml` and the CSV tables below (header row, UTF-8). Built-in cases: "
        "`mess-small`, `mess-large`, `mess-tiny`, `mess-tiny-2` (`tenflow.mess.case.load_mess_case(name)`). "
        "Unknown keys or columns are errors.",
        "",
        "**JSON form.** The same schema as one JSON document (`case.json`): the `case.toml` keys plus "
        "`tables.<name>` = list of records (CSV cell values; `\"inf\"` for infinity; empty cells omitted). "
        "`load_mess_case(\"case.json\")` reads it; `case.save(\"x.json\")` writes it; "
        "`tenflow.mess.case.convert(src, dst)` converts both ways.",
        "",
        "**Times.** Clock times are written `\"HH:MM\"` (`\"24:00\"` allowed). A loaded `MessCase` holds them as "
        "float hours of the day (e.g. `\"07:30\"` → `7.5`) in its frames and in `case.config` "
        "(`time.start`, `time.end`, `traffic.segments[*].start/end`); `case.save` writes them back as `\"HH:MM\"`.",
        "",
        "**Defaults filled on load.** `trucks.avail_start/avail_end` empty → horizon; `sites.end_soc_min` empty → "
        "`reserve_soc`; `trucks.count` ← number of `ids` (ids empty → `<type>-1 … <type>-count`). Node ids are "
        "integers when every id in `nodes.csv` is an integer, else strings.",
        "",
        "## `case.toml`",
        "",
    ]
    for s in SECTIONS:
        out.append(f"### `[{s.name}]`")
        out.append("")
        if s.description:
            out.append(s.description)
            out.append("")
        out.append("| key | type | unit | default | description |")
        out.append("|---|---|---|---|---|")
        out.extend(attr_markdown_row(a, _fmt_default(a)) for a in s.attrs)
        out.append("")
    out.append(schema_markdown(COMPONENTS, "Tables"))
    return "\n".join(out).rstrip() + "\n"
