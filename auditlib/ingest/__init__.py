"""The ingest pipeline: find documents (`documents`), read them on threads or worker processes
(`loader`, `fanout`, `worker`), turn rows into typed frames (`accumulate`), join image ids across
documents (`resolve`), and plan what a store already holds (`incremental`).
"""
