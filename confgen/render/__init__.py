"""profile -> sizing plan -> nginx.conf and gunicorn.conf.py, through the Jinja templates."""
