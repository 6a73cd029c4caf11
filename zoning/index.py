"""The loaded layer set: one STRtree and parallel attribute arrays per layer, built once.

Why: every screening request asks the same question of the same layers, so all parsing,
checksum verification, tree building and geometry preparation happen once at start-up
(``LayerIndex.load``) and requests only do bulk tree queries and vectorised geometry work.
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from layers.catalog import Catalog, CatalogEntry
from layers.errors import LayerError
from layers.kinds import load_kinds
from layers.load import (
    load_coverage,
    load_pieces,
    load_vector,
    load_vector_table,
    open_catalog,
)
from layers.subdivide import MAX_VERTICES, dense_pieces, pieces_current, subdivide
from zoning.errors import DataUnavailableError, LayerNotFoundError

# Kinds whose units partition the land (``containment: true`` in layers/kinds.yaml): the engine
# reports which units contain the site (with shares) instead of listing them as nearby zones.
CONTAINMENT_KINDS = load_kinds().containment_kinds
# Attributes promoted to Hit fields, so not repeated in Hit.attributes.
_HIT_FIELDS = ("feature_id", "name", "zone_class", "accuracy")


@dataclass
class VectorLayer:
    """One vector layer: geometries (prepared) in a tree, attributes in parallel arrays.

    The feature geometries (``geoms``) and their tree (``tree``) may be decoded on first use
    from the WKB they were stored as (``wkb``): screening reads the pieces (``parts``), so a
    point batch or a service that only screens never decodes a province's red lines twice.
    """

    entry: CatalogEntry
    _geoms: NDArray[np.object_] | None
    _tree: shapely.STRtree | None
    feature_id: NDArray[np.object_]
    name: NDArray[np.object_]
    zone_class: NDArray[np.object_]
    accuracy: NDArray[np.object_]
    attrs: dict[str, NDArray[np.object_]]  # other columns, parallel to geoms, None = missing
    coverage: BaseGeometry | None = None
    geom_types: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    # Small pieces of the features (``zoning.subdivide``), prepared, in their own tree: what
    # the screening predicates and overlays run against. ``part_row`` maps piece → feature row.
    parts: NDArray[np.object_] = field(default_factory=lambda: np.empty(0, dtype=object))
    part_row: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    part_tree: shapely.STRtree = field(default_factory=lambda: shapely.STRtree([]))
    # ``parts`` with long edges densified, filled on first use (``dense``): what distances are
    # measured to, so that projected edges follow the lon/lat-straight edges.
    dense_parts: NDArray[np.object_] = field(default_factory=lambda: np.empty(0, dtype=object))
    # until ``geoms`` are decoded: what reads their stored WKB (an Arrow binary array)
    wkb: Callable[[], Any] | None = None
    _decoding: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def geoms(self) -> NDArray[np.object_]:
        """The features' geometries (prepared), decoded the first time they are asked for."""
        if self._geoms is None:
            with self._decoding:
                if self._geoms is None:
                    assert self.wkb is not None
                    wkb = self.wkb().to_numpy(zero_copy_only=False)
                    geoms = np.asarray(shapely.from_wkb(wkb), dtype=object)
                    shapely.prepare(geoms)
                    self._geoms, self.wkb = geoms, None
        return self._geoms

    @property
    def tree(self) -> shapely.STRtree:
        """An STRtree of ``geoms``, made on first use."""
        if self._tree is None:
            geoms = self.geoms
            with self._decoding:
                if self._tree is None:
                    self._tree = shapely.STRtree(geoms)
        return self._tree

    def after_fork(self) -> None:
        """A lock held by another thread at a fork would never be released in the child."""
        self._decoding = threading.Lock()

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def is_containment(self) -> bool:
        return self.entry.kind in CONTAINMENT_KINDS

    def attributes(self, rows: NDArray[np.intp]) -> list[dict[str, Any]]:
        """JSON-safe attribute dicts for the given rows (only hit rows are ever converted)."""
        picked = {name: values[rows] for name, values in self.attrs.items()}
        return [{name: json_safe(v[k]) for name, v in picked.items()} for k in range(len(rows))]

    def dense(self, pieces: NDArray[np.intp]) -> NDArray[np.object_]:
        """The densified pieces at ``pieces``, computed the first time each one is asked for.

        Densifying every piece at load doubled the start-up time and memory of a province-scale
        set, while a batch measures distances to a fraction of them. Callers hold the index lock
        or are the only thread working on this layer (``zoning.bulk``).
        """
        if len(self.dense_parts) != len(self.parts):
            self.dense_parts = np.full(len(self.parts), None, dtype=object)
        todo = np.unique(pieces[shapely.is_missing(self.dense_parts[pieces])])
        if todo.size:
            self.dense_parts[todo] = dense_pieces(self.parts[todo])
        return self.dense_parts[pieces]

    def column(self, name: str, rows: NDArray[np.intp]) -> NDArray[np.object_]:
        """Values of attribute ``name`` at ``rows`` (None where missing or no such column)."""
        values = self.attrs.get(name)
        if values is None:
            return np.full(len(rows), None, dtype=object)
        return values[rows]


