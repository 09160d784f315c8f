"""JSON API v1: check-ins, the offline snapshot, the public key, the OpenAPI document."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
