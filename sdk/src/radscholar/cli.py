"""The `radscholar` command line."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Column, Table

from radscholar.client import ApiError, Client
from radscholar.credentials import CredentialStore

app = typer.Typer(help="RadScholar: medical imaging research platform.", no_args_is_help=True)
phantoms = typer.Typer(help="Synthetic DICOM studies with ground truth.", no_args_is_help=True)
users = typer.Typer(help="Accounts of the platform (admins only).", no_args_is_help=True)
keys = typer.Typer(help="Your API keys, for programs: RADSCHOLAR_API_KEY=rsk_...", no_args_is_help=True)
audit = typer.Typer(help="The audit trail (admins only).")
app.add_typer(phantoms, name="phantoms")
app.add_typer(users, name="users")
app.add_typer(keys, name="keys")
app.add_typer(audit, name="audit")
console = Console()
err_console = Console(stderr=True)

Url = Annotated[str | None, typer.Option("--url", envvar="RADSCHOLAR_URL", help="gateway URL")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="read the password from the first line of stdin")]
UserRef = Annotated[str, typer.Argument(help="username or user id")]

# 401 reasons that a fresh `radscholar login` cures (not a wrong password, a lock, or a bad API key).
LOGIN_CURES = frozenset(
    {"CREDENTIALS_MISSING", "TOKEN_EXPIRED", "TOKEN_REVOKED", "TOKEN_INVALID", "REFRESH_TOKEN_REUSED"}
)


@contextmanager
def signed_in(url: str | None) -> Iterator[Client]:
    """A client with the stored sign-in (or $RADSCHOLAR_API_KEY); API and network errors end the run
    with a one-line message and exit code 1 instead of a traceback."""
    with Client(url, credentials=CredentialStore()) as client:
        try:
            yield client
        except ApiError as exc:
            err_console.print(f"[red]error: {escape(exc.reason or exc.code)}: {escape(exc.message)}[/red]")
            if exc.status == 401 and exc.reason in LOGIN_CURES:
                err_console.print(f"sign in with: radscholar login --url {client.url}", highlight=False)
            raise typer.Exit(1) from None
        except httpx.TransportError as exc:
            err_console.print(f"[red]error: the gateway at {client.url} is not reachable: {escape(str(exc))}[/red]")
            raise typer.Exit(1) from None


def read_password(from_stdin: bool, prompt: str, confirm: bool = False) -> str:
    """The password from stdin's first line, or typed at a prompt without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            err_console.print("[red]error: no password on stdin[/red]")
            raise typer.Exit(2)
        return password
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def when(value: str | None, seconds: bool = False) -> str:
    """An ISO time from the gateway, shown in local time (to the minute, or second); "-" for none."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value).astimezone()
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def listing(title: str, *columns: str | Column) -> Table:
    """A table for lists: light borders, and long values folded onto more lines rather than cut."""
    folded = [Column(c, overflow="fold") if isinstance(c, str) else c for c in columns]
    return Table(*folded, title=title, box=box.SIMPLE_HEAD, pad_edge=False)


def fixed(header: str) -> Column:
    """A column of short values that are never wrapped (numbers, codes)."""
    return Column(header, no_wrap=True)


RELATIVE = re.compile(r"(\d+)([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(value: str | None) -> datetime | None:
    """An ISO date or time (naive = local), or a span back from now: 30m, 12h, 7d, 2w."""
    if value is None:
        return None
    if match := RELATIVE.fullmatch(value.strip()):
        return datetime.now(UTC) - timedelta(**{UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"'{value}' is neither an ISO date/time nor a span like 12h or 7d") from None
    return moment if moment.tzinfo else moment.astimezone()


@app.command()
def status(url: Url = None) -> None:
    """Print the health of the gateway and of every service behind it."""
    client = Client(url, timeout=10)
    table = Table("component", "status", title=f"RadScholar at {client.url}")
    try:
        client.alive()
    except httpx.HTTPError as exc:
        console.print(f"[red]gateway at {client.url} is not reachable: {exc}[/red]")
        raise typer.Exit(1) from None
    table.add_row("gateway", "[green]SERVING[/green]")
    readiness = client.readiness()
    for name, state in readiness["upstreams"].items():
        table.add_row(name, f"[green]{state}[/green]" if state == "SERVING" else f"[red]{state}[/red]")
    console.print(table)
    if not readiness["ready"]:
        raise typer.Exit(1)


class PhantomKind(StrEnum):
    ct = "ct"
    dx = "dx"
    mg = "mg"
    mr = "mr"


@phantoms.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="output folder (empty or absent)")],
    kind: Annotated[PhantomKind, typer.Option(help="chest CT, radiograph, mammogram or MR")] = PhantomKind.ct,
    cases: Annotated[int, typer.Option(min=1, help="number of cases (patients)")] = 20,
    sites: Annotated[int, typer.Option(min=1, help="number of sites (hospitals)")] = 2,
    seed: Annotated[int, typer.Option(min=0, help="random seed; the same seed gives the same files")] = 7,
) -> None:
    """Generate synthetic studies with ground truth (DICOM, NIfTI masks, JSON)."""
    import radscholar_phantoms

    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"{kind.value} phantoms", total=cases)
            manifest = radscholar_phantoms.generate(
                kind.value,
                cases,
                sites,
                seed,
                out,
                lambda done, total: progress.update(task, completed=done, total=total),
            )
    except (ValueError, FileExistsError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    summary = manifest.summary()
    console.print(
        f"wrote {summary['cases']} cases, {summary['series']} series, {summary['instances']} instances, "
        f"{summary['lesions']} lesions ({summary['benign']} benign, {summary['malignant']} malignant)"
        f" to {out}"
    )


# -- sessions ------------------------------------------------------------------------------------


@app.command()
def login(
    url: Url = None,
    username: Annotated[str | None, typer.Option("--username", "-u", help="your username")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Sign in with your password; the session is kept for this gateway URL (mode 600)."""
    if username is None:
        if password_stdin:  # stdin holds the password; the username cannot be asked for too
            raise typer.BadParameter("--password-stdin needs --username", param_hint="--username")
        username = str(typer.prompt("username"))
    password = read_password(password_stdin, "password")
    with signed_in(url) as client:
        session = client.login(username, password)
        console.print(f"signed in to {client.url} as [bold]{escape(session.username)}[/bold]", highlight=False)


