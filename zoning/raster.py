"""Zonal statistics of raster layers (elevation, slope) over a site, with rasterio.

Why slope here and not in the data pack: slope depends on the metric size of a cell, which in a
lon/lat grid shrinks with latitude (east–west) — computing it on the fly from the DEM window
around the site, with cell sizes measured on the ellipsoid at each row's latitude, keeps the data
pack to one raster and the figure right everywhere.

Polygons use the cells whose centres fall inside (or, for a polygon smaller than a cell, the
cells it touches); points and lines use the cells they touch.
"""

from __future__ import annotations

import numpy as np
import rasterio
import rasterio.windows
import shapely
from numpy.typing import NDArray

from zoning.index import RasterLayer
from zoning.measure import GEOD
from zoning.result import RasterStats
from zoning.site import Site


def zonal_stats(site: Site, layer: RasterLayer) -> RasterStats | None:
    """Min/mean/max of band 1 and slope (degrees) over the site; ``None`` if outside the grid."""
    ds = layer.dataset
    minx, miny, maxx, maxy = site.geometry.bounds
    left, bottom, right, top = ds.bounds
    if maxx < left or minx > right or maxy < bottom or miny > top:
        return None
    full = rasterio.windows.Window(0, 0, ds.width, ds.height)
    win = rasterio.windows.from_bounds(minx, miny, maxx, maxy, transform=ds.transform)
    # one cell of margin so slope at the site's edge uses real neighbours
    win = rasterio.windows.Window(
        int(np.floor(win.col_off)) - 1,
        int(np.floor(win.row_off)) - 1,
        int(np.ceil(win.width)) + 3,
        int(np.ceil(win.height)) + 3,
    )
    try:
        win = win.intersection(full)
    except rasterio.errors.WindowError:
        return None
    data = ds.read(1, window=win, masked=True).astype("float64")
    values = np.ma.filled(data, np.nan)
    transform = ds.window_transform(win)
    inside = _cells(site, values.shape, transform)
    inside &= np.isfinite(values)
    stats = RasterStats(layer=layer.id, unit=layer.entry.unit, cells=int(inside.sum()))
    if not inside.any():
        return stats
    slope = slope_deg(values, transform)
    vals = values[inside]
    s = slope[inside]
    s = s[np.isfinite(s)]
    stats.min = float(vals.min())
    stats.mean = float(vals.mean())
    stats.max = float(vals.max())
    if s.size:
        stats.slope_deg_mean = float(s.mean())
        stats.slope_deg_max = float(s.max())
    return stats


def _cells(site: Site, shape: tuple[int, int], transform: rasterio.Affine) -> NDArray[np.bool_]:
    """Cells of the window that the site selects (vectorised over cells with shapely)."""
    rows, cols = shape
    x0, y0, dx, dy = transform.c, transform.f, transform.a, transform.e
    xs = x0 + (np.arange(cols) + 0.5) * dx
    ys = y0 + (np.arange(rows) + 0.5) * dy
    if site.is_polygonal:
        gx, gy = np.meshgrid(xs, ys)
        inside = shapely.contains_xy(site.geometry, gx, gy)
        if inside.any():
            return inside
    # points, lines and polygons smaller than a cell: every cell the geometry touches
    left = x0 + np.arange(cols) * dx
    top = y0 + np.arange(rows) * dy
    gl, gt = np.meshgrid(left, top)
    boxes = shapely.box(gl, gt + dy, gl + dx, gt)
    return shapely.intersects(site.geometry, boxes)


def slope_deg(values: NDArray[np.float64], transform: rasterio.Affine) -> NDArray[np.float64]:
    """Slope in degrees of a lon/lat grid, with cell sizes in metres at each row's latitude."""
    rows, cols = values.shape
    if rows < 2 or cols < 2:
        return np.full(values.shape, np.nan)
    res_x, res_y = transform.a, -transform.e
    lon0 = transform.c
    lat = transform.f - (np.arange(rows) + 0.5) * res_y
    _, _, dx = GEOD.inv(np.full(rows, lon0), lat, np.full(rows, lon0 + res_x), lat)
    _, _, dy = GEOD.inv(
        np.full(rows, lon0), lat - res_y / 2, np.full(rows, lon0), lat + res_y / 2
    )
    dzdy, dzdx = np.gradient(values)
    gx = dzdx / np.asarray(dx)[:, None]
    gy = dzdy / np.asarray(dy)[:, None]
    return np.degrees(np.arctan(np.hypot(gx, gy)))
