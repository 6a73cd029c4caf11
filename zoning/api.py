"""The screening entry points every interface calls: one site, or many in bulk.

``screen_site`` turns a request (the ``POST /v1/screen`` body, or the CLI's flags in the same
shape) into a ``ScreeningResult``: parse the site, screen it spatially, evaluate the rulebook, and
stamp the data and rulebook versions. ``screen_sites`` does the same for a GeoDataFrame of sites
through the engine's bulk path, returning one summary row per site and one row per hit.

This module is the only place where "today" is read (for a request without ``as_of``): the
engine and the evaluator stay pure.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from zoning.errors import InvalidGeometryError, ZoningError
from zoning.index import CONTAINMENT_KINDS, LayerIndex, RasterLayer, VectorLayer
from zoning.result import ScreeningResult, Versions
from zoning.rules import Rulebook, evaluate
from zoning.rules.models import ProjectSpec
from zoning.screen import DEFAULT_BUFFERS_M, screen
from zoning.site import Site

DEFAULT_MAX_VERTICES = 100_000


def parse_site(request: Mapping[str, Any], max_vertices: int | None = None) -> Site:
    """The request's site: ``geometry`` (GeoJSON or Feature), ``wkt`` or ``lonlat``, in ``crs``.

    A Point with ``radius_m`` becomes a geodesic circle, because "this point plus 500 m" is how
    many siting questions are asked.
    """
    crs = request.get("crs") or "EPSG:4326"
    radius = request.get("radius_m")
    limit = max_vertices or DEFAULT_MAX_VERTICES
    if request.get("geometry") is not None:
        geometry = request["geometry"]
        if radius:
            point = geometry.get("geometry") if isinstance(geometry, Mapping) and geometry.get(
                "type") == "Feature" else geometry
            if not isinstance(point, Mapping) or point.get("type") != "Point":
                raise InvalidGeometryError(
                    "radius_m applies to a Point site only",
                    field="radius_m",
                    hint="drop radius_m, or send a Point geometry",
                )
            coords = point.get("coordinates")
            if not isinstance(coords, list | tuple) or len(coords) < 2:
                raise InvalidGeometryError(
                    "a Point needs [x, y] coordinates",
                    field="geometry.coordinates",
                    hint="e.g. [101.78, 36.62]",
                )
            return Site.from_point_radius(coords[0], coords[1], float(radius), crs=crs)
        return Site.from_geojson(geometry, crs=crs, max_vertices=limit)
    if request.get("wkt"):
        return Site.from_wkt(str(request["wkt"]), crs=crs, max_vertices=limit)
    if request.get("lonlat") is not None:
        lon, lat = request["lonlat"]
        if radius:
            return Site.from_point_radius(lon, lat, float(radius), crs=crs)
        return Site.from_lonlat(lon, lat, crs=crs)
    raise InvalidGeometryError(
        "no site given", field="geometry", hint="send a GeoJSON geometry (or wkt / lonlat)"
    )


def parse_project(raw: Any) -> ProjectSpec | None:
    """The request's project as a ``ProjectSpec`` (unknown type ids are caught by the evaluator)."""
    if raw is None:
        return None
    if isinstance(raw, ProjectSpec):
        return raw
    if isinstance(raw, str):
        raw = {"type": raw}
    try:
        return ProjectSpec.model_validate(raw)
    except ValueError as exc:
        raise ZoningError(
            f"project is not valid: {exc}",
            field="project",
            hint='e.g. {"type": "solar_pv", "phase": "new"}; see GET /v1/project-types',
        ) from exc


def search_reach_m(buffers_m: Sequence[float], rulebook: Rulebook) -> float:
    """How far to look: the widest display band, or the farthest distance a rule asks about."""
    return max([*buffers_m, rulebook.max_distance_m, 0.0])


