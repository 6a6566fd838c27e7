"""Places: the named parts of a walk network a safety team reports on (every stair, underpass,
crossing, square, promenade section and street section), each a set of cells.

A place is the ways of one name (``name``, else ``name:en``) and, where ways carry a ``section`` tag,
one section; a name given to more than :data:`MAX_WAYS_PER_PLACE` ways without sections (a long
street) becomes one place per way (a street section between junctions).  Unnamed ways form one place
each, labelled by their highway type and the names of their end nodes where they have them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.walk import WalkGraph

__all__ = ["Places", "places_of", "place_kind", "MAX_WAYS_PER_PLACE"]

#: A name shared by more ways than this (without sections) is split into one place per way.
MAX_WAYS_PER_PLACE = 3


@dataclass(frozen=True)
class Places:
    """Cells grouped into places."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]           # stairs, ramp, crossing, underpass, square, promenade, street, path
    cell_place: np.ndarray           # int32 place of each cell
    area_m2: np.ndarray              # walkable area of each place
    xy_m: np.ndarray                 # (places, 2) a point of each place (its largest cell's middle), for labels

    @property
    def n(self) -> int:
        return len(self.names)


def place_kind(tags: dict[str, str], highway: str, steps: bool, tunnel: bool) -> str:
    """What kind of place a way is, from its OSM tags."""
    name = tags.get("name", "").lower()
    if steps:
        return "stairs"
    if tags.get("ramp") == "yes" or "ramp" in name:
        return "ramp"
    if tags.get("footway") == "crossing" or "crossing" in tags or "crossing" in name:
        return "crossing"
    if tunnel or "underpass" in name or tags.get("layer", "0").startswith("-"):
        return "underpass"
    if "zone" in tags and highway == "pedestrian":
        return "promenade" if "section" in tags else "square"
    if highway in ("footway", "path", "pedestrian", "steps", "corridor"):
        return "path"
    return "street"


def places_of(walk: WalkGraph) -> Places:
    """Group the walk graph's cells into places (see the module docstring)."""
    net = walk.network
    links = np.unique(walk.cell_link)
    by_key: dict[tuple[str, str], list[int]] = {}
    for link in links:
        tags = net.link_tags[link]
        name = tags.get("name") or tags.get("name:en") or ""
        by_key.setdefault((name, tags.get("section", "")), []).append(int(link))
    link_place: dict[int, int] = {}
    names: list[str] = []
    kinds: list[str] = []
    for (name, section), group in by_key.items():
        if name and (section or len(group) <= MAX_WAYS_PER_PLACE):
            label = f"{name} ({section})" if section else name
            parts = [(label, group)]
        elif name:
            parts = [(f"{name} #{k + 1}", [link]) for k, link in enumerate(sorted(group))]
        else:
            parts = []
            for link in group:
                ends = [net.node_tags[n].get("name") for n in (net.link_u[link], net.link_v[link])]
                where = " - ".join(e for e in ends if e) or f"way {link}"
                parts.append((f"{net.highway[link]} at {where}", [link]))
        for label, members in parts:
            first = members[0]
            kinds.append(place_kind(net.link_tags[first], net.highway[first], bool(net.steps[first]),
                                    bool(net.tunnel[first])))
            for link in members:
                link_place[link] = len(names)
            names.append(label)
    cell_place = np.array([link_place[int(link)] for link in walk.cell_link], dtype=np.int32)
    area = np.bincount(cell_place, weights=walk.cell_area_m2, minlength=len(names))
    xy = np.zeros((len(names), 2))
    best = np.full(len(names), -1.0)
    for c in range(walk.n_cells):
        p = cell_place[c]
        if walk.cell_area_m2[c] > best[p]:
            best[p] = walk.cell_area_m2[c]
            xy[p] = walk.cell_xy[c].mean(axis=0)
    return Places(names=tuple(names), kinds=tuple(kinds), cell_place=cell_place, area_m2=area, xy_m=xy)
