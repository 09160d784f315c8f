"""The scanner page at the doors."""

from flask import Blueprint

bp = Blueprint("checkin", __name__)
