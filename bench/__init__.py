"""Benchmarks of the screening engine against PostGIS, DuckDB spatial and plain GeoPandas.

Run (from the repository root)::

    .venv/bin/python -m bench.run_engine            # full: province-scale set, ~30-60 min
    .venv/bin/python -m bench.run_engine --quick    # 10x smaller, a few minutes
    .venv/bin/python -m bench.run_engine --render-only   # re-render docs/benchmarks.md
    .venv/bin/python -m bench.synth --out DIR       # only write the synthetic layer set

Layout:

- ``synth.py``   deterministic synthetic layer set (GeoParquet EPSG:4490 + catalog.json, the
  ``zoning build`` layout) and seeded point / polygon / line site generators;
- ``engines/``   one adapter per competitor (``ours``, ``postgis``, ``duckdb_spatial``,
  ``geopandas_sjoin``), all answering the same question in the same frame shape;
- ``pgcluster.py`` throwaway PostgreSQL/PostGIS cluster on 127.0.0.1 (temp dir, free port);
- ``worker.py``  runs one engine in a fresh interpreter (start-up, batches, single-site latency,
  peak memory, CPU time) — so that memory and start-up are per engine;
- ``crosscheck.py`` same pairs, measures within 0.1 %;
- ``run_engine.py`` / ``report.py`` orchestrate one side-by-side run and write
  ``docs/benchmarks.md``; ``notes.md`` (hand-written profile analysis) is appended to it;
- ``measure.py`` vectorised ellipsoidal area / geodesic length used by the generator and the
  GeoPandas competitor.

Outputs go to ``bench/out/`` (git-ignored). The fast cross-check in the default test suite is
``tests/bench/test_crosscheck.py``.
"""
