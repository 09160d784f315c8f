"""JSON API v1: check-ins, the offline snapshot, the public key, the OpenAPI document."""

from flask import Blueprint

from ..ratelimits import api_limit

bp = Blueprint("api", __name__, url_prefix="/api/v1")
api_limit(bp)  # RATELIMIT_API per device token (registration/ratelimits.py)
