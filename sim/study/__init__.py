"""Studies above the cases: sweeps over seeds and settings, side-by-side comparisons, verdicts.

The names below are the study layer's public API (the app uses them as ``sim.study``).
"""

from .runs import (  # noqa: F401
                   BikeResult,
                   Callback,
                   CrowdResult,
                   TrafficResult,
                   run_bike_plans,
                   run_crowd,
                   run_plans,
)
from .tables import (  # noqa: F401
                   bike_kpi_rows,
                   bike_pool_rows,
                   crowd_kpi_rows,
                   crowd_zone_rows,
                   exit_share_rows,
                   plan_mode_rows,
                   sweep_cap_key,
                   sweep_grid_keys,
                   sweep_kpis,
                   sweep_risk_rows,
                   sweep_zones,
)
from .upload import (  # noqa: F401
                   MAP_DIR,
                   MAX_SCENARIO_BYTES,
                   SCENARIO_DIR,
                   cap_label,
                   cap_override,
                   duration_override,
                   parse_caps,
                   rain_override,
                   scenario_data_from_toml,
                   shipped_scenarios,
                   validate_scenario,
)
from .verdicts import (  # noqa: F401
                   BikeVerdict,
                   CapCheck,
                   CapVerdict,
                   PlanVerdict,
                   SweepCapVerdict,
                   best_plans,
                   fewest_unmet,
                   safe_cap,
                   sweep_safe_cap,
)
