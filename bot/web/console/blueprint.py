"""The console's one blueprint, in its own module so route modules can import it without cycles."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")
