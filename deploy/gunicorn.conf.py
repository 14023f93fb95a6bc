"""gunicorn settings for XinYiDai; `make run` and the systemd unit both use this file.

Every setting can be overridden from the environment (XYD_BIND, XYD_WORKERS, XYD_THREADS, XYD_TIMEOUT,
XYD_MAX_REQUESTS).
No `preload_app`: each worker builds its app (and loads its LightGBM model) after the fork, because
OpenMP state inherited across fork can hang a Booster.
"""

import multiprocessing
import os

bind = os.environ.get("XYD_BIND", "127.0.0.1:8000")
# Workers × LightGBM threads ≤ cores: the model scores with one thread per worker.
workers = int(os.environ.get("XYD_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("XYD_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("XYD_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycling bounds a slow leak in production; the soak test (`make load --soak`) sets 0 so a leak shows.
max_requests = int(os.environ.get("XYD_MAX_REQUESTS", "2000"))
max_requests_jitter = 200 if max_requests else 0
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
