"""Entry point for gunicorn (`gunicorn wsgi:app`) and the CLI (`flask --app wsgi …`)."""

from registration import create_app

app = create_app()
