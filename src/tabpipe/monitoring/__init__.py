"""Monitoring and continuous training.

New batches against the contract (``batch``), value drift (``drift``), degradation on
labelled feedback (``degradation``), the scheduled check (``monitor``), alerts as issues
(``alert``), ingestion of new training data (``ingest``) and simulated batches
(``simulate``).
"""
