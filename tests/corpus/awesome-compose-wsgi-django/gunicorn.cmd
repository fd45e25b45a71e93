gunicorn -w 2 --bind 0.0.0.0:8000 sample.wsgi:application