def screen_site(
    request: Mapping[str, Any],
    index: LayerIndex,
    rulebook: Rulebook,
    settings: Any = None,
    *,
    today: date | None = None,
) -> ScreeningResult:
    """Screen one site for one (optional) project on ``as_of`` (default: today)."""
    max_vertices = getattr(settings, "max_vertices", None)
    site = parse_site(request, max_vertices)
    project = parse_project(request.get("project"))
    as_of = _as_of(request.get("as_of"), today)
    buffers = tuple(request.get("buffers_m") or DEFAULT_BUFFERS_M)
    spatial = screen(site, index, buffers, search_m=search_reach_m(buffers, rulebook))
    evaluation = evaluate(site, spatial, project, rulebook, as_of)
    info = site.to_info()
    info = info.model_copy(update={"geometry": shapely.geometry.mapping(site.geometry)})
    return ScreeningResult(
        result_id=uuid.uuid4().hex,
        verdict=evaluation.verdict,
        site=info,
        hits=spatial.hits,
        findings=evaluation.findings,
        governing=evaluation.governing,
        coverage=spatial.coverage,
        rivers=spatial.rivers,
        rasters=spatial.rasters,
        project=_project_echo(project, evaluation.project_type),
        versions=Versions(layers=dict(spatial.versions), rulebook=rulebook.version),
        as_of=as_of,
    )


def _as_of(value: Any, today: date | None) -> date:
    if value is None or value == "":
        return today or date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ZoningError(
            f"as_of {value!r} is not a date", field="as_of", hint="use YYYY-MM-DD"
        ) from exc


def _project_echo(project: ProjectSpec | None, resolved_type: str | None) -> dict[str, Any] | None:
    if project is None:
        return None
    echo = project.model_dump(exclude_none=True)
    if resolved_type:
        echo["resolved_type"] = resolved_type
    return echo


# --------------------------------------------------------------------------- bulk


HIT_ROWS = ("all", "nearest")


def check_hit_rows(value: str) -> str:
    """``value`` if it is one of ``HIT_ROWS``, else a ``ZoningError`` naming the field."""
    if value not in HIT_ROWS:
        raise ZoningError(f"hits {value!r} is not one of {', '.join(HIT_ROWS)}", field="hits",
                          hint="all: every zone in reach; nearest: the nearest zone per kind")
    return value


def screen_sites(
    sites: Any,
    index: LayerIndex,
    rulebook: Rulebook,
    *,
    buffers_m: Sequence[float] | None = None,
    as_of: date | None = None,
    project_types: Any = None,
    today: date | None = None,
    hit_rows: str = "all",
) -> tuple[Any, Any]:
    """Screen many sites: ``(summary, hits)`` — one summary row per site, one hit row per zone.

    The spatial work is one bulk call (``zoning.bulk.screen_many``). Rules are then evaluated
    once per distinct *situation* — the same zone features, in the same distance bucket relative
    to every rule threshold, the same layers without data, the same project type — because
    thousands of sites in one control unit share one answer; each situation is evaluated on the
    real hits of its first site, once per process (the chunks of a batch meet the same few
    hundred situations again and again; the cache is keyed by index, rulebook and date).

    ``summary`` (index = ``sites.index``) has ``verdict``, ``governing_rule``, the strongest
    finding (``strongest_rule``, ``strongest_effect``, ``strongest_title``), ``findings``,
    ``rule_error`` (a per-site message, e.g. an unknown project type), ``no_data_layers`` and, per
    layer kind, ``<kind>_count`` (features intersected), ``<kind>_overlap_m2`` and
    ``<kind>_nearest_m``.

    ``hit_rows="nearest"`` returns the same summary from far fewer hits: the zones each site meets,
    its nearest zone per layer and its nearest zone of each kind the rules tell apart (see
    ``screen_many_full(nearest=)``); ``"all"`` lists every zone within reach.
    """
    from zoning.bulk import screen_many_full

    check_hit_rows(hit_rows)
    buffers = tuple(buffers_m or DEFAULT_BUFFERS_M)
    when = as_of or today or date.today()
    bulk = screen_many_full(
        sites, index, buffers, search_m=search_reach_m(buffers, rulebook),
        nearest=rule_classes(index, rulebook) if hit_rows == "nearest" else None,
    )
    hits = bulk.hits
    hits.attrs.update(coverage=bulk.coverage, rivers=bulk.rivers)  # read by _situation_keys
    labels = sites.index
    types = (
        pd.Series(project_types, index=labels).astype(object).where(lambda s: s.notna(), None)
        if project_types is not None
        else pd.Series([None] * len(labels), index=labels, dtype=object)
    )
    summary = _kind_columns(hits, index, labels)
    situations = _situation_keys(hits, index, rulebook, labels, types)
    coverage = bulk.coverage
    rivers = bulk.rivers
    # One evaluation per situation, on the real hits of its first site; a situation already
    # decided (by an earlier chunk of the batch) is not evaluated again.
    cache_keys = [
        (id(index), index.version, rulebook.version, when, situations.key(i))
        for i in range(len(situations.tokens))
    ]
    decided = [_DECISIONS.get(key) for key in cache_keys]
    todo = [i for i, found in enumerate(decided) if found is None]
    first_site = labels[situations.first[todo]]
    by_site = _records_by_site(hits, first_site)
    cov_by_site = _records_by_site(coverage, first_site)
    riv_by_site = _records_by_site(rivers, first_site)
    if len(_DECISIONS) > 100_000:
        _DECISIONS.clear()
    for i, label in zip(todo, first_site, strict=True):
        decided[i] = _DECISIONS[cache_keys[i]] = _decide_situation(
            index, rulebook, when, types[label],
            by_site.get(label), cov_by_site.get(label), riv_by_site.get(label),
        )
    decisions = pd.DataFrame(decided)
    table = decisions.reindex(situations.ids)
    table.index = labels
    summary = pd.concat([table, summary], axis=1)
    no_data = (
        coverage[coverage["status"] == "no_data"].groupby("site_index")["layer"].agg(
            lambda s: ",".join(sorted(s)))
        if len(coverage) else pd.Series(dtype=object)
    )
    summary["no_data_layers"] = no_data.reindex(labels).where(lambda s: s.notna(), "").to_numpy()
    summary["as_of"] = when.isoformat()
    summary["data_version"] = index.version
    summary["rulebook_version"] = rulebook.version
    hits.attrs.clear()  # frames in attrs would make pd.concat of per-chunk results raise
    return summary, hits


