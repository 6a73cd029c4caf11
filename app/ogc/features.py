"""GeoJSON feature text from a GeoDataFrame, vectorised and chunkable.

Why text and not dicts: OGC item pages (up to 10 000 features) and whole-layer GeoJSON downloads
are the service's biggest responses. Geometries are written by ``shapely.to_geojson`` over the
whole array and properties by pandas' line-delimited JSON writer, both in C; Python only glues
the two strings per feature. Downloads call ``iter_feature_chunks`` to stream a layer in pieces
rather than build one large string.
"""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from app.ogc.crs import OutputCRS, to_output


def property_frame(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """The attribute columns of ``gdf`` (everything but the active geometry)."""
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    return pd.DataFrame(gdf[cols])


def _property_lines(props: pd.DataFrame) -> list[str]:
    if props.empty and len(props.columns) == 0:
        return ["{}"] * len(props)
    for col in props.columns:
        # Other geometry-typed columns cannot go through pandas' JSON writer; send them as WKT.
        if isinstance(props[col].dtype, gpd.array.GeometryDtype):
            props[col] = shapely.to_wkt(np.asarray(props[col]))
    text = props.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
    lines = text.split("\n")
    return [line for line in lines if line] if len(props) else []


def feature_strings(gdf: gpd.GeoDataFrame, target: OutputCRS) -> list[str]:
    """One GeoJSON Feature string per row, geometry in ``target`` (already axis-ordered)."""
    if len(gdf) == 0:
        return []
    geoms = to_output(np.asarray(gdf.geometry.values, dtype=object), target)
    geom_json = shapely.to_geojson(geoms)
    props = property_frame(gdf).reset_index(drop=True)
    prop_json = _property_lines(props.copy())
    ids = [orjson.dumps(str(v)).decode() for v in gdf["feature_id"].to_numpy()]
    return [
        f'{{"type":"Feature","id":{fid},"geometry":{geom if geom is not None else "null"},'
        f'"properties":{prop}}}'
        for fid, geom, prop in zip(ids, geom_json, prop_json, strict=True)
    ]


def iter_feature_chunks(
    gdf: gpd.GeoDataFrame, target: OutputCRS, chunk_size: int = 1000
) -> Iterator[str]:
    """Comma-joined Feature strings, ``chunk_size`` rows at a time (for streamed downloads)."""
    for start in range(0, len(gdf), chunk_size):
        part = gdf.iloc[start : start + chunk_size]
        yield ",\n".join(feature_strings(part, target))
