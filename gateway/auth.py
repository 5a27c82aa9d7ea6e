"""Who is asking: sessions, the principal behind them, CSRF, and the sign-in steps.

Pages authenticate with the ``pmp_session`` cookie (HttpOnly, SameSite=Strict, Secure over
TLS); the JSON API only with ``Authorization: Bearer <token>``, never the cookie, so no API
call can be forged from another site. The identity service resolves a token to its principal
(account, role, permissions, the sign-in step reached); answers are cached here until
identity says the account's access changed (``PrincipalCache``). Once resolved, the
principal's id and role go into the worker's context data, so every RPC the handler makes
carries them and services check permissions themselves.

CSRF: every form carries ``csrf_token``, an HMAC of the visitor's random ``pmp_csrf``
cookie under the deployment key; a POST without a matching pair is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from gateway.access_changes import listen_for_access_changes
from gateway.problems import Problem, Redirect
from gateway.rendering import render_page
from pmp.calls import ServiceCalls
from pmp.config import Settings, load_settings
from pmp.keys import derived_key
from services.identity.domain import CHANGE_PASSWORD, ENROL_MFA, MFA, READY
from services.identity.roles import Permission

SESSION_COOKIE = "pmp_session"
CSRF_COOKIE = "pmp_csrf"
CACHE_SECONDS = 5.0

# Where a person who has not finished signing in is sent, and what else they may open.
STEP_PAGES = {MFA: "/login/mfa", CHANGE_PASSWORD: "/password/change", ENROL_MFA: "/account/mfa"}
ALWAYS_OPEN = {"/logout"}


class PrincipalCache:
    """token hash -> (principal, expiry), per gateway process.

    Trusted only while this replica hears identity's access changes (``online``): the
    listener (``gateway/access_changes.py``) drops an account's entries the moment its access
    changes, and while it has lost the broker nothing is cached, since a change could be
    missed. An answer resolved before a change but stored after it is not kept: ``put`` takes
    the ``ticket`` read before the lookup, and any drop since makes it stale. The expiry
    bounds what changes without an event (a renewal date passing by the clock).
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[dict[str, Any], float]] = {}
        self._online = False
        self._drops = 0  # how many times entries were dropped: a lookup's ticket

    def get(self, token: str) -> dict[str, Any] | None:
        entry = self._entries.get(_digest(token)) if self._online else None
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def ticket(self) -> int:
        """Read before resolving a token; ``put`` keeps the answer only if nothing was dropped
        in between."""
        return self._drops

    def put(self, token: str, principal: dict[str, Any], ticket: int) -> None:
        if not self._online or ticket != self._drops:
            return
        if len(self._entries) > 10_000:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[1] >= now}
        self._entries[_digest(token)] = (principal, time.monotonic() + CACHE_SECONDS)

    def forget(self, token: str) -> None:
        self._drops += 1
        self._entries.pop(_digest(token), None)

    def drop_account(self, account_id: str) -> None:
        """Every cached session of ``account_id``: its access changed."""
        self._drops += 1
        self._entries = {k: v for k, v in self._entries.items() if v[0]["account_id"] != account_id}

    def online(self) -> None:
        """The listener is subscribed again: start afresh (changes may have been missed)."""
        self._drops += 1
        self._entries = {}
        self._online = True

    def offline(self) -> None:
        """The listener lost the broker: cache nothing until it is back."""
        self._online = False
        self._drops += 1
        self._entries = {}


