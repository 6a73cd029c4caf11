"""Rivers and basins missing from every package, traced from the 30″ DEM with pysheds.

Why: the rules need 湟水, 大通河 (Qinghai) and 赤水河 (Guizhou) as lines, and the 青海湖 basin and
the 柴达木 internal drainage as polygons, but no registry package ships them (data-sources.md §3.5).
No coordinate is typed by hand; every pour or seed point comes from a named feature:

- 青海湖流域: the sink is the 1:4M 青海湖 polygon (hydro.gpkg ``lakes``). Its cells are treated as
  an outlet while depressions are filled, then turned into a funnel towards their lowest cell,
  so the catchment of that cell is everything that drains into the lake.
- 柴达木内流区: sinks are the DEM depressions (≥ ``QAIDAM_MIN_DEPTH_M`` deep, ≥
  ``QAIDAM_MIN_CELLS`` cells) whose lowest cell lies in the TP_basins ``Qaidam`` polygon; the
  area is the union of their catchments. Deep, large depressions outside the Qaidam and outside
  the exorheic 黄河/长江/澜沧江 basins stay separate sinks, so that neighbouring endorheic
  basins (哈拉湖, 库木库里) are not filled and spilled into the Qaidam.
- 湟水 / 大通河: the 黄河 channel is followed upstream (largest-accumulation neighbour) from the
  outlet of the nmc sub-basin 黄河「刘家峡至兰州」; the largest tributary joining it there is the
  湟水, and the largest tributary joining the 湟水 is the 大通河. Both are traced upstream until
  the contributing area falls below ``TRACE_MIN_CELLS``. Checks: the 湟水 must cross 西宁市, the
  大通河 门源县 (天地图 units), else the script stops.
- 赤水河: same on the 长江 from the outlet of the nmc sub-basin 长江干流「宜宾至重庆」; the
  tributary whose catchment covers most of Guizhou is the 赤水河. The window is Guizhou's bbox
  + 1°, so its Yunnan source and the 合江 mouth in Sichuan are inside.

Outputs ``derived/rivers_derived.gpkg`` (layer ``rivers``) and ``derived/basins_derived.gpkg``
(one layer per basin so each manifest entry can carry its own published reference figure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely
from scipy import ndimage
from shapely.geometry import LineString, shape
from skimage.graph import MCP_Geometric

from layers.extract.common import (
    ALBERS_CATCH,
    ALBERS_EQ,
    STORE_CRS,
    Region,
    area_km2,
    dist_version,
    length_km,
    load_outline,
    nmc_maps,
    read_gbk,
    region,
    write_gpkg,
)
from layers.extract.real_dem import NODATA, Window, read_window

if not hasattr(np, "in1d"):  # pysheds 0.5 still calls np.in1d, removed in numpy 2.4
    np.in1d = np.isin  # type: ignore[attr-defined]

from pysheds.grid import Grid
from pysheds.sview import Raster, ViewFinder

WINDOW_MARGIN_DEG = 1.0  # DEM window beyond the province bbox (mouths lie in Gansu / Sichuan)
FUNNEL_BASE = -20000.0  # sink cells are lowered below any land so everything nearby drains in
QAIDAM_MIN_DEPTH_M = 5.0
QAIDAM_MIN_CELLS = 10
OTHER_SINK_MIN_DEPTH_M = 50.0  # endorheic sinks outside the Qaidam (kept apart from it)
OTHER_SINK_MIN_CELLS = 100
TRACE_MIN_CELLS = 50  # stop tracing upstream below ≈35 km² contributing area
TRIBUTARY_MIN_CELLS = 500  # candidate tributaries for 赤水河 (≈350 km²)
SIMPLIFY_DEG = 0.002  # removes D8 staircase vertices only (≈ ¼ cell)
DIRMAP = (64, 128, 1, 2, 4, 8, 16, 32)  # N, NE, E, SE, S, SW, W, NW (pysheds default)
OFFSETS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))

#: Published figures the derivations are checked against (recorded, never forced).
PUBLISHED = {
    "青海湖流域_km2": 29660.0,
    "湟水流域_km2": 32863.0,  # incl. 大通河
    "湟水_km": 374.0,
    "大通河_km": 560.7,
    "赤水河流域_km2": 20440.0,
    "赤水河_km": 436.5,
}


@dataclass
class Hydro:
    """Conditioned DEM products on one window."""

    window: Window
    grid: Grid
    fdir: Raster
    fdir_a: np.ndarray
    acc: np.ndarray
    sink_bottoms: list[tuple[int, int]] = field(default_factory=list)

    def xy(self, rc: tuple[int, int]) -> tuple[float, float]:
        return float(self.window.lon[rc[1]]), float(self.window.lat[rc[0]])


def cell_mask(w: Window, geom: shapely.Geometry) -> np.ndarray:
    """Cells whose centre lies in ``geom``."""
    lo, la = np.meshgrid(w.lon, w.lat)
    return shapely.contains_xy(geom, lo, la)


def condition(w: Window, sinks: np.ndarray) -> Hydro:
    """Fill depressions (sinks act as outlets), funnel each sink to its lowest cell, route D8."""
    dem = w.data.astype("float64")
    vf = ViewFinder(affine=w.transform, shape=dem.shape, nodata=np.float64(NODATA))
    grid = Grid(viewfinder=vf)
    seeded = dem.copy()
    seeded[sinks] = NODATA
    filled = np.asarray(grid.fill_depressions(Raster(seeded, viewfinder=vf))).copy()
    labels, _ = ndimage.label(sinks, structure=np.ones((3, 3)))
    bottoms: list[tuple[int, int]] = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        comp = labels[sl] == k
        sub = np.where(comp, dem[sl], np.inf)
        br, bc = np.unravel_index(np.argmin(sub), sub.shape)
        dist, _ = MCP_Geometric(np.where(comp, 1.0, np.inf)).find_costs([(br, bc)])
        block = filled[sl]
        block[comp] = FUNNEL_BASE + dist[comp]
        bottoms.append((int(br + sl[0].start), int(bc + sl[1].start)))
    flat = grid.resolve_flats(Raster(filled, viewfinder=vf))
    fdir = grid.flowdir(flat, dirmap=DIRMAP)
    acc = np.asarray(grid.accumulation(fdir, dirmap=DIRMAP))
    return Hydro(w, grid, fdir, np.asarray(fdir), acc, bottoms)


def catchment(h: Hydro, rc: tuple[int, int]) -> np.ndarray:
    c = h.grid.catchment(x=rc[1], y=rc[0], fdir=h.fdir, dirmap=DIRMAP, xytype="index")
    return np.asarray(c).astype(bool)


def mask_polygon(h: Hydro, mask: np.ndarray) -> shapely.Geometry:
    """Vectorise a boolean cell mask into one (multi)polygon in window degrees."""
    parts = [
        shape(g)
        for g, _ in rasterio.features.shapes(
            mask.astype("uint8"), mask=mask, transform=h.window.transform, connectivity=8
        )
    ]
    return shapely.make_valid(shapely.union_all(parts))


def inflows(h: Hydro, rc: tuple[int, int]) -> list[tuple[int, tuple[int, int]]]:
    """Upstream neighbours of a cell (those whose D8 direction points at it), with their acc."""
    out = []
    rows, cols = h.fdir_a.shape
    for (dr, dc), code in zip(OFFSETS, DIRMAP, strict=True):
        nr, nc = rc[0] - dr, rc[1] - dc  # neighbour lying opposite to the direction code
        if 0 <= nr < rows and 0 <= nc < cols and h.fdir_a[nr, nc] == code:
            out.append((int(h.acc[nr, nc]), (nr, nc)))
    return sorted(out, reverse=True)


def trace_upstream(
    h: Hydro, start: tuple[int, int], within: np.ndarray | None = None
) -> tuple[list[tuple[int, int]], list[tuple[int, tuple[int, int]]]]:
    """Follow the largest-accumulation inflow upstream; also return every side inflow met."""
    path = [start]
    side: list[tuple[int, tuple[int, int]]] = []
    rc = start
    while True:
        ups = inflows(h, rc)
        if not ups or ups[0][0] < TRACE_MIN_CELLS:
            break
        side.extend(ups[1:])
        rc = ups[0][1]
        if within is not None and not within[rc]:
            break
        path.append(rc)
    return path, side


def path_line(h: Hydro, path: list[tuple[int, int]]) -> LineString:
    """Cell-centre polyline from source to mouth, lightly simplified."""
    coords = [h.xy(rc) for rc in reversed(path)]
    return LineString(coords).simplify(SIMPLIFY_DEG, preserve_topology=False)


def outlet_in(h: Hydro, polygon: shapely.Geometry) -> tuple[int, int]:
    """The highest-accumulation cell inside a polygon: the basin's outlet on the DEM."""
    inside = cell_mask(h.window, polygon)
    acc = np.where(inside, h.acc, -1)
    r, c = np.unravel_index(np.argmax(acc), acc.shape)
    return int(r), int(c)


