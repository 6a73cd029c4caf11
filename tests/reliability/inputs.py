"""Builders of malformed and hostile inputs, shared by the catalog and the security tests."""

from __future__ import annotations

import io
import zipfile

from openpyxl import Workbook

SQUARE = [[101.70, 36.60], [101.72, 36.60], [101.72, 36.62], [101.70, 36.62], [101.70, 36.60]]


def polygon(n: int) -> dict[str, object]:
    """A closed ring of ``n`` vertices around Xining (a circle, valid)."""
    import numpy as np

    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = np.column_stack([101.7 + 0.01 * np.cos(t), 36.6 + 0.01 * np.sin(t)]).round(6).tolist()
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def nested_collection(depth: int) -> dict[str, object]:
    geom: dict[str, object] = {"type": "Point", "coordinates": [101.7, 36.6]}
    for _ in range(depth):
        geom = {"type": "GeometryCollection", "geometries": [geom]}
    return geom


def nested_json(depth: int) -> str:
    """As ``nested_collection`` but as text: too deep for the json module to encode."""
    head = '{"type": "GeometryCollection", "geometries": ['
    return head * depth + '{"type": "Point", "coordinates": [101.7, 36.6]}' + "]}" * depth


def nested_wkt(depth: int) -> str:
    return "GEOMETRYCOLLECTION (" * depth + "POINT (101.7 36.6)" + ")" * depth


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_bomb() -> bytes:
    """50 MB of zeros in a ~50 kB archive: ratio ~1000 (a real bomb is bigger; the rule is the same)."""
    return zip_of({"sites.geojson": b"\0" * 50_000_000})


def shapefile_zip(drop: str | None = None) -> bytes:
    """A zipped point shapefile written by GDAL, optionally without one part (e.g. '.shx')."""
    import tempfile
    from pathlib import Path

    import geopandas as gpd
    import shapely

    with tempfile.TemporaryDirectory() as tmp:
        gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(101.7, 36.6)], crs=4326)
        gdf.to_file(Path(tmp) / "site.shp")
        parts = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if not p.name.endswith(drop or "\0")}
    return zip_of(parts)


KML_XXE = b"""<?xml version="1.0"?>
<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&xxe;</name>
<Point><coordinates>101.7,36.6</coordinates></Point></Placemark></kml>
"""

GEOJSON_SITE = b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[101.7,36.6]}}]}'


def traversal_zip() -> bytes:
    return zip_of({"../../x": b"pwned", "site.geojson": GEOJSON_SITE})


def csv_rows(rows: list[tuple[str, str]], encoding: str = "utf-8") -> bytes:
    lines = ["编号,经度,纬度"] + [f"P{i},{lon},{lat}" for i, (lon, lat) in enumerate(rows)]
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_merged_header() -> bytes:
    """A sheet whose header is a merged title row ("项目坐标") over unnamed sub-columns."""
    wb = Workbook()
    ws = wb.active
    ws.append(["项目坐标", None, None])
    ws.merge_cells("A1:C1")
    ws.append(["P1", 101.7, 36.6])
    ws.append(["P2", 101.8, 36.7])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def shapefile_zip_with(extra: dict[str, bytes]) -> bytes:
    """A valid zipped shapefile plus hostile extra members (a ``../`` path, a bomb)."""
    import io as _io

    base = zipfile.ZipFile(_io.BytesIO(shapefile_zip()))
    members = {n: base.read(n) for n in base.namelist()}
    members.update(extra)
    return zip_of(members)
