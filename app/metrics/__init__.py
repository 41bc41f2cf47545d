"""GET /metrics (Prometheus)."""
