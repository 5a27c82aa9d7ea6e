"""The registration JSON API for the people who decide: supervisors approving their
delegates, and administrators reviewing applications, setting renewal years and deciding
profile changes. Bearer tokens only; each handler checks its permission first, and the
registration service checks the caller again."""

from __future__ import annotations

import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.registration import (
    ACCOUNT_ID_PARAMETER,
    APPLICATION_RESPONSE,
    DOCUMENT_ID_PARAMETER,
    FILE_RESPONSE,
    invalid,
    problem_response,
)
from gateway.http import http
from gateway.problems import Problem
from gateway.responses import json_response, uploaded_document
from gateway.schemas import (
    ApplicationDetailsSchema,
    ApplicationSchema,
    ApplicationSummariesSchema,
    DecisionSchema,
    RenewalPolicySchema,
    ReviewQuerySchema,
    ReviewQueueSchema,
    load_body,
    load_data,
)
from services.identity.roles import Permission


class ReviewApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _api_review(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("registration", method, self.settings.rpc_timeout, **kwargs)

    def _api_decided(self, method: str, **kwargs: Any) -> Response:
        return json_response(ApplicationSchema().dump(self._api_review(method, **kwargs)))

    def _api_yes_or_no(
        self,
        request: Request,
        permission: Permission,
        method: str,
        account_id: uuid.UUID,
        decision: str,
        no: str = "reject",
    ) -> Response:
        """``approve`` or ``no`` (which needs a reason, for the person it disappoints)."""
        if decision not in {"approve", no}:
            raise Problem(404, "Not found", f"The decision is approve or {no}.")
        self.auth.require(request, self.services, permission)
        body = load_body(DecisionSchema(), request)
        if decision == no and not body.get("reason"):
            raise invalid({"reason": "Give the reason; the person is emailed it."})
        return self._api_decided(
            method,
            account_id=str(account_id),
            approve=decision == "approve",
            reason=body.get("reason", ""),
        )

    # -- supervisors ---------------------------------------------------------------------------

    @http("GET", "/api/delegates")
    def api_delegate_requests(self, request: Request) -> Response:
        """Delegates waiting for you.
        ---
        get:
          summary: Applications of delegates who named you as their supervisor
          description: Needs the permission `delegate.supervise`.
          security:
            - sessionToken: []
          responses:
            200:
              description: Oldest first.
              content:
                application/json:
                  schema: ApplicationSummaries
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.DELEGATE_SUPERVISE)
        items = self._api_review("delegate_requests")
        return json_response(ApplicationSummariesSchema().dump({"items": items}))

    @http("POST", "/api/delegates/<uuid:account_id>/<decision>")
    def api_decide_delegate(
        self, request: Request, account_id: uuid.UUID, decision: str
    ) -> Response:
        """Approve or decline a delegate.
        ---
        post:
          summary: Approve (on to the administrators) or decline (with a reason) a delegate
          description: Needs the permission `delegate.supervise`; only the named supervisor.
          security:
            - sessionToken: []
          parameters:{account_id}
            - in: path
              name: decision
              required: true
              schema:
                type: string
                enum: [approve, decline]
          requestBody:
            content:
              application/json:
                schema: Decision
          responses:
            200:
              description: Decided.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        return self._api_yes_or_no(
            request,
            Permission.DELEGATE_SUPERVISE,
            "decide_delegate",
            account_id,
            decision,
            "decline",
        )

    api_decide_delegate.__doc__ = api_decide_delegate.__doc__.format(
        account_id=ACCOUNT_ID_PARAMETER,
        application=APPLICATION_RESPONSE,
        missing=problem_response("There is no such application."),
        conflict=problem_response("It is not waiting for your decision."),
        invalid=problem_response("Declining needs a reason.", "ValidationProblem"),
    )

    # -- administrators ------------------------------------------------------------------------

    @http("GET", "/api/registrations")
    def api_review_queue(self, request: Request) -> Response:
        """The review queue.
        ---
        get:
          summary: Applications with a status (default `submitted`), oldest first, a page at a
            time
          description: Needs the permission `registration.review`.
          security:
            - sessionToken: []
          parameters:
            - in: query
              schema: ReviewQuerySchema
          responses:
            200:
              description: One page.
              content:
                application/json:
                  schema: ReviewQueue
            401: NotSignedIn
            403: RoleRefused
            422:{invalid}
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        query = load_data(ReviewQuerySchema(), request.args.to_dict())
        found = self._api_review("review_queue", status=query["status"], page=query["page"])
        return json_response(ReviewQueueSchema().dump(found))

    api_review_queue.__doc__ = api_review_queue.__doc__.format(
        invalid=problem_response("A query parameter is not valid.", "ValidationProblem")
    )

    @http("GET", "/api/registrations/<uuid:account_id>")
    def api_get_application(self, request: Request, account_id: uuid.UUID) -> Response:
        """One application, with its history.
        ---
        get:
          summary: One application as administrators see it, with its history
          description: Needs the permission `registration.review`.
          security:
            - sessionToken: []
          parameters:{account_id}
          responses:
            200:
              description: The application.
              content:
                application/json:
                  schema: ApplicationDetails
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        view = self._api_review("get_application", account_id=str(account_id))
        return json_response(ApplicationDetailsSchema().dump(view))

    api_get_application.__doc__ = api_get_application.__doc__.format(
        account_id=ACCOUNT_ID_PARAMETER,
        missing=problem_response("There is no application for this account."),
    )

    @http("POST", "/api/registrations/<uuid:account_id>/<action>")
    def api_decide_application(
        self, request: Request, account_id: uuid.UUID, action: str
    ) -> Response:
        """Decide on a submitted application.
        ---
        post:
          summary: Approve, reject (with `reason`) or ask for more information (with
            `message`); the applicant is emailed
          description: >
            Needs the permission `registration.review`. Approving gives the account its role
            and its renewal date; asking for information opens the application again.
          security:
            - sessionToken: []
          parameters:{account_id}
            - in: path
              name: action
              required: true
              schema:
                type: string
                enum: [approve, reject, request-information]
          requestBody:
            content:
              application/json:
                schema: Decision
          responses:
            200:
              description: Decided.{application}
            401: NotSignedIn
            403:{refused}
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        needs = {"approve": None, "reject": "reason", "request-information": "message"}
        if action not in needs:
            raise Problem(404, "Not found", "There is no such decision on an application.")
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        body = load_body(DecisionSchema(), request)
        kwargs: dict[str, Any] = {"account_id": str(account_id)}
        field = needs[action]
        if field is not None:
            if not body.get(field):
                what = "the reason" if field == "reason" else "what the applicant must send"
                raise invalid({field: f"Write {what}; the applicant is emailed it."})
            kwargs[field] = body[field]
        return self._api_decided(action.replace("-", "_"), **kwargs)

    api_decide_application.__doc__ = api_decide_application.__doc__.format(
        account_id=ACCOUNT_ID_PARAMETER,
        application=APPLICATION_RESPONSE,
        refused=problem_response("Your role does not allow this, or it is your own application."),
        missing=problem_response("There is no application for this account."),
        conflict=problem_response("The application is not waiting for a decision."),
        invalid=problem_response("The reason or message is missing.", "ValidationProblem"),
    )

    @http("GET", "/api/registrations/<uuid:account_id>/documents/<uuid:document_id>")
    def api_application_document(
        self, request: Request, account_id: uuid.UUID, document_id: uuid.UUID
    ) -> Response:
        """A document of an application.
        ---
        get:
          summary: Download a document of any application
          description: Needs the permission `registration.review`. Always an attachment.
          security:
            - sessionToken: []
          parameters:{account_id}{document_id}
          responses:
            200:
              description: The file, with its content type.{file}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        found = self._api_review(
            "document", account_id=str(account_id), document_id=str(document_id)
        )
        return uploaded_document(found)

    api_application_document.__doc__ = api_application_document.__doc__.format(
        account_id=ACCOUNT_ID_PARAMETER,
        document_id=DOCUMENT_ID_PARAMETER,
        file=FILE_RESPONSE,
        missing=problem_response("There is no such document."),
    )

    @http("GET", "/api/renewal-policy")
    def api_renewal_policy(self, request: Request) -> Response:
        """The renewal periods.
        ---
        get:
          summary: How many years each role's registration lasts before renewal
          description: Needs the permission `registration.review`.
          security:
            - sessionToken: []
          responses:
            200:
              description: The policy.
              content:
                application/json:
                  schema: RenewalPolicy
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        return json_response(RenewalPolicySchema().dump(self._api_review("renewal_policy")))

    @http("PUT", "/api/renewal-policy")
    def api_set_renewal_policy(self, request: Request) -> Response:
        """Change renewal periods.
        ---
        put:
          summary: Set the years of one or more roles; approved users' renewal dates move
          description: Needs the permission `registration.review`. Roles left out keep theirs.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: RenewalPolicy
          responses:
            200:
              description: The policy now.
              content:
                application/json:
                  schema: RenewalPolicy
            401: NotSignedIn
            403: RoleRefused
            422:{invalid}
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        body = load_body(RenewalPolicySchema(), request)
        current = self._api_review("renewal_policy")["years"]
        policy = None
        for role, years in body["years"].items():
            if current.get(role) != years:
                policy = self._api_review("set_renewal_years", role=role, years=years)
        if policy is None:
            policy = self._api_review("renewal_policy")
        return json_response(RenewalPolicySchema().dump(policy))

    api_set_renewal_policy.__doc__ = api_set_renewal_policy.__doc__.format(
        invalid=problem_response(
            "A role or a number of years (1 to 10) is not valid.", "ValidationProblem"
        )
    )

    @http("GET", "/api/profile-changes")
    def api_profile_changes(self, request: Request) -> Response:
        """Profile changes waiting for a decision.
        ---
        get:
          summary: Registered users who asked for a profile change, oldest first
          description: >
            Needs the permission `registration.review`. GET /api/registrations/{account_id}
            shows the change asked for (`profile_change`).
          security:
            - sessionToken: []
          responses:
            200:
              description: The requests.
              content:
                application/json:
                  schema: ApplicationSummaries
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        items = self._api_review("profile_changes")
        return json_response(ApplicationSummariesSchema().dump({"items": items}))

    @http("POST", "/api/profile-changes/<uuid:account_id>/<decision>")
    def api_decide_profile_change(
        self, request: Request, account_id: uuid.UUID, decision: str
    ) -> Response:
        """Approve or reject a profile change.
        ---
        post:
          summary: Approve or reject (with a reason) a profile change; the user is emailed
          description: Needs the permission `registration.review`.
          security:
            - sessionToken: []
          parameters:{account_id}
            - in: path
              name: decision
              required: true
              schema:
                type: string
                enum: [approve, reject]
          requestBody:
            content:
              application/json:
                schema: Decision
          responses:
            200:
              description: Decided.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        return self._api_yes_or_no(
            request, Permission.REGISTRATION_REVIEW, "decide_profile_change", account_id, decision
        )

    api_decide_profile_change.__doc__ = api_decide_profile_change.__doc__.format(
        account_id=ACCOUNT_ID_PARAMETER,
        application=APPLICATION_RESPONSE,
        missing=problem_response("There is no registration for this account."),
        conflict=problem_response("No profile change is waiting."),
        invalid=problem_response("Rejecting needs a reason.", "ValidationProblem"),
    )