def median_offset_km(line: LineString, reference: shapely.Geometry) -> float:
    """Median distance (km) from the traced line's vertices to a reference line, equal-area."""
    pts = gpd.GeoSeries(shapely.points(np.asarray(line.coords)), crs=STORE_CRS).to_crs(ALBERS_EQ)
    ref = gpd.GeoSeries([reference], crs=STORE_CRS).to_crs(ALBERS_EQ)
    d = pts.distance(ref.iloc[0])
    return round(float(d.median()) / 1000.0, 2)


def _sub_basin(file: str, field_name: str, value: str) -> shapely.Geometry:
    gdf = read_gbk(nmc_maps() / "catchment" / file, ALBERS_CATCH).to_crs(STORE_CRS)
    return shapely.make_valid(gdf.loc[gdf[field_name] == value].geometry.union_all())


def _river_4m(*names: str) -> shapely.Geometry:
    gdf = read_gbk(nmc_maps() / "hyd2_4l.shp", "EPSG:4326").to_crs(STORE_CRS)
    return gdf.loc[gdf["NAME"].isin(names)].geometry.union_all()


def _county(r: Region, level: str, adcode: str) -> shapely.Geometry:
    gdf = gpd.read_file(r.real_dir / "admin.gpkg", layer=level)
    return gdf.loc[gdf["adcode"] == adcode].geometry.iloc[0]


