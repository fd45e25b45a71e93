gunicorn 'CTFd:create_app()' --bind '0.0.0.0:8000' --workers 1 --worker-tmp-dir /dev/shm --worker-class gevent --access-logfile - --error-logfile -
