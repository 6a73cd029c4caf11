"""30″ (≈1 km) DEM clip from ``meteva``'s ``dem_0.00833.nc`` as an int16 Cloud Optimized GeoTIFF.

Why this source: it is the only real elevation grid in the reachable registries (data-sources.md
§4). Its grid registration is undocumented, so before writing we check that the ``lat``/``lon``
vectors are cell *centres*: the share of cells at the lake's water level inside the 1:4M lake
polygons (青海湖, 扎陵湖, 鄂陵湖) must peak within half a cell of that assumption, and the known
elevations of 青海湖 (≈3194 m), 西宁 (≈2247 m) and 贵阳 (≈1081 m) must match. The script stops if not.
The lake test cannot resolve better than about half a cell (the 1:4M shorelines are themselves
good to ~1 km); it shows a slight preference for +0.5 cell east, which is within that noise, so
the registration is documented as "cell centres, ±0.5 cell".

``read_window`` is shared with ``real_derived`` (which needs a window larger than a province).
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

#: Published / station elevations used to verify the grid registration (data-sources.md §4).
KNOWN_POINTS = {  # name: (lon, lat, expected m, tolerance m)
    "青海湖": (100.2, 36.9, 3194, 5),
    "西宁": (101.78, 36.62, 2247, 40),
    "贵阳": (106.71, 26.58, 1081, 40),
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


def read_window(west: float, south: float, east: float, north: float) -> Window:
    """Read the cells whose centres fall in the box; lat/lon in the file are cell centres."""
    import netCDF4

    with netCDF4.Dataset(dem_path()) as ds:
        lat = np.asarray(ds["lat"][:])
        lon = np.asarray(ds["lon"][:])
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


def registration_check() -> dict[str, object]:
    """Verify the cell-centre assumption; raise if elevations or lake flatness disagree."""
    lakes = read_gbk(nmc_maps() / "hyd2_4p.shp", "EPSG:4326")
    figures: dict[str, object] = {}
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
            raise RuntimeError(
                f"DEM registration: {name} flattest at shift {best} cells, not centre"
            )
        figures[f"{name}_flat_share_centre"] = round(scores[(0.0, 0.0)], 3)
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
