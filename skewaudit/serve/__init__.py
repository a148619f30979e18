"""`skewaudit serve`: continuous, read-only audits exposed as Prometheus metrics.

An integration at the edge: it calls the same pipeline as ``diff`` (specs →
facts → checks → report) on an interval and publishes the last report.
``state`` holds the last run, ``metrics`` turns it into the exposition format
(the only importer of prometheus_client here), ``http`` serves it.
"""
