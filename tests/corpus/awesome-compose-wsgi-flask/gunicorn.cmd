gunicorn -w 3 -t 60 -b 0.0.0.0:8000 app:app