def _frame(rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=STORE_CRS)


def _pct(got: float, expected: float) -> float:
    return round(100.0 * (got - expected) / expected, 1)


def _river_row(
    name: str, river: str, level: str, basin: str, line: LineString, note: str
) -> dict[str, object]:
    return {
        "name": name,
        "river": river,
        "level": level,
        "basin": basin,
        "accuracy": "approximate",
        "derivation": note,
        "geometry": line,
    }


def _ends(name: str, line: LineString) -> dict[str, list[float]]:
    """Traced source and mouth (computed, for checking against a map; never typed in)."""
    return {
        f"{name}_source_lonlat": [round(v, 3) for v in line.coords[0]],
        f"{name}_mouth_lonlat": [round(v, 3) for v in line.coords[-1]],
    }


def _dem_note() -> str:
    return (
        f"traced on meteva {dist_version('meteva')} dem_0.00833.nc (30″) with pysheds "
        f"{dist_version('pysheds')} D8 (fill_depressions, resolve_flats); "
    )


def qinghai() -> dict[str, object]:
    r = region("qinghai")
    x0, y0, x1, y1 = load_outline(r).total_bounds
    m = WINDOW_MARGIN_DEG
    w = read_window(x0 - m, y0 - m, x1 + m, y1 + m)
    figures: dict[str, object] = {"window": [round(v, 3) for v in (x0 - m, y0 - m, x1 + m, y1 + m)]}

    lakes = gpd.read_file(r.real_dir / "hydro.gpkg", layer="lakes")
    lake = lakes.loc[lakes["name"] == "青海湖"].geometry.iloc[0]
    lake_cells = cell_mask(w, lake)

    basins = gpd.read_file(r.real_dir / "basins.gpkg", layer="basins")
    qaidam_tp = basins.loc[basins["name"].str.startswith("柴达木")].geometry.iloc[0]
    in_qaidam = cell_mask(w, qaidam_tp)
    dem = w.data.astype("float64")
    vf = ViewFinder(affine=w.transform, shape=dem.shape, nodata=np.float64(NODATA))
    full = np.asarray(Grid(viewfinder=vf).fill_depressions(Raster(dem.copy(), viewfinder=vf)))
    depth = full - dem
    labels, n = ndimage.label(depth >= QAIDAM_MIN_DEPTH_M, structure=np.ones((3, 3)))
    idx = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(np.ones_like(dem), labels, idx)
    deepest = ndimage.maximum(depth, labels, idx)
    lows = ndimage.minimum_position(dem, labels, idx)
    # Exorheic basins (nmc 黄河/长江 catchments, TP Mekong): their DEM pits are artefacts in
    # gorges and must be filled. Elsewhere, deep large depressions are real endorheic sinks
    # (哈拉湖, 库木库里, 可可西里 lakes …) and stay sinks so they do not spill into the Qaidam.
    exorheic = cell_mask(
        w,
        shapely.union_all(
            [
                _sub_basin("huanghe.shp", "NAME", "黄河流域"),
                _sub_basin("changjiang.shp", "NAME", "长江流域"),
                basins.loc[basins["basin"] == "lancang"].geometry.union_all(),
            ]
        ),
    )
    keep, other = [], []
    for k, size, deep, low in zip(idx, sizes, deepest, lows, strict=True):
        if in_qaidam[low] and size >= QAIDAM_MIN_CELLS:
            keep.append(k)
        elif not exorheic[low] and size >= OTHER_SINK_MIN_CELLS and deep >= OTHER_SINK_MIN_DEPTH_M:
            other.append(k)
    qaidam_sinks = np.isin(labels, keep) & ~lake_cells
    other_sinks = np.isin(labels, other) & ~lake_cells & ~qaidam_sinks
    figures["qaidam_sink_depressions"] = len(keep)
    figures["other_endorheic_sinks"] = len(other)

    h = condition(w, lake_cells | qaidam_sinks | other_sinks)

    # 青海湖流域: catchment of the funnel bottom of the lake's sink component.
    lake_bottom = next(b for b in h.sink_bottoms if lake_cells[b])
    qhl = catchment(h, lake_bottom)
    qhl_poly = mask_polygon(h, qhl)
    qhl_km2 = float(area_km2(gpd.GeoDataFrame(geometry=[qhl_poly], crs=STORE_CRS)).iloc[0])
    figures["青海湖流域_km2"] = round(qhl_km2)
    figures["青海湖流域_dev_pct"] = _pct(qhl_km2, PUBLISHED["青海湖流域_km2"])

    # 柴达木内流区: union of the catchments of every Qaidam sink.
    qd = np.zeros_like(qhl)
    for b in h.sink_bottoms:
        if qaidam_sinks[b]:
            qd |= catchment(h, b)
    qd_poly = mask_polygon(h, qd)
    qd_km2 = float(area_km2(gpd.GeoDataFrame(geometry=[qd_poly], crs=STORE_CRS)).iloc[0])
    tp_km2 = float(area_km2(gpd.GeoDataFrame(geometry=[qaidam_tp], crs=STORE_CRS)).iloc[0])
    figures["柴达木内流区_km2"] = round(qd_km2)
    figures["TP_Qaidam_clipped_km2"] = round(tp_km2)

    # 黄河 → 湟水 → 大通河.
    lz = _sub_basin("huangheziliuyu.shp", "Name", "刘家峡至兰州")
    mouth_hh = outlet_in(h, lz)
    hh_path, hh_side = trace_upstream(h, mouth_hh, within=cell_mask(w, lz))
    figures["黄河_dem_vs_1:4M_median_km"] = median_offset_km(
        path_line(h, hh_path), _river_4m("黄河")
    )
    hs_mouth = max(hh_side)[1]
    hs_path, hs_side = trace_upstream(h, hs_mouth)
    dt_mouth = max(hs_side)[1]
    dt_path, _ = trace_upstream(h, dt_mouth)
    hs_line, dt_line = path_line(h, hs_path), path_line(h, dt_path)
    if not hs_line.intersects(_county(r, "prefecture", "630100")):
        raise RuntimeError("traced 湟水 does not cross 西宁市: check the DEM routing")
    if not dt_line.intersects(_county(r, "county", "632221")):
        raise RuntimeError("traced 大通河 does not cross 门源县: check the DEM routing")
    rivers = gpd.GeoDataFrame(
        [
            _river_row(
                "湟水",
                "湟水",
                "important_tributary",
                "yellow",
                hs_line,
                _dem_note() + "mouth = largest tributary inflow on the DEM 黄河 channel inside "
                "nmc sub-basin 黄河「刘家峡至兰州」; traced upstream by max accumulation to "
                f"{TRACE_MIN_CELLS} cells; N8 Art 121: the important 黄河 tributary in Qinghai",
            ),
            _river_row(
                "大通河",
                "大通河",
                "tributary",
                "yellow",
                dt_line,
                _dem_note() + "mouth = largest tributary inflow on the traced 湟水; traced "
                f"upstream by max accumulation to {TRACE_MIN_CELLS} cells",
            ),
        ],
        geometry="geometry",
        crs=STORE_CRS,
    )
    lens = length_km(rivers)
    for name, km, line in zip(rivers["name"], lens, rivers.geometry, strict=True):
        figures[f"{name}_km"] = round(float(km), 1)
        figures[f"{name}_dev_pct"] = _pct(float(km), PUBLISHED[f"{name}_km"])
        figures.update(_ends(name, line))
    hs_basin = catchment(h, hs_mouth)
    hs_poly = mask_polygon(h, hs_basin)
    hs_km2 = float(area_km2(gpd.GeoDataFrame(geometry=[hs_poly], crs=STORE_CRS)).iloc[0])
    figures["湟水流域_km2"] = round(hs_km2)
    figures["湟水流域_dev_pct"] = _pct(hs_km2, PUBLISHED["湟水流域_km2"])

    note = _dem_note()
    basin_layers = {
        "qinghai_lake_basin": _frame(
            [
                {
                    "name": "青海湖流域",
                    "zone_class": "internal_drainage",
                    "basin": "qinghai_lake",
                    "accuracy": "approximate",
                    "derivation": note
                    + "sink = 1:4M 青海湖 polygon (hyd2_4p L383), catchment of the "
                    f"funnelled lake; {round(qhl_km2)} km² vs published ≈29,660 km² "
                    f"({figures['青海湖流域_dev_pct']:+} %)",
                    "geometry": qhl_poly,
                }
            ]
        ),
        "qaidam_internal_drainage": _frame(
            [
                {
                    "name": "柴达木盆地内流区",
                    "zone_class": "internal_drainage",
                    "basin": "inland",
                    "accuracy": "approximate",
                    "derivation": note
                    + f"{len(keep)} DEM depressions ≥{QAIDAM_MIN_DEPTH_M:g} m deep and "
                    f"≥{QAIDAM_MIN_CELLS} cells whose lowest cell lies in TP_basins 'Qaidam'; union of "
                    f"their catchments; {round(qd_km2)} km² (TP_basins Qaidam, plateau part, clipped: "
                    f"{round(tp_km2)} km²)",
                    "geometry": qd_poly,
                }
            ]
        ),
        "huangshui_basin": _frame(
            [
                {
                    "name": "湟水流域",
                    "zone_class": "sub_basin",
                    "basin": "yellow",
                    "accuracy": "approximate",
                    "derivation": note + f"catchment of the traced 湟水 mouth (incl. 大通河); "
                    f"{round(hs_km2)} km² vs published ≈32,863 km² ({figures['湟水流域_dev_pct']:+} %)",
                    "geometry": hs_poly,
                }
            ]
        ),
    }
    _write(r, rivers, basin_layers, figures)
    return figures


