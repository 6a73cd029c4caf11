"""Benchmarks of the screening engine against PostGIS, DuckDB spatial and plain GeoPandas.

Why a package: the runner starts each engine in its own interpreter (``python -m bench.worker``)
so that peak memory and start-up are measured per engine, not mixed; the package layout lets the
worker and the fast cross-check test (``tests/bench``) import the same engine adapters.

Entry point: ``python -m bench.run_engine [--quick]`` writes ``docs/benchmarks.md``.
"""
