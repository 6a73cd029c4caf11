"""Feature geometries left as WKB until asked for (``VectorLayer.geoms``) give the very layer
that decoding them at load gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import shapely

from layers.load import load_pieces, load_vector, wkb_type_ids
from layers.subdivide import MAX_VERTICES
from zoning.index import LayerIndex, _vector_layer


def test_lazy_layers_equal_layers_decoded_at_load(bundled_data_dir: Path) -> None:
    index = LayerIndex.load(bundled_data_dir)
    lazy = [v for v in index.vectors.values() if v.wkb is not None]
    assert lazy, "the bundled pack has layers with stored pieces: those load lazily"
    for layer in lazy:
        eager = _vector_layer(layer.entry, load_vector(bundled_data_dir, layer.entry),
                              layer.coverage, MAX_VERTICES, load_pieces(bundled_data_dir, layer.entry))
        assert np.array_equal(layer.geom_types, eager.geom_types)  # read from the WKB headers
        assert np.array_equal(layer.feature_id, eager.feature_id)
        assert np.array_equal(layer.name, eager.name) and np.array_equal(layer.accuracy, eager.accuracy)
        assert layer.attrs.keys() == eager.attrs.keys()
        for key in layer.attrs:
            assert np.array_equal(layer.attrs[key], eager.attrs[key]), key
        assert layer.wkb is not None  # nothing so far needed the geometries
        assert shapely.equals_exact(layer.geoms, eager.geoms, tolerance=0).all()
        assert layer.wkb is None and shapely.is_prepared(layer.geoms).all()
        window = shapely.box(*shapely.total_bounds(layer.geoms[:3]))
        assert np.array_equal(np.sort(layer.tree.query(window)), np.sort(eager.tree.query(window)))


def test_geometry_types_are_read_from_wkb_headers() -> None:
    geoms = np.asarray([
        shapely.Point(1, 2), shapely.LineString([(0, 0), (1, 1)]), shapely.box(0, 0, 1, 1),
        shapely.MultiPoint([(0, 0)]), shapely.MultiLineString([[(0, 0), (1, 1)]]),
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]),
        shapely.GeometryCollection([shapely.Point(0, 0)]), shapely.Point(1, 2, 3), None,
    ], dtype=object)
    expected = shapely.get_type_id(geoms)
    for options in ({}, {"byte_order": 0}, {"flavor": "iso"}, {"include_srid": True}):
        wkb = pa.array(list(shapely.to_wkb(geoms, **options)), type=pa.binary())
        assert wkb_type_ids(wkb).tolist() == expected.tolist(), options
        assert wkb_type_ids(wkb[2:]).tolist() == expected[2:].tolist()  # a slice of the array


def test_a_features_file_damaged_after_start_is_refused_when_its_geometries_are_read(
    bundled_data_copy: Path,
) -> None:
    from layers.errors import CatalogError

    index = LayerIndex.load(bundled_data_copy)
    layer = next(v for v in index.vectors.values() if v.wkb is not None)
    with open(bundled_data_copy / layer.entry.path, "ab") as damaged:
        damaged.write(b"x")
    with pytest.raises(CatalogError, match="does not match the catalog checksum"):
        _ = layer.geoms
