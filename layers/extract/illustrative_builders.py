"""Builders: one function per kind of illustrative layer, each turning YAML rules into features.

Why builders are generic rather than per-layer: Qinghai and Guizhou need the same constructions
(parks split into core/general, reserves with three zones, red line, control units, …); the
region-specific choices (which counties, which thresholds) live in the rule files. Each feature's
``derivation`` states the rule and every tuned number, so the output explains itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import shapely.ops
from shapely.geometry.base import BaseGeometry

from layers.extract import illustrative_rules as R
from layers.extract.illustrative_base import (
    EMPTY,
    RealData,
    area_km2,
    bisect,
    buffer_m,
    from_eq,
    polygonal,
    to_eq,
    union,
)


@dataclass
class Feature:
    """One output feature: standard columns plus the kind's attributes in ``attrs``."""

    name: str
    zone_class: str | None
    geometry: BaseGeometry
    derivation: str
    attrs: dict[str, Any] = field(default_factory=dict)
    code: str | None = None


Built = dict[str, list[Feature]]


def layer_geom(built: Built, ids: list[str], pred: Callable[[Feature], bool] | None = None,
               ) -> BaseGeometry:
    """Union of the features of earlier layers (optionally filtered)."""
    geoms = []
    for lid in ids:
        if lid not in built:
            raise ValueError(f"layer {lid!r} is used before it is built; reorder the rule file")
        geoms += [f.geometry for f in built[lid] if pred is None or pred(f)]
    return union(geoms)


