"""screen_many gives the same hits and numbers as screen, site by site."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from zoning.bulk import screen_many_full
from zoning.errors import InvalidGeometryError
from zoning.index import LayerIndex
from zoning.screen import screen, screen_many
from zoning.site import Site


def _sites(seed: int = 7, n: int = 12) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(101.55, 101.97, n)
    lat = rng.uniform(36.42, 36.75, n)
    w = rng.uniform(0.001, 0.05, n)
    geoms = list(shapely.box(lon, lat, lon + w, lat + w))
    geoms[1] = shapely.Point(lon[1], lat[1])
    geoms[2] = shapely.LineString([(lon[2], lat[2]), (lon[2] + 0.1, lat[2] + 0.05)])
    geoms[3] = shapely.Point(101.71, 36.62)  # inside red line A
    geoms[4] = shapely.box(101.70, 36.60, 101.75, 36.65)  # red line A itself
    geoms[5] = shapely.box(101.88, 36.5, 101.92, 36.52)  # straddles the park coverage
    geoms[6] = shapely.LineString([(101.71, 36.58), (101.71, 36.67)])
    return gpd.GeoDataFrame(geometry=geoms, crs="EPSG:4490", index=np.arange(100, 100 + n))


def _single(site_geom: shapely.Geometry, index: LayerIndex, **kw: object) -> pd.DataFrame:
    result = screen(Site.from_geometry(site_geom, "EPSG:4490"), index, **kw)  # type: ignore[arg-type]
    rows = [h.model_dump(exclude={"attributes"}) for h in result.hits]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("buffers", [(1000.0, 5000.0, 10000.0), ()])
def test_bulk_equals_single(index: LayerIndex, buffers: tuple[float, ...]) -> None:
    sites = _sites()
    bulk = screen_many(sites, index, buffers)
    assert list(bulk.columns)[:4] == ["site_index", "layer", "layer_kind", "feature_id"]
    assert set(bulk["site_index"]) <= set(sites.index)
    for label, geom in sites.geometry.items():
        single = _single(geom, index, buffers_m=buffers)
        mine = bulk[bulk["site_index"] == label]
        key = ["layer", "feature_id", "relation"]
        a = single.sort_values(key).reset_index(drop=True) if len(single) else single
        b = mine.sort_values(key).reset_index(drop=True)
        assert len(a) == len(b), (label, a, b)
        if not len(a):
            continue
        assert a[key].astype(str).equals(b[key].astype(str))
        for col in ("overlap_area_m2", "overlap_ratio", "length_inside_m", "distance_m",
                    "band_m", "share"):
            x = a[col].astype(float).to_numpy()
            y = b[col].astype(float).to_numpy()
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6, err_msg=f"{label} {col}")


def test_bulk_rivers_and_coverage(index: LayerIndex) -> None:
    sites = _sites()
    bulk = screen_many_full(sites, index, chunk_size=5)  # several chunks
    cov = bulk.coverage
    straddle = cov[(cov["site_index"] == 105) & (cov["layer"] == "national_park")]
    assert straddle["status"].tolist() == ["no_data"]
    assert 0 < straddle["covered_share"].iloc[0] < 1
    key = ["site_index", "layer", "feature_id", "relation"]
    chunked = bulk.hits.sort_values(key).reset_index(drop=True)
    whole = screen_many(sites, index).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(chunked, whole, check_exact=False, rtol=1e-9)
    rivers = bulk.rivers
    for label, geom in sites.geometry.items():
        single = screen(Site.from_geometry(geom, "EPSG:4490"), index).rivers
        mine = rivers[rivers["site_index"] == label]
        assert len(single) == len(mine)
        for r in single:
            row = mine[(mine["river"] == r.river) & (mine["level"] == r.level)]
            assert row["distance_m"].iloc[0] == pytest.approx(r.distance_m, rel=1e-6)


def test_bulk_points_fast_path_and_empty(index: LayerIndex) -> None:
    pts = gpd.GeoDataFrame(
        geometry=[shapely.Point(101.71, 36.62), None, shapely.Point(80.0, 30.0)], crs=4490
    )
    bulk = screen_many(pts, index, ())
    assert set(bulk["site_index"]) == {0}
    assert {"A", "630102"} <= set(bulk["feature_id"])
    empty = screen_many(pts.iloc[2:], index, ())
    assert empty.empty and "site_index" in empty.columns


def test_bulk_reprojects_and_refuses_collections(index: LayerIndex) -> None:
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(101.71, 36.62)], crs=4326).to_crs(4543)
    assert "A" in set(screen_many(pts, index, ())["feature_id"])
    bad = gpd.GeoDataFrame(
        geometry=[shapely.GeometryCollection([shapely.Point(101.7, 36.6)])], crs=4490
    )
    with pytest.raises(InvalidGeometryError):
        screen_many(bad, index)


def test_threads_give_the_same_answer(index: LayerIndex) -> None:
    """Layers screened in parallel threads: same table as one thread, again and again."""
    sites = _sites(n=60)
    one = screen_many_full(sites, index, threads=1)
    for _ in range(5):
        many = screen_many_full(sites, index, threads=4)
        pd.testing.assert_frame_equal(many.hits, one.hits)
        pd.testing.assert_frame_equal(many.coverage, one.coverage)
        pd.testing.assert_frame_equal(many.rivers, one.rivers)
