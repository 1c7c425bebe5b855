"""The one gate every REST call passes: its route's rule decides who may call it, then it is audited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from radscholar_core.errors import PermissionDenied, Unauthenticated
from radscholar_core.identity import acting_as
from radscholar_core.logs import request_id
from radscholar_gateway.errors import error_body
from radscholar_gateway.security.permissions import PROJECT_MANAGERS, ROUTES, Permission, Rule, allowed
from radscholar_gateway.security.principal import Principal, bearer

log = logging.getLogger(__name__)


def rule_of(request: Request) -> Rule | None:
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    # path_format is the template as the API document writes it: "/dicom-web/{path}" for "{path:path}"
    return ROUTES.get((method, getattr(route, "path_format", ""))) if route is not None else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


async def authorize(request: Request) -> AsyncIterator[None]:
    """Authenticates the caller and checks the route's rule; services then see the caller's identity."""
    rule = rule_of(request)
    if rule is None:  # fail closed; the app also refuses to start with such a route
        raise PermissionDenied("this route declares no permission", reason="ROUTE_WITHOUT_PERMISSION")
    credential = bearer(request) if rule.permission is not Permission.PUBLIC else None
    principal = await request.app.state.access.authenticator.principal(credential) if credential else None
    request.state.principal = principal
    if rule.permission is Permission.PUBLIC:
        yield
        return
    if principal is None:
        raise Unauthenticated(
            "sign in first: send 'Authorization: Bearer <token or API key>'", reason="CREDENTIALS_MISSING"
        )
    _check(rule, principal, request)
    with acting_as(principal.identity(client_address(request))):
        yield


def _check(rule: Rule, principal: Principal, request: Request) -> None:
    if not allowed(principal.roles, rule.permission):
        raise PermissionDenied(
            f"role(s) {', '.join(sorted(principal.roles)) or 'none'} lack the permission '{rule.permission}'",
            reason="MISSING_PERMISSION",
            details={"permission": str(rule.permission)},
        )
    if rule.project is None or principal.user.is_admin:
        return
    project_id = request.path_params[rule.project]
    role = principal.projects.get(project_id)
    if role is None:
        raise PermissionDenied(f"you are not a member of project '{project_id}'", reason="NOT_A_PROJECT_MEMBER")
    if rule.permission is Permission.PROJECTS_MANAGE and role not in PROJECT_MANAGERS:
        raise PermissionDenied(f"only a lead of project '{project_id}' may do this", reason="NOT_PROJECT_LEAD")


def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthenticated("sign in first", reason="CREDENTIALS_MISSING")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def outcome_of(status: int) -> str:
    return "success" if status < 400 else "denied" if status in (401, 403) else "failed"


class AuditMiddleware:
    """Appends an audit record for every call of an audited route, before its answer leaves.

    When the trail cannot be written the caller gets 503 instead of an unaudited answer. A plain ASGI
    middleware: the record is written when the answer's status is known, before its headers are sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = False

        async def audited(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and not await self._audit(Request(scope), message["status"]):
                refused = True
                answer = error_body(
                    503, "UNAVAILABLE", "AUDIT_UNAVAILABLE", "the audit trail cannot be written; retry later"
                )
                await answer(scope, receive, send)
            if not refused:
                await send(message)

        await self.app(scope, receive, audited)

    @staticmethod
    async def _audit(request: Request, status_code: int) -> bool:
        """Whether the call may be answered: not audited, or its record written."""
        rule = rule_of(request)
        if rule is None or rule.audit is None:
            return True
        principal: Principal | None = getattr(request.state, "principal", None)
        try:
            resource = rule.resource.format(**request.path_params)
        except (KeyError, IndexError):
            resource = ""
        try:
            await asyncio.to_thread(
                request.app.state.access.audit.append,
                rule.audit,
                outcome=outcome_of(status_code),
                status_code=status_code,
                actor_id=principal.user.id if principal else getattr(request.state, "audit_actor_id", None),
                actor_username=principal.user.username if principal else getattr(request.state, "audit_username", None),
                via=principal.via if principal else "none",
                resource=getattr(request.state, "audit_resource", resource),
                client_address=client_address(request),
                request_id=request_id.get() or "",
                details=getattr(request.state, "audit_details", {}),
            )
        except Exception:
            log.exception("audit trail unavailable", extra={"action": rule.audit})
            return False
        return True
