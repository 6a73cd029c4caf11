"""Nearest outlines of many points: a uniform grid of outline runs, walked in compiled loops.

Why: in a batch of point sites, finding each site's nearest outline (``zoning.nearest``) took
three vectorised steps: a k-d tree of outline vertices to bound the distance, a GEOS ``dwithin``
query for the outlines within that bound, and a GEOS ``shortest_line`` per candidate. Each is
fast per call, but runs per (site, candidate) through GEOS's generic machinery: most of the
time of a million-point batch. Here each run (a piece of outline of at most 32 edges, made by
``layers.outlines``) sits, with its bounding box, in the cells of a uniform grid that the box
overlaps. One compiled loop per site (numba, with the GIL released so that layers screened in
threads run in parallel) walks the cells in rings around the site, measures each run whose box
is near enough with GEOS's own point-to-segment formulas, and stops as soon as no cell left can
hold a nearer run.

What it returns is what the GEOS steps returned: per site, every run whose planar distance is
within the near-tie window of the nearest (``spread``, relative) and within ``cap``, with the
nearest-point pair on it as GEOS ``DistanceOp`` picks it (the first segment, in the run's order,
at the least distance; that segment's closest point). The caller measures those pairs on the
ellipsoid, so distances are the same to the last bit.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _numba_cache_dir() -> None:
    """Where compiled loops are kept between processes (compiling them takes ≈ 10 s).

    numba keeps them beside this file when that folder is writable, else in the user's cache
    folder; where neither is (a read-only install run by a user without a home, as in the
    container image), it would refuse to start. ``NUMBA_CACHE_DIR`` set by the caller wins.
    """
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    here = Path(__file__).parent
    if os.access(here / "__pycache__" if (here / "__pycache__").is_dir() else here, os.W_OK):
        return
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for place in (home / "zoning" / "numba", Path(tempfile.gettempdir()) / f"zoning-numba-{os.getuid()}"):
        try:
            place.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=place).close()
        except OSError:
            continue
        os.environ["NUMBA_CACHE_DIR"] = str(place)
        return


_numba_cache_dir()

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

Ints = NDArray[np.intp]
Floats = NDArray[np.float64]
# Runs per cell on average over the grid's extent. Outlines cluster, so occupied cells hold
# several times more; a few per cell keeps both the empty cells a far site walks through and the
# boxes a near site checks few.
RUNS_PER_CELL = 2.0
MAX_CELLS = 1 << 24
# Relative widening of the search window: planar distances are compared as GEOS measures them
# (square roots of sums), the window as the caller states it; a window one part in a billion
# wider can only add candidates, which the final cut removes.
SLACK = 1e-9


@dataclass(frozen=True)
class RunGrid:
    """Runs (outline pieces in a plane) in the cells of a uniform grid.

    ``vx``, ``vy``: vertices; run ``r`` is vertices ``first[r]:first[r + 1]`` (one vertex: a
    point). Cell ``c`` holds the runs ``members[start[c]:start[c + 1]]`` and, beside each, the
    run's box (``boxes``: xmin ymin xmax ymax), so that a cell is read in one sweep.
    """

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    start: NDArray[np.int64]
    members: NDArray[np.int32]
    boxes: Floats
    vx: Floats
    vy: Floats
    first: NDArray[np.int64]

    @classmethod
    def build(cls, vx: Floats, vy: Floats, first: NDArray[np.int64]) -> RunGrid:
        """The grid of the runs of vertices ``first[r]:first[r + 1]`` (at least one each)."""
        vx = np.ascontiguousarray(vx, dtype=np.float64)
        vy = np.ascontiguousarray(vy, dtype=np.float64)
        first = np.asarray(first, dtype=np.int64)
        n_runs = len(first) - 1
        if n_runs == 0 or len(vx) == 0:
            return cls(0.0, 0.0, 1.0, 1, 1, np.zeros(2, dtype=np.int64),
                       np.zeros(0, dtype=np.int32), np.zeros((0, 4)), vx, vy, first)
        boxes = _run_boxes(vx, vy, first)
        lo = (float(vx.min()), float(vy.min()))
        hi = (float(vx.max()), float(vy.max()))
        width, height = max(hi[0] - lo[0], 1.0), max(hi[1] - lo[1], 1.0)
        cells = min(max(n_runs / RUNS_PER_CELL, 1.0), MAX_CELLS)
        size = math.sqrt(width * height / cells)
        nx = int(width // size) + 1
        ny = int(height // size) + 1
        start, members, cell_boxes = _fill(boxes, lo[0], lo[1], size, nx, ny)
        return cls(lo[0], lo[1], size, nx, ny, start, members, cell_boxes, vx, vy, first)

    def near_ties(
        self, px: Floats, py: Floats, cap: float, spread: float
    ) -> tuple[Ints, Ints, Floats]:
        """(site, run, pairs ``x0 y0 x1 y1``): per site, each run within ``cap`` whose planar
        distance is within ``spread`` (relative, plus 1 µm) of the nearest run's, with its
        nearest-point pair. Sites with no run within ``cap`` are absent; sites come in order."""
        return self._walk(_near_ties, px, py, cap, spread)

    def in_reach(
        self, px: Floats, py: Floats, cap: float, spread: float, row: NDArray[np.integer]
    ) -> tuple[Ints, Ints, Floats]:
        """(site, run, pairs ``x0 y0 x1 y1``) for every feature within ``cap`` of each site:
        the feature's runs (``row``: the feature of each run) whose planar distance is within
        ``spread`` (relative, plus 1 µm) of the feature's nearest run, with their nearest-point
        pairs. ``near_ties`` per feature instead of per site: what a list of every zone in reach
        needs. Sites come in order, and each site's runs in run order."""
        row = np.ascontiguousarray(row, dtype=np.int64)
        return self._walk(_in_reach, px, py, cap, spread, row, int(row.max()) + 1 if len(row) else 0)

    def _walk(
        self, kernel: Any, px: Floats, py: Floats, cap: float, spread: float, *extra: Any
    ) -> tuple[Ints, Ints, Floats]:
        """Run a compiled walk over the sites: in cell order, so that neighbours read the same
        cells from cache (sites with no position, which nothing is near, left out); its output
        back in site order, each site's runs in run order (the same order every time)."""
        px = np.ascontiguousarray(px, dtype=np.float64)
        py = np.ascontiguousarray(py, dtype=np.float64)
        if len(px) == 0 or len(self.members) == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp), np.zeros((0, 4))
        ci = np.floor((px - self.x0) / self.cell)
        cj = np.floor((py - self.y0) / self.cell)
        order = np.lexsort((ci, cj))
        order = order[np.isfinite(ci[order]) & np.isfinite(cj[order])]
        site, run, pairs = kernel(
            px[order], py[order], float(cap), float(spread), self.x0, self.y0, self.cell,
            self.nx, self.ny, self.start, self.members, self.boxes, self.vx, self.vy, self.first,
            *extra,
        )
        site = order[site]
        back = np.argsort(site * (len(self.first) - 1) + run)  # (site, run) as one key
        return site[back], run[back].astype(np.intp), pairs[back]


