# gunicorn.conf.py: everything else is gunicorn's default (sync worker, timeout 30, keepalive 2)
bind = "unix:/tmp/gunicorn.sock"
workers = 2
