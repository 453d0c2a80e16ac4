"""gunicorn settings for the relay in production: gunicorn -c deploy/gunicorn.conf.py

Settings of the relay itself come from the environment (RELAY_*; see README.md).  The app
is loaded once in the master (preload), so a bad setting or a bad staff key stops gunicorn
at start with the relay's one-line messages (create_app turns them into the exit), instead
of workers failing one by one.
"""

import multiprocessing
import os

wsgi_app = "relay:create_app()"
bind = os.environ.get("RELAY_BIND", "127.0.0.1:8001")
# Requests are short and CPU-bound (validation, encryption, one fsync): a few sync workers.
# Each worker is its own process: limits and spent form tokens live in Redis (production
# refuses memory://), so any number of workers share them.
workers = int(os.environ.get("RELAY_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
preload_app = True
timeout = 30
graceful_timeout = 30
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000

# No access log: its lines begin with the client's address.  Errors go to stderr (journald).
accesslog = None
errorlog = "-"
loglevel = "info"
capture_output = True

# Only nginx on this machine may set X-Forwarded-For (see RELAY_PROXIES).
forwarded_allow_ips = "127.0.0.1"
# gunicorn's control socket would live in the home folder, which systemd keeps read-only.
control_socket_disable = True
limit_request_line = 4096
limit_request_fields = 50
limit_request_field_size = 8190
