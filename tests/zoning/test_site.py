"""Site parsing: every accepted input form and every bad input named with field and hint."""

from __future__ import annotations

import math

import pytest
import shapely

from tests.zoning.conftest import geod_area
from zoning.errors import CoordinateMistakeError, CRSError, InvalidGeometryError, TooLargeError
from zoning.site import Site

SQUARE = [[[101.72, 36.58], [101.73, 36.58], [101.73, 36.59], [101.72, 36.59], [101.72, 36.58]]]


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [101.72, 36.58]},
        {"type": "MultiPoint", "coordinates": [[101.72, 36.58], [101.73, 36.59]]},
        {"type": "LineString", "coordinates": [[101.72, 36.58], [101.73, 36.59]]},
        {"type": "MultiLineString", "coordinates": [[[101.72, 36.58], [101.73, 36.59]]]},
        {"type": "Polygon", "coordinates": SQUARE},
        {"type": "MultiPolygon", "coordinates": [SQUARE]},
    ],
)
def test_every_geojson_type(geometry: dict) -> None:
    site = Site.from_geojson(geometry)
    assert site.geom_type == geometry["type"]
    assert site.input_crs == "EPSG:4326"
    assert site.warnings == []
    if "Polygon" in geometry["type"]:
        assert site.area_m2 == pytest.approx(geod_area(site.geometry), rel=1e-9)
        assert 980_000 < site.area_m2 < 1_000_000  # 0.01° × 0.01° at 36.6°N ≈ 0.99 km²
    info = site.to_info()
    assert info.area_mu == pytest.approx(info.area_ha * 15)


def test_feature_and_json_text() -> None:
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": SQUARE}}
    assert Site.from_geojson(feature).geom_type == "Polygon"
    assert Site.from_geojson('{"type": "Point", "coordinates": [101.7, 36.6]}').geom_type == "Point"


def test_wkt_lonlat_radius() -> None:
    assert Site.from_wkt("LINESTRING (101.7 36.6, 101.8 36.6)").length_m == pytest.approx(
        8950, rel=0.01
    )
    point = Site.from_lonlat(101.7, 36.6)
    assert point.centroid == (101.7, 36.6)
    circle = Site.from_point_radius(101.7, 36.6, 500.0)
    assert circle.area_m2 == pytest.approx(math.pi * 500.0**2, rel=2e-4)
    assert circle.radius_m == 500.0


def test_three_d_drops_z_with_warning() -> None:
    site = Site.from_geojson({"type": "Point", "coordinates": [101.7, 36.6, 2300.0]})
    assert not shapely.has_z(site.geometry)
    assert any("Z" in w for w in site.warnings)
    site = Site.from_wkt("POINT Z (101.7 36.6 2300)")
    assert not shapely.has_z(site.geometry) and site.warnings


def test_invalid_polygon_repaired_with_warning() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[101.7, 36.6], [101.71, 36.61], [101.71, 36.6],
                                                  [101.7, 36.61], [101.7, 36.6]]]}
    site = Site.from_geojson(bowtie)
    assert site.geometry.is_valid
    assert any("repaired" in w and "Self-intersection" in w for w in site.warnings)
    assert site.area_m2 > 0


def test_unclosed_ring_is_closed_with_warning() -> None:
    ring = [[101.72, 36.58], [101.73, 36.58], [101.73, 36.59], [101.72, 36.59]]
    site = Site.from_geojson({"type": "Polygon", "coordinates": [ring]})
    assert site.geometry.is_valid and any("not closed" in w for w in site.warnings)


