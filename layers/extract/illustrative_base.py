"""The real layers the illustrative generator stands on, and the geometry operations it uses.

Why one class: every illustrative rule is an expression over the same few real inputs (admin
units, the 30″ DEM, 1:4M rivers and lakes, basins, DEM-derived rivers/basins). Loading them once
and offering small operations (union of counties, elevation band, buffer in metres, bisection
on a threshold) keeps the builders short and makes every rule evaluate the same way.

Geometry is kept in EPSG:4490 (storage CRS, the admin layer's own coordinates, so control units
share county edges exactly); buffers, simplification tolerances and areas go through the
equal-area Albers projection of ``common.ALBERS_EQ`` (never degrees).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from pyproj import Geod, Transformer
from rasterio import features
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

from layers.extract.common import ALBERS_EQ, STORE_CRS
from layers.extract.illustrative_rules import AreaSpec, Point, RuleFile

_TO_EQ = Transformer.from_crs(STORE_CRS, ALBERS_EQ, always_xy=True)
_FROM_EQ = Transformer.from_crs(ALBERS_EQ, STORE_CRS, always_xy=True)
_GEOD = Geod(ellps="GRS80")
EMPTY = shapely.MultiPolygon()


def to_eq(geom: BaseGeometry) -> BaseGeometry:
    """Project lon/lat (EPSG:4490) to the equal-area metric CRS."""
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_EQ.transform(xy[:, 0], xy[:, 1])))


def from_eq(geom: BaseGeometry) -> BaseGeometry:
    """Back from the equal-area CRS to EPSG:4490."""
    return shapely.transform(
        geom, lambda xy: np.column_stack(_FROM_EQ.transform(xy[:, 0], xy[:, 1]))
    )


def polygonal(geom: BaseGeometry | None) -> BaseGeometry:
    """Valid (Multi)Polygon part of a geometry; lines/points from overlays are dropped."""
    if geom is None or geom.is_empty:
        return EMPTY
    geom = shapely.make_valid(geom)
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, shapely.Polygon | shapely.MultiPolygon)]
    return shapely.union_all(parts) if parts else EMPTY


def area_km2(geom: BaseGeometry) -> float:
    """Equal-area size in km²."""
    return 0.0 if geom.is_empty else float(to_eq(geom).area) / 1e6


def buffer_m(geom: BaseGeometry, metres: float) -> BaseGeometry:
    """Buffer by a distance in metres (through the equal-area CRS, not in degrees)."""
    if geom.is_empty:
        return EMPTY
    return from_eq(to_eq(geom).buffer(metres, quad_segs=8))


def simplify_m(geom: BaseGeometry, metres: float) -> BaseGeometry:
    """Topology-preserving simplification with a tolerance in metres."""
    if geom.is_empty:
        return EMPTY
    return polygonal(from_eq(shapely.simplify(to_eq(geom), metres, preserve_topology=True)))


def union(geoms: Iterable[BaseGeometry]) -> BaseGeometry:
    """Polygonal union of several geometries (empty-safe)."""
    gs = [g for g in geoms if g is not None and not g.is_empty]
    return polygonal(shapely.union_all(gs)) if gs else EMPTY


def bisect(fn: Callable[[float], float], lo: float, hi: float, target: float, *, steps: int = 24,
           increasing: bool) -> float:
    """Parameter in [lo, hi] whose monotone ``fn`` value is closest to ``target``."""
    best, best_err = lo, abs(fn(lo) - target)
    for _ in range(steps):
        mid = (lo + hi) / 2.0
        val = fn(mid)
        if abs(val - target) < best_err:
            best, best_err = mid, abs(val - target)
        if (val < target) == increasing:
            lo = mid
        else:
            hi = mid
    return best


@dataclass
class RealData:
    """Real layers of one region, read from ``data/raw/<region>/real`` and ``derived``."""

    region_dir: Path
    rules: RuleFile
    _band_cache: dict[tuple[float | None, float | None], BaseGeometry] = field(default_factory=dict)

    # ---------------------------------------------------------------- admin
    @cached_property
    def counties(self) -> gpd.GeoDataFrame:
        """Counties as a clean coverage: where 天地图 polygons overlap (slivers of a few hundred
        m²), the county with the lower adcode keeps the sliver, so per-county outputs such as the
        control units never overlap."""
        gdf = self._read("real/admin.gpkg", "county").sort_values("adcode").reset_index(drop=True)
        geoms = [polygonal(g) for g in gdf.geometry]
        tree = shapely.STRtree(geoms)
        for i, g in enumerate(geoms):
            earlier = [j for j in tree.query(g, predicate="intersects") if j < i]
            if earlier:
                geoms[i] = polygonal(shapely.difference(g, shapely.union_all([geoms[j] for j in earlier])))
        gdf["geometry"] = geoms
        return gdf

    @cached_property
    def prefectures(self) -> gpd.GeoDataFrame:
        return self._read("real/admin.gpkg", "prefecture")

    @cached_property
    def province(self) -> BaseGeometry:
        return polygonal(self._read("real/admin.gpkg", "province").geometry.union_all())

    def _read(self, rel: str, layer: str | None = None) -> gpd.GeoDataFrame:
        path = self.region_dir / rel
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: the illustrative layers are derived from the real layers; "
                "run `python -m layers.extract.real_all` (in /work/.venv-extract) first"
            )
        gdf = gpd.read_file(path, layer=layer)
        return gdf.to_crs(STORE_CRS)

    def _unit(self, table: gpd.GeoDataFrame, name: str, what: str) -> pd.Series:
        hits = table[table["name"].astype(str).str.startswith(name)]
        if len(hits) != 1:
            raise ValueError(
                f"{what} {name!r} matches {len(hits)} units in {self.region_dir.name} "
                f"({hits['name'].tolist()}); use a longer, unique name prefix"
            )
        return hits.iloc[0]

    def county(self, name: str) -> pd.Series:
        """The one county whose name starts with ``name`` (else a clear error)."""
        return self._unit(self.counties, name, "county")

    def county_geom(self, names: Iterable[str]) -> BaseGeometry:
        return union(polygonal(self.county(n).geometry) for n in names)

    def prefecture_geom(self, names: Iterable[str]) -> BaseGeometry:
        return union(polygonal(self._unit(self.prefectures, n, "prefecture").geometry) for n in names)

    # ---------------------------------------------------------------- points
    def town(self, name: str) -> shapely.Point:
        """A seat point from the rule file, checked to lie in its county."""
        if name not in self.rules.towns:
            raise ValueError(f"town {name!r} is not in the rule file's `towns:`; add its seat point")
        return self._point(self.rules.towns[name], f"town {name}")

    def place(self, name: str) -> tuple[shapely.Point, Point]:
        if name not in self.rules.places:
            raise ValueError(f"place {name!r} is not in the rule file's `places:`")
        spec = self.rules.places[name]
        return self._point(spec, f"place {name}"), spec

    def _point(self, spec: Point, what: str) -> shapely.Point:
        pt = shapely.Point(spec.lon, spec.lat)
        if not self.county(spec.county).geometry.contains(pt):
            raise ValueError(f"{what} ({spec.lon}, {spec.lat}) is not inside county {spec.county}")
        return pt

    # ---------------------------------------------------------------- hydrography and basins
    @cached_property
    def rivers(self) -> gpd.GeoDataFrame:
        """1:4M rivers plus DEM-derived rivers (湟水, 大通河, 赤水河), with level/river columns."""
        frames = [self._read("real/hydro.gpkg", "rivers")]
        derived = self.region_dir / "derived/rivers_derived.gpkg"
        if derived.exists():
            for layer in pyogrio.list_layers(derived)[:, 0]:
                frames.append(gpd.read_file(derived, layer=layer).to_crs(STORE_CRS))
        out = pd.concat(frames, ignore_index=True)
        for col in ("name", "river", "level"):
            if col not in out:
                out[col] = None
        out["river"] = out["river"].fillna(out["name"])
        return gpd.GeoDataFrame(out, geometry="geometry", crs=STORE_CRS)

    @cached_property
    def lakes(self) -> gpd.GeoDataFrame:
        """1:4M lakes; Guizhou has none named in that data, so the layer may be absent."""
        path = self.region_dir / "real/hydro.gpkg"
        if path.exists() and "lakes" not in pyogrio.list_layers(path)[:, 0]:
            return gpd.GeoDataFrame({"name": []}, geometry=gpd.GeoSeries([], crs=STORE_CRS))
        return self._read("real/hydro.gpkg", "lakes")

    def lake(self, name: str) -> BaseGeometry:
        hits = self.lakes[self.lakes["name"].astype(str).str.startswith(name)]
        if hits.empty:
            raise ValueError(f"lake {name!r} not found in {self.region_dir.name}/real/hydro.gpkg lakes")
        return union(hits.geometry)

    def river(self, name: str) -> BaseGeometry:
        r = self.rivers
        hits = r[r["river"].astype(str).str.startswith(name) | r["name"].astype(str).str.startswith(name)]
        if hits.empty:
            raise ValueError(f"river {name!r} not found in the real or derived river layers")
        return shapely.union_all(hits.geometry.values)

    @cached_property
    def basins(self) -> gpd.GeoDataFrame:
        frames = []
        for rel in ("real/basins.gpkg", "derived/basins_derived.gpkg"):
            path = self.region_dir / rel
            if path.exists():
                for layer in pyogrio.list_layers(path)[:, 0]:
                    frames.append(gpd.read_file(path, layer=layer).to_crs(STORE_CRS))
        if not frames:
            raise FileNotFoundError(f"no basin layers under {self.region_dir}/real or derived")
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=STORE_CRS)

    def basin(self, names: Iterable[str]) -> BaseGeometry:
        """Union of basins whose name starts with any of ``names`` (at least one must match)."""
        names = list(names)
        col = self.basins["name"].astype(str)
        hits = self.basins[np.logical_or.reduce([col.str.startswith(n) for n in names])]
        if hits.empty:
            raise ValueError(f"no basin named {names} in {sorted(set(col))}")
        return union(polygonal(g) for g in hits.geometry)

    # ---------------------------------------------------------------- DEM
    @cached_property
    def dem(self) -> tuple[np.ndarray, rasterio.Affine]:
        path = self.region_dir / "real/dem.tif"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing (run layers.extract.real_dem first)")
        with rasterio.open(path) as src:
            arr = src.read(1, masked=True)
            return arr.filled(-32768).astype(np.int32), src.transform

    @cached_property
    def cell_km2(self) -> np.ndarray:
        """Area of one DEM cell per row (ellipsoidal), broadcastable against the DEM."""
        arr, t = self.dem
        rows = np.arange(arr.shape[0])
        top = t.f + rows * t.e
        bottom = top + t.e
        left, right = t.c, t.c + t.a
        areas = [
            abs(_GEOD.polygon_area_perimeter([left, right, right, left], [b, b, tp, tp])[0])
            for tp, b in zip(top, bottom, strict=True)
        ]
        return (np.asarray(areas) / 1e6)[:, None]

    def rasterize(self, geom: BaseGeometry) -> np.ndarray:
        """Boolean DEM-grid mask of the cells whose centre lies in ``geom``."""
        arr, t = self.dem
        if geom.is_empty:
            return np.zeros(arr.shape, bool)
        return features.rasterize([(geom, 1)], out_shape=arr.shape, transform=t, fill=0,
                                  dtype="uint8").astype(bool)

    def mask_area_km2(self, mask: np.ndarray) -> float:
        return float((self.cell_km2 * mask).sum())

    def sieve(self, mask: np.ndarray) -> np.ndarray:
        """The mask as ``polygonize`` will see it (small patches removed)."""
        if not self.rules.dem_sieve_cells:
            return mask
        return features.sieve(mask.astype("uint8"), size=self.rules.dem_sieve_cells,
                              connectivity=8).astype(bool)

    def polygonize(self, mask: np.ndarray, *, simplify: float | None = None, sieve: bool = True,
                   ) -> BaseGeometry:
        """Sieved, simplified polygons of a boolean DEM-grid mask, clipped to the province."""
        _, t = self.dem
        m = mask.astype("uint8")
        if sieve and self.rules.dem_sieve_cells:
            m = features.sieve(m, size=self.rules.dem_sieve_cells, connectivity=8)
        polys = [shapely.geometry.shape(g) for g, v in features.shapes(m, mask=m.astype(bool),
                                                                        transform=t) if v == 1]
        geom = polygonal(shapely.union_all(polys)) if polys else EMPTY
        tol = self.rules.dem_simplify_m if simplify is None else simplify
        return polygonal(shapely.intersection(simplify_m(geom, tol), self.province))

    @cached_property
    def slope_deg(self) -> np.ndarray:
        """DEM slope in degrees (central differences, cell size in metres per row)."""
        arr, t = self.dem
        z = np.where(arr > -32768, arr, np.nan).astype(float)
        lat = np.deg2rad(t.f + (np.arange(arr.shape[0]) + 0.5) * t.e)[:, None]
        dx = np.deg2rad(t.a) * 6371008.8 * np.cos(lat)
        dy = np.deg2rad(-t.e) * 6371008.8
        gy, gx = np.gradient(z)
        s = np.degrees(np.arctan(np.hypot(gx / dx, gy / dy)))
        return np.nan_to_num(s, nan=0.0)

    def slope_band(self, min_deg: float) -> BaseGeometry:
        """Land steeper than ``min_deg`` (cached)."""
        key = (-1.0, min_deg)
        if key not in self._band_cache:
            self._band_cache[key] = self.polygonize(self.slope_deg >= min_deg)
        return self._band_cache[key]

    def band(self, min_m: float | None, max_m: float | None) -> BaseGeometry:
        """Land with min_m ≤ elevation < max_m (cached: rules reuse the same thresholds)."""
        key = (min_m, max_m)
        if key not in self._band_cache:
            arr, _ = self.dem
            mask = arr > -32768
            if min_m is not None:
                mask &= arr >= min_m
            if max_m is not None:
                mask &= arr < max_m
            self._band_cache[key] = self.polygonize(mask)
        return self._band_cache[key]

    def band_in(self, geom: BaseGeometry, min_m: float | None, max_m: float | None) -> BaseGeometry:
        """``geom`` ∩ elevation band, polygonising only the cells near ``geom`` (fast)."""
        if geom.is_empty:
            return EMPTY
        arr, t = self.dem
        near = features.rasterize([(geom, 1)], out_shape=arr.shape, transform=t, fill=0,
                                  all_touched=True, dtype="uint8").astype(bool)
        near = ndimage.binary_dilation(near, iterations=2)
        mask = near & (arr > -32768)
        if min_m is not None:
            mask &= arr >= min_m
        if max_m is not None:
            mask &= arr < max_m
        return polygonal(shapely.intersection(geom, self.polygonize(mask)))

    def junction(self, names: list[str]) -> shapely.Point:
        """The point where the named counties' boundaries meet (centroid of their common edge)."""
        common = shapely.boundary(self.county(names[0]).geometry)
        for n in names[1:]:
            common = shapely.intersection(common, buffer_m(polygonal(self.county(n).geometry), 2000))
        if common.is_empty:
            raise ValueError(f"counties {names} do not meet")
        return common.centroid

    # ---------------------------------------------------------------- area expressions
    def area(self, spec: AreaSpec | list[AreaSpec], built: dict[str, BaseGeometry] | None = None,
             ) -> BaseGeometry:
        """Evaluate an area expression (or the union of a list of them)."""
        if isinstance(spec, list):
            return union(self.area(s, built) for s in spec)
        parts = []
        if spec.province:
            parts.append(self.province)
        parts.append(self.county_geom(spec.counties))
        parts.append(self.prefecture_geom(spec.prefectures))
        geom = union(parts)
        if spec.in_basins:
            geom = polygonal(shapely.intersection(geom, self.basin(spec.in_basins)))
        if spec.not_in_basins:
            geom = polygonal(shapely.difference(geom, self.basin(spec.not_in_basins)))
        if spec.near_junction is not None:
            disc = buffer_m(self.junction(spec.near_junction.counties), spec.near_junction.radius_m)
            geom = polygonal(shapely.intersection(geom, disc))
        if spec.min_elev_m is not None or spec.max_elev_m is not None:
            geom = self.band_in(geom, spec.min_elev_m, spec.max_elev_m)
        for name in spec.minus:
            if built is None or name not in built:
                raise ValueError(f"`minus: {name}` refers to a feature not built earlier in this layer")
            geom = polygonal(shapely.difference(geom, built[name]))
        return geom

    def tidy(self, geom: BaseGeometry) -> BaseGeometry:
        """Final clean-up of a constructed polygon: ~simplify_m, valid, inside the province."""
        geom = simplify_m(geom, self.rules.simplify_m)
        return polygonal(shapely.intersection(geom, self.province))