@app.command()
def logout(url: Url = None) -> None:
    """End the stored session at the gateway and forget it here."""
    with signed_in(url) as client:
        if client.logout():
            console.print(f"signed out of {client.url}", highlight=False)
        elif client.auth == "api_key":
            console.print("no password session here; an API key is revoked instead: radscholar keys revoke ID")
        else:
            console.print(f"not signed in to {client.url}", highlight=False)


@app.command()
def whoami(url: Url = None) -> None:
    """Who the gateway takes you for: user, roles, projects, and how you signed in."""
    with signed_in(url) as client:
        me = client.me()
    via = {"login": "password session", "api_key": "API key", "token": "access token"}.get(client.auth, "-")
    console.print(f"[bold]{escape(me['username'])}[/bold] ({escape(me.get('display_name') or '-')})")
    console.print(f"id:       {me['id']}", highlight=False)
    console.print(f"roles:    {', '.join(me.get('roles') or []) or '-'}", highlight=False)
    console.print(f"via:      {via} at {client.url}", highlight=False)
    projects = me.get("projects") or {}
    if projects:
        table = Table("project", "role", title="projects")
        for project_id, role in sorted(projects.items()):
            table.add_row(project_id, role)
        console.print(table)


# -- users ---------------------------------------------------------------------------------------