def _minus(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    return polygonal(shapely.difference(a, b)) if not b.is_empty else a


def _and(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    return polygonal(shapely.intersection(a, b))


# ------------------------------------------------------------------------------------ zones
def build_zones(layer: R.ZonesLayer, data: RealData, built: Built) -> list[Feature]:
    """Features from area expressions; later features never overlap earlier ones."""
    done: dict[str, BaseGeometry] = {}
    out = []
    taken = EMPTY
    for f in layer.features:
        g = data.area(f.area, done)
        for lid in f.subtract_layers:
            g = _minus(g, layer_geom(built, [lid]))
        if f.subtract_lakes:
            g = _minus(g, union(data.lakes.geometry))
        g = _minus(data.tidy(g), taken)
        taken = union([taken, g])
        done[f.name] = g
        out.append(Feature(f.name, f.zone_class, g, f"{f.why} ({layer.cite})"))
    return out


# ------------------------------------------------------------------------------------ parks
def _lake_region(data: RealData, lb: R.LakeBuffer, distance: float) -> BaseGeometry:
    g = buffer_m(data.lake(lb.lake), distance)
    if lb.within_basin:
        g = _and(g, data.basin([lb.within_basin]))
    return _and(g, data.province)


def _near_water(data: RealData, metres: float) -> BaseGeometry:
    rivers = data.rivers[data.rivers["level"] == "mainstem"].geometry
    lines = shapely.union_all(rivers.values) if len(rivers) else shapely.GeometryCollection()
    return union([buffer_m(lines, metres), buffer_m(union(data.lakes.geometry), metres)])


def _tune_elev(data: RealData, region: BaseGeometry, target_km2: float) -> float:
    arr, _ = data.dem
    mask = data.rasterize(region)
    return round(bisect(lambda t: data.mask_area_km2(mask & (arr >= t)), 1000, 6500, target_km2,
                        increasing=False))


def build_parks(layer: R.ParksLayer, data: RealData, built: Built) -> list[Feature]:
    """National parks: extent by a tuned rule, split into 核心保护区 / 一般控制区."""
    out: list[Feature] = []
    taken = EMPTY  # parks never overlap: earlier parks win
    for park in layer.parks:
        ext = park.extent
        parts_base = []
        for p in park.parts:
            base = data.area(p.area) if p.area is not None else data.province
            parts_base.append((p, base))
        lake_spec = next((p.lake_buffer for p in park.parts if p.lake_buffer), None)
        # ---- extent
        if (ext.tune or ext.fixed) == "min_elev_m":
            if ext.tune and all(p.target_km2 for p, _ in parts_base):
                groups = [([(p, b)], p.target_km2 or 0.0) for p, b in parts_base]
            else:
                groups = [(parts_base, ext.target_km2 or 0.0)]
            extents, notes = [], []
            for members, target in groups:
                region = union(b for _, b in members)
                t = ext.value if ext.fixed else _tune_elev(data, region, target)
                extents += [(p, _minus(data.tidy(data.band_in(b, t, None)), taken)) for p, b in members]
                notes.append(f"elevation ≥ {t:.0f} m" + (
                    f" (threshold bisected so the {'part' if len(groups) > 1 else 'park'} totals "
                    f"≈{target:,.0f} km²)" if ext.tune else ""))
            ext_notes = {id(p): n for (members, _), n in zip(groups, notes, strict=True) for p, _ in members}
        else:
            assert lake_spec is not None, f"{park.park}: lake_buffer_m extent needs a lake_buffer part"
            spec: R.LakeBuffer = lake_spec

            def lake_km2(dist: float, spec: R.LakeBuffer = spec) -> float:
                return area_km2(_lake_region(data, spec, dist))

            d = (ext.value or 0.0) if ext.fixed else bisect(
                lake_km2, 0, 80000, ext.target_km2 or 0, steps=18, increasing=True)
            extents = [(parts_base[0][0], _minus(data.tidy(_lake_region(data, lake_spec, d)), taken))]
            ext_notes = {id(parts_base[0][0]): f"{lake_spec.lake} plus {(d or 0) / 1000:.1f} km" + (
                f" inside the {lake_spec.within_basin} basin" if lake_spec.within_basin else "") + (
                f" (distance bisected so the park totals ≈{ext.target_km2:,.0f} km²)" if ext.tune else "")}
        taken = union([taken, *(g for _, g in extents)])
        for p, g in extents:
            core_geom, core_note = _park_core(data, park.core, g, lake_spec)
            c = _and(data.tidy(_and(g, core_geom)), g)
            gen = _minus(g, c)
            label = f"{park.park}{park.suffix}{p.part or ''}"
            for cls, geom in (("核心保护区", c), ("一般控制区", gen)):
                if geom.is_empty:
                    continue
                where = ("; units: " + "、".join(_area_units(p.area))) if p.area else ""
                deriv = f"{ext_notes[id(p)]}{where}; {core_note}; {park.cite}" + (
                    f"; status: {park.status_note}" if park.status_note else "")
                out.append(Feature(f"{label}{cls}", cls, geom, deriv, {
                    "park": park.park, "part": p.part, "park_status": park.park_status}))
    return out


def _park_core(data: RealData, core: R.Tune, part: BaseGeometry, lake_spec: R.LakeBuffer | None,
               ) -> tuple[BaseGeometry, str]:
    """核心保护区 of one park part: high land (and water margins) or a lake belt, share-tuned."""
    arr, _ = data.dem
    if (core.tune or core.fixed) == "min_elev_m":
        water = _near_water(data, core.near_water_m) if core.near_water_m else EMPTY
        if core.fixed:
            tc = core.value or 0.0
        else:
            m_part = data.rasterize(part)
            m_water = data.rasterize(water) if not water.is_empty else np.zeros_like(m_part)
            total = data.mask_area_km2(m_part) or 1.0
            tc = round(bisect(lambda t: data.mask_area_km2(m_part & ((arr >= t) | m_water)) / total,
                              1000, 7000, core.share or 0, increasing=False))
        geom = union([data.band_in(part, tc, None), water])
        note = f"核心保护区 = elevation ≥ {tc:.0f} m" + (
            f" or within {core.near_water_m / 1000:.0f} km of a mainstem river or lake"
            if core.near_water_m else "")
    else:
        assert lake_spec is not None, "lake_buffer_m core needs a lake_buffer part"
        part_km2 = area_km2(part) or 1.0
        dc = core.value if core.fixed else bisect(
            lambda d: area_km2(_and(_lake_region(data, lake_spec, d), part)) / part_km2,
            0, 80000, core.share or 0, steps=18, increasing=True)
        geom = _lake_region(data, lake_spec, dc or 0.0)
        note = f"核心保护区 = {lake_spec.lake} plus {(dc or 0) / 1000:.1f} km"
    if core.tune:
        note += f" (bisected to a {core.share:.1%} core share" + (
            f"; {core.share_note})" if core.share_note else ")")
    return geom, note


def _area_units(area: R.AreaSpec | list[R.AreaSpec]) -> list[str]:
    specs = area if isinstance(area, list) else [area]
    return [n for s in specs for n in (*s.prefectures, *s.counties)]


# ------------------------------------------------------------------------------------ reserves
def _disc_of_area(pt: shapely.Point, km2: float) -> BaseGeometry:
    return buffer_m(pt, math.sqrt(km2 * 1e6 / math.pi))


def _inner(g: BaseGeometry, metres: float) -> BaseGeometry:
    return polygonal(from_eq(to_eq(g).buffer(-metres)))


def build_reserves(layer: R.ReservesLayer, data: RealData, built: Built) -> list[Feature]:
    """Nature reserves; 核心区/缓冲区/实验区 by inward distance from the reserve edge."""
    out: list[Feature] = []
    taken = EMPTY
    for r in layer.reserves:
        if r.area is not None:
            g, how = data.area(r.area), r.why or ""
        elif r.lake_buffer is not None:
            g = _lake_region(data, r.lake_buffer, r.lake_buffer.distance_m or 0)
            how = r.why or f"{r.lake_buffer.lake} + {r.lake_buffer.distance_m} m"
        else:
            pt, spec = data.place(r.place or "")
            g = _and(_disc_of_area(pt, spec.area_km2 or 10), polygonal(data.county(spec.county).geometry))
            how = (f"disc of the published {spec.area_km2:,.0f} km² around the approximate location "
                   f"({spec.lon}, {spec.lat}) in {spec.county}, clipped to the county: {spec.note}")
        if r.max_elev_m is not None:
            g = data.band_in(g, None, r.max_elev_m)
            how += f", below {r.max_elev_m:.0f} m"
        g = _minus(data.tidy(g), taken)
        taken = union([taken, g])
        core_m, buf_m = r.zoning.core_m, r.zoning.buffer_m
        core = _inner(g, core_m)
        while core.is_empty and core_m > 200:
            core_m /= 2
            buf_m = min(buf_m, core_m / 2)
            core = _inner(g, core_m)
        inner_buf = _inner(g, buf_m)
        zones = (("核心区", core), ("缓冲区", _minus(inner_buf, core)), ("实验区", _minus(g, inner_buf)))
        zoning = (f"核心区 = deeper than {core_m / 1000:g} km inside the edge, 缓冲区 = "
                  f"{buf_m / 1000:g}–{core_m / 1000:g} km, 实验区 = outer {buf_m / 1000:g} km")
        for cls, geom in zones:
            if not geom.is_empty:
                out.append(Feature(f"{r.name}{cls}", cls, geom, f"{how}; {zoning}; {layer.cite}",
                                   {"reserve_level": r.reserve_level}))
    return out


# ------------------------------------------------------------------------------------ towns
def _seat_elev(data: RealData, pt: shapely.Point) -> float:
    arr, t = data.dem
    col, row = ~t * (pt.x, pt.y)
    return float(arr[int(row), int(col)])


def _valley(data: RealData, disc: BaseGeometry, max_elev: float) -> BaseGeometry:
    arr, _ = data.dem
    mask = data.rasterize(disc) & (arr < max_elev) & (arr > -32768)
    g = data.polygonize(mask, simplify=data.rules.simplify_m, sieve=False)
    return _and(g, disc)


def build_urban(layer: R.UrbanLayer, data: RealData, built: Built) -> list[Feature]:
    """城镇空间: a disc around each seat, kept on the valley floor and inside its counties."""
    out = []
    taken = EMPTY
    for t in layer.towns:
        pt = data.town(t.town)
        counties = t.counties or [data.rules.towns[t.town].county]
        elev = _seat_elev(data, pt)
        disc = _and(buffer_m(pt, t.radius_m), data.county_geom(counties))
        g = _minus(data.tidy(_valley(data, disc, elev + t.max_rise_m)), taken)
        taken = union([taken, g])
        name = t.name or f"{t.town}城镇空间"
        deriv = (f"{t.radius_m / 1000:g} km around the {t.town} seat ({pt.x}, {pt.y}), inside "
                 f"{'、'.join(counties)}, below seat elevation {elev:.0f} m + {t.max_rise_m:.0f} m "
                 f"(valley floor); {layer.cite}")
        out.append(Feature(name, "城镇空间", g, deriv, {"town": t.town}))
    return out


_DIRS = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]


def build_industrial(layer: R.IndustrialLayer, data: RealData, built: Built) -> list[Feature]:
    """Parks as discs of the given area next to the seat, on the lowest adjacent terrain."""
    out = []
    taken = EMPTY
    arr, _ = data.dem
    for p in layer.parks:
        pt = data.town(p.town)
        county = polygonal(data.county(data.rules.towns[p.town].county).geometry)
        r = math.sqrt(p.area_km2 * 1e6 / math.pi)
        x, y = to_eq(pt).coords[0]
        best: tuple[float, BaseGeometry, int] | None = None
        for i, (dx, dy) in enumerate(_DIRS):
            k = (r + 1000) / math.hypot(dx, dy)
            c = from_eq(shapely.Point(x + dx * k, y + dy * k))
            disc = _and(buffer_m(c, r), county)
            m = data.rasterize(disc) & (arr > -32768)
            if not m.any():
                continue
            mean = float(arr[m].mean())
            if best is None or mean < best[0]:
                best = (mean, disc, i)
        assert best is not None, f"{p.name}: no disc next to {p.town} inside its county"
        g = _minus(data.tidy(best[1]), taken)
        taken = union([taken, g])
        compass = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"][best[2]]
        deriv = (f"disc of {p.area_km2:g} km² placed {compass} of the {p.town} seat, the direction with "
                 f"the lowest mean elevation ({best[0]:.0f} m), clipped to the county; "
                 f"class {p.zone_class}: {p.why}; {layer.cite}")
        out.append(Feature(p.name, p.zone_class, g, deriv, {"town": p.town}))
    return out


# ------------------------------------------------------------------------------------ red line
def _water_buffers(data: RealData, lakes_m: float, rivers_m: dict[str, float]) -> BaseGeometry:
    geoms = [buffer_m(union(data.lakes.geometry), lakes_m)] if len(data.lakes) else []
    for level, metres in rivers_m.items():
        sel = data.rivers[data.rivers["level"] == level].geometry
        if len(sel):
            geoms.append(buffer_m(shapely.union_all(sel.values), metres))
    return _and(union(geoms), data.province)


def by_county(data: RealData, geom: BaseGeometry, label: str, zone_class: str | None,
              derivation: str) -> list[Feature]:
    """Split a province-wide polygon into per-county features (small bboxes index well)."""
    out = []
    for _, c in data.counties.sort_values("adcode").iterrows():
        g = _and(geom, polygonal(c.geometry))
        if not g.is_empty and area_km2(g) > 0.01:
            out.append(Feature(f"{label}（{c['name']}）", zone_class, g, derivation,
                               {"county_adcode": str(c["adcode"])}))
    return out


def _with_high_land(data: RealData, base: BaseGeometry, within: BaseGeometry,
                    excl: BaseGeometry, hl: R.Tune) -> tuple[BaseGeometry, str]:
    """base ∪ (land ≥ t within ``within``), minus ``excl``; t fixed or bisected to a target."""
    slope = (hl.tune or hl.fixed) == "min_slope_deg"
    arr = data.slope_deg if slope else data.dem[0]
    lo, hi = (0.0, 60.0) if slope else (1000.0, 6500.0)
    m_in, m_base, m_excl = data.rasterize(within), data.rasterize(base), data.rasterize(excl)
    if hl.fixed:
        t = hl.value or 0.0
    else:
        t = bisect(lambda t: data.mask_area_km2(~m_excl & (m_base | data.sieve(m_in & (arr >= t)))),
                   lo, hi, hl.target_km2 or 0, increasing=False)
        t = round(t, 2) if slope else round(t)
    high = _and(data.slope_band(t) if slope else data.band(t, None), within)
    geom = _and(data.tidy(union([base, high])), data.province)
    what = f"slope ≥ {t:.2f}°" if slope else f"elevation ≥ {t:.0f} m"
    if hl.tune:
        what += f" (threshold bisected towards {hl.target_km2:,.0f} km²)"
    return _minus(geom, excl), what


def build_redline(layer: R.RedlineLayer, data: RealData, built: Built) -> list[Feature]:
    """Red line = parks ∪ reserves ∪ glaciers ∪ water buffers ∪ high land, minus urban/parks."""
    ok = set(layer.include_park_status)
    base = union([
        layer_geom(built, layer.include_layers, lambda f: f.attrs.get("park_status", "established") in ok),
        _water_buffers(data, layer.lakes_buffer_m, layer.river_buffer_m),
    ])
    excl = layer_geom(built, layer.exclude_layers)
    hl = layer.high_land
    geom, high = _with_high_land(data, base, data.province, excl, hl)
    rivers = ", ".join(f"{k} rivers {v / 1000:g} km" for k, v in layer.river_buffer_m.items())
    deriv = (f"union of {', '.join(layer.include_layers)} (park status {sorted(ok)}), lakes + "
             f"{layer.lakes_buffer_m / 1000:g} km, {rivers}, and land with {high}"
             + f"; minus {', '.join(layer.exclude_layers)} (三条控制线 do not overlap); {layer.cite}")
    return by_county(data, geom, "生态保护红线", None, deriv)


def build_general_eco(layer: R.GeneralEcoLayer, data: RealData, built: Built) -> list[Feature]:
    """Rest of the ecological space: included layers ∪ high land (tuned), minus red line etc."""
    base = layer_geom(built, layer.include_layers)
    excl = layer_geom(built, layer.exclude_layers)
    geom, high = _with_high_land(data, base, data.area(layer.area), excl, layer.high_land)
    note = f"land with {high}"
    return by_county(data, geom, "一般生态空间", None, f"{layer.why}; {note}; {layer.cite}")


# ------------------------------------------------------------------------------------ water
def build_drinking_water(layer: R.DrinkingWaterLayer, data: RealData, built: Built) -> list[Feature]:
    """Three-grade zones on the water nearest each town, or a wellfield around the seat."""
    waters: list[tuple[str, BaseGeometry, bool]] = [
        (str(r["river"] or r["name"]), r.geometry, False) for _, r in data.rivers.iterrows()]
    waters += [(str(r["name"]), r.geometry, True) for _, r in data.lakes.iterrows()]
    waters_eq = [to_eq(g) for _, g, _ in waters]
    out = []
    taken = EMPTY
    sites = [(t, t, False) for t in layer.towns] + [(s.name, s.town, s.disc) for s in layer.sites]
    for label, town, disc in sites:
        pt = data.town(town)
        p_eq = to_eq(pt)
        dists = [w.distance(p_eq) for w in waters_eq]
        i = int(np.argmin(dists))
        grades: list[BaseGeometry] = []
        if disc:
            grades = [buffer_m(pt, gr.well_radius_m) for gr in layer.grades]
            how = (f"{label} is not in the 1:4M data: modelled as discs around the {town} seat, radii "
                   + "/".join(f"{g.well_radius_m / 1000:g}" for g in layer.grades) + " km")
        elif dists[i] <= layer.max_water_distance_m:
            wname, _, is_lake = waters[i]
            intake = shapely.ops.nearest_points(waters_eq[i], p_eq)[0]
            for gr in layer.grades:
                reach = waters_eq[i].intersection(intake.buffer(gr.along_m))
                grades.append(from_eq(reach.buffer(gr.width_m)))
            how = (f"{'lake' if is_lake else 'river'} {wname} nearest to the {town} seat "
                   f"({dists[i] / 1000:.1f} km); intake = nearest point; zones = water within "
                   + ", ".join(f"{g.along_m / 1000:g} km of the intake buffered {g.width_m / 1000:g} km"
                               for g in layer.grades))
        else:
            for gr in layer.grades:
                grades.append(buffer_m(pt, gr.well_radius_m))
            how = (f"no mapped river/lake within {layer.max_water_distance_m / 1000:g} km of the {town} "
                   f"seat: modelled as a wellfield around the seat, radii "
                   + "/".join(f"{g.well_radius_m / 1000:g}" for g in layer.grades) + " km")
        prev = EMPTY
        for gr, g in zip(layer.grades, grades, strict=True):
            g = data.tidy(g)
            z = _minus(_minus(g, prev), taken)
            prev = union([prev, g])
            if not z.is_empty:
                out.append(Feature(f"{label}饮用水水源{gr.zone_class}", gr.zone_class, z,
                                   f"{how}; {layer.cite}", {"town": town}))
        taken = union([taken, prev])
    return out


# ------------------------------------------------------------------------------------ corridors
def build_corridors(layer: R.CorridorsLayer, data: RealData, built: Built) -> list[Feature]:
    """Belts along real lines (county/basin edges, rivers, town chains); earlier ones win."""
    out = []
    taken = EMPTY
    for c in layer.corridors:
        if c.shared_boundary:
            a = polygonal(data.county(c.shared_boundary[0]).geometry)
            line = shapely.intersection(shapely.boundary(a), buffer_m(
                data.county_geom(c.shared_boundary[1:]), 1000))
        elif c.basin_edge:
            line = shapely.intersection(shapely.boundary(data.basin([c.basin_edge.basin])),
                                        data.county_geom([c.basin_edge.county]))
        elif c.river:
            line = data.river(c.river)
        else:
            line = shapely.LineString([data.town(t) for t in c.towns or []])
        if line.is_empty:
            raise ValueError(f"{c.name}: the rule produced no line to buffer")
        g = _and(buffer_m(line, c.width_m), data.province)
        if c.max_elev_m is not None:
            g = data.band_in(g, None, c.max_elev_m)
        g = _minus(data.tidy(g), taken)
        taken = union([taken, g])
        out.append(Feature(c.name, "生态廊道", g, f"{c.why}; {layer.cite}"))
    return out


# ------------------------------------------------------------------------------------ units
def build_control_units(layer: R.ControlUnitsLayer, data: RealData, built: Built) -> list[Feature]:
    """Per county: 优先保护 = priority layers, 重点管控 = key layers, 一般管控 = the rest."""
    prio = layer_geom(built, layer.priority_layers)
    key = _minus(layer_geom(built, layer.key_layers), prio)
    out = []
    for _, c in data.counties.sort_values("adcode").iterrows():
        cg = polygonal(c.geometry)
        p = _and(cg, prio)
        k = _minus(_and(cg, key), p)
        g = _minus(_minus(cg, p), k)
        for digit, cls, geom, rule in (
            ("1", "优先保护单元", p, f"county ∩ {'+'.join(layer.priority_layers)}"),
            ("2", "重点管控单元", k, f"county ∩ ({'+'.join(layer.key_layers)}) outside priority"),
            ("3", "一般管控单元", g, "the rest of the county"),
        ):
            if geom.is_empty:
                continue
            code = f"ZH{c['adcode']}{digit}0001"
            out.append(Feature(f"{c['name']}{cls}", cls, geom, f"{rule}; code ZH+adcode+class+serial; "
                               f"{layer.cite}", {"county_adcode": str(c["adcode"])}, code=code))
    return out


BUILDERS: dict[str, Callable[[Any, RealData, Built], list[Feature]]] = {
    "zones": build_zones,
    "parks": build_parks,
    "reserves": build_reserves,
    "urban": build_urban,
    "industrial": build_industrial,
    "redline": build_redline,
    "general_eco": build_general_eco,
    "drinking_water": build_drinking_water,
    "corridors": build_corridors,
    "control_units": build_control_units,
}
