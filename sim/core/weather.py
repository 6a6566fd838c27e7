"""Weather: rain intensity and what it changes (umbrella space, shelter seeking, free speed).

Shared by the crowd case (walkers and viewers) and the bikes case (exit choice, bike demand).
"""

from __future__ import annotations

from pydantic import Field

from .schema import Strict

__all__ = ["WeatherSpec"]


class WeatherSpec(Strict):
    rain_mm_per_h: float = Field(0.0, ge=0, description="rain intensity; umbrellas open when > 0")
    umbrella_walk_space_m2: float = Field(
        0.1, ge=0, description="extra ground per walker under an umbrella (calibrated to Guo et al. 2019)")
    umbrella_view_space_m2: float = Field(
        0.7, gt=0, description="ground per standing viewer under an open umbrella (FACTS: 0.7-1.0 m2)")
    rain_free_speed_factor: float = Field(0.97, gt=0, le=1, description="free speed in rain / dry")
    shelter_weight: float = Field(
        0.5, ge=0, description="extra perceived cost of uncovered walking in heavy rain (fraction)")
    heavy_rain_mm_per_h: float = Field(10.0, gt=0, description="intensity at which shelter_weight is full")
    uncovered_exit_penalty_s: float = Field(
        120.0, ge=0, description="perceived extra time of leaving by an uncovered exit in heavy rain (s)")
