"""Areas, lengths and distances against independent pyproj.Geod computations (within 0.1 %).

Ground truth note: GIS polygons stored in lon/lat have edges that are straight in lon/lat; Geod
assumes geodesic edges. Both sides are densified to 0.0005° so they describe the same shape.
"""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from zoning import measure

GEOD = pyproj.Geod(ellps="GRS80")
DENSE = 0.0005


def geod_area(g: shapely.Geometry) -> float:
    dense = shapely.orient_polygons(shapely.segmentize(g, DENSE))
    return abs(GEOD.geometry_area_perimeter(dense)[0])


def brute_distance(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Min Geod distance over densely sampled points of a's and b's boundaries/lines."""
    pa = shapely.get_coordinates(shapely.segmentize(a.boundary if a.area else a, 0.0002))
    pb = shapely.get_coordinates(shapely.segmentize(b.boundary if b.area else b, 0.0002))
    ia, ib = np.meshgrid(np.arange(len(pa)), np.arange(len(pb)))
    _, _, d = GEOD.inv(pa[ia.ravel(), 0], pa[ia.ravel(), 1], pb[ib.ravel(), 0], pb[ib.ravel(), 1])
    return float(np.min(d))


def quad(lon: float, lat: float, w: float, h: float, skew: float) -> shapely.Polygon:
    return shapely.Polygon(
        [(lon, lat), (lon + w, lat + skew * h), (lon + w * (1 + skew), lat + h), (lon, lat + h)]
    )


def test_units() -> None:
    assert measure.m2_to_ha(15_000.0) == 1.5
    assert measure.m2_to_mu(10_000.0) == pytest.approx(15.0)
    assert abs(measure.M2_PER_MU - 2000 / 3) < 1e-9


@settings(max_examples=30, deadline=None)
@given(
    lon=st.floats(74, 134),
    lat=st.floats(18, 53),
    w=st.floats(0.001, 0.3),
    h=st.floats(0.001, 0.3),
    skew=st.floats(0.0, 0.5),
)
def test_area_within_0_1_percent_of_geod(lon: float, lat: float, w: float, h: float, skew: float) -> None:
    poly = quad(lon, lat, w, h, skew)
    tr = measure.local_transformer(*poly.centroid.coords[0])
    ours = measure.areas_m2(np.array([poly]), tr)[0]
    assert ours == pytest.approx(geod_area(poly), rel=1e-3)
    assert measure.geodesic_area_m2(poly) == pytest.approx(geod_area(poly), rel=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    lon=st.floats(74, 134),
    lat=st.floats(18, 53),
    dx=st.floats(-0.2, 0.2),
    dy=st.floats(-0.2, 0.2),
)
def test_distance_and_length_within_0_1_percent(lon: float, lat: float, dx: float, dy: float) -> None:
    site = shapely.box(lon, lat, lon + 0.01, lat + 0.01)
    line = shapely.LineString([(lon + 0.005 + dx, lat + 0.3), (lon + 0.02 + dx, lat + 0.3 + dy)])
    tr = measure.local_transformer(*site.centroid.coords[0])
    site_local = measure.project(site, tr)
    line_local = measure.project(np.array([line]), tr)
    ours = measure.distances_m(site_local, line_local, tr)[0]
    assert ours == pytest.approx(brute_distance(site, line), rel=1e-3)
    length = measure.lengths_m(np.array([line]), tr)[0]
    truth = GEOD.geometry_length(shapely.segmentize(line, DENSE))
    assert length == pytest.approx(truth, rel=1e-3)
    assert measure.geodesic_length_m(line) == pytest.approx(truth, rel=1e-3)


def test_intersecting_distance_is_zero() -> None:
    tr = measure.local_transformer(101.7, 36.6)
    a = measure.project(shapely.box(101.7, 36.6, 101.71, 36.61), tr)
    b = measure.project(np.array([shapely.Point(101.705, 36.605)]), tr)
    assert measure.distances_m(a, b, tr)[0] == 0.0


def test_geodesic_circle_radius() -> None:
    ring = measure.geodesic_circle(101.7, 36.6, 1234.0)
    _, _, d = GEOD.inv(np.full(len(ring), 101.7), np.full(len(ring), 36.6), ring[:, 0], ring[:, 1])
    assert np.allclose(d, 1234.0, rtol=1e-9)
    assert shapely.Polygon(ring).exterior.is_ccw


def test_degree_margin_is_conservative() -> None:
    for lat in (0.0, 30.0, 53.0):
        dlon, dlat = measure.degree_margin(lat, 10_000.0)
        _, _, east = GEOD.inv(100.0, lat + dlat, 100.0 + dlon, lat + dlat)
        _, _, north = GEOD.inv(100.0, lat, 100.0, lat + dlat)
        assert east >= 10_000.0 and north >= 10_000.0