def find_user(client: Client, ref: str) -> dict[str, Any]:
    """The user with this username or id."""
    for user in client.users():
        if ref in (user["username"], user["id"]):
            return user
    raise ApiError(404, "NOT_FOUND", "USER_NOT_FOUND", f"no user with username or id '{ref}'", {})


def show_user(user: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    for name in ("id", "username", "display_name"):
        table.add_row(name, escape(str(user.get(name) or "-")))
    table.add_row("roles", ", ".join(user.get("roles") or []) or "-")
    table.add_row("active", "[green]yes[/green]" if user.get("active") else "[red]no[/red]")
    table.add_row("created", when(user.get("created_at")))
    console.print(table)


@users.command("list")
def users_list(url: Url = None) -> None:
    """Every user."""
    with signed_in(url) as client:
        found = client.users()
    table = listing(f"users ({len(found)})", "username", "display name", "roles", "active", "created", "id")
    for user in found:
        table.add_row(
            escape(user["username"]),
            escape(user.get("display_name") or ""),
            ", ".join(user.get("roles") or []),
            "[green]yes[/green]" if user.get("active") else "[red]no[/red]",
            when(user.get("created_at")),
            user["id"],
        )
    console.print(table)


@users.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="3-64 of a-z 0-9 . _ -")],
    role: Annotated[
        list[str],
        typer.Option("--role", "-r", help="admin, researcher, annotator, reviewer, site-operator (repeat)"),
    ],
    display_name: Annotated[str, typer.Option(help="full name")] = "",
    password_stdin: PasswordStdin = False,
    url: Url = None,
) -> None:
    """Create a user with a password (asked twice, or read from stdin)."""
    password = read_password(password_stdin, f"password for {username}", confirm=True)
    with signed_in(url) as client:
        user = client.create_user(username, password, role, display_name)
    console.print(f"created user [bold]{escape(user['username'])}[/bold]")
    show_user(user)


@users.command("show")
def users_show(user: UserRef, url: Url = None) -> None:
    """One user."""
    with signed_in(url) as client:
        show_user(find_user(client, user))


@users.command("set-roles")
def users_set_roles(
    user: UserRef,
    roles: Annotated[list[str], typer.Argument(help="the user's roles from now on")],
    url: Url = None,
) -> None:
    """Replace a user's platform roles."""
    with signed_in(url) as client:
        show_user(client.update_user(find_user(client, user)["id"], roles=roles))


@users.command("activate")
def users_activate(user: UserRef, url: Url = None) -> None:
    """Let a user sign in again."""
    with signed_in(url) as client:
        show_user(client.update_user(find_user(client, user)["id"], active=True))


@users.command("deactivate")
def users_deactivate(user: UserRef, url: Url = None) -> None:
    """Stop a user from signing in; their sessions and API keys stop working."""
    with signed_in(url) as client:
        show_user(client.update_user(find_user(client, user)["id"], active=False))


@users.command("reset-password")
def users_reset_password(user: UserRef, password_stdin: PasswordStdin = False, url: Url = None) -> None:
    """Set a user's password (asked twice, or read from stdin); their sessions end."""
    password = read_password(password_stdin, f"new password for {user}", confirm=True)
    with signed_in(url) as client:
        found = find_user(client, user)
        client.reset_password(found["id"], password)
    console.print(f"password of [bold]{escape(found['username'])}[/bold] reset; their sessions ended")


# -- API keys ------------------------------------------------------------------------------------


@keys.command("list")
def keys_list(url: Url = None) -> None:
    """Your API keys (never their secrets)."""
    with signed_in(url) as client:
        found = client.keys()
    table = listing("API keys", fixed("id"), "name", "created", "expires", "last used", "revoked")
    for key in found:
        table.add_row(
            key["id"],
            escape(key.get("name") or ""),
            when(key.get("created_at")),
            when(key.get("expires_at")),
            when(key.get("last_used_at")),
            f"[red]{when(key['revoked_at'])}[/red]" if key.get("revoked_at") else "-",
        )
    console.print(table)


