"""The gateway's HTTP entrypoint: nameko ``@http`` plus what every response needs.

Every request gets a fresh correlation id, put in the worker's context data (so nameko
carries it into every RPC the handler makes, and the relay onto every event those RPCs
append) and returned in the ``X-Correlation-ID`` header. Clients cannot set context data.
Errors become problem details; every response carries the security headers; the access log
records method, path and status, never the query string (search forms carry patient names).
"""

from __future__ import annotations

import json
import time
import uuid
from functools import partial

from eventlet import wsgi
from eventlet.event import Event
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request, Response

from gateway.parameters import check_path_numbers
from gateway.problems import PROBLEM_JSON, Problem, Redirect, problem_from_exception
from gateway.rendering import render_page
from pmp.logs import correlation, get_logger

log = get_logger("gateway.access")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class QuietWebServer(WebServer):
    """nameko's web server without eventlet's access log, which prints query strings."""

    def get_wsgi_server(self, sock, wsgi_app, protocol=HttpOnlyProtocol, debug=False):
        return wsgi.Server(
            sock, sock.getsockname(), wsgi_app, protocol=protocol, debug=False, log_output=False
        )

    def get_wsgi_app(self):
        return ProblemWsgiApp(self)


class ProblemWsgiApp(WsgiApp):
    """nameko's routing, with the answers werkzeug makes itself before any handler runs (a
    method no route has, such as OPTIONS) given as problems like every other error, not
    werkzeug's HTML page."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
            request.path_values = values
            response = provider.handle_request(request)
        except RequestRedirect as redirect:  # /api//x to /api/x: a redirect, not an error
            response = redirect.get_response(environ)
        except HTTPException as exc:
            problem = Problem(exc.code or 500, exc.name, exc.description or "")
            response = error_response(request, problem, str(uuid.uuid4()))
            for name, value in {**SECURITY_HEADERS, **dict(exc.get_headers())}.items():
                response.headers.setdefault(name, value)
        return response(environ, start_response)


class GatewayHttp(HttpRequestHandler):
    server = QuietWebServer()

    def __init__(self, method: str, url: str, **kwargs):
        # A Problem is an answer, not a failure: nameko need not log it as an error.
        kwargs.setdefault("expected_exceptions", (Problem, Redirect))
        super().__init__(method, url, **kwargs)

    def handle_request(self, request: Request) -> Response:
        request.shallow = False
        correlation_id = str(uuid.uuid4())
        started = time.monotonic()
        with correlation(correlation_id):
            try:
                args, kwargs = self.get_entrypoint_parameters(request)
                check_path_numbers(kwargs)
                self.check_signature(args, kwargs)
                done = Event()
                self.container.spawn_worker(
                    self,
                    args,
                    kwargs,
                    context_data={"correlation_id": correlation_id},
                    handle_result=partial(self.handle_result, done),
                )
                response = self.response_from_result(done.wait())
            except Redirect as redirect:
                response = Response(status=303, headers={"Location": redirect.location})
            except Exception as exc:
                response = error_response(request, problem_from_exception(exc), correlation_id)
                if response.status_code >= 500:
                    log.error("request failed", exc_info=exc)
            response.headers["X-Correlation-ID"] = correlation_id
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            log.info(
                "request handled",
                method=request.method,
                route=self.url,  # the rule, not the path: paths carry card numbers and ids
                status=response.status_code,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
            )
        return response


http = GatewayHttp.decorator


def wants_html(request: Request) -> bool:
    """Browsers get pages; API clients (and /api/ paths) get problem+json."""
    if request.path.startswith("/api/") or request.path == "/healthz":
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_JSON])
    return best == "text/html"


def error_response(request: Request, problem: Problem, correlation_id: str) -> Response:
    if wants_html(request):
        html = render_page(
            "error.html", problem=problem, correlation_id=correlation_id, title=problem.title
        )
        return Response(html, status=problem.status, mimetype="text/html", headers=problem.headers)
    body = {**problem.body(instance=request.path), "correlation_id": correlation_id}
    return Response(
        json.dumps(body), status=problem.status, mimetype=PROBLEM_JSON, headers=problem.headers
    )
