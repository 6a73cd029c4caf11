"""30″ (≈1 km) DEM clip from ``meteva``'s ``dem_0.00833.nc`` as an int16 Cloud Optimized GeoTIFF.

Why this source: it is the only real elevation grid in the reachable registries (data-sources.md
§4). Its grid registration is undocumented, and the obvious reading (``lat``/``lon`` = cell
centres) is half a cell off. ``registration_check`` decides between the two standard
conventions — cell centres, or lower-left cell corners (the common ESRI-ASCII ``xllcorner`` slip)
— with features that do not come from the DEM:

- rivers lie in valley bottoms: the mean DEM value sampled every ~200 m along the named 1:4M
  river lines in a Qinghai and a Guizhou window must be lowest under the chosen convention;
- lakes are flat: the share of cells at water level inside the 1:4M 青海湖 / 扎陵湖 / 鄂陵湖
  polygons must peak within half a cell of it;
- spot heights: 青海湖 3194 m, 西宁 ≈2261 m, 贵阳 ≈1071 m (city elevations as usually quoted).

The corners convention wins on the rivers (see ``CONVENTIONS``) and the script stops if that ever
changes. ``read_window`` is shared with ``real_derived`` (which needs a window larger than a
province).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin

from layers.extract.common import (
    REGIONS,
    STORE_CRS,
    Region,
    dist_version,
    load_outline,
    nmc_maps,
    package_dir,
    read_gbk,
)

RES = 1.0 / 120.0  # 30 arc-seconds
SRC_NODATA = -999
NODATA = -32768
MARGIN_DEG = 0.25  # "province bbox plus a small margin": ~25 km, enough for the buffered rivers

#: Offset (in cells) from the file's lon/lat values to the cell centres, per convention.
CONVENTIONS = {"centres": (0.0, 0.0), "lower_left_corners": (0.5, 0.5)}
CONVENTION = "lower_left_corners"  # chosen by registration_check (rivers), see module docstring
#: Windows for the river test (one per province, away from the DEM's outer edge).
RIVER_TEST_WINDOWS = ((96.0, 32.0, 103.0, 38.0), (104.0, 25.0, 110.0, 30.0))

#: Spot elevations used as a coarse check (tolerance covers the 1 km cell).
KNOWN_POINTS = {  # name: (lon, lat, expected m, tolerance m)
    "青海湖": (100.2, 36.9, 3194, 5),
    "西宁": (101.78, 36.62, 2261, 40),
    "贵阳": (106.71, 26.58, 1071, 40),
}


def dem_path() -> Path:
    return package_dir("meteva") / "resources" / "stations" / "dem_0.00833.nc"


@dataclass
class Window:
    """A north-up int16 elevation window with its affine transform (EPSG:4490 degrees)."""

    data: np.ndarray
    transform: rasterio.Affine
    lon: np.ndarray  # cell-centre longitudes, ascending
    lat: np.ndarray  # cell-centre latitudes, descending (north-up)


def read_window(
    west: float, south: float, east: float, north: float, convention: str = CONVENTION
) -> Window:
    """Read the cells whose centres fall in the box, with centres per ``convention``."""
    import netCDF4

    dx, dy = CONVENTIONS[convention]
    with netCDF4.Dataset(dem_path()) as ds:
        lat = np.asarray(ds["lat"][:]) + dy * RES
        lon = np.asarray(ds["lon"][:]) + dx * RES
        i0, i1 = np.searchsorted(lat, [south, north])
        j0, j1 = np.searchsorted(lon, [west, east])
        block = np.asarray(ds["data0"][0, 0, 0, 0, i0:i1, j0:j1]).astype(np.int16)
    block = np.where(block == SRC_NODATA, NODATA, block).astype(np.int16)[::-1]  # north-up
    lat_w = lat[i0:i1][::-1]
    lon_w = lon[j0:j1]
    transform = from_origin(lon_w[0] - RES / 2, lat_w[0] + RES / 2, RES, RES)
    return Window(block, transform, lon_w, lat_w)


def _value_at(w: Window, lon: float, lat: float) -> int:
    return int(w.data[np.abs(w.lat - lat).argmin(), np.abs(w.lon - lon).argmin()])


def river_floor_m(convention: str) -> list[float]:
    """Mean DEM along the named 1:4M river lines, per test window (lower = better registered)."""
    rivers = read_gbk(nmc_maps() / "hyd2_4l.shp", "EPSG:4326")
    rivers = rivers[rivers["GBCODE"] == 21011]  # river centre lines, not lake shores
    means = []
    for x0, y0, x1, y1 in RIVER_TEST_WINDOWS:
        w = read_window(x0, y0, x1, y1, convention)
        lines = rivers.cx[x0:x1, y0:y1].geometry.segmentize(0.002).values
        pts = shapely.get_coordinates(lines)
        pts = pts[
            (pts[:, 0] > x0 + 0.1)
            & (pts[:, 0] < x1 - 0.1)
            & (pts[:, 1] > y0 + 0.1)
            & (pts[:, 1] < y1 - 0.1)
        ]
        col = np.round((pts[:, 0] - w.lon[0]) / RES).astype(int)
        row = np.round((w.lat[0] - pts[:, 1]) / RES).astype(int)
        means.append(round(float(w.data[row, col].astype(float).mean()), 1))
    return means


def registration_check() -> dict[str, object]:
    """Check the chosen convention against rivers, lakes and spot heights; raise if it fails."""
    figures: dict[str, object] = {}
    floors = {c: river_floor_m(c) for c in CONVENTIONS}
    figures["river_mean_m"] = floors
    other = [c for c in CONVENTIONS if c != CONVENTION]
    for c in other:
        if not all(a <= b for a, b in zip(floors[CONVENTION], floors[c], strict=True)):
            raise RuntimeError(f"DEM registration: rivers sit lower under {c!r}: {floors}")
    lakes = read_gbk(nmc_maps() / "hyd2_4p.shp", "EPSG:4326")
    for name in ("青海湖", "扎陵湖", "鄂陵湖"):
        poly = lakes[lakes["NAME"] == name].geometry.union_all()
        x0, y0, x1, y1 = poly.bounds
        w = read_window(x0 - 0.1, y0 - 0.1, x1 + 0.1, y1 + 0.1)
        lo, la = np.meshgrid(w.lon, w.lat)
        scores = {}
        for dx in (-1.0, -0.5, 0.0, 0.5, 1.0):
            for dy in (-1.0, -0.5, 0.0, 0.5, 1.0):
                inside = shapely.contains_xy(poly, lo + dx * RES, la + dy * RES)
                vals = w.data[inside]
                level = np.bincount(vals - vals.min()).argmax() + vals.min()
                scores[(dx, dy)] = float((vals == level).mean())
        best = max(scores, key=lambda k: scores[k])
        if max(abs(best[0]), abs(best[1])) > 0.5:
            raise RuntimeError(f"DEM registration: {name} flattest at shift {best} cells")
        figures[f"{name}_flat_share"] = round(scores[(0.0, 0.0)], 3)
        figures[f"{name}_best_shift_cells"] = best
    for name, (lon, lat, expected, tol) in KNOWN_POINTS.items():
        w = read_window(lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05)
        got = _value_at(w, lon, lat)
        if abs(got - expected) > tol:
            raise RuntimeError(f"DEM check {name}: {got} m, expected {expected}±{tol} m")
        figures[f"{name}_m"] = got
    return figures


def write_cog(w: Window, path: Path) -> None:
    """Write an int16 deflate COG; GDAL adds no timestamp, so the bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "COG",
        "dtype": "int16",
        "count": 1,
        "height": w.data.shape[0],
        "width": w.data.shape[1],
        "crs": STORE_CRS,
        "transform": w.transform,
        "nodata": NODATA,
        "compress": "DEFLATE",
        "predictor": 2,
        "blocksize": 512,
        "overview_resampling": "average",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(w.data, 1)
        dst.update_tags(
            source=f"meteva {dist_version('meteva')} meteva/resources/stations/dem_0.00833.nc",
            units="m",
            accuracy="approximate",
            registration=f"file lon/lat taken as {CONVENTION} (see layers/extract/real_dem.py)",
        )
        dst.set_band_unit(1, "m")


def run(r: Region) -> dict[str, object]:
    x0, y0, x1, y1 = load_outline(r).total_bounds
    w = read_window(x0 - MARGIN_DEG, y0 - MARGIN_DEG, x1 + MARGIN_DEG, y1 + MARGIN_DEG)
    path = r.real_dir / "dem.tif"
    write_cog(w, path)
    valid = w.data[w.data != NODATA]
    return {
        "shape": w.data.shape,
        "min_m": int(valid.min()),
        "max_m": int(valid.max()),
        "bytes": path.stat().st_size,
    }


def main() -> None:
    print("registration", registration_check())
    for r in REGIONS:
        print(r.key, run(r))


if __name__ == "__main__":
    main()
