gunicorn apps.main_app:app --bind 0.0.0.0:8000 --worker-class asgi --workers 2 --worker-connections 1000 --log-level debug --access-logfile - --error-logfile -
