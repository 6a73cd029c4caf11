"""Deterministic province-scale synthetic layer set, written as processed data.

Why: the bundled data pack is small, so it cannot show how screening scales. This generator
writes a Qinghai-sized set (≥ 50,000 red-line-like polygons with jagged outlines, ≥ 10 million
vertices, plus national-park zones, rivers and control units tiling the area) in exactly the
layout ``zoning build`` produces (GeoParquet EPSG:4490 + ``catalog.json`` through
``layers.catalog``), so every engine reads it the way it reads real data.

Everything is vectorised numpy: outlines are star-shaped around a centre (angles strictly
increasing, radius always positive), which makes every ring simple and valid without repair;
low-frequency lobes give irregular shapes and per-vertex noise gives the digitised jaggedness of
real red-line boundaries. The same seed gives byte-identical files.

    python -m bench.synth --out bench/out/synth [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from bench.measure import area_m2, geodesic_length_m
from layers.catalog import Catalog, CatalogEntry, read_catalog, sha256_file, write_catalog
from layers.outlines import OUTLINES_SUFFIX, outlines_format, write_outlines
from layers.subdivide import MAX_VERTICES, pieces_current, write_pieces

KM_PER_DEG_LAT = 110.9
KM_PER_DEG_LON_EQ = 111.32
STORAGE_CRS = "EPSG:4490"
REGION = "synthetic"


@dataclass(frozen=True)
class SynthSpec:
    """Sizes of the synthetic set; the default is the province-scale set of issue 3 item 7."""

    n_redline: int = 50_000
    redline_vertices: tuple[int, int] = (80, 330)  # per small polygon, uniform range
    n_large: int = 40  # a few very large red-line polygons (why ST_Subdivide matters)
    large_vertices: int = 25_000
    large_radius_km: tuple[float, float] = (12.0, 30.0)
    hole_share: float = 0.1
    n_parks: int = 5
    park_vertices: int = 20_000
    n_rivers: int = 2_000
    river_vertices: tuple[int, int] = (50, 600)
    n_units: int = 3_000
    bbox: tuple[float, float, float, float] = (90.0, 31.0, 103.0, 40.0)
    seed: int = 20261121

    def key(self) -> str:
        """Short content hash: the output folder is reused only for the same spec."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


PROVINCE = SynthSpec()
QUICK = replace(
    PROVINCE,
    n_redline=5_000,
    n_large=8,
    large_vertices=5_000,
    n_parks=2,
    park_vertices=5_000,
    n_rivers=300,
    n_units=400,
)
TINY = SynthSpec(
    n_redline=300,
    redline_vertices=(20, 80),
    n_large=2,
    large_vertices=800,
    large_radius_km=(3.0, 6.0),
    n_parks=2,
    park_vertices=600,
    n_rivers=40,
    river_vertices=(20, 80),
    n_units=40,
    bbox=(100.0, 36.0, 101.0, 36.8),
)


def _km_to_deg(dx_km: np.ndarray, dy_km: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, ...]:
    return dx_km / (KM_PER_DEG_LON_EQ * np.cos(np.radians(lat))), dy_km / KM_PER_DEG_LAT


def star_rings(
    rng: np.random.Generator,
    cx: np.ndarray,
    cy: np.ndarray,
    radius_km: np.ndarray,
    counts: np.ndarray,
    lobe: float = 0.35,
    jag: float = 0.12,
) -> np.ndarray:
    """Jagged star-shaped linear rings, one per centre, all vertices generated at once.

    The radius is ``R · max(0.25, 1 + Σ lobes) · (1 + noise)`` with ``|noise| ≤ jag``, so it is
    always ≥ 0.22 R: a hole of radius ≤ 0.2 R around the same centre can never touch the shell.
    """
    n = len(cx)
    counts = np.asarray(counts, dtype=np.int64)
    ring = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(counts.sum()) - np.repeat(starts, counts)
    theta = 2 * np.pi * (k + rng.uniform(0.0, 0.8, len(k))) / counts[ring]
    shape = np.ones(len(k))
    for _ in range(3):
        order = rng.integers(2, 8, n)
        amp = rng.uniform(0.0, lobe / 3 * 1.3, n)
        phase = rng.uniform(0, 2 * np.pi, n)
        shape += amp[ring] * np.cos(order[ring] * theta + phase[ring])
    r = radius_km[ring] * np.maximum(shape, 0.25) * (1 + rng.uniform(-jag, jag, len(k)))
    dlon, dlat = _km_to_deg(r * np.cos(theta), r * np.sin(theta), cy[ring])
    coords = np.column_stack([cx[ring] + dlon, cy[ring] + dlat])
    return shapely.linearrings(coords, indices=ring)