def _records_by_site(frame: Any, labels: Any) -> dict[Any, list[dict[str, Any]]]:
    """Rows of ``frame`` for the given sites, as plain dicts grouped by ``site_index``."""
    if frame is None or not len(frame):
        return {}
    picked = frame[frame["site_index"].isin(labels)]
    grouped: dict[Any, list[dict[str, Any]]] = {}
    for record in picked.to_dict("records"):
        grouped.setdefault(record["site_index"], []).append(record)
    return grouped


def _kind_columns(hits: Any, index: LayerIndex, labels: Any) -> Any:
    """Per site and layer kind: features intersected, overlap m², nearest distance (vectorised)."""
    kinds = sorted({layer.kind for layer in index.vectors.values()} - CONTAINMENT_KINDS)
    out = pd.DataFrame(index=labels)
    if not len(hits):
        for kind in kinds:
            out[f"{kind}_count"] = 0
            out[f"{kind}_overlap_m2"] = 0.0
            out[f"{kind}_nearest_m"] = float("nan")
        return out
    frame = hits[hits["layer_kind"].isin(kinds)]
    inter = frame[frame["relation"] == "intersects"]
    counts = inter.groupby(["site_index", "layer_kind"]).size().unstack(fill_value=0)
    areas = inter.groupby(["site_index", "layer_kind"])["overlap_area_m2"].sum(min_count=1).unstack()
    nearest = frame.groupby(["site_index", "layer_kind"])["distance_m"].min().unstack()
    for kind in kinds:
        out[f"{kind}_count"] = (
            counts[kind].reindex(labels).fillna(0).astype("int64").to_numpy()
            if kind in counts else 0
        )
        out[f"{kind}_overlap_m2"] = (
            areas[kind].reindex(labels).fillna(0.0).to_numpy() if kind in areas else 0.0
        )
        out[f"{kind}_nearest_m"] = (
            nearest[kind].reindex(labels).to_numpy() if kind in nearest else float("nan")
        )
    return out


@dataclass(frozen=True)
class Situations:
    """Per site, the id of its situation, and per situation a key that is the same in every call.

    ``ids``: one per site (0..n-1). ``tokens``: one row per situation, its sorted token numbers
    padded with -1 (the numbers come from ``_TOKENS``, one per token text for the life of the
    process), so ``key(i)`` can key a decision cache shared by the chunks of a batch.
    """

    ids: NDArray[np.int64]
    tokens: NDArray[np.int64]
    first: NDArray[np.int64]  # per situation, its first site

    def key(self, situation: int) -> tuple[int, ...]:
        row = self.tokens[situation]
        return tuple(int(t) for t in row[row >= 0])


