"""The Flask application factory."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request
from werkzeug.exceptions import HTTPException

from bot.runtime import Runtime, build_runtime
from bot.runtime.logs import configure_logging
from bot.settings import Settings, load_settings

log = logging.getLogger(__name__)
API_PREFIXES = ("/api/", "/webhooks/")


class ConsoleSessions(SecureCookieSessionInterface):
    """Signed cookie sessions for the console's pages only.

    The chat API and the webhooks are called by programs that carry no session cookie and
    never sign in: they get Flask's null session (reading it is empty, writing it raises)
    instead of a signing serializer built and a cookie looked for on every message.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIXES):
            return None           # Flask then makes its null session
        return super().open_session(app, request)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               start_workers: bool = True) -> Flask:
    """Build the app.

    Args:
        settings: Validated settings (default: config.yml plus the environment).
        runtime: A prepared runtime (tests pass one with their own channels or NLU).
        start_workers: Start the background workers (the thread queue) with the app.
    """
    settings = settings or load_settings()
    configure_logging(settings.server.log_level)
    runtime = runtime or build_runtime(settings)
    secret_key = settings.secrets.secret_key
    if not secret_key:
        # Loading settings never writes; `warga db upgrade`/`run`/`serve` create var/secret-key.
        # Without it (an app built outside the CLI) sessions last as long as this process.
        log.warning("no WARGA_SECRET_KEY and no var/secret-key: console sessions use a key of this "
                    "process only (run `warga db upgrade` to create one)")
        secret_key = secrets.token_urlsafe(32)
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.session_interface = ConsoleSessions()
    app.config.update(
        MAX_CONTENT_LENGTH=settings.server.max_request_kb * 1024,
        SECRET_KEY=secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secrets.public_url.startswith("https://"),
        JSON_AS_ASCII=False,
    )
    app.extensions["warga"] = runtime

    from bot.web.console import bp as console_bp
    from bot.web.health import bp as health_bp
    from bot.web.limits import install_rate_limits
    from bot.web.webchat import bp as webchat_bp
    from bot.web.webhooks import bp as webhooks_bp

    install_rate_limits(app, settings, webchat_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(webchat_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(webhooks_bp)

    register_input_guards(app)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if request.path.startswith(API_PREFIXES):
            return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), exc.code
        return render_template("error.html", code=exc.code, title=exc.name,
                               description=exc.description), exc.code

    register_fault_handlers(app)
    register_console_headers(app, settings)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error", extra={"path": request.path})
        if request.path.startswith(API_PREFIXES):
            return jsonify(error="internal_error", message="Something went wrong on our side."), 500
        return render_template("error.html", code=500, title="Internal Server Error",
                               description="Something went wrong on our side."), 500

    @app.after_request
    def _headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        if resp.mimetype == "text/html":
            resp.headers.setdefault("Content-Security-Policy", CSP)
        return resp

    if start_workers:
        runtime.start()
    return app


# blob: shows the web chat's photos, fetched with the sender id in a header (never in a URL).
CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'"


def tile_origin(template: str) -> str | None:
    """The CSP source of a map tile URL template: its scheme and host, a ``{s}`` subdomain
    becoming ``*`` ("https://{s}.tile.example.org/{z}/{x}/{y}.png" -> "https://*.tile.example.org")."""
    found = re.match(r"^(https?)://([^/]+)", template)
    if found is None:
        return None
    host = re.sub(r"\{[a-z]+\}", "*", found.group(2))
    return f"{found.group(1)}://{host}"


def console_csp(settings: Settings) -> str:
    # Only the configured tile host is added, and only for images: the map script itself is
    # served from /static like every other script.
    origin = tile_origin(settings.console.map_tile_url)
    img = "img-src 'self' data:" + (f" {origin}" if origin else "")
    return f"default-src 'self'; {img}; style-src 'self'; frame-ancestors 'none'"


def register_console_headers(app: Flask, settings: Settings) -> None:
    """Console pages: never cached (a shared computer's back button shows no citizen's data)
    and never framed (no clickjacking of the staff's buttons)."""
    policy = console_csp(settings)

    @app.after_request
    def _console_headers(resp: Any) -> Any:
        if request.path.startswith("/console"):
            resp.headers["Cache-Control"] = "no-store"
            resp.headers["X-Frame-Options"] = "DENY"
            # Pages get the console's policy; a file that set its own, stricter policy (a
            # citizen's photo shown inline) keeps it.
            if resp.mimetype == "text/html" or "Content-Security-Policy" not in resp.headers:
                resp.headers["Content-Security-Policy"] = policy
        return resp


#: Seconds a client is told to wait before retrying while the database is away.
RETRY_AFTER_SECONDS = 5


def register_fault_handlers(app: Flask) -> None:
    """Answer what is true when the database is away: nothing was stored, so 503 with
    Retry-After (a provider or the web page sends again, and the retry is stored once), never
    a 500 that reads like a bug. A Redis outage never reaches here: the message is stored and
    the sweeper processes it (:meth:`bot.pipeline.queue.RedisQueue.enqueue`)."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    def _unavailable(exc: Exception) -> Any:
        log.warning("database unavailable", extra={"path": request.path, "reason": type(exc).__name__})
        if request.path.startswith(API_PREFIXES):
            resp = jsonify(error="unavailable", message="Storage is unavailable; nothing was stored. Retry later.")
        else:
            resp = app.make_response((render_template(
                "error.html", code=503, title="Service Unavailable",
                description="The database is unavailable; try again shortly."), 503))
        resp.status_code = 503
        resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return resp

    for exc_class in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(exc_class, _unavailable)


def register_input_guards(app: Flask) -> None:
    """Answer input no handler can use with 400, never 500 (issue 9).

    A NUL in a query or form value cannot be stored or even compared in PostgreSQL, so such a
    request is refused before any view runs (provider webhooks excepted: their connectors
    store what they can and strip NUL). JSON nested too deep for the parser and text that is
    not valid Unicode are the client's error wherever they are found.
    """

    def bad_request(message: str) -> Any:
        if request.path.startswith(API_PREFIXES):
            return jsonify(error="bad_request", message=message), 400
        return render_template("error.html", code=400, title="Bad Request", description=message), 400

    @app.before_request
    def _refuse_nul() -> Any:
        if request.path.startswith("/webhooks/"):
            return None
        values = [*request.args.values(), *request.args.keys()]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [*request.form.values(), *request.form.keys()]
        if any("\x00" in v for v in values):
            return bad_request("NUL characters are not allowed in parameters.")
        return None

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError) -> Any:
        return bad_request("The request is nested too deeply.")

    @app.errorhandler(UnicodeError)
    def _not_unicode(exc: UnicodeError) -> Any:
        return bad_request("The request is not valid UTF-8 text.")


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["warga"]
