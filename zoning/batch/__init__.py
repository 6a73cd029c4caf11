"""Batch screening: tables and GIS files of many sites in, one result row per input row out.

Entry points: ``zoning.batch.engine.run_batch`` (whole run), ``run_parts`` / ``finish_output``
(the two halves the HTTP jobs use), ``zoning.batch.dask_runner.DaskRunner`` (scale-out). See
docs/batch.md.
"""