@njit(cache=True, nogil=True)
def _run_boxes(vx: Floats, vy: Floats, first: NDArray[np.int64]) -> Floats:  # pragma: no cover - compiled
    n = len(first) - 1
    boxes = np.empty((n, 4))
    for r in range(n):
        a, b = first[r], first[r + 1]
        boxes[r, 0], boxes[r, 1] = vx[a], vy[a]
        boxes[r, 2], boxes[r, 3] = vx[a], vy[a]
        for v in range(a + 1, b):
            boxes[r, 0] = min(boxes[r, 0], vx[v])
            boxes[r, 1] = min(boxes[r, 1], vy[v])
            boxes[r, 2] = max(boxes[r, 2], vx[v])
            boxes[r, 3] = max(boxes[r, 3], vy[v])
    return boxes


@njit(cache=True, nogil=True)
def _fill(  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    boxes, x0, y0, size, nx, ny
):
    """CSR of the cells each run's box overlaps (a counting sort in two passes)."""
    n = len(boxes)
    count = np.zeros(nx * ny + 1, dtype=np.int64)
    for r in range(n):
        i0, i1, j0, j1 = _cells_of(boxes, r, x0, y0, size, nx, ny)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                count[j * nx + i + 1] += 1
    start = np.cumsum(count)
    fill = start[:-1].copy()
    members = np.empty(start[-1], dtype=np.int32)
    cell_boxes = np.empty((start[-1], 4))
    for r in range(n):
        i0, i1, j0, j1 = _cells_of(boxes, r, x0, y0, size, nx, ny)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                c = j * nx + i
                t = fill[c]
                members[t] = r
                for q in range(4):
                    cell_boxes[t, q] = boxes[r, q]
                fill[c] += 1
    return start, members, cell_boxes