@keys.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="what the key is for")],
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=365, help="lifetime in days (the gateway's default: 90)")
    ] = None,
    url: Url = None,
) -> None:
    """Create an API key; its secret is printed once, here, and never again."""
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    with signed_in(url) as client:
        key, secret = client.create_key(name, expires_at)
    console.print(
        f"created API key [bold]{escape(key.get('name') or name)}[/bold] (id {key['id']}, "
        f"expires {when(key.get('expires_at'))}):",
        highlight=False,
    )
    console.print(secret, markup=False, highlight=False, soft_wrap=True)
    err_console.print(
        "[yellow]warning: the secret is not shown again; keep it somewhere safe now. "
        "Programs use it as RADSCHOLAR_API_KEY.[/yellow]"
    )


@keys.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key's id (see `keys list`)")], url: Url = None) -> None:
    """Revoke an API key; programs using it are refused from now on."""
    with signed_in(url) as client:
        client.revoke_key(key_id)
    console.print(f"revoked API key {key_id}", highlight=False)


# -- audit ---------------------------------------------------------------------------------------


WIDE = 130
OUTCOME_COLOURS = {"success": "green", "denied": "yellow", "failed": "red"}


@audit.callback(invoke_without_command=True)
def audit_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="actor's username or id")] = None,
    resource: Annotated[str | None, typer.Option(help="resource or its prefix, e.g. user:<id> or project:")] = None,
    action: Annotated[str | None, typer.Option(help="action or its prefix, e.g. auth.")] = None,
    since: Annotated[str | None, typer.Option(help="from: ISO date/time, or back from now: 30m, 12h, 7d")] = None,
    until: Annotated[str | None, typer.Option(help="before: ISO date/time, or back from now")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many records, newest first")] = 50,
    url: Url = None,
) -> None:
    """The newest audit records, filtered; `radscholar audit verify` checks the hash chain."""
    if ctx.invoked_subcommand is not None:
        return
    with signed_in(url) as client:
        records = client.audit(
            actor=user,
            resource=resource,
            action=action,
            since=parse_moment(since),
            until=parse_moment(until),
            limit=limit,
        )
    wide = console.width >= WIDE  # how and from where: only where there is room for it
    columns: list[str | Column] = [
        fixed("seq"),
        "at",
        "actor",
        fixed("action"),
        "resource",
        "outcome",
    ]
    if wide:
        columns += ["via", fixed("client")]
    table = listing("audit", *columns)
    for record in records:
        outcome = str(record.get("outcome") or "")
        row = [
            str(record.get("seq", "")),
            when(record.get("at"), seconds=True),
            escape(record.get("actor_username") or "-"),
            escape(record.get("action") or ""),
            escape(record.get("resource") or ""),
            f"[{OUTCOME_COLOURS.get(outcome, 'red')}]{escape(outcome)}[/] {record.get('status_code') or ''}",
        ]
        if wide:
            row += [record.get("via") or "-", escape(record.get("client_address") or "")]
        table.add_row(*row)
    console.print(table)
    if not records:
        console.print("no audit records match")


@audit.command("verify")
def audit_verify(url: Url = None) -> None:
    """Check the audit trail's hash chain; exit code 1 when it is broken."""
    with signed_in(url) as client:
        report = client.verify_audit()
    if report.get("ok"):
        console.print(f"[green]audit chain intact: {report.get('checked', 0)} records checked[/green]")
        return
    table = Table("seq", "kind", "message", title="[red]audit chain broken[/red]")
    for problem in report.get("problems") or []:
        table.add_row(str(problem.get("seq", "")), problem.get("kind", ""), escape(problem.get("message", "")))
    console.print(table)
    err_console.print(f"[red]error: the audit chain is broken ({report.get('checked', 0)} records checked)[/red]")
    raise typer.Exit(1)
