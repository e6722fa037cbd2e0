"""The billing system's wiring beyond the container: webhook ingestion (``ingest``), jobs,
schedules and event subscriptions (``jobs``)."""
