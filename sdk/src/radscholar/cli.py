"""The `radscholar` command line."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich import box
from rich.console import Console
from rich.filesize import decimal as human_bytes
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Column, Table

from radscholar.client import ApiError, BatchResult, Client, ResultList, StudyFilter
from radscholar.credentials import CredentialStore
from radscholar.uploads import Journal, JournalError, LocalFile, MiB, UploadSummary, journal_path, plan_batches, walk

app = typer.Typer(help="RadScholar: medical imaging research platform.", no_args_is_help=True)
phantoms = typer.Typer(help="Synthetic DICOM studies with ground truth.", no_args_is_help=True)
users = typer.Typer(help="Accounts of the platform (admins only).", no_args_is_help=True)
keys = typer.Typer(help="Your API keys, for programs: RADSCHOLAR_API_KEY=rsk_...", no_args_is_help=True)
audit = typer.Typer(help="The audit trail (admins only).")
sites = typer.Typer(help="Sites (hospitals) and the modalities that send images for them.", no_args_is_help=True)
app.add_typer(phantoms, name="phantoms")
app.add_typer(users, name="users")
app.add_typer(keys, name="keys")
app.add_typer(audit, name="audit")
app.add_typer(sites, name="sites")
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


# -- DICOM store ---------------------------------------------------------------------------------

REJECTED_ROWS = 50  # rejected files listed after an upload; --report has them all
INTERRUPTED = 130  # the exit code of a run stopped with Ctrl-C, as shells report SIGINT


class Uploader:
    """Sends batches from a thread pool, journals each batch as it completes, and advances the progress.

    A failure or Ctrl-C stops it cleanly: batches not started are dropped, those in flight are waited
    for and kept (a second Ctrl-C abandons them), and the journal holds every batch that completed.
    """

    def __init__(
        self,
        client: Client,
        journal: Journal | None,
        progress: Progress,
        task: TaskID,
        *,
        site: str | None = None,
        project_id: str | None = None,
    ) -> None:
        self.client, self.journal, self.progress, self.task = client, journal, progress, task
        self.site, self.project_id = site, project_id
        self.summary = UploadSummary()
        self._stop = threading.Event()

    def run(self, batches: Sequence[Sequence[LocalFile]], workers: int) -> UploadSummary:
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="radscholar-upload")
        futures = [executor.submit(self._send, batch) for batch in batches]
        collected: set[Future[BatchResult | None]] = set()
        try:
            for future in as_completed(futures):
                collected.add(future)
                self._collect(future.result())
        except BaseException:
            self._stop.set()
            for future in futures:
                future.cancel()
            in_flight = [f for f in futures if f not in collected and not f.cancelled()]
            if in_flight:
                self.progress.console.print(
                    f"stopping: waiting for {plural(len(in_flight), 'batch', 'batches')} in flight "
                    "(Ctrl-C again to abandon them)"
                )
            try:
                for future in as_completed(in_flight):
                    with contextlib.suppress(Exception):
                        self._collect(future.result())
            except KeyboardInterrupt:
                self.client.close()  # ends the requests in flight
                self.progress.console.print("abandoned the batches in flight: their files are sent again next time")
            raise
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        return self.summary

    def _send(self, batch: Sequence[LocalFile]) -> BatchResult | None:
        if self._stop.is_set():
            return None
        return self.client.upload_batch(
            batch,
            on_bytes=lambda n: self.progress.advance(self.task, n),
            site=self.site,
            project_id=self.project_id,
        )

    def _collect(self, result: BatchResult | None) -> None:
        if result is None:
            return
        self.summary.add(result, result.unmatched, deidentified=result.deidentified, removed=result.removed)
        if self.journal is not None:
            try:
                self.journal.record(result)
            except OSError as exc:
                self.progress.console.print(
                    f"[yellow]warning: the journal {self.journal.path} cannot be written ({escape(str(exc))}); "
                    "a re-run will send these files again[/yellow]",
                    highlight=False,
                )
                self.journal = None
        self.progress.update(self.task, files=self.summary.files_sent)


def open_journal(
    folder: Path, url: str, path: Path | None, fresh: bool, site: str = "", project_id: str = ""
) -> Journal | None:
    """The folder's journal at this gateway (and site and project); None (with a warning) where it cannot be read."""
    path = path or journal_path(folder, url, site=site, project_id=project_id)
    try:
        journal = Journal(path, folder, url, site=site, project_id=project_id)
        if fresh:
            journal.forget()
    except JournalError as exc:
        err_console.print(f"[red]error: {escape(str(path))} is {escape(str(exc))}; use another --journal[/red]")
        raise typer.Exit(2) from None
    except OSError as exc:
        err_console.print(
            f"[yellow]warning: no resume journal ({escape(str(exc))}); a re-run sends everything again[/yellow]"
        )
        return None
    return journal