@dataclass
class RasterLayer:
    """A raster layer opened once with rasterio (reads are windowed per site)."""

    entry: CatalogEntry
    path: Path
    dataset: Any  # rasterio DatasetReader
    coverage: BaseGeometry | None = None

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass(eq=False)  # identity: indexes are tracked in a WeakSet (fork handling)
class LayerIndex:
    """All layers of a processed data folder, ready for screening."""

    data_dir: Path
    catalog: Catalog
    vectors: dict[str, VectorLayer]
    rasters: dict[str, RasterLayer]
    extent: BaseGeometry | None
    versions: dict[str, str]
    version: str
    load_seconds: float = 0.0
    # GEOS builds the search structures of a prepared geometry lazily, without locking, so two
    # threads must never query the same layers at once: ``screen`` and ``screen_many`` hold this
    # while they work (the service runs request handlers in a thread pool).
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @classmethod
    def load(
        cls,
        data_dir: Path | str | None = None,
        *,
        verify: bool = True,
        piece_vertices: int = MAX_VERTICES,
    ) -> LayerIndex:
        """Load every catalog layer once; checksum failures raise ``DataUnavailableError``.

        ``piece_vertices``: features with more vertices are cut into pieces for the index
        (``zoning.subdivide``); the answers do not depend on it, only the speed does.
        """
        import time

        t0 = time.perf_counter()
        folder = Path(data_dir or os.environ.get("ZONING_DATA_DIR") or "data/processed")
        try:
            catalog = open_catalog(folder, verify=verify)
            vectors: dict[str, VectorLayer] = {}
            rasters: dict[str, RasterLayer] = {}
            coverages: dict[str, BaseGeometry | None] = {}  # layers of a region share one file
            for entry in catalog.layers:
                key = entry.coverage or ""
                if key not in coverages:
                    coverages[key] = load_coverage(folder, entry)
                    if coverages[key] is not None:
                        shapely.prepare(coverages[key])
                coverage = coverages[key]
                if entry.geometry_type == "raster":
                    path = folder / entry.path
                    try:
                        dataset = rasterio.open(path)
                    except rasterio.errors.RasterioIOError as exc:
                        raise DataUnavailableError(
                            f"layer '{entry.id}': cannot open raster {path}: {exc}",
                            field="data",
                            hint="rebuild the data pack with `zoning build`",
                        ) from exc
                    rasters[entry.id] = RasterLayer(entry, path, dataset, coverage)
                else:
                    stored = (
                        load_pieces(folder, entry)
                        if pieces_current(entry, piece_vertices)
                        else None
                    )
                    lazy = _lazy_vector_layer(entry, folder, coverage, stored)
                    vectors[entry.id] = lazy or _vector_layer(
                        entry, load_vector(folder, entry), coverage, piece_vertices, stored
                    )
        except LayerError as exc:
            raise DataUnavailableError(
                str(exc), field="data", hint="run `zoning build` to (re)build the data pack"
            ) from exc
        versions = {e.id: e.version for e in catalog.layers}
        digest = hashlib.sha256(
            "\n".join(f"{k}={v}" for k, v in sorted(versions.items())).encode()
        ).hexdigest()
        loaded = cls(
            data_dir=folder,
            catalog=catalog,
            vectors=vectors,
            rasters=rasters,
            extent=_extent(catalog, vectors, rasters),
            versions=versions,
            version=f"sha256:{digest}",
            load_seconds=time.perf_counter() - t0,
        )
        _LOADED.add(loaded)
        # The index is hundreds of thousands of long-lived objects (geometries, attribute
        # values). Moving them out of the collector's generations spares every later full
        # collection from walking them, which showed as 30–50 % noise on point batches, and keeps
        # forked workers from touching (and so copying) their pages.
        gc.collect()
        gc.freeze()
        return loaded

    def after_fork(self) -> None:
        """In a forked worker: own raster handles and a fresh lock.

        A GDAL dataset opened before ``fork`` shares its file offset with every other process,
        so concurrent windowed reads would interleave; a lock held by another thread at the
        moment of the fork would never be released in the child.
        """
        self.lock = threading.RLock()
        for vector in self.vectors.values():
            vector.after_fork()
        for raster in self.rasters.values():
            raster.dataset = rasterio.open(raster.path)

    def layer(self, layer_id: str) -> VectorLayer | RasterLayer:
        found = self.vectors.get(layer_id) or self.rasters.get(layer_id)
        if found is None:
            raise LayerNotFoundError(
                f"no layer {layer_id!r}",
                field="layer",
                hint=f"known layers: {', '.join(sorted(self.versions))}",
            )
        return found


