"""`make load`: locust against gunicorn (deploy/gunicorn.conf.py) on PostgreSQL with the 100,000-enterprise
demo population; prints throughput, latency percentiles per group and overall, errors, and with --soak
whether the workers' memory stayed flat. docs/operations.md says how to read and reproduce the numbers."""