_TOKENS: dict[str, int] = {}
_NEXT_TOKEN = itertools.count()
# decisions by (index, versions, date, situation tokens): every chunk of a batch meets the same
# few hundred situations; decided once per process
_DECISIONS: dict[tuple[Any, ...], dict[str, Any]] = {}


def _token_numbers(texts: Any) -> NDArray[np.int64]:
    """The process-wide number of each token text.

    Numbers are never reused, even after the table is emptied (which only millions of distinct
    project-type strings can cause), so a number always means one text: after emptying, a text
    gets a new number, which costs one more evaluation and never a wrong one.
    """
    if len(_TOKENS) > 1_000_000:
        _TOKENS.clear()

    def number(text: str) -> int:
        found = _TOKENS.get(text)
        return found if found is not None else _TOKENS.setdefault(text, next(_NEXT_TOKEN))

    return np.fromiter((number(t) for t in texts), dtype=np.int64, count=len(texts))


def _situation_keys(
    hits: Any, index: LayerIndex, rulebook: Rulebook, labels: Any, types: Any
) -> Situations:
    """One situation per site: what the rulebook can see of its hits, gaps and project.

    A hit becomes a token of its layer, its feature's *signature* (``feature_signatures``: every
    property a rule can test, not the feature's identity), its relation and its distance bucket
    relative to every rule threshold. Rules only ask whether *some* matching feature lies within
    a distance, never how many or which, so per (layer, signature, relation) only the nearest
    bucket is kept: the thousands of sites near different red-line polygons of one kind share
    one situation. Sites with the same set of tokens share an id (``_situation_ids``).

    Vectorised: each row's (layer, signature, relation, bucket) is combined into an integer;
    token texts are written only for the few distinct combinations, not per row.
    """
    where = pd.Index(labels)
    n = len(where)
    # (types are a text or None; factorizing turns None into NaN, so it is named back)
    codes, kinds = pd.factorize(np.asarray(types, dtype=object), use_na_sentinel=False)
    site_parts = [np.arange(n)]
    token_parts = [_token_numbers([f"type={None if pd.isna(t) else t}" for t in kinds])[codes]]
    signatures = feature_signatures(index, rulebook)
    frames: list[tuple[str, Any, str, tuple[str, ...]]] = []
    if len(hits):
        frames.append(("h:", hits, "feature_row", ("layer", "relation")))
    for name in ("coverage", "rivers"):
        frame = hits.attrs.get(name) if len(hits) or hits.attrs else None
        if frame is not None and len(frame):
            if name == "coverage":
                frames.append(("c:", frame, "", ("layer", "status")))
            else:
                frames.append(("r:", frame, "feature_id", ("layer",)))
    for prefix, frame, by, columns in frames:
        at = where.get_indexer(frame["site_index"].to_numpy())
        # each column's codes and values, factorized once (the texts repeat on every row)
        parts = [pd.factorize(frame[c].to_numpy(), use_na_sentinel=False) for c in columns]
        if by:
            layers = parts[0]
            sig = pd.factorize(_signature_of(frame, layers, signatures, by), use_na_sentinel=False)
            bucket, seen = _buckets(frame["distance_m"].to_numpy(dtype="float64"), layers, sig,
                                    signatures)
            parts.insert(1, sig)
        else:  # coverage gaps: no distances
            bucket, seen = np.zeros(len(frame), dtype=np.int64), np.ones(len(frame), dtype=bool)
        sites, tokens = _nearest_tokens(
            prefix, at[seen], [(c[seen], u) for c, u in parts], bucket[seen]
        )
        site_parts.append(sites)
        token_parts.append(tokens)
    return _situation_ids(np.concatenate(site_parts), np.concatenate(token_parts), n)


Factorized = tuple[Any, Any]  # (codes per row, distinct values): ``pd.factorize``


