"""gunicorn settings for XinYiDai; `make run` and the systemd unit both use this file.

Every setting can be overridden from the environment (XYD_BIND, XYD_WORKERS, XYD_THREADS, XYD_TIMEOUT,
XYD_MAX_REQUESTS).
No `preload_app`: each worker builds its app (and loads its LightGBM model) after the fork, because
OpenMP state inherited across fork can hang a Booster.
"""

import multiprocessing
import os

bind = os.environ.get("XYD_BIND", "127.0.0.1:8000")
# Processes, not threads: a request here is a dozen short PostgreSQL round trips between bits of Python,
# and a thread coming back from each round trip waits for the GIL while another thread of its process
# computes. Measured with `make load` (100,000 enterprises, 2 cores): 2 workers × 4 threads saturated at
# about 99 req/s with a third of the CPU idle; 5 × 1 used all of it for about 180 req/s. So the classic
# sizing, 2 × cores + 1 single-threaded workers (the model scores with one thread per worker).
# That is for production behind nginx, which sends each request at once on its own upstream connection. A
# browser talking to gunicorn directly also opens idle "pre-connections": gthread gives each new connection
# to a thread that waits up to 5 s for its first bytes, so a single-threaded worker stalls every request
# queued behind one. `make run` (no nginx) therefore runs 4 threads per worker (tests/test_serving.py).
workers = int(os.environ.get("XYD_WORKERS", 2 * multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("XYD_THREADS", "1"))
worker_class = "gthread"
timeout = int(os.environ.get("XYD_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycling bounds a slow leak in production; the soak test (`make load --soak`) sets 0 so a leak shows.
# At 2,000 a worker was replaced every minute under load, each new one paying its start (imports, model);
# the soak shows no growth to hide, so recycling is rare.
max_requests = int(os.environ.get("XYD_MAX_REQUESTS", "10000"))
max_requests_jitter = 1000 if max_requests else 0
preload_app = False
accesslog = "-"
errorlog = "-"
if os.environ.get("XYD_LOG_FORMAT") == "json":
    access_log_format = (
        '{"time": "%(t)s", "remote_addr": "%(h)s", "method": "%(m)s", "path": "%(U)s", "status": %(s)s, '
        '"bytes": "%(B)s", "duration_ms": %(M)s, "user_agent": "%(a)s"}'
    )
else:
    access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
forwarded_allow_ips = os.environ.get("XYD_FORWARDED_ALLOW_IPS", "127.0.0.1")