def guizhou() -> dict[str, object]:
    r = region("guizhou")
    outline = load_outline(r)
    x0, y0, x1, y1 = outline.total_bounds
    m = WINDOW_MARGIN_DEG
    w = read_window(x0 - m, y0 - m, x1 + m, y1 + m)
    figures: dict[str, object] = {"window": [round(v, 3) for v in (x0 - m, y0 - m, x1 + m, y1 + m)]}
    h = condition(w, np.zeros(w.data.shape, dtype=bool))
    yc = _sub_basin("changjiangziliuyu.shp", "NAME", "长江干流宜宾至重庆")
    mouth_cj = outlet_in(h, yc)
    cj_path, cj_side = trace_upstream(h, mouth_cj, within=cell_mask(w, yc))
    figures["长江_dem_vs_1:4M_median_km"] = median_offset_km(
        path_line(h, cj_path), _river_4m("长江", "金沙江")
    )
    in_gz = cell_mask(w, outline.geometry.iloc[0])
    best, best_share = None, -1
    for a, rc in cj_side:
        if a < TRIBUTARY_MIN_CELLS:
            continue
        share = int((catchment(h, rc) & in_gz).sum())
        if share > best_share:
            best, best_share = rc, share
    if best is None:
        raise RuntimeError("no 长江 tributary drains Guizhou in 宜宾至重庆: check the window")
    cs_path, _ = trace_upstream(h, best)
    cs_line = path_line(h, cs_path)
    cs_basin = mask_polygon(h, catchment(h, best))
    cs_km2 = float(area_km2(gpd.GeoDataFrame(geometry=[cs_basin], crs=STORE_CRS)).iloc[0])
    note = _dem_note()
    rivers = _frame(
        [
            _river_row(
                "赤水河",
                "赤水河",
                "important_tributary",
                "yangtze",
                cs_line,
                note
                + "mouth = the 长江 tributary inside nmc sub-basin 长江干流「宜宾至重庆」 whose "
                "catchment covers most of Guizhou; traced upstream by max accumulation to "
                f"{TRACE_MIN_CELLS} cells; 长江 important tributary (长江保护法)",
            )
        ]
    )
    km = float(length_km(rivers).iloc[0])
    figures["赤水河_km"] = round(km, 1)
    figures["赤水河_dev_pct"] = _pct(km, PUBLISHED["赤水河_km"])
    figures.update(_ends("赤水河", cs_line))
    figures["赤水河流域_km2"] = round(cs_km2)
    figures["赤水河流域_dev_pct"] = _pct(cs_km2, PUBLISHED["赤水河流域_km2"])
    figures["赤水河流域_in_guizhou_cells"] = best_share
    basin_layers = {
        "chishui_basin": _frame(
            [
                {
                    "name": "赤水河流域",
                    "zone_class": "sub_basin",
                    "basin": "yangtze",
                    "accuracy": "approximate",
                    "derivation": note
                    + f"catchment of the traced 赤水河 mouth; {round(cs_km2)} km² vs "
                    f"published ≈20,440 km² ({figures['赤水河流域_dev_pct']:+} %)",
                    "geometry": cs_basin,
                }
            ]
        ),
    }
    _write(r, rivers, basin_layers, figures)
    return figures