class Auth:
    """One request's view of authentication; handlers get it as ``self.auth``."""

    def __init__(self, worker_ctx, settings: Settings, cache: PrincipalCache, csrf_key: bytes):
        self._worker_ctx = worker_ctx
        self.settings = settings
        self._cache = cache
        self._csrf_key = csrf_key

    # -- who is asking ------------------------------------------------------------------------

    def token(self, request: Request) -> str | None:
        if request.path.startswith("/api/"):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
        return request.cookies.get(SESSION_COOKIE) or None

    def principal(self, request: Request, services: ServiceCalls) -> dict[str, Any] | None:
        """The signed-in principal, or None for an anonymous visitor or a lapsed session."""
        token = self.token(request)
        if not token:
            return None
        principal = self._cache.get(token)
        if principal is None:
            ticket = self._cache.ticket()
            try:
                principal = services.call(
                    "identity", "resolve_session", self.settings.rpc_timeout, token=token
                )
            except RemoteError as exc:
                if exc.exc_type in {"SessionInvalid", "NotFound"}:
                    return None
                raise
            self._cache.put(token, principal, ticket)
        self.act_as(principal)
        return principal

    def act_as(self, principal: dict[str, Any]) -> None:
        """Every RPC from here on carries who is asking. Only a fully signed-in principal
        carries a role: half-way through sign-in, services grant nothing."""
        context = self._worker_ctx.data  # ``context_data`` is a copy: writes there are lost
        context["actor_id"] = principal["account_id"]
        if principal["stage"] == READY:
            context["actor_role"] = principal["role"]
            context["actor_name"] = principal.get("name") or ""
            context["actor_permissions"] = list(principal["permissions"])

    def require(
        self,
        request: Request,
        services: ServiceCalls,
        permission: Permission | None = None,
        step: str = READY,
    ) -> dict[str, Any]:
        """The principal, if signed in, at ``step`` and granted ``permission``; else a
        redirect to the right page (browsers) or a problem (API)."""
        principal = self.principal(request, services)
        api = request.path.startswith("/api/")
        if principal is None:
            if api:
                raise Problem(
                    401,
                    "Sign-in required",
                    "Send Authorization: Bearer <token> from POST /api/sessions.",
                    headers={"WWW-Authenticate": 'Bearer realm="cpmrs"'},
                )
            raise Redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/"))
        stage = principal["stage"]
        if stage != step and not (step == READY and request.path in ALWAYS_OPEN):
            if api:
                raise Problem(
                    403,
                    "Finish signing in first",
                    f"This session must first complete the step '{stage}'.",
                    extensions={"stage": stage},
                )
            raise Redirect(STEP_PAGES.get(stage, "/"))
        if permission is not None and permission not in principal["permissions"]:
            raise Problem(
                403,
                "You are not allowed to do this",
                "Your role does not include this. If you need it, contact an administrator.",
            )
        return principal

    def forget(self, token: str | None) -> None:
        if token:
            self._cache.forget(token)

    # -- cookies -------------------------------------------------------------------------------

    def secure(self, request: Request) -> bool:
        return request.scheme == "https" or self.settings.public_url.startswith("https://")

    def start_session(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            secure=self.secure(request),
            samesite="Strict",
            path="/",
        )

    def end_session(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, secure=self.secure(request), samesite="Strict"
        )

    # -- CSRF ---------------------------------------------------------------------------------

    def _csrf_for(self, seed: str) -> str:
        return hmac.new(self._csrf_key, seed.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, request: Request) -> None:
        """Refuse a form POST that did not come from one of our pages."""
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            raise Problem(403, "Form refused", "The form was sent from another site.")
        seed = request.cookies.get(CSRF_COOKIE, "")
        given = request.form.get("csrf_token", "")
        if not seed or not hmac.compare_digest(given, self._csrf_for(seed)):
            raise Problem(
                403,
                "This form has expired",
                "Go back, reload the page and send the form again.",
            )

    def page(
        self,
        request: Request,
        template: str,
        principal: dict[str, Any] | None = None,
        status: int = 200,
        **context: Any,
    ) -> Response:
        """A page whose forms carry a CSRF token (and the cookie it is checked against)."""
        seed = request.cookies.get(CSRF_COOKIE)
        fresh = seed is None
        if fresh:
            seed = secrets.token_urlsafe(32)
        html = render_page(
            template, principal=principal, csrf_token=self._csrf_for(seed), **context
        )
        response = Response(html, status=status, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        if fresh:
            response.set_cookie(
                CSRF_COOKIE,
                seed,
                httponly=True,
                secure=self.secure(request),
                samesite="Strict",
                path="/",
            )
        return response


class Authentication(DependencyProvider):
    """Gives each gateway worker an ``Auth``; the principal cache lives as long as the process,
    kept true by a listener for identity's access changes."""

    def setup(self) -> None:
        self.settings = load_settings()
        self.cache = PrincipalCache()
        self.csrf_key = derived_key(self.settings, "gateway.csrf")
        self.stopping = threading.Event()

    def start(self) -> None:
        self.container.spawn_managed_thread(
            lambda: listen_for_access_changes(
                self.settings.amqp_uri, self.cache, self.stopping, self.settings.poll_interval
            ),
            identifier="access changes",
        )

    def stop(self) -> None:
        self.stopping.set()

    def kill(self) -> None:
        self.stopping.set()

    def get_dependency(self, worker_ctx) -> Auth:
        return Auth(worker_ctx, self.settings, self.cache, self.csrf_key)


def client_address(request: Request) -> str:
    """The address sign-in attempts are counted against. Proxies' X-Forwarded-For is not
    trusted: a client could set it to dodge the limit."""
    return request.remote_addr or "unknown"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