def upload_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]}/{task.fields[total_files]} files"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def print_upload(summary: UploadSummary, skipped: int, seconds: float) -> None:
    console.print(
        f"stored {summary.stored}, already present {summary.already_present}, rejected {summary.rejected} "
        f"({plural(summary.files_sent, 'file')}, {human_bytes(summary.bytes_sent)} sent in {seconds:.1f} s"
        + (f"; {skipped} skipped as uploaded before)" if skipped else ")"),
        highlight=False,
    )
    empty = sum(1 for result in summary.files if result.status == "empty")
    if empty:
        console.print(f"{plural(empty, 'file')} held nothing to store (archives of folders only)", highlight=False)
    rejected = sorted(summary.rejected_lines, key=lambda line: line.name)
    if not rejected:
        return
    table = listing(f"rejected ({len(rejected)})", "file", fixed("reason"), "message")
    for line in rejected[:REJECTED_ROWS]:
        table.add_row(escape(line.name), escape(line.reason or "-"), escape(line.message))
    console.print(table)
    if len(rejected) > REJECTED_ROWS:
        console.print(f"... and {len(rejected) - REJECTED_ROWS} more rejected (--report FILE lists them all)")


REMOVED_NAMED = 6  # removed elements named in the de-identification line; --report has them all


def print_deidentification(summary: UploadSummary, project_id: str) -> None:
    """One line on what de-identification on ingest did, when the project asked for it."""
    if not summary.deidentified:
        return
    actions = sorted(summary.deidentified.items(), key=lambda item: (-item[1], item[0]))
    removed = sorted(summary.removed)
    named = ", ".join(removed[:REMOVED_NAMED])
    if len(removed) > REMOVED_NAMED:
        named += f" and {len(removed) - REMOVED_NAMED} more (--report FILE lists them all)"
    console.print(
        f"de-identified for project {escape(project_id)}: {sum(summary.deidentified.values())} data elements "
        f"changed ({', '.join(f'{escape(action)} {count}' for action, count in actions)})"
        + (f"; removed {escape(named)}" if removed else ""),
        highlight=False,
    )