@pytest.mark.parametrize(
    ("geometry", "error", "field"),
    [
        ({"type": "Polygon", "coordinates": []}, InvalidGeometryError, "geometry.coordinates"),
        ({"type": "MultiPoint", "coordinates": []}, InvalidGeometryError, "geometry.coordinates"),
        ({"type": "Polygon", "coordinates": [[[101.7, 36.6], [101.8, float("nan")], [101.8, 36.7],
                                             [101.7, 36.6]]]},
         InvalidGeometryError, "geometry.coordinates[0][1]"),
        ({"type": "LineString", "coordinates": [[101.7, 36.6], [101.8, float("inf")]]},
         InvalidGeometryError, "geometry.coordinates[1]"),
        ({"type": "Polygon", "coordinates": [[[101.7, 36.6], [101.8, "36.6"], [101.8, 36.7],
                                             [101.7, 36.6]]]},
         InvalidGeometryError, "geometry.coordinates[0][1][1]"),
        ({"type": "Point", "coordinates": [101.7]}, InvalidGeometryError, "geometry.coordinates"),
        ({"type": "Point", "coordinates": "101.7,36.6"}, InvalidGeometryError, "geometry.coordinates"),
        ({"type": "Point"}, InvalidGeometryError, "geometry.coordinates"),
        ({"type": "Circle", "coordinates": [1, 2]}, InvalidGeometryError, "geometry.type"),
        ({"type": "GeometryCollection", "geometries": []}, InvalidGeometryError, "geometry.type"),
        ({"type": "FeatureCollection", "features": []}, InvalidGeometryError, "geometry.type"),
        ({"type": "Feature", "geometry": None}, InvalidGeometryError, "geometry.geometry"),
        ({"type": "Polygon", "coordinates": [[[101.7, 36.6], [101.8, 36.6], [101.7, 36.6]]]},
         InvalidGeometryError, "geometry.coordinates[0]"),
        ({"type": "Point", "coordinates": [200.0, 36.6]}, CRSError, "geometry.coordinates"),
        ({"type": "Point", "coordinates": [36.6, 101.7]}, CoordinateMistakeError,
         "geometry.coordinates"),
    ],
)
def test_bad_geojson(geometry: dict, error: type, field: str) -> None:
    with pytest.raises(error) as err:
        Site.from_geojson(geometry)
    assert err.value.field == field
    assert err.value.hint


def test_bad_top_level_values() -> None:
    for value in (None, 3, [1, 2], "not json"):
        with pytest.raises(InvalidGeometryError) as err:
            Site.from_geojson(value)  # type: ignore[arg-type]
        assert err.value.field == "geometry"


def test_bad_wkt_and_numbers() -> None:
    with pytest.raises(InvalidGeometryError, match="cannot be parsed") as err:
        Site.from_wkt("POLYGON ((1 2, 3")
    assert err.value.field == "wkt"
    with pytest.raises(InvalidGeometryError, match="GeometryCollection"):
        Site.from_wkt("GEOMETRYCOLLECTION (POINT (101 36))")
    with pytest.raises(InvalidGeometryError, match="empty"):
        Site.from_wkt("POLYGON EMPTY")
    with pytest.raises(InvalidGeometryError) as err:
        Site.from_lonlat(float("nan"), 36.6)
    assert err.value.field == "lon"
    with pytest.raises(InvalidGeometryError) as err:
        Site.from_lonlat("101.7", 36.6)  # type: ignore[arg-type]
    assert err.value.field == "lon"
    with pytest.raises(InvalidGeometryError) as err:
        Site.from_point_radius(101.7, 36.6, -5)
    assert err.value.field == "radius_m"


def test_vertex_limit_is_configurable() -> None:
    ring = [[101.7 + 0.001 * i, 36.6 + 0.0001 * (i % 2)] for i in range(50)]
    line = {"type": "LineString", "coordinates": ring}
    assert Site.from_geojson(line, max_vertices=50).vertex_count == 50
    with pytest.raises(TooLargeError) as err:
        Site.from_geojson(line, max_vertices=49)
    assert err.value.status_code == 413 and err.value.field == "geometry.coordinates"
    with pytest.raises(TooLargeError):
        Site.from_wkt(shapely.LineString(ring).wkt, max_vertices=10)


def test_projected_and_web_map_inputs() -> None:
    gk = Site.from_lonlat(34_500_000.0, 4_000_000.0, crs="EPSG:4522")
    assert gk.input_crs == "EPSG:4522"
    assert gk.centroid[0] == pytest.approx(102.0)
    gcj = Site.from_lonlat(116.41024449916938, 39.91640428150164, crs="GCJ02")
    assert gcj.centroid == pytest.approx((116.404, 39.915), abs=1e-8)
    with pytest.raises(CRSError):
        Site.from_lonlat(101.7, 36.6, crs="EPSG:nope")
