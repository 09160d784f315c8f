"""The scanner page at the doors, and the live dashboard."""

from flask import Blueprint

bp = Blueprint("checkin", __name__)
