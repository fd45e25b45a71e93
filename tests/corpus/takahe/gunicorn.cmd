gunicorn takahe.wsgi:application -b 0.0.0.0:8001
