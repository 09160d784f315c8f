"""Entry point for gunicorn (`gunicorn wsgi:app`) and the CLI (`flask --app wsgi …`)."""

from registration import create_app

app = create_app()

# The Celery app of the same configuration: `celery -A wsgi.celery worker` / `beat`.
celery = app.extensions["celery"]