def _jittered_centres(
    rng: np.random.Generator, n: int, bbox: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``n`` centres on a jittered grid over ``bbox`` (cells in random order) and the cell size."""
    minx, miny, maxx, maxy = bbox
    aspect = (maxx - minx) / (maxy - miny)
    nx = int(np.ceil(np.sqrt(n * aspect)))
    ny = int(np.ceil(n / nx))
    cw, ch = (maxx - minx) / nx, (maxy - miny) / ny
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
    order = rng.permutation(nx * ny)
    ix, iy = ix.ravel()[order], iy.ravel()[order]
    cx = minx + (ix + 0.5 + rng.uniform(-0.1, 0.1, ix.size)) * cw
    cy = miny + (iy + 0.5 + rng.uniform(-0.1, 0.1, iy.size)) * ch
    return cx, cy, cw, ch


def redlines(rng: np.random.Generator, spec: SynthSpec) -> gpd.GeoDataFrame:
    """Small jagged polygons on a jittered grid (no overlaps), some with holes, plus large ones."""
    # Large polygons first; small ones that would overlap them are dropped, and the grid is
    # over-provisioned so that exactly ``n_redline`` features remain.
    minx, miny, maxx, maxy = spec.bbox
    lx = rng.uniform(minx + 0.5, maxx - 0.5, spec.n_large)
    ly = rng.uniform(miny + 0.4, maxy - 0.4, spec.n_large)
    lr = rng.uniform(*spec.large_radius_km, spec.n_large)
    large = shapely.polygons(
        star_rings(rng, lx, ly, lr, np.full(spec.n_large, spec.large_vertices), lobe=0.5)
    )
    # Large ones must not overlap each other either: keep a greedy non-overlapping subset.
    keep_large = np.ones(spec.n_large, bool)
    tree_l = shapely.STRtree(large)
    a, b = tree_l.query(large, predicate="intersects")
    for i, j in zip(a, b, strict=True):  # a few dozen pairs at most, not a hot path
        if i < j and keep_large[i]:
            keep_large[j] = False
    large = large[keep_large]

    n_grid = int(spec.n_redline * 1.6) + 64
    cx, cy, cw, ch = _jittered_centres(rng, n_grid, spec.bbox)
    n_grid = len(cx)
    cell_km = min(cw * KM_PER_DEG_LON_EQ * np.cos(np.radians(maxy)), ch * KM_PER_DEG_LAT)
    # max radius factor: (1 + lobes ≤ 0.455) · (1 + jag) ≈ 1.63 → stays inside 0.4 of a cell.
    radius = rng.uniform(0.12, 0.245, n_grid) * cell_km
    free = np.ones(n_grid, bool)
    if len(large):
        near, _ = shapely.STRtree(large).query(
            shapely.points(cx, cy), predicate="dwithin", distance=max(cw, ch)
        )
        free[near] = False
    idx = np.flatnonzero(free)[: spec.n_redline - len(large)]
    if len(idx) < spec.n_redline - len(large):
        raise ValueError("synthetic spec: large red-line polygons leave too little room")
    cx, cy, radius = cx[idx], cy[idx], radius[idx]
    n_small = len(idx)
    counts = rng.integers(spec.redline_vertices[0], spec.redline_vertices[1] + 1, n_small)
    shells = star_rings(rng, cx, cy, radius, counts)
    holed = np.flatnonzero(rng.random(n_small) < spec.hole_share)
    holes = star_rings(
        rng,
        cx[holed],
        cy[holed],
        radius[holed] * rng.uniform(0.05, 0.15, len(holed)),
        rng.integers(12, 40, len(holed)),
        lobe=0.1,
        jag=0.05,
    )
    rings = np.concatenate([shells, holes])
    owner = np.concatenate([np.arange(n_small), holed])
    order = np.argsort(owner, kind="stable")  # shell first: it precedes its hole in ``rings``
    small = shapely.polygons(rings[order], indices=owner[order])
    geoms = np.concatenate([large, small])
    n = len(geoms)
    zone = np.array(["生物多样性维护", "水源涵养", "水土保持", "防风固沙"])[rng.integers(0, 4, n)]
    fid = np.char.add("RL", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
    return _frame(
        geoms,
        feature_id=fid,
        name=np.char.add("红线斑块", np.arange(1, n + 1).astype(str)),
        zone_class=np.full(n, None, dtype=object),
        code=fid,
        function=zone,
    )


def parks(rng: np.random.Generator, spec: SynthSpec) -> gpd.GeoDataFrame:
    """National parks, each split into a core protection zone and a general control zone."""
    minx, miny, maxx, maxy = spec.bbox
    cols = int(np.ceil(np.sqrt(spec.n_parks * 1.5)))
    rows = int(np.ceil(spec.n_parks / cols))
    cells = rng.permutation(cols * rows)[: spec.n_parks]
    cw, ch = (maxx - minx) / cols, (maxy - miny) / rows
    px = minx + (cells % cols + 0.5) * cw
    py = miny + (cells // cols + 0.5) * ch
    half_km = 0.5 * min(cw * KM_PER_DEG_LON_EQ * np.cos(np.radians(maxy)), ch * KM_PER_DEG_LAT)
    radius = rng.uniform(0.45, 0.58, spec.n_parks) * half_km
    counts = np.full(spec.n_parks, spec.park_vertices)
    outer = shapely.polygons(star_rings(rng, px, py, radius, counts, lobe=0.4))
    core = shapely.polygons(star_rings(rng, px, py, radius * 0.45, counts // 2, lobe=0.3))
    core = shapely.intersection(core, outer)
    general = shapely.difference(outer, core)
    geoms = np.concatenate([core, general])
    n = spec.n_parks
    park_no = np.concatenate([np.arange(1, n + 1)] * 2).astype(str)
    klass = np.repeat(np.array(["core_protection", "general_control"], dtype=object), n)
    return _frame(
        geoms,
        feature_id=np.char.add(np.char.add("NP", park_no), np.repeat(np.array(["C", "G"]), n)),
        name=np.char.add("合成国家公园", park_no),
        zone_class=klass,
        code=np.full(2 * n, None, dtype=object),
        park=np.char.add("park", park_no),
        park_status=np.full(2 * n, "established", dtype=object),
    )


def rivers(rng: np.random.Generator, spec: SynthSpec) -> gpd.GeoDataFrame:
    """Meandering random-walk rivers; a cumulative sum per river gives all vertices at once."""
    minx, miny, maxx, maxy = spec.bbox
    n = spec.n_rivers
    counts = rng.integers(spec.river_vertices[0], spec.river_vertices[1] + 1, n)
    line = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts
    turn = rng.normal(0.0, 0.25, counts.sum())
    turn[starts] = rng.uniform(0, 2 * np.pi, n)  # initial heading
    heading = np.cumsum(turn)
    heading -= np.repeat(heading[starts] - turn[starts], counts)
    step_km = rng.uniform(0.2, 0.8, n)[line]
    sx, sy = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    dlon, dlat = _km_to_deg(step_km * np.cos(heading), step_km * np.sin(heading), sy[line])
    dlon[starts] = 0.0
    dlat[starts] = 0.0
    x, y = np.cumsum(dlon), np.cumsum(dlat)
    x = x - np.repeat(x[starts], counts) + sx[line]
    y = y - np.repeat(y[starts], counts) + sy[line]
    geoms = shapely.linestrings(np.column_stack([x, y]), indices=line)
    level = np.where(
        np.arange(n) < max(1, n // 20),
        "mainstem",
        np.where(np.arange(n) < max(2, n // 4), "important_tributary", "tributary"),
    ).astype(object)
    basin = np.array(["yangtze", "yellow", "lancang", "inland"], dtype=object)[
        rng.integers(0, 4, n)
    ]
    fid = np.char.add("RV", np.char.zfill(np.arange(1, n + 1).astype(str), 5))
    return _frame(
        geoms,
        feature_id=fid,
        name=np.char.add("合成河", np.arange(1, n + 1).astype(str)),
        zone_class=level,
        code=np.full(n, None, dtype=object),
        river=np.char.add("合成河", np.arange(1, n + 1).astype(str)),
        basin=basin,
    )


def units(rng: np.random.Generator, spec: SynthSpec) -> gpd.GeoDataFrame:
    """Control units tiling the whole extent (Voronoi cells clipped to the box)."""
    minx, miny, maxx, maxy = spec.bbox
    seeds = shapely.points(
        rng.uniform(minx, maxx, spec.n_units), rng.uniform(miny, maxy, spec.n_units)
    )
    box = shapely.box(*spec.bbox)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box, ordered=True)
    )
    cells = shapely.intersection(cells, box)
    n = len(cells)
    klass = np.array(["priority_protection", "key_control", "general_control"], dtype=object)[
        rng.choice(3, n, p=[0.5, 0.2, 0.3])
    ]
    code = np.char.add("ZH6300", np.char.zfill(np.arange(1, n + 1).astype(str), 5))
    return _frame(
        cells,
        feature_id=code,
        name=np.char.add("合成管控单元", np.arange(1, n + 1).astype(str)),
        zone_class=klass,
        code=code,
    )


def _frame(geoms: np.ndarray, **columns: np.ndarray) -> gpd.GeoDataFrame:
    """A layer with the standard columns (accuracy, derivation, area_km2 / length_km)."""
    n = len(geoms)
    data = {k: np.asarray(v).astype(object) if k != "zone_class" else v for k, v in columns.items()}
    data["accuracy"] = np.full(n, "illustrative", dtype=object)
    data["derivation"] = np.full(n, "synthetic: bench.synth (seeded)", dtype=object)
    gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=STORAGE_CRS))
    kind = shapely.get_type_id(geoms[0])
    if kind in (3, 6):
        gdf["area_km2"] = area_m2(geoms) / 1e6
    else:
        gdf["length_km"] = geodesic_length_m(geoms) / 1e3
    return gdf


LAYERS = {
    # id: (kind, title, geometry_type, builder)
    "syn_redline": ("ecological_red_line", "合成生态保护红线", "polygon", redlines),
    "syn_park": ("national_park", "合成国家公园", "polygon", parks),
    "syn_river": ("river", "合成河流", "line", rivers),
    "syn_unit": ("control_unit", "合成环境管控单元", "polygon", units),
}


def _outlines_stale(entry: CatalogEntry) -> bool:
    """Outlines made otherwise than this code makes them, or in an older file format."""
    return entry.outlines_format != outlines_format() or not str(entry.outlines).endswith(
        OUTLINES_SUFFIX)


def add_pieces(out: Path) -> Path:
    """(Re)write the pieces and outlines files of a set made by older code, as ``zoning build``
    would."""
    catalog = read_catalog(out)
    if all(pieces_current(e, MAX_VERTICES) and not _outlines_stale(e) for e in catalog.layers):
        return out
    entries = []
    for entry in catalog.layers:
        geoms = np.asarray(gpd.read_parquet(out / entry.path).geometry.values, dtype=object)
        update = {} if pieces_current(entry, MAX_VERTICES) else write_pieces(geoms, out, entry.id)
        if _outlines_stale(entry):
            update.update(write_outlines(geoms, out, entry.id))
        entries.append(entry.model_copy(update=update))
    write_catalog(out, Catalog(layers=entries))
    return out


def generate(spec: SynthSpec, out: Path | str, force: bool = False) -> Path:
    """Write the layer set for ``spec`` under ``out`` (reused if already complete); returns it."""
    out = Path(out)
    stamp = out / "synth_spec.json"
    if not force and stamp.exists() and json.loads(stamp.read_text())["key"] == spec.key():
        return add_pieces(out)
    (out / "layers").mkdir(parents=True, exist_ok=True)
    entries = []
    for offset, (layer_id, (kind, title, gtype, builder)) in enumerate(LAYERS.items()):
        rng = np.random.default_rng([spec.seed, offset])
        gdf = builder(rng, spec)
        rel = f"layers/{layer_id}.parquet"
        gdf.to_parquet(out / rel, index=False)
        entries.append(
            CatalogEntry(
                id=layer_id,
                kind=kind,
                title=title,
                title_en=f"synthetic {kind}",
                region=REGION,
                geometry_type=gtype,
                feature_count=len(gdf),
                bbox=tuple(float(v) for v in gdf.total_bounds),
                total_area_km2=float(gdf["area_km2"].sum()) if gtype == "polygon" else None,
                total_length_km=float(gdf["length_km"].sum()) if gtype == "line" else None,
                accuracy="illustrative",
                source="bench.synth (deterministic synthetic benchmark data)",
                derivation=f"seed {spec.seed}, spec {spec.key()}",
                version=sha256_file(out / rel),
                path=rel,
                fields=[c for c in gdf.columns if c != "geometry"],
                **write_pieces(np.asarray(gdf.geometry.values, dtype=object), out, layer_id),
                **write_outlines(np.asarray(gdf.geometry.values, dtype=object), out, layer_id),
            )
        )
    write_catalog(out, Catalog(layers=entries))
    stamp.write_text(json.dumps({"key": spec.key(), "spec": asdict(spec)}, indent=1) + "\n")
    return out


def site_points(n: int, bbox: tuple[float, float, float, float], seed: int) -> gpd.GeoDataFrame:
    """``n`` uniformly scattered point sites (seeded)."""
    rng = np.random.default_rng([seed, 101])
    minx, miny, maxx, maxy = bbox
    pts = shapely.points(rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n))
    return gpd.GeoDataFrame({"site": np.arange(n)}, geometry=pts, crs=STORAGE_CRS)


def site_polygons(n: int, bbox: tuple[float, float, float, float], seed: int) -> gpd.GeoDataFrame:
    """``n`` small jagged polygon sites, 0.2–1.5 km across-radius, 12–40 vertices (seeded)."""
    rng = np.random.default_rng([seed, 102])
    minx, miny, maxx, maxy = bbox
    cx, cy = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    rings = star_rings(rng, cx, cy, rng.uniform(0.2, 1.5, n), rng.integers(12, 41, n), jag=0.08)
    return gpd.GeoDataFrame(
        {"site": np.arange(n)}, geometry=shapely.polygons(rings), crs=STORAGE_CRS
    )


def site_lines(n: int, bbox: tuple[float, float, float, float], seed: int) -> gpd.GeoDataFrame:
    """``n`` line sites (roads, pipelines): 5–40 vertices, 50–300 m steps (seeded)."""
    rng = np.random.default_rng([seed, 103])
    sub = SynthSpec(n_rivers=n, river_vertices=(5, 40), bbox=bbox)
    walk = rivers(rng, sub)  # same random-walk generator, shorter steps below
    geoms = walk.geometry.values
    cx = shapely.get_coordinates(shapely.get_point(geoms, 0))
    scale = rng.uniform(0.25, 0.4, n)
    # Shrink each walk around its first vertex: steps of 0.2–0.8 km become ~50–300 m.
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    coords = cx[idx] + (coords - cx[idx]) * scale[idx, None]
    lines = shapely.linestrings(coords, indices=idx)
    return gpd.GeoDataFrame({"site": np.arange(n)}, geometry=lines, crs=STORAGE_CRS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/out/synth")
    parser.add_argument("--quick", action="store_true", help="a 10x smaller set")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    spec = QUICK if args.quick else PROVINCE
    out = generate(spec, args.out, force=args.force)
    for entry in json.loads((out / "catalog.json").read_text())["layers"]:
        print(entry["id"], entry["feature_count"], entry["bbox"])


if __name__ == "__main__":
    main()