@app.command()
def upload(
    folder: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, resolve_path=True, help="folder of DICOM files and zip archives"),
    ],
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, max=32, help="batches sent at once")] = 4,
    batch_files: Annotated[int, typer.Option(min=1, max=1000, help="at most this many files a request")] = 32,
    batch_mib: Annotated[int, typer.Option(min=1, max=4096, help="at most this many MiB a request")] = 64,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", "-x", help="leave out files or folders matching this glob (repeat)"),
    ] = None,
    journal_file: Annotated[
        Path | None,
        typer.Option("--journal", help="resume journal to use (default: one per folder and gateway in ~/.cache)"),
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="forget the journal: send every file again")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="write every report line to this JSON file")] = None,
    site: Annotated[
        str | None, typer.Option("--site", help="the registered site the files come from (see `radscholar sites`)")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="the project the files go into (de-identified if it asks)")
    ] = None,
    url: Url = None,
) -> None:
    """Upload a folder of DICOM files and zip archives, in parallel batches; safe to run again.

    The folder is walked recursively; hidden files and folders are left out. Files the gateway stored (or
    already had) are kept in a resume journal in $XDG_CACHE_HOME/radscholar/uploads/ (~/.cache by default),
    one per folder, gateway, site and project, never in the folder itself; a re-run, after Ctrl-C or a
    failure, sends only new, changed and rejected files. Sending a file twice is harmless all the same: the
    gateway answers already_present and keeps one copy.

    With --site the studies count as that site's; with --project they go into the project, de-identified
    first when the project's ingest profile asks for it (a line then says what was changed).

    Exit code: 0 when nothing was rejected, 1 when something was (the list is printed) or the upload
    failed, 2 for wrong usage, 130 after Ctrl-C.
    """
    with signed_in(url) as client:
        given = journal_file.absolute() if journal_file else None
        journal = open_journal(folder, client.url, given, fresh, site or "", project or "")
        own = journal.path.resolve() if journal is not None else None
        files = [f for f in walk(folder, exclude or ()) if own is None or f.path.resolve() != own]
        send, skip = journal.pending(files) if journal is not None else (files, [])
        where = f" (journal {journal.path})" if journal is not None else ""
        if not files:
            console.print(f"no files to upload in {folder}", highlight=False)
            return
        if not send:
            console.print(f"nothing to upload: all {len(files)} files were uploaded before{where}", highlight=False)
            return
        total = sum(f.size for f in send)
        into = ", ".join(f"{noun} {escape(value)}" for noun, value in (("site", site), ("project", project)) if value)
        console.print(
            f"uploading {plural(len(send), 'file')} ({human_bytes(total)}) from {folder} to {client.url}"
            + (f" into {into}" if into else "")
            + f" with {plural(workers, 'worker')}"
            + (f"; skipping {len(skip)} uploaded before{where}" if skip else ""),
            highlight=False,
        )
        started = time.monotonic()
        with upload_progress() as progress:
            task = progress.add_task("uploading", total=total, files=0, total_files=len(send))
            uploader = Uploader(client, journal, progress, task, site=site, project_id=project)
            try:
                uploader.run(plan_batches(send, batch_files, batch_mib * MiB), workers)
            except KeyboardInterrupt:
                stopped: str | None = "interrupted"
            except (ApiError, httpx.TransportError):
                if uploader.summary.files_sent:
                    print_upload(uploader.summary, len(skip), time.monotonic() - started)
                    err_console.print(f"upload stopped; a re-run sends only what is left{where}", highlight=False)
                raise
            else:
                stopped = None
        summary = uploader.summary
        print_upload(summary, len(skip), time.monotonic() - started)
        print_deidentification(summary, project or "")
        if report is not None:
            document = {**summary.to_json(), "skipped": len(skip), "journal": str(journal.path) if journal else None}
            report.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        if stopped:
            err_console.print(
                f"[yellow]interrupted: {summary.files_sent} of {len(send)} files sent; run the same command again "
                f"to send the rest{where}[/yellow]",
                highlight=False,
            )
            raise typer.Exit(INTERRUPTED)
        if summary.rejected:
            err_console.print(
                f"[red]error: {summary.rejected} rejected (files or archive entries, listed above); fix or remove "
                "them and run again: files already stored are not sent again[/red]",
                highlight=False,
            )
            raise typer.Exit(1)