@njit(cache=True, nogil=True, inline="always")
def _cells_of(boxes, r, x0, y0, size, nx, ny):  # type: ignore[no-untyped-def]  # pragma: no cover
    i0 = min(max(int((boxes[r, 0] - x0) // size), 0), nx - 1)
    i1 = min(max(int((boxes[r, 2] - x0) // size), 0), nx - 1)
    j0 = min(max(int((boxes[r, 1] - y0) // size), 0), ny - 1)
    j1 = min(max(int((boxes[r, 3] - y0) // size), 0), ny - 1)
    return i0, i1, j0, j1


@njit(cache=True, nogil=True, inline="always")
def _point_to_segment(px, py, ax, ay, bx, by):  # type: ignore[no-untyped-def]  # pragma: no cover
    """GEOS ``Distance::pointToSegment``, operation for operation."""
    if ax == bx and ay == by:
        return math.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    len2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
    r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2
    if r <= 0.0:
        return math.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    if r >= 1.0:
        return math.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
    s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / len2
    return abs(s) * math.sqrt(len2)


@njit(cache=True, nogil=True, inline="always")
def _closest_point(px, py, ax, ay, bx, by):  # type: ignore[no-untyped-def]  # pragma: no cover
    """GEOS ``LineSegment::closestPoint``: the projection if it falls inside the segment, else
    the nearer end."""
    if ax == bx and ay == by:
        return ax, ay
    if px == ax and py == ay:
        return ax, ay
    if px == bx and py == by:
        return bx, by
    dx, dy = bx - ax, by - ay
    r = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)
    if r > 0.0 and r < 1.0:
        return ax + r * dx, ay + r * dy
    d0 = math.sqrt((ax - px) * (ax - px) + (ay - py) * (ay - py))
    d1 = math.sqrt((bx - px) * (bx - px) + (by - py) * (by - py))
    if d0 < d1:
        return ax, ay
    return bx, by


@njit(cache=True, nogil=True, inline="always")
def _nearest_on_run(px, py, vx, vy, a, b):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The nearest point of run ``a:b`` to (px, py), as GEOS ``DistanceOp`` finds it: the
    first segment at the least distance, then that segment's closest point."""
    if b - a == 1:
        return vx[a], vy[a]
    dmin = np.inf
    g = a
    for v in range(a, b - 1):
        d = _point_to_segment(px, py, vx[v], vy[v], vx[v + 1], vy[v + 1])
        if d < dmin:
            dmin = d
            g = v
    return _closest_point(px, py, vx[g], vy[g], vx[g + 1], vy[g + 1])


@njit(cache=True, nogil=True)
def _ring(ci, cj, k, nx, ny, buf):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """The cells of ring ``k`` around cell (ci, cj) inside the grid, into ``buf``; how many."""
    n = 0
    for j in range(max(cj - k, 0), min(cj + k, ny - 1) + 1):
        step = 1 if (j == cj - k or j == cj + k) else 2 * k
        i = ci - k
        while i <= ci + k:
            if 0 <= i < nx:
                buf[n] = j * nx + i
                n += 1
            i += step
    return n


@njit(cache=True, nogil=True, inline="always")
def _box_far(x, y, boxes, t):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """An upper bound of the distance to a run from its box alone (the box is tight, so each of
    its sides holds a vertex of the run: none is farther than that side's farther end)."""
    dx = max(abs(x - boxes[t, 0]), abs(x - boxes[t, 2]))
    dy = max(abs(y - boxes[t, 1]), abs(y - boxes[t, 3]))
    near_x = min(abs(x - boxes[t, 0]), abs(x - boxes[t, 2]))
    near_y = min(abs(y - boxes[t, 1]), abs(y - boxes[t, 3]))
    return math.sqrt(min(dx * dx + near_y * near_y, near_x * near_x + dy * dy))


@njit(cache=True, nogil=True, inline="always")
def _window(d, spread, cap_in):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """The near-tie window of a nearest planar distance ``d``: within ``spread`` of it (plus
    1 µm), and never beyond the reach."""
    return min(d * (1.0 + spread) + 1e-6, cap_in)


@njit(cache=True, nogil=True)
def _near_ties(  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    px, py, cap, spread, x0, y0, size, nx, ny, start, members, boxes, vx, vy, first,
):
    n = len(px)
    out_site = np.empty(n + 16, dtype=np.int64)
    out_run = np.empty(n + 16, dtype=np.int64)
    out_pair = np.empty((n + 16, 4), dtype=np.float64)
    m = 0
    seen = np.full(len(first) - 1, -1, dtype=np.int64)  # the last site that measured each run
    cand = np.empty(64, dtype=np.int64)
    cand_d = np.empty(64, dtype=np.float64)
    cand_x = np.empty(64, dtype=np.float64)
    cand_y = np.empty(64, dtype=np.float64)
    ring = np.empty(8 * (nx + ny) + 8, dtype=np.int64)
    cap_in = cap + 1e-6
    for s in range(n):
        x, y = px[s], py[s]
        best = np.inf
        thr = cap_in * (1.0 + SLACK)
        nc = 0
        ci = math.floor((x - x0) / size)
        cj = math.floor((y - y0) / size)
        k = 0
        while True:
            if k > 0:
                # ring k lies outside the square of the rings before it: nothing in it is nearer
                # than that square's edge
                lb = min(
                    min(x - (x0 + (ci - k + 1) * size), x0 + (ci + k) * size - x),
                    min(y - (y0 + (cj - k + 1) * size), y0 + (cj + k) * size - y),
                )
                if lb > thr:
                    break
                if ci - k < 0 and ci + k >= nx and cj - k < 0 and cj + k >= ny:
                    break
            nring = _ring(ci, cj, k, nx, ny, ring)
            # first the boxes alone narrow the window: the nearest run is no farther than any
            # box's far bound, so few runs are measured at all
            for q in range(nring):
                c = ring[q]
                for t in range(start[c], start[c + 1]):
                    bx = max(boxes[t, 0] - x, x - boxes[t, 2], 0.0)
                    by = max(boxes[t, 1] - y, y - boxes[t, 3], 0.0)
                    if bx * bx + by * by <= thr * thr:
                        far = _box_far(x, y, boxes, t)
                        thr = min(thr, _window(far, spread, cap_in) * (1.0 + SLACK))
            for q in range(nring):
                c = ring[q]
                i = c % nx
                j = c // nx
                ex = max(x0 + i * size - x, x - (x0 + (i + 1) * size), 0.0)
                ey = max(y0 + j * size - y, y - (y0 + (j + 1) * size), 0.0)
                if ex * ex + ey * ey > thr * thr:
                    continue
                for t in range(start[c], start[c + 1]):
                    bx = max(boxes[t, 0] - x, x - boxes[t, 2], 0.0)
                    by = max(boxes[t, 1] - y, y - boxes[t, 3], 0.0)
                    if bx * bx + by * by > thr * thr:
                        continue  # (thr only shrinks: this run stays out)
                    r = members[t]
                    if seen[r] == s:
                        continue
                    seen[r] = s
                    qx, qy = _nearest_on_run(x, y, vx, vy, first[r], first[r + 1])
                    d = math.hypot(qx - x, qy - y)
                    if d > thr:
                        continue
                    if nc == len(cand):
                        cand = _grow(cand)
                        cand_d = _grow(cand_d)
                        cand_x = _grow(cand_x)
                        cand_y = _grow(cand_y)
                    cand[nc], cand_d[nc], cand_x[nc], cand_y[nc] = r, d, qx, qy
                    nc += 1
                    if d < best:
                        best = d
                        thr = min(thr, _window(best, spread, cap_in) * (1.0 + SLACK))
            k += 1
        if nc == 0 or best > cap_in:
            continue
        tie = _window(best, spread, cap_in)
        for q in range(nc):
            if cand_d[q] <= tie:
                if m == len(out_site):
                    out_site = _grow(out_site)
                    out_run = _grow(out_run)
                    out_pair = _grow2(out_pair)
                out_site[m] = s
                out_run[m] = cand[q]
                out_pair[m, 0] = x
                out_pair[m, 1] = y
                out_pair[m, 2] = cand_x[q]
                out_pair[m, 3] = cand_y[q]
                m += 1
    return out_site[:m], out_run[:m], out_pair[:m]


@njit(cache=True, nogil=True)
def _in_reach(  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    px, py, cap, spread, x0, y0, size, nx, ny, start, members, boxes, vx, vy, first, row, n_rows,
):
    """Per site, in three sweeps over the runs whose boxes come within ``cap``: the boxes
    alone bound each feature's distance from above (``_box_far``), so a run whose box is
    farther than its feature's bound allows is never measured; the runs left are measured;
    those within the near-tie window of their feature's nearest are kept."""
    n = len(px)
    out_site = np.empty(n + 16, dtype=np.int64)
    out_run = np.empty(n + 16, dtype=np.int64)
    out_pair = np.empty((n + 16, 4), dtype=np.float64)
    m = 0
    seen = np.full(len(first) - 1, -1, dtype=np.int64)  # the last site that met each run
    owner = np.full(n_rows, -1, dtype=np.int64)  # the last site that met each feature
    bound = np.full(n_rows, np.inf)  # per feature: an upper bound of its distance
    best = np.full(n_rows, np.inf)  # per feature: its nearest run's distance
    cand = np.empty(64, dtype=np.int64)
    cand_lb = np.empty(64, dtype=np.float64)
    meas = np.empty(64, dtype=np.int64)
    meas_d = np.empty(64, dtype=np.float64)
    meas_x = np.empty(64, dtype=np.float64)
    meas_y = np.empty(64, dtype=np.float64)
    cap_in = cap + 1e-6
    thr = cap_in * (1.0 + SLACK)
    for s in range(n):
        x, y = px[s], py[s]
        i0 = max(math.floor((x - thr - x0) / size), 0)
        i1 = min(math.floor((x + thr - x0) / size), nx - 1)
        j0 = max(math.floor((y - thr - y0) / size), 0)
        j1 = min(math.floor((y + thr - y0) / size), ny - 1)
        nc = 0
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                c = j * nx + i
                for t in range(start[c], start[c + 1]):
                    bx = max(boxes[t, 0] - x, x - boxes[t, 2], 0.0)
                    by = max(boxes[t, 1] - y, y - boxes[t, 3], 0.0)
                    if bx * bx + by * by > thr * thr:
                        continue
                    r = members[t]
                    if seen[r] == s:
                        continue
                    seen[r] = s
                    f = row[r]
                    if owner[f] != s:
                        owner[f] = s
                        bound[f] = np.inf
                        best[f] = np.inf
                    bound[f] = min(bound[f], _box_far(x, y, boxes, t))
                    if nc == len(cand):
                        cand = _grow(cand)
                        cand_lb = _grow(cand_lb)
                    cand[nc] = r
                    cand_lb[nc] = math.sqrt(bx * bx + by * by)
                    nc += 1
        nm = 0
        for q in range(nc):
            r = cand[q]
            f = row[r]
            if cand_lb[q] > _window(bound[f], spread, cap_in) * (1.0 + SLACK):
                continue  # farther than some run of its feature can be: never a near-tie
            qx, qy = _nearest_on_run(x, y, vx, vy, first[r], first[r + 1])
            d = math.hypot(qx - x, qy - y)
            if d > thr:
                continue
            if nm == len(meas):
                meas = _grow(meas)
                meas_d = _grow(meas_d)
                meas_x = _grow(meas_x)
                meas_y = _grow(meas_y)
            meas[nm], meas_d[nm], meas_x[nm], meas_y[nm] = r, d, qx, qy
            nm += 1
            if d < best[row[r]]:
                best[row[r]] = d
        for q in range(nm):
            r = meas[q]
            if meas_d[q] > _window(best[row[r]], spread, cap_in):
                continue
            if m == len(out_site):
                out_site = _grow(out_site)
                out_run = _grow(out_run)
                out_pair = _grow2(out_pair)
            out_site[m] = s
            out_run[m] = r
            out_pair[m, 0] = x
            out_pair[m, 1] = y
            out_pair[m, 2] = meas_x[q]
            out_pair[m, 3] = meas_y[q]
            m += 1
    return out_site[:m], out_run[:m], out_pair[:m]


@njit(cache=True, nogil=True)
def _grow(a):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    out = np.empty(2 * len(a), dtype=a.dtype)
    out[: len(a)] = a
    return out


@njit(cache=True, nogil=True)
def _grow2(a):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    out = np.empty((2 * len(a), a.shape[1]), dtype=a.dtype)
    out[: len(a)] = a
    return out


def warm_up() -> None:
    """Compile (or load from the cache) every loop here, so the first batch does not wait."""
    grid = RunGrid.build(np.array([0.0, 1.0, 3.0]), np.array([0.0, 1.0, 3.0]), np.array([0, 2, 3]))
    grid.near_ties(np.array([0.5, 9.0]), np.array([0.0, 9.0]), 10.0, 0.01)
    grid.in_reach(np.array([0.5, 9.0]), np.array([0.0, 9.0]), 10.0, 0.01, np.array([0, 1]))


if __name__ == "__main__":
    warm_up()
