gunicorn -b localhost:8000 -w 4 microblog:app