_LOADED: weakref.WeakSet[LayerIndex] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for index in list(_LOADED):
        index.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _lazy_vector_layer(
    entry: CatalogEntry,
    folder: Path,
    coverage: BaseGeometry | None,
    stored: tuple[NDArray[np.object_], NDArray[np.intp]] | None,
) -> VectorLayer | None:
    """The layer with its feature geometries left as WKB until asked for (``VectorLayer.geoms``),
    when ``zoning build`` stored its pieces (the pieces are all screening needs, and the build
    keeps no missing or empty feature); None otherwise (``_vector_layer`` decodes them)."""
    if stored is None:
        return None
    found = load_vector_table(folder, entry)
    if found is None:
        return None
    table, types, read_wkb = found
    if (types < 0).any() or len(table) != entry.feature_count:
        return None  # missing geometries (not a build's file): decoded and dropped as before
    parts, part_row = stored
    shapely.prepare(parts)
    return _layer_from(entry, table, None, coverage, types, parts, part_row, read_wkb)


def _vector_layer(
    entry: CatalogEntry,
    gdf: Any,
    coverage: BaseGeometry | None,
    piece_vertices: int,
    stored: tuple[NDArray[np.object_], NDArray[np.intp]] | None,
) -> VectorLayer:
    present = ~(gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    gdf = gdf[present].reset_index(drop=True)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if present.all() and pieces_current(entry, piece_vertices):
        # built by ``zoning build``: its pieces, or none needed (features are their own pieces)
        parts, part_row = stored or (geoms.copy(), np.arange(len(geoms), dtype=np.intp))
    else:
        parts, part_row = subdivide(geoms, piece_vertices)
    shapely.prepare(parts)  # pieces of small features are the features themselves
    shapely.prepare(geoms)
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    types = shapely.get_type_id(geoms).astype(np.int32)
    return _layer_from(entry, table, geoms, coverage, types, parts, part_row, None)


def _layer_from(
    entry: CatalogEntry,
    table: pd.DataFrame,
    geoms: NDArray[np.object_] | None,
    coverage: BaseGeometry | None,
    types: NDArray[np.int32],
    parts: NDArray[np.object_],
    part_row: NDArray[np.intp],
    wkb: Callable[[], Any] | None,
) -> VectorLayer:
    """The layer from its attribute table and either its geometries or what reads their WKB."""
    n = len(table)

    def column(name: str, default: Any) -> NDArray[np.object_]:
        if name in table.columns:
            series = table[name]
            values = series.astype(str).to_numpy(dtype=object)
            values[series.isna().to_numpy()] = None
            return values
        return np.full(n, default, dtype=object)

    feature_id = column("feature_id", None)
    if n and feature_id[0] is None:
        feature_id = np.array([str(i) for i in range(1, n + 1)], dtype=object)
    attrs = {str(c): _objects(table[c]) for c in table.columns if c not in _HIT_FIELDS}
    return VectorLayer(
        entry=entry,
        _geoms=geoms,
        _tree=shapely.STRtree(geoms) if geoms is not None else None,
        feature_id=feature_id,
        name=column("name", None),
        zone_class=column("zone_class", None),
        accuracy=_fill(column("accuracy", entry.accuracy), entry.accuracy),
        attrs=attrs,
        coverage=coverage,
        geom_types=types,
        parts=parts,
        part_row=part_row,
        part_tree=shapely.STRtree(parts),
        dense_parts=np.full(len(parts), None, dtype=object),
        wkb=wkb,
    )


def _extent(
    catalog: Catalog, vectors: dict[str, VectorLayer], rasters: dict[str, RasterLayer]
) -> BaseGeometry | None:
    """Where the loaded data says sites are expected: coverage polygons, else layer bboxes.

    Used only to recognise swapped lon/lat, so a rough extent is enough.
    """
    parts: list[BaseGeometry] = []
    seen: set[int] = set()
    for entry in catalog.layers:
        layer = vectors.get(entry.id) or rasters.get(entry.id)
        if layer is not None and layer.coverage is not None:
            if id(layer.coverage) not in seen:  # shared coverage objects: union each once
                seen.add(id(layer.coverage))
                parts.append(layer.coverage)
        elif entry.feature_count or entry.geometry_type == "raster":
            parts.append(shapely.box(*entry.bbox))
    if not parts:
        return None
    extent = shapely.union_all(parts)
    shapely.prepare(extent)
    return extent


def _objects(series: pd.Series) -> NDArray[np.object_]:
    """A column as an object array with None for missing values (vectorised)."""
    values = series.to_numpy(dtype=object, copy=True)
    values[series.isna().to_numpy()] = None
    return values


def _fill(values: NDArray[np.object_], default: str) -> NDArray[np.object_]:
    out = values.copy()
    out[pd.isna(out)] = default
    return out


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def json_safe(value: Any) -> Any:
    """Convert numpy/pandas scalars to JSON-safe Python values (NaN/NaT → None)."""
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if _missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)