def _write(
    r: Region,
    rivers: gpd.GeoDataFrame,
    basin_layers: dict[str, gpd.GeoDataFrame],
    figures: dict[str, object],
) -> None:
    d = r.derived_dir
    write_gpkg(rivers, d / "rivers_derived.gpkg", "rivers", first=True)
    for i, (name, gdf) in enumerate(basin_layers.items()):
        write_gpkg(gdf, d / "basins_derived.gpkg", name, first=i == 0)
    params = {
        "window_margin_deg": WINDOW_MARGIN_DEG,
        "qaidam_min_depth_m": QAIDAM_MIN_DEPTH_M,
        "qaidam_min_cells": QAIDAM_MIN_CELLS,
        "other_sink_min_depth_m": OTHER_SINK_MIN_DEPTH_M,
        "other_sink_min_cells": OTHER_SINK_MIN_CELLS,
        "trace_min_cells": TRACE_MIN_CELLS,
        "tributary_min_cells": TRIBUTARY_MIN_CELLS,
        "simplify_deg": SIMPLIFY_DEG,
        "published": PUBLISHED,
    }
    text = json.dumps({"parameters": params, "checks": figures}, ensure_ascii=False, indent=2)
    (d / "derivation.json").write_text(text + "\n", encoding="utf-8")


def main() -> None:
    print("qinghai", qinghai())
    print("guizhou", guizhou())


if __name__ == "__main__":
    main()