def parse_day(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError(value)
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a day as YYYY-MM-DD", param_hint=option) from None


# Filters of studies, shared by `patients`, `studies` and `series`.
PatientIdFilter = Annotated[str | None, typer.Option("--patient-id", help="the patient's ID, exactly")]
ModalityFilter = Annotated[str | None, typer.Option("--modality", "-m", help="CT, MR, DX, MG, ...")]
FromFilter = Annotated[str | None, typer.Option("--from", help="studies on or after this day (YYYY-MM-DD)")]
ToFilter = Annotated[str | None, typer.Option("--to", help="studies on or before this day (YYYY-MM-DD)")]
DescriptionFilter = Annotated[str | None, typer.Option("--description", help="text the study description contains")]
InstitutionFilter = Annotated[str | None, typer.Option("--institution", help="the institution's name")]
BodyPartFilter = Annotated[str | None, typer.Option("--body-part", help="Body Part Examined, e.g. CHEST")]
SiteFilter = Annotated[
    str | None, typer.Option("--site", help="a site's id, or the institution name of an unregistered one")
]
ProjectFilter = Annotated[str | None, typer.Option("--project", help="uploaded into or copied for this project")]


def study_filter(
    patient_id: str | None,
    modality: str | None,
    date_from: str | None,
    date_to: str | None,
    description: str | None,
    institution: str | None,
    body_part: str | None,
    site: str | None,
    project: str | None,
) -> StudyFilter:
    """The filters given on the command line, the days checked (exit code 2 when one is not YYYY-MM-DD)."""
    return StudyFilter(
        patient_id=patient_id,
        modality=modality,
        study_date_from=parse_day(date_from, "--from"),
        study_date_to=parse_day(date_to, "--to"),
        description=description,
        institution=institution,
        body_part=body_part,
        site=site,
        project_id=project,
    )


@contextmanager
def sort_checked() -> Iterator[None]:
    """A sort key the gateway does not know is wrong usage (exit code 2, with its list of keys)."""
    try:
        yield
    except ApiError as exc:
        if exc.reason != "INVALID_SORT":
            raise
        raise typer.BadParameter(exc.message, param_hint="--sort") from None


def found_title(noun: str, found: ResultList[Any]) -> str:
    """A table's title: "studies (12)", or "studies (50 of 120)" when more match than are shown."""
    total = found.total_size if found.total_size is not None else len(found)
    return f"{noun} ({len(found)} of {total})" if total > len(found) else f"{noun} ({len(found)})"


def print_more(found: ResultList[Any]) -> None:
    if found.total_size is not None and found.total_size > len(found):
        console.print(
            f"{found.total_size - len(found)} more match: raise --limit or narrow the filters", highlight=False
        )


@app.command("patients")
def patients_list(
    patient_id: PatientIdFilter = None,
    modality: ModalityFilter = None,
    date_from: FromFilter = None,
    date_to: ToFilter = None,
    description: DescriptionFilter = None,
    institution: InstitutionFilter = None,
    body_part: BodyPartFilter = None,
    site: SiteFilter = None,
    project: ProjectFilter = None,
    sort: Annotated[
        str | None,
        typer.Option(help="latest_study_date (default, newest first), patient_id or studies; '-' in front: descending"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many patients")] = 50,
    url: Url = None,
) -> None:
    """Find patients with studies matching the filters, latest study first."""
    filters = study_filter(patient_id, modality, date_from, date_to, description, institution, body_part, site, project)
    with signed_in(url) as client, sort_checked():
        found = client.patients(sort=sort, limit=limit, **filters)
    if not found:
        console.print("no patients match")
        return
    table = listing(
        found_title("patients", found),
        "patient id",
        "name",
        fixed("studies"),
        fixed("series"),
        fixed("instances"),
        fixed("latest study"),
        "sites",
    )
    for patient in found:
        table.add_row(
            escape(patient.get("patient_id") or "-"),
            escape(patient.get("patient_name") or ""),
            str(patient.get("study_count", "")),
            str(patient.get("series_count", "")),
            str(patient.get("instance_count", "")),
            escape(patient.get("latest_study_date") or "-"),
            escape(", ".join(patient.get("sites") or []) or "-"),
        )
    console.print(table)
    print_more(found)


@app.command("studies")
def studies_list(
    patient_id: PatientIdFilter = None,
    modality: ModalityFilter = None,
    date_from: FromFilter = None,
    date_to: ToFilter = None,
    description: DescriptionFilter = None,
    institution: InstitutionFilter = None,
    body_part: BodyPartFilter = None,
    site: SiteFilter = None,
    project: ProjectFilter = None,
    sort: Annotated[
        str | None,
        typer.Option(
            help="study_date (default, newest first), received, patient_id, description, instances or size; "
            "'-' in front: descending"
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many studies")] = 50,
    url: Url = None,
) -> None:
    """Find studies in the DICOM store, newest first unless sorted otherwise."""
    filters = study_filter(patient_id, modality, date_from, date_to, description, institution, body_part, site, project)
    with signed_in(url) as client, sort_checked():
        found = client.studies(sort=sort, limit=limit, **filters)
    if not found:
        console.print("no studies match")
        return
    table = listing(
        found_title("studies", found),
        fixed("date"),
        "patient id",
        fixed("modalities"),
        "description",
        "institution",
        "site",
        fixed("series"),
        fixed("instances"),
        "study uid",
    )
    for study in found:
        table.add_row(
            escape(study.get("study_date") or "-"),
            escape(study.get("patient_id") or "-"),
            escape(", ".join(study.get("modalities") or []) or "-"),
            escape(study.get("description") or ""),
            escape(study.get("institution") or ""),
            escape(study.get("site") or "-"),
            str(study.get("series_count", "")),
            str(study.get("instance_count", "")),
            escape(study.get("study_instance_uid") or ""),
        )
    console.print(table)
    print_more(found)


def dimensions(series: dict[str, Any]) -> str:
    """columns x rows x slices, as 512x512x120; "-" when unknown."""
    sizes = [series.get("columns") or 0, series.get("rows") or 0, series.get("slices") or 0]
    return "x".join(map(str, sizes)) if all(sizes) else "-"


def spacing(series: dict[str, Any]) -> str:
    """mm between columns, rows (and slices), "-" when unknown."""
    return "x".join(f"{float(step):.4g}" for step in series.get("spacing") or []) or "-"


@app.command("series")
def series_list(
    study_uid: Annotated[
        str | None,
        typer.Argument(
            metavar="STUDY_UID",
            help="a study's instance UID (see `radscholar studies`); without it, search every study",
        ),
    ] = None,
    patient_id: PatientIdFilter = None,
    modality: Annotated[str | None, typer.Option("--modality", "-m", help="the series' modality: CT, MR, ...")] = None,
    date_from: FromFilter = None,
    date_to: ToFilter = None,
    description: DescriptionFilter = None,
    institution: InstitutionFilter = None,
    body_part: Annotated[str | None, typer.Option("--body-part", help="the series' Body Part Examined")] = None,
    site: SiteFilter = None,
    project: ProjectFilter = None,
    sort: Annotated[
        str | None,
        typer.Option(
            help="series_number (default), modality, body_part, instances, size or study_date; '-' in front: descending"
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many series (default 50)")] = None,
    url: Url = None,
) -> None:
    """The series of one study, or series matching the filters in every study, with their dimensions
    (columns x rows x slices), spacing in mm and plane."""
    filters = study_filter(patient_id, modality, date_from, date_to, description, institution, body_part, site, project)
    searching = any(filters.values()) or sort is not None or limit is not None
    if study_uid is not None and searching:
        raise typer.BadParameter(
            "give either a study UID or filters (--modality, --site, ...), not both", param_hint="STUDY_UID"
        )
    with signed_in(url) as client, sort_checked():
        if study_uid is None:
            found = client.find_series(sort=sort, limit=limit or 50, **filters)
            title = found_title("series", found)
        else:
            in_study = client.series(study_uid)
            order = sorted(in_study, key=lambda s: (s.get("series_number") or 0, s.get("series_instance_uid") or ""))
            found, title = ResultList(order), f"series of {escape(study_uid)} ({len(in_study)})"
    if not found:
        console.print("no series match" if study_uid is None else f"no series in study {escape(study_uid)}")
        return
    columns: list[str | Column] = [
        fixed("number"),
        fixed("modality"),
        "description",
        "body part",
        fixed("instances"),
        fixed("size"),
        fixed("dimensions"),
        fixed("spacing (mm)"),
        fixed("plane"),
        "series uid",
    ]
    if study_uid is None:
        columns.append("study uid")
    table = listing(title, *columns)
    for series in found:
        row = [
            str(series.get("series_number", "")),
            escape(series.get("modality") or "-"),
            escape(series.get("description") or ""),
            escape(series.get("body_part") or ""),
            str(series.get("instance_count", "")),
            human_bytes(int(series.get("size_bytes") or 0)),
            dimensions(series),
            spacing(series),
            escape(series.get("plane") or "-"),
            escape(series.get("series_instance_uid") or ""),
        ]
        if study_uid is None:
            row.append(escape(series.get("study_instance_uid") or ""))
        table.add_row(*row)
    console.print(table)
    print_more(found)


def statistics_table(title: str, key: str, groups: list[dict[str, Any]], unknown: str) -> Table:
    """One breakdown of the store: a row per modality, site or month."""
    table = listing(title, key, fixed("studies"), fixed("series"), fixed("instances"), fixed("size"))
    for group in groups:
        table.add_row(
            escape(group.get("key") or unknown),
            str(group.get("studies", 0)),
            str(group.get("series", 0)),
            str(group.get("instances", 0)),
            human_bytes(int(group.get("size_bytes") or 0)),
        )
    return table


@app.command()
def stats(url: Url = None) -> None:
    """Counts and disk use of the DICOM store, in all and by modality, site and month of the study date."""
    with signed_in(url) as client:
        found = client.store_statistics()
    table = Table(show_header=False, box=None, title="DICOM store")
    for name in ("patients", "studies", "series", "instances"):
        table.add_row(name, str(found.get(name, 0)))
    table.add_row("disk size", human_bytes(int(found.get("disk_size_bytes") or 0)))
    console.print(table)
    breakdowns = (
        ("by modality", "modality", "by_modality", "-"),
        ("by site", "site", "by_site", "(no site)"),
        ("by month", "month", "by_month", "(no date)"),
    )
    for title, key, field, unknown in breakdowns:
        if found.get(field):
            console.print(statistics_table(title, key, found[field], unknown))


# -- sites ---------------------------------------------------------------------------------------

SiteId = Annotated[str, typer.Argument(help="the site's id (see `radscholar sites list`)")]
AeTitle = Annotated[str, typer.Argument(help="the modality's AE title: 1 to 16 letters, digits, '_', '-' or '.'")]


@sites.command("list")
def sites_list(url: Url = None) -> None:
    """Registered sites, then institutions studies came from that are no registered site, with their counts."""
    with signed_in(url) as client:
        found = client.sites()
    if not found:
        console.print("no sites yet: register one with radscholar sites create ID NAME")
        return
    table = listing(
        f"sites ({len(found)})",
        "id",
        "name",
        fixed("registered"),
        "AE titles",
        fixed("patients"),
        fixed("studies"),
        fixed("instances"),
        fixed("size"),
    )
    for site in found:
        table.add_row(
            escape(site.get("id") or "-"),
            escape(site.get("name") or ""),
            "[green]yes[/green]" if site.get("registered") else "no",
            escape(", ".join(m.get("ae_title") or "" for m in site.get("modalities") or []) or "-"),
            str(site.get("patients", 0)),
            str(site.get("studies", 0)),
            str(site.get("instances", 0)),
            human_bytes(int(site.get("size_bytes") or 0)),
        )
    console.print(table)


@sites.command("create")
def sites_create(
    site_id: Annotated[str, typer.Argument(metavar="ID", help="1 to 63 lower-case letters, digits or '-'")],
    name: Annotated[str, typer.Argument(help="the hospital's name")],
    institution: Annotated[
        list[str] | None,
        typer.Option("--institution", "-i", help="an InstitutionName that means this site (repeat)"),
    ] = None,
    url: Url = None,
) -> None:
    """Register a site; studies whose InstitutionName is one of its institution names count as its own."""
    with signed_in(url) as client:
        site = client.create_site(site_id, name, institution or ())
    names = ", ".join(site.get("institution_names") or [])
    console.print(
        f"created site [bold]{escape(site['id'])}[/bold] ({escape(site.get('name') or name)})"
        + (f"; institution names: {escape(names)}" if names else ""),
        highlight=False,
    )


@sites.command("delete")
def sites_delete(site_id: SiteId, url: Url = None) -> None:
    """Remove a site and its modalities; studies attributed to it keep the attribution."""
    with signed_in(url) as client:
        client.delete_site(site_id)
    console.print(f"deleted site {escape(site_id)}", highlight=False)


@sites.command("add-modality")
def sites_add_modality(
    site_id: SiteId,
    ae_title: AeTitle,
    host: Annotated[str, typer.Option("--host", help="the IP address or host name it connects from")],
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="its own DICOM port")] = 104,
    description: Annotated[str, typer.Option("--description", help="what it is, e.g. 'CT scanner 2'")] = "",
    url: Url = None,
) -> None:
    """Allow a modality or PACS to send images (C-STORE) for the site."""
    with signed_in(url) as client:
        modality = client.register_modality(site_id, ae_title, host, port, description)
    console.print(
        f"site {escape(modality.get('site_id') or site_id)} accepts images from AE title "
        f"[bold]{escape(modality['ae_title'])}[/bold] at {escape(modality.get('host') or host)}:"
        f"{modality.get('port') or port}",
        highlight=False,
    )


@sites.command("remove-modality")
def sites_remove_modality(site_id: SiteId, ae_title: AeTitle, url: Url = None) -> None:
    """Stop accepting images from an AE title."""
    with signed_in(url) as client:
        client.unregister_modality(site_id, ae_title)
    console.print(f"site {escape(site_id)} no longer accepts images from AE title {escape(ae_title)}", highlight=False)