def _buckets(
    distance: Any, layers: Factorized, sig: Factorized, signatures: dict[str, dict[str, Any]]
) -> tuple[Any, Any]:
    """Per row: where its distance falls among the distances the rules about it compare with,
    and whether any rule can see the row at all.

    Rules other than ``within_m`` only ask whether the site is inside (distance 0), so a
    feature near the site matters only when a distance rule is about it; features no rule
    selects never matter.
    """
    (layer_code, layer_ids), (sig_code, sig_names) = layers, sig
    out = (distance > 0).astype(np.int64)  # inside (0) or not: intersects-type rules ask that
    seen = (np.asarray(sig_names, dtype=object) != "")[sig_code] & (distance <= 0)
    width = max(len(sig_names), 1)
    keys = layer_code * width + sig_code
    for key in np.unique(keys):
        layer_id, code = layer_ids[key // width], sig_names[key % width]
        cuts = signatures.get(str(layer_id), {}).get("cuts", {}).get(str(code))
        if cuts is None or not len(cuts):
            continue
        rows = keys == key
        out[rows] += 2 * np.searchsorted(cuts, distance[rows], side="left")
        seen[rows] = True
    return out, seen


def _nearest_tokens(
    prefix: str, sites: Any, parts: list[Factorized], bucket: Any
) -> tuple[Any, Any]:
    """(site, token number of "<prefix><part>/<part>…/<nearest bucket>"): a rule asks whether
    *some* matching feature lies within its distance, so only the nearest bucket of each kind
    of feature matters. ``parts``: each part factorized (codes per row, distinct values)."""
    if not len(sites):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    what = np.zeros(len(sites), dtype=np.int64)
    values: list[Any] = []
    for codes, uniques in parts:
        what = what * max(len(uniques), 1) + codes
        values.append(uniques)
    key = np.asarray(sites, dtype=np.int64) * (int(what.max()) + 1) + what
    order = np.lexsort((bucket, key))  # per (site, what): the smallest bucket first
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    picked = order[first]
    span = int(bucket[picked].max()) + 1
    pair, pair_of = np.unique(what[picked] * span + bucket[picked], return_inverse=True)
    texts = []
    for combined, nearest in zip((pair // span).tolist(), (pair % span).tolist(), strict=True):
        words = []
        for uniques in reversed(values):
            size = max(len(uniques), 1)
            words.append(str(uniques[combined % size]))
            combined //= size
        texts.append(prefix + "/".join(reversed(words)) + f"/{nearest}")
    return np.asarray(sites)[picked], _token_numbers(texts)[pair_of.reshape(-1)]


def _situation_ids(sites: Any, tokens: Any, n: int) -> Situations:
    """Per site (0..n-1), an id shared exactly by the sites with the same set of tokens.

    Vectorised: each site's distinct tokens are sorted into a row of a matrix (padded with -1),
    and equal rows get equal ids. Rows are grouped by a 64-bit hash and every site's row is then
    compared with its group's first row, so a hash collision can never merge two situations
    (it falls back to sorting the rows).

    >>> _situation_ids(np.array([0, 0, 1, 1, 2, 1]), np.array([5, 7, 7, 5, 5, 5]), 4).ids
    array([0, 0, 1, 2])
    """
    tokens = np.asarray(tokens, dtype=np.int64)
    width = int(tokens.max(initial=0)) + 1
    pairs = np.unique(np.asarray(sites, dtype=np.int64) * width + tokens)
    site, token = pairs // width, pairs % width
    counts = np.bincount(site, minlength=n)
    matrix = np.full((n, max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
    rank = np.arange(len(site)) - np.repeat(np.cumsum(counts) - counts, counts)
    matrix[site, rank] = token
    ids, _ = pd.factorize(_row_hashes(matrix))
    first = _first_sites(ids)
    if not (matrix == matrix[first[ids]]).all():
        _, ids = np.unique(matrix, axis=0, return_inverse=True)
        ids = ids.reshape(-1)
        first = _first_sites(ids)
    return Situations(ids.astype(np.int64), matrix[first], first)


def _first_sites(ids: Any) -> NDArray[np.int64]:
    """Per id (0..k-1), the first site that has it."""
    first = np.zeros(int(ids.max(initial=-1)) + 1, dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids))[::-1]
    return first


def _row_hashes(matrix: NDArray[np.int64]) -> NDArray[np.uint64]:
    """A 64-bit hash of each row (a fixed random weight per column, wrapping sums)."""
    weights = np.random.default_rng(0x5EED).integers(1, 2**63, matrix.shape[1], dtype=np.uint64) | 1
    with np.errstate(over="ignore"):
        return ((matrix + 1).astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


def _signature_of(
    frame: Any, layers: Factorized, signatures: dict[str, dict[str, Any]], by: str
) -> Any:
    """The signature code of each row's feature (by ``feature_row`` or ``feature_id``); ""
    where the layer has none. ``layers``: the frame's ``layer`` column factorized."""
    layer_code, layer_ids = layers
    out = np.full(len(frame), "", dtype=object)
    keys = frame[by].to_numpy()
    for code, layer_id in enumerate(layer_ids):
        table = signatures.get(str(layer_id))
        if table is None:
            continue
        rows = np.flatnonzero(layer_code == code)
        if by == "feature_row":
            out[rows] = table["by_row"][keys[rows].astype(np.int64)]
        else:
            out[rows] = pd.Series(keys[rows]).astype(str).map(table["by_id"]).fillna("?").to_numpy()
    return out


_SIGNATURES: dict[tuple[int, str, str], dict[str, dict[str, Any]]] = {}


def feature_signatures(index: LayerIndex, rulebook: Rulebook) -> dict[str, dict[str, Any]]:
    """Per layer: a short code per feature for everything the rulebook can test on it.

    The code is the list of rule zone selectors the feature matches (``zone_matches``, the
    evaluator's own test), plus the value of any per-feature distance attribute, the basin
    when a rule compares basins, and the province of an admin unit when a rule is limited to
    provinces. Two features with the same code are interchangeable for every rule; features no
    rule can see get the empty code and are left out of situations. Built once per
    (index, rulebook) and cached.
    """
    from types import SimpleNamespace

    from zoning.nearest import LayerClasses
    from zoning.rules.evaluator import province_prefix, zone_matches

    key = (id(index), index.version, rulebook.version)
    cached = _SIGNATURES.get(key)
    if cached is not None:
        return cached
    selectors = []
    for rule in rulebook.rules:
        selectors += [rule.zone, *rule.also_within]
        if rule.superseded_in is not None:
            selectors.append(rule.superseded_in)
    distance_rules = [r for r in rulebook.rules if r.spatial.relation == "within_m"]
    basin_rules = [r for r in rulebook.rules if r.spatial.relation == "same_basin"]
    basin_kinds = {r.zone.kind for r in rulebook.rules if r.spatial.relation == "same_basin"}
    if basin_kinds:
        basin_kinds.add("river_basin")  # where the site's own basins come from
    by_provinces = any(r.provinces for r in rulebook.rules)
    out: dict[str, dict[str, Any]] = {}
    for layer in index.vectors.values():
        mine = [sel for sel in selectors if sel.kind == layer.kind]
        if layer.kind == "river":  # river distances become river hits too (evaluator._candidates)
            mine += [sel for sel in selectors if sel.kind == "river" and sel not in mine]
        # features that look the same to every rule share a code: it is worked out once per
        # distinct look (a province-scale layer has tens of thousands of features, a few looks)
        read, named = _attributes_read(layer.kind, selectors, distance_rules,
                                       layer.kind in basin_kinds, by_provinces)
        look, first = _distinct_looks(layer, read, named)
        attributes = layer.attributes(first) if len(first) else []
        codes_of_look = []
        for row, attrs in zip(first, attributes, strict=True):
            hit = SimpleNamespace(
                layer_kind=layer.kind, zone_class=layer.zone_class[row],
                name=layer.name[row], attributes=attrs,
            )  # fmt: skip
            flags = [zone_matches(sel, hit) for sel in mine]  # type: ignore[arg-type]
            matched = "".join("1" if f else "0" for f in flags)
            parts = [matched] if "1" in matched else []
            # the distances at which a rule about this feature changes its mind
            cuts = sorted(
                {
                    limit
                    for rule in distance_rules
                    if zone_matches(rule.zone, hit)  # type: ignore[arg-type]
                    for limit in _limits(rule, attrs)
                }
            )
            if cuts:
                parts.append("@" + ",".join(f"{c:g}" for c in cuts))
            if _seen_at_any_distance(distance_rules, basin_rules, hit, attrs):
                parts.append("far")
            if layer.kind in basin_kinds:
                parts.append(f"basin={attrs.get('basin')}")
            if by_provinces and layer.kind == "admin":
                parts.append(f"prov={province_prefix(attrs)}")
            codes_of_look.append("/".join(parts))
        # looks are numbered in order of their first feature, so numbering the codes of the
        # looks in order numbers them in order of their first feature too: "s0", "s1", …
        code_of_look, texts = pd.factorize(np.asarray(codes_of_look, dtype=object))
        number = np.cumsum(texts != "") - 1
        number[texts == ""] = -1
        class_of = number[code_of_look][look].astype(np.intp)
        shorts = np.array([f"s{k}" if k >= 0 else "" for k in number], dtype=object)
        by_row = shorts[code_of_look][look] if len(look) else np.zeros(0, dtype=object)
        uniques = {text: short for text, short in zip(texts, shorts, strict=True) if short}
        cuts_of = {
            short: np.array([float(v) for v in code.split("@")[1].split(",")]) if "@" in code
            else np.zeros(0)
            for code, short in uniques.items()
        }  # fmt: skip
        # classes for nearest-only screening: class k is code "s<k>"; how far from a site a
        # feature of the class can still change a rule's answer
        reach = {
            int(short[1:]): math.inf if "far" in code.split("/")
            else float(max(cuts_of[short].max(initial=0.0), 0.0))
            for code, short in uniques.items()
        }
        out[layer.id] = {
            "by_row": by_row,
            "by_id": dict(zip(layer.feature_id, by_row, strict=True)),
            "cuts": cuts_of,
            "classes": LayerClasses(f"{rulebook.version}/{index.version}", class_of, reach),
        }
    if len(_SIGNATURES) > 8:
        _SIGNATURES.clear()
    _SIGNATURES[key] = out
    return out


def _seen_at_any_distance(
    distance_rules: list[Any], basin_rules: list[Any], hit: Any, attrs: dict[str, Any]
) -> bool:
    """Whether a rule reads this feature whatever its distance from the site.

    ``same_basin`` rules compare the basin of every matching feature in reach, and a
    ``within_m`` rule without a fixed distance reports a feature whose own distance attribute is
    missing at any distance (``evaluator._spatial_hits``).
    """
    from zoning.rules.evaluator import zone_matches

    if any(zone_matches(rule.zone, hit) for rule in basin_rules):
        return True
    return any(
        rule.spatial.distance_m is None and -1.0 in _limits(rule, attrs)
        for rule in distance_rules
        if zone_matches(rule.zone, hit)
    )


def _attributes_read(
    kind: str, selectors: list[Any], distance_rules: list[Any], basin: bool, provinces: bool
) -> tuple[list[str], bool]:
    """(attributes, whether the name) a rule can look at on a feature of layer kind ``kind``:
    its selectors' attributes, distance attributes, names and the attributes name patterns
    also search (``zone_matches``), the basin for ``same_basin`` rules and the codes
    ``province_prefix`` reads for rules limited to provinces."""
    mine = [sel for sel in selectors if sel.kind == kind]
    keys = {key for sel in mine for key in sel.attributes}
    keys |= {r.spatial.distance_attribute for r in distance_rules
             if r.zone.kind == kind and r.spatial.distance_attribute}
    named = any(sel.name_patterns for sel in mine)
    if named:
        keys |= {"river", "park"}
    if basin:
        keys.add("basin")
    if provinces and kind == "admin":
        keys |= {"adcode", "code", "county_adcode"}
    return sorted(keys), named


def _distinct_looks(layer: Any, read: list[str], named: bool) -> tuple[Any, Any]:
    """(look per feature, first feature of each look): features with the same class, the same
    values of every attribute in ``read`` and (when a rule matches names) the same name.

    Values are compared by ``repr``, so values that are equal but print differently (``1``,
    ``1.0`` and ``True``; ``0.0`` and ``-0.0``), which rules compare as text, never share a look.
    """
    n = len(layer.feature_id)
    columns = [layer.zone_class] + ([layer.name] if named else [])
    columns += [layer.attrs[key] for key in read if key in layer.attrs]
    look = np.zeros(n, dtype=np.int64)
    for values in columns:
        codes, uniques = pd.factorize(np.fromiter(map(repr, values), dtype=object, count=n))
        look = look * max(len(uniques), 1) + codes
        look = pd.factorize(look)[0].astype(np.int64)  # kept small: products would overflow
    return look, _first_sites(look) if n else np.zeros(0, dtype=np.int64)


def rule_classes(index: LayerIndex, rulebook: Rulebook) -> dict[str, Any]:
    """Per layer, the features' signatures as ``zoning.nearest.LayerClasses``."""
    return {layer_id: table["classes"] for layer_id, table in feature_signatures(index, rulebook).items()}


def _limits(rule: Any, attrs: dict[str, Any]) -> list[float]:
    """Distances a ``within_m`` rule compares a feature with (``evaluator._spatial_hits``)."""
    cond = rule.spatial
    out = [float(cond.distance_m)] if cond.distance_m is not None else []
    if cond.distance_attribute:
        try:
            value = float(attrs.get(cond.distance_attribute))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = math.nan
        if math.isfinite(value):
            out.append(value)
        else:
            out.append(-1.0)  # "unknown" limit: the evaluator treats it apart
    return out


def _decide_situation(
    index: LayerIndex,
    rulebook: Rulebook,
    as_of: date,
    project_type: Any,
    site_hits: Any,
    site_coverage: Any,
    site_rivers: Any,
) -> dict[str, Any]:
    """Evaluate the rulebook for one site's real hits; the summary columns of its situation."""
    from zoning.result import Hit, LayerCoverage, RiverDistance, SpatialResult

    hits: list[Hit] = []
    for row in site_hits or []:
        attributes = _feature_attributes(index, row["layer"], int(row["feature_row"]))
        hits.append(
            # model_construct: every value comes from the engine's own typed columns
            Hit.model_construct(
                layer=row["layer"], layer_kind=row["layer_kind"], feature_id=str(row["feature_id"]),
                name=_none(row["name"]), zone_class=_none(row["zone_class"]),
                relation=row["relation"], overlap_area_m2=_num(row["overlap_area_m2"]),
                overlap_ratio=_num(row["overlap_ratio"]), length_inside_m=_num(row["length_inside_m"]),
                distance_m=float(row["distance_m"]), band_m=_num(row["band_m"]),
                share=_num(row["share"]), accuracy=str(row["accuracy"]), attributes=attributes,
            )
        )
    gaps = {r["layer"]: r for r in site_coverage or []}
    coverage = []
    sources: dict[str, VectorLayer | RasterLayer] = {**index.vectors, **index.rasters}
    for layer_id, source in sources.items():
        kind = source.entry.kind
        gap = gaps.get(layer_id)
        coverage.append(
            LayerCoverage(
                layer=layer_id, kind=kind,
                status=gap["status"] if gap is not None else "covered",
                covered_share=float(gap["covered_share"]) if gap is not None else 1.0,
            )
        )
    rivers = [
        RiverDistance(layer=r["layer"], river=str(r["river"]), level=_none(r["level"]),
                      basin=_none(r["basin"]), distance_m=float(r["distance_m"]),
                      feature_id=str(r["feature_id"]))
        for r in site_rivers or []
    ]
    spatial = SpatialResult(hits=hits, coverage=coverage, rivers=rivers)
    project = ProjectSpec(type=project_type) if project_type else None
    try:
        evaluation = evaluate(None, spatial, project, rulebook, as_of)
    except ZoningError as exc:
        return {"verdict": None, "governing_rule": None, "strongest_rule": None,
                "strongest_effect": None, "strongest_title": None, "findings": 0,
                "rule_error": exc.detail + (f" ({exc.hint})" if exc.hint else "")}
    order = {"prohibited": 0, "restricted": 1, "permitted_exception": 2, "caution": 3}
    strongest = min(evaluation.findings, key=lambda f: order.get(f.effect, 9), default=None)
    return {
        "verdict": evaluation.verdict,
        "governing_rule": evaluation.governing.rule_id if evaluation.governing else None,
        "strongest_rule": strongest.rule_id if strongest else None,
        "strongest_effect": strongest.effect if strongest else None,
        "strongest_title": strongest.title_zh if strongest else None,
        "findings": len(evaluation.findings),
        "rule_error": None,
    }


_ATTRIBUTES: dict[tuple[int, str, str, int], dict[str, Any]] = {}


def _feature_attributes(index: LayerIndex, layer_id: str, row: int) -> dict[str, Any]:
    """A feature's JSON-safe attributes, converted once per index (batches ask again and again)."""
    key = (id(index), index.version, layer_id, row)
    found = _ATTRIBUTES.get(key)
    if found is None:
        if len(_ATTRIBUTES) > 200_000:
            _ATTRIBUTES.clear()
        found = index.vectors[layer_id].attributes(np.asarray([row]))[0]
        _ATTRIBUTES[key] = found
    return dict(found)  # the evaluator may add keys to a hit's attributes


def _none(value: Any) -> Any:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _num(value: Any) -> float | None:
    value = _none(value)
    return None if value is None else float(value)
