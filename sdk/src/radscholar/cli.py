"""The `radscholar` command line."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
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

from radscholar.client import (
    FINISHED_STATES,
    ApiError,
    BatchResult,
    CaseQuery,
    Client,
    ResultList,
    StudyFilter,
    job_state,
)
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
projects = typer.Typer(help="Labeling projects: label schema, members, progress.", no_args_is_help=True)
cases = typer.Typer(help="Studies added to a project as cases to label.", no_args_is_help=True)
tasks = typer.Typer(help="The labeling worklist: tasks, assignment, progress.", no_args_is_help=True)
labels = typer.Typer(help="Annotations of tasks: their versions, and review.", no_args_is_help=True)
datasets = typer.Typer(
    help="Dataset versions: accepted labels frozen with a patient-grouped split.", no_args_is_help=True
)
app.add_typer(sites, name="sites")
app.add_typer(projects, name="projects")
app.add_typer(cases, name="cases")
app.add_typer(tasks, name="tasks")
app.add_typer(labels, name="labels")
app.add_typer(datasets, name="datasets")
radiomics = typer.Typer(
    help="Radiomics features: presets, extraction (one region or batch jobs), selection, IBSI compliance.",
    no_args_is_help=True,
)
app.add_typer(radiomics, name="radiomics")
statistics = typer.Typer(
    help="Statistics: alone, the DICOM store's counts; with a command, analyses of tables (tests, regression, "
    "survival, machine learning).",
)
statistics_tables = typer.Typer(help="Tables to analyse: upload one, or show a stored one.", no_args_is_help=True)
statistics.add_typer(statistics_tables, name="tables")
app.add_typer(statistics, name="stats")
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


@statistics.callback(invoke_without_command=True)
def stats(ctx: typer.Context, url: Url = None) -> None:
    """Counts and disk use of the DICOM store, in all and by modality, site and month of the study date."""
    if ctx.invoked_subcommand is not None:
        return
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


# -- labeling projects ---------------------------------------------------------------------------

ProjectId = Annotated[str, typer.Argument(help="the project's id (see `radscholar projects list`)")]
TaskId = Annotated[str, typer.Argument(help="the task's id (see `radscholar tasks list`)")]
DatasetId = Annotated[str, typer.Argument(help="the dataset version's id (see `radscholar datasets list`)")]
ManifestOut = Annotated[Path | None, typer.Option("--out", dir_okay=False, help="write the manifest to this JSON file")]

CLASS_SPEC = re.compile(r"(?P<name>[^=]+?)\s*(?:=\s*(?P<color>#[0-9a-fA-F]{6}))?")
# Colours of classes given without one, in order (matplotlib's tab10).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
STATUS_COLOURS = {"untagged": "dim", "in_progress": "yellow", "tagged": "cyan", "reviewed": "green", "rejected": "red"}


class TaskType(StrEnum):
    classification = "classification"
    detection = "detection"
    segmentation = "segmentation"


class Dimensionality(StrEnum):
    two = "2d"
    three = "3d"


class LabelLevel(StrEnum):
    case = "case"
    series = "series"
    image = "image"
    lesion = "lesion"


class ProjectRole(StrEnum):
    lead = "lead"
    researcher = "researcher"
    annotator = "annotator"
    reviewer = "reviewer"
    viewer = "viewer"


class TaskStatus(StrEnum):
    untagged = "untagged"
    in_progress = "in_progress"
    tagged = "tagged"
    reviewed = "reviewed"
    rejected = "rejected"


class Stratify(StrEnum):
    none = "none"
    label_class = "class"
    site = "site"
    column = "column"


def parse_classes(specs: Sequence[str]) -> list[tuple[str, str]]:
    """NAME=#rrggbb (or NAME alone: a colour from the palette) per --class; wrong syntax is exit code 2."""
    classes: list[tuple[str, str]] = []
    for spec in specs:
        match = CLASS_SPEC.fullmatch(spec.strip())
        if match is None or not match["name"].strip():
            raise typer.BadParameter(f"'{spec}' is not NAME=#rrggbb, e.g. benign=#2ca02c", param_hint="--class")
        name = match["name"].strip()
        if name in (known for known, _ in classes):
            raise typer.BadParameter(f"class '{name}' is given twice", param_hint="--class")
        classes.append((name, match["color"] or PALETTE[len(classes) % len(PALETTE)]))
    return classes


def status_text(status: str) -> str:
    return f"[{STATUS_COLOURS.get(status, 'white')}]{escape(status)}[/]"


def swatch(color: str) -> str:
    """A colour as a small block of itself and its code."""
    return f"[on {color}]  [/] {color}" if re.fullmatch(r"#[0-9a-fA-F]{6}", color) else escape(color)


def find_member(client: Client, project_id: str, ref: str) -> dict[str, Any]:
    """The project's member with this username or user id."""
    for member in client.members(project_id):
        if ref in (member["username"], member["user_id"]):
            return member
    raise ApiError(
        404,
        "NOT_FOUND",
        "NOT_A_MEMBER",
        f"no member of project '{project_id}' with username or id '{ref}' "
        f"(add one with: radscholar projects add-member {project_id} USER --role annotator)",
        {},
    )


def member_names(client: Client, project_id: str) -> dict[str, str]:
    """user id -> username of the project's members."""
    return {member["user_id"]: member["username"] for member in client.members(project_id)}


def user_id_of(client: Client, ref: str) -> str:
    """The id of the user with this username or id; without the right to list users (admins have it), ``ref``
    is taken for an id as it is."""
    try:
        return str(find_user(client, ref)["id"])
    except ApiError as exc:
        if exc.status != 403:
            raise
        return ref


def show_project(project: dict[str, Any]) -> None:
    schema = project.get("label_schema") or {}
    console.print(f"[bold]project {escape(project['id'])}[/bold]", highlight=False)
    table = Table(show_header=False, box=None)
    table.add_row("name", escape(project.get("name") or ""))
    table.add_row("description", escape(project.get("description") or "-"))
    table.add_row("modality", escape(project.get("modality") or "-"))
    table.add_row("task", escape(str(project.get("task_type") or "-")).lower())
    table.add_row("dimensionality", escape(str(project.get("dimensionality") or "-")))
    table.add_row("label level", escape(schema.get("level") or "case"))
    table.add_row("multi-label", "yes" if schema.get("multi_label") else "no")
    table.add_row("sites", escape(", ".join(project.get("sites") or []) or "any"))
    table.add_row("created", when(project.get("created_at")))
    console.print(table)
    classes = schema.get("classes") or []
    if classes:
        listed = listing(f"classes ({len(classes)})", "class", fixed("colour"))
        for label_class in classes:
            listed.add_row(escape(label_class["name"]), swatch(label_class.get("color") or ""))
        console.print(listed)
    else:
        console.print("no classes in the label schema")


def progress_table(progress: dict[str, Any], names: dict[str, str]) -> Table:
    """Tasks by status: a row per annotator, then the project's."""
    statuses = list(TaskStatus)
    table = listing(
        f"progress ({progress.get('cases', 0)} cases)", "annotator", *(fixed(s.value) for s in statuses), fixed("total")
    )
    rows = sorted((progress.get("per_annotator") or {}).items(), key=lambda item: names.get(item[0], item[0]))
    for user_id, counts in rows:
        label = "(unassigned)" if user_id in ("", "-") else names.get(user_id, user_id)
        table.add_row(escape(label), *(str(counts["counts"].get(s.value, 0)) for s in statuses), str(counts["total"]))
    project = progress.get("project") or {"counts": {}, "total": 0}
    table.add_row(
        "[bold]all[/bold]",
        *(f"[bold]{project['counts'].get(s.value, 0)}[/bold]" for s in statuses),
        f"[bold]{project['total']}[/bold]",
    )
    return table


@projects.command("create")
def projects_create(
    name: Annotated[str, typer.Argument(help="the project's name, unique")],
    modality: Annotated[str, typer.Option("--modality", "-m", help="CT, MR, DX, MG, ...")],
    task: Annotated[TaskType, typer.Option("--task", case_sensitive=False, help="what is labeled")],
    dim: Annotated[Dimensionality, typer.Option("--dim", case_sensitive=False, help="2d or 3d images")],
    label_class: Annotated[
        list[str] | None,
        typer.Option("--class", "-c", help="a label class as NAME=#rrggbb, e.g. benign=#2ca02c (repeat)"),
    ] = None,
    level: Annotated[LabelLevel, typer.Option(case_sensitive=False, help="what a label belongs to")] = LabelLevel.case,
    multi_label: Annotated[bool, typer.Option("--multi-label", help="a case may have several classes")] = False,
    site: Annotated[
        list[str] | None, typer.Option("--site", help="take studies of this site only (repeat; default: any)")
    ] = None,
    description: Annotated[str, typer.Option("--description", help="what the project is for")] = "",
    url: Url = None,
) -> None:
    """Create a labeling project with its label schema; you become its lead."""
    classes = parse_classes(label_class or [])
    with signed_in(url) as client:
        project = client.create_project(
            name,
            modality,
            task.value.upper(),
            dim.value.upper(),
            description,
            classes=classes,
            level=level.value,
            multi_label=multi_label,
            sites=site or (),
        )
    console.print(f"created project [bold]{escape(project['name'])}[/bold] (id {escape(project['id'])})")
    show_project(project)


@projects.command("list")
def projects_list(url: Url = None) -> None:
    """The projects you belong to (admins: all), by name."""
    with signed_in(url) as client:
        found = client.projects()
    if not found:
        console.print("no projects yet: create one with radscholar projects create NAME ...")
        return
    table = listing(
        f"projects ({len(found)})", "id", "name", fixed("modality"), fixed("task"), fixed("dim"), "classes", "created"
    )
    for project in found:
        classes = (project.get("label_schema") or {}).get("classes") or []
        table.add_row(
            escape(project["id"]),
            escape(project.get("name") or ""),
            escape(project.get("modality") or "-"),
            escape(str(project.get("task_type") or "-").lower()),
            escape(str(project.get("dimensionality") or "-")),
            escape(", ".join(c["name"] for c in classes) or "-"),
            when(project.get("created_at")),
        )
    console.print(table)


@projects.command("show")
def projects_show(project_id: ProjectId, url: Url = None) -> None:
    """One project: its label schema, members and labeling progress."""
    with signed_in(url) as client:
        project = client.project(project_id)
        members = client.members(project_id)
        progress = client.progress(project_id)
    show_project(project)
    table = listing(f"members ({len(members)})", "username", fixed("role"), "id")
    for member in sorted(members, key=lambda m: (m["role"], m["username"])):
        table.add_row(escape(member["username"]), escape(member["role"]), escape(member["user_id"]))
    console.print(table)
    console.print(progress_table(progress, {m["user_id"]: m["username"] for m in members}))


@projects.command("add-member")
def projects_add_member(
    project_id: ProjectId,
    user: UserRef,
    role: Annotated[ProjectRole, typer.Option("--role", "-r", case_sensitive=False, help="their role in the project")],
    url: Url = None,
) -> None:
    """Add a user to a project, or change their role in it (the project's lead or an admin)."""
    with signed_in(url) as client:
        member = client.set_member(project_id, user_id_of(client, user), role.value)
    console.print(
        f"[bold]{escape(member['username'])}[/bold] is {escape(member['role'])} of project {escape(project_id)}",
        highlight=False,
    )


@projects.command("remove-member")
def projects_remove_member(project_id: ProjectId, user: UserRef, url: Url = None) -> None:
    """Take a user out of a project."""
    with signed_in(url) as client:
        member = find_member(client, project_id, user)
        client.remove_member(project_id, member["user_id"])
    console.print(
        f"{escape(member['username'])} is no member of project {escape(project_id)} any more", highlight=False
    )


# -- cases ---------------------------------------------------------------------------------------


@cases.command("add")
def cases_add(
    project_id: ProjectId,
    study: Annotated[
        list[str] | None, typer.Option("--study", help="a study's instance UID (repeat; see `radscholar studies`)")
    ] = None,
    modality: ModalityFilter = None,
    site: SiteFilter = None,
    date_from: FromFilter = None,
    date_to: ToFilter = None,
    description: DescriptionFilter = None,
    body_part: BodyPartFilter = None,
    patient_id: PatientIdFilter = None,
    url: Url = None,
) -> None:
    """Add studies to a project as cases, each with a task to label: by UID, or every study matching the filters."""
    query = CaseQuery(
        modality=modality,
        site=site,
        study_date_from=parse_day(date_from, "--from"),
        study_date_to=parse_day(date_to, "--to"),
        description=description,
        body_part=body_part,
        patient_id=patient_id,
    )
    filtering = any(query.values())
    if bool(study) == filtering:
        raise typer.BadParameter(
            "give either --study UIDs or filters (--modality, --site, --from, --to, ...), not both"
            if study
            else "give --study UIDs or filters (--modality, --site, --from, --to, ...) of the studies to add",
            param_hint="--study",
        )
    with signed_in(url) as client:
        if study:
            answer = client.add_cases(project_id, study_instance_uids=study)
        else:
            answer = client.add_cases(project_id, query=query)
    added, present = answer["added"], answer["already_present"]
    console.print(
        f"added {plural(len(added), 'case')} to project {escape(project_id)}"
        + (f"; {len(present)} already there" if present else ""),
        highlight=False,
    )
    if not added:
        return
    table = listing(
        f"cases added ({len(added)})",
        fixed("case id"),
        "patient id",
        fixed("date"),
        "site",
        fixed("series"),
        "study uid",
    )
    for case in added:
        table.add_row(
            escape(case["id"]),
            escape(case.get("patient_id") or "-"),
            escape(case.get("study_date") or "-"),
            escape(case.get("site") or "-"),
            str(len(case.get("series") or [])),
            escape(case.get("study_instance_uid") or ""),
        )
    console.print(table)


# -- tasks ---------------------------------------------------------------------------------------


def show_task(task: dict[str, Any], names: dict[str, str]) -> None:
    case = task.get("case") or {}
    console.print(f"[bold]task {escape(task['id'])}[/bold]", highlight=False)
    table = Table(show_header=False, box=None)
    table.add_row("status", status_text(task.get("status") or ""))
    assignee = task.get("assignee_id") or ""
    table.add_row("assignee", escape(names.get(assignee, assignee) or "-"))
    table.add_row("version", str(task.get("annotation_version", 0)))
    if task.get("review_comment"):
        table.add_row("review", escape(task["review_comment"]))
    table.add_row("case", escape(case.get("id") or "-"))
    table.add_row("patient id", escape(case.get("patient_id") or "-"))
    table.add_row("study date", escape(case.get("study_date") or "-"))
    table.add_row("site", escape(case.get("site") or "-"))
    table.add_row("study uid", escape(case.get("study_instance_uid") or "-"))
    for series in case.get("series") or []:
        size = "x".join(str(series.get(k) or 0) for k in ("columns", "rows", "slices"))
        table.add_row(
            "series", f"{escape(series.get('modality') or '-')} {size} {escape(series['series_instance_uid'])}"
        )
    table.add_row("updated", when(task.get("updated_at")))
    console.print(table)


@tasks.command("list")
def tasks_list(
    project_id: ProjectId,
    status: Annotated[
        list[TaskStatus] | None, typer.Option("--status", case_sensitive=False, help="tasks with this status (repeat)")
    ] = None,
    site: SiteFilter = None,
    date_from: FromFilter = None,
    date_to: ToFilter = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="a member's username or id; '-' for unassigned tasks")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many tasks")] = 50,
    url: Url = None,
) -> None:
    """The project's worklist (annotators: their own tasks), filtered."""
    day_from, day_to = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    with signed_in(url) as client:
        names = member_names(client, project_id)
        assignee_id = assignee if assignee in (None, "-") else find_member(client, project_id, assignee)["user_id"]
        found = client.tasks(
            project_id,
            site=site,
            study_date_from=day_from,
            study_date_to=day_to,
            status=[s.value for s in status or []],
            assignee_id=assignee_id,
            limit=limit,
        )
    if not found:
        console.print("no tasks match")
        return
    table = listing(
        found_title("tasks", found),
        fixed("task id"),
        fixed("status"),
        "assignee",
        "patient id",
        fixed("date"),
        "site",
        fixed("version"),
        "study uid",
    )
    for task in found:
        case = task.get("case") or {}
        assigned = task.get("assignee_id") or ""
        table.add_row(
            escape(task["id"]),
            status_text(task.get("status") or ""),
            escape(names.get(assigned, assigned) or "-"),
            escape(case.get("patient_id") or "-"),
            escape(case.get("study_date") or "-"),
            escape(case.get("site") or "-"),
            str(task.get("annotation_version", 0)),
            escape(case.get("study_instance_uid") or ""),
        )
    console.print(table)
    print_more(found)


@tasks.command("mine")
def tasks_mine(
    task: Annotated[TaskType | None, typer.Option("--task", case_sensitive=False, help="only this task type")] = None,
    status: Annotated[
        list[TaskStatus] | None, typer.Option("--status", case_sensitive=False, help="tasks with this status (repeat)")
    ] = None,
    site: SiteFilter = None,
    date_from: FromFilter = None,
    date_to: ToFilter = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many tasks")] = 50,
    url: Url = None,
) -> None:
    """Your tasks in every project (your inbox), filtered."""
    day_from, day_to = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    with signed_in(url) as client:
        found = client.my_tasks(
            task_type=task.value if task else None,
            site=site,
            study_date_from=day_from,
            study_date_to=day_to,
            status=[s.value for s in status or []],
            limit=limit,
        )
    if not found:
        console.print("no tasks match")
        return
    table = listing(
        found_title("tasks", found), fixed("task id"), "project", fixed("status"), "patient id", fixed("date"), "site"
    )
    for entry in found:
        case = entry.get("case") or {}
        table.add_row(
            escape(entry["id"]),
            escape(entry.get("project_id") or ""),
            status_text(entry.get("status") or ""),
            escape(case.get("patient_id") or "-"),
            escape(case.get("study_date") or "-"),
            escape(case.get("site") or "-"),
        )
    console.print(table)
    print_more(found)


@tasks.command("assign")
def tasks_assign(
    project_id: ProjectId,
    annotator: Annotated[
        list[str], typer.Option("--annotator", "-a", help="a member's username or id, who annotates (repeat)")
    ],
    each: Annotated[
        bool, typer.Option("--each", help="every case to every annotator (double reading); default: split evenly")
    ] = False,
    site: SiteFilter = None,
    date_from: FromFilter = None,
    date_to: ToFilter = None,
    url: Url = None,
) -> None:
    """Assign the project's cases (of a site, in a date range, or all) to annotators."""
    day_from, day_to = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    with signed_in(url) as client:
        members = [find_member(client, project_id, ref) for ref in annotator]
        answer = client.assign_tasks(
            project_id,
            dict.fromkeys(m["user_id"] for m in members),
            mode="each" if each else "split",
            site=site,
            study_date_from=day_from,
            study_date_to=day_to,
        )
    console.print(f"assigned {plural(answer['assigned'], 'task')} in project {escape(project_id)}", highlight=False)
    names = {m["user_id"]: m["username"] for m in members}
    table = listing("per annotator", "annotator", fixed("assigned"))
    for user_id, count in sorted(answer.get("per_annotator", {}).items(), key=lambda item: names.get(item[0], item[0])):
        table.add_row(escape(names.get(user_id, user_id)), str(count))
    console.print(table)


@tasks.command("next")
def tasks_next(project_id: ProjectId, url: Url = None) -> None:
    """Your next task to label: rejected ones first, then drafts, then new ones."""
    with signed_in(url) as client:
        task = client.next_task(project_id)
        names = member_names(client, project_id) if task is not None else {}
    if task is None:
        console.print(f"no task left for you to label in project {escape(project_id)}", highlight=False)
        return
    show_task(task, names)


@tasks.command("progress")
def tasks_progress(project_id: ProjectId, url: Url = None) -> None:
    """Tasks by status, per annotator and in all."""
    with signed_in(url) as client:
        progress = client.progress(project_id)
        names = member_names(client, project_id)
    console.print(progress_table(progress, names))


# -- labels --------------------------------------------------------------------------------------


def label_names(annotation: dict[str, Any]) -> str:
    return ", ".join(label["class_name"] for label in annotation.get("labels") or []) or "-"


@labels.command("history")
def labels_history(task_id: TaskId, url: Url = None) -> None:
    """Every saved version of a task's annotation, oldest first."""
    with signed_in(url) as client:
        versions = client.annotation_versions(task_id)
    if not versions:
        console.print(f"task {escape(task_id)} has no annotation yet", highlight=False)
        return
    table = listing(
        f"annotation of task {escape(task_id)} ({plural(len(versions), 'version')})",
        fixed("version"),
        "saved",
        "author",
        "source",
        fixed("submitted"),
        "labels",
        fixed("boxes"),
        "comment",
    )
    for annotation in versions:
        table.add_row(
            str(annotation.get("version", "")),
            when(annotation.get("saved_at"), seconds=True),
            escape(annotation.get("author_id") or "-"),
            escape(annotation.get("source") or "-"),
            "[green]yes[/green]" if annotation.get("submitted") else "draft",
            escape(label_names(annotation)),
            str(len(annotation.get("boxes") or [])),
            escape(annotation.get("comment") or ""),
        )
    console.print(table)


@labels.command("review")
def labels_review(
    task_id: TaskId,
    accept: Annotated[bool, typer.Option("--accept", help="the annotation is right")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="send it back to its annotator (needs --comment)")] = False,
    adjudicate: Annotated[
        bool, typer.Option("--adjudicate", help="this annotation wins; the case's other readings are rejected")
    ] = False,
    comment: Annotated[str, typer.Option("--comment", help="why; shown to the annotator")] = "",
    url: Url = None,
) -> None:
    """Review a submitted task: accept, reject with a comment, or adjudicate between readers."""
    chosen = [name for name, flag in (("accept", accept), ("reject", reject), ("adjudicate", adjudicate)) if flag]
    if len(chosen) != 1:
        raise typer.BadParameter("give one of --accept, --reject or --adjudicate", param_hint="--accept")
    if reject and not comment.strip():
        raise typer.BadParameter("a rejection needs --comment saying what to change", param_hint="--comment")
    with signed_in(url) as client:
        reviewed = client.review_task(task_id, chosen[0], comment)
        others = reviewed.get("others") or []
        names = member_names(client, reviewed["task"]["project_id"]) if others else {}
    task = reviewed["task"]
    console.print(f"task {escape(task['id'])}: {status_text(task['status'])}", highlight=False)
    for other in others:
        assignee = other.get("assignee_id") or "-"
        console.print(
            f"task {escape(other['id'])} of {escape(names.get(assignee, assignee))}: {status_text(other['status'])}",
            highlight=False,
        )


class ImportFormat(StrEnum):
    csv = "csv"
    json = "json"


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    coco = "coco"
    nifti = "nifti"
    seg = "seg"


@labels.command("import")
def labels_import(
    project_id: ProjectId,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a CSV of classes or a JSON of boxes")],
    format: Annotated[ImportFormat | None, typer.Option("--format", help="default: from the file's suffix")] = None,
    annotator: Annotated[
        str, typer.Option("--annotator", help="whose tasks get them (username or id); default you")
    ] = "",
    submit: Annotated[bool, typer.Option("--submit", help="submit the new versions for review (else drafts)")] = False,
    source: Annotated[
        str, typer.Option("--source", help="person, or model:<name>/<version> for pre-labels")
    ] = "person",
    url: Url = None,
) -> None:
    """Import class labels (CSV: study_instance_uid,class) or boxes (JSON) as new versions of an annotator's tasks."""
    suffix = file.suffix.lower().lstrip(".")
    chosen = format or (ImportFormat(suffix) if suffix in ImportFormat.__members__ else None)
    if chosen is None:
        raise typer.BadParameter("give --format csv or json (the file's suffix says neither)", param_hint="--format")
    with signed_in(url) as client:
        annotator_id = find_member(client, project_id, annotator)["user_id"] if annotator else ""
        result = client.import_labels(
            project_id, file.read_bytes(), chosen.value, annotator_id=annotator_id, submit=submit, source=source
        )
    console.print(
        f"imported {plural(result['labels'], 'class label')} and {plural(result['boxes'], 'box', 'boxes')} "
        f"into {plural(result['cases'], 'case')}",
        highlight=False,
    )


@labels.command("export")
def labels_export(
    project_id: ProjectId,
    format: Annotated[ExportFormat, typer.Option("--format", help="csv, json, coco (2D boxes), nifti or seg (zips)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the file to write")],
    status: Annotated[
        list[TaskStatus] | None, typer.Option("--status", help="tasks in these statuses (default: reviewed)")
    ] = None,
    url: Url = None,
) -> None:
    """Download a project's labels (the accepted ones unless --status says otherwise)."""
    with signed_in(url) as client:
        data = client.export_labels(project_id, format.value, statuses=[s.value for s in status or []])
    out.write_bytes(data)
    console.print(f"wrote {escape(str(out))} ({len(data):,} bytes)", highlight=False)


# -- agreement -----------------------------------------------------------------------------------


FULL_AGREEMENT = 1 - 1e-9  # a case's score from here up is no disagreement


def measure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@app.command("agreement")
def agreement_show(
    project_id: ProjectId,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many disagreements, largest first")] = 20,
    url: Url = None,
) -> None:
    """Agreement between a project's annotators (class kappa, mean box IoU and Dice), and where they differ most."""
    with signed_in(url) as client:
        found = client.agreement(project_id, limit)
        names = member_names(client, project_id)
    kappa = f"class kappa ({found['kappa_method']})" if found.get("kappa_method") else "class kappa"
    console.print(f"[bold]agreement in project {escape(project_id)}[/bold]", highlight=False)
    table = Table(show_header=False, box=None)
    table.add_row("cases compared", str(found.get("cases_compared", 0)))
    table.add_row(escape(kappa), measure(found.get("class_kappa")))
    table.add_row("mean box IoU", measure(found.get("mean_box_iou")))
    table.add_row("mean mask Dice", measure(found.get("mean_mask_dice")))
    console.print(table)
    disagreements = [case for case in found.get("disagreements") or [] if case.get("score", 0) < FULL_AGREEMENT]
    if not disagreements:
        console.print("no disagreements")
        return
    listed = listing(f"disagreements ({len(disagreements)})", fixed("case id"), fixed("kind"), fixed("score"), "detail")
    for case in disagreements:
        detail = case.get("detail") or ""
        for user_id, username in names.items():  # the readers are named by user id
            detail = detail.replace(user_id, username)
        listed.add_row(
            escape(case["case_id"]), escape(case.get("kind") or ""), measure(case.get("score")), escape(detail)
        )
    console.print(listed)


# -- datasets ------------------------------------------------------------------------------------


def split_counts(dataset: dict[str, Any]) -> str:
    counts = dataset.get("split_counts") or {}
    return " / ".join(str(counts.get(name, 0)) for name in ("train", "validation", "test"))


def show_dataset(dataset: dict[str, Any], names: dict[str, str]) -> None:
    console.print(f"[bold]dataset {escape(dataset['id'])}[/bold]", highlight=False)
    table = Table(show_header=False, box=None)
    table.add_row("project", escape(dataset.get("project_id") or "-"))
    table.add_row("content hash", escape(dataset.get("content_hash") or "-"))
    table.add_row("created", when(dataset.get("created_at")))
    creator = dataset.get("created_by") or "-"
    table.add_row("created by", escape(names.get(creator, creator)))
    manifest = dataset.get("manifest") or {}
    spec = manifest.get("spec") or {}
    if spec:
        stratify = spec.get("stratify") or "none"
        table.add_row(
            "split",
            f"train {spec.get('train')}, validation {spec.get('validation')}, test {spec.get('test')}; "
            f"stratified by {escape(stratify if stratify != 'column' else 'column ' + spec.get('column', ''))}; "
            f"seed {spec.get('seed')}",
        )
    console.print(table)
    items = manifest.get("items") or []
    splits = manifest.get("splits") or {}
    classes = sorted({item.get("label_class") or "" for item in items} - {""})
    table = listing("cases by split", "split", fixed("cases"), fixed("patients"), *(fixed(c) for c in classes))
    for name in ("train", "validation", "test"):
        mine = [item for item in items if splits.get(item["case_id"]) == name]
        count = len(mine) if items else (dataset.get("split_counts") or {}).get(name, 0)
        row = [name, str(count), str(len({item["patient_id"] for item in mine})) if items else "-"]
        row += [str(sum(1 for item in mine if item.get("label_class") == c)) for c in classes]
        table.add_row(*row)
    console.print(table)


def write_manifest(dataset: dict[str, Any], out: Path | None) -> None:
    if out is None:
        return
    out.write_text(json.dumps(dataset.get("manifest") or {}, indent=2) + "\n", encoding="utf-8")
    console.print(f"manifest written to {out}", highlight=False)


@contextmanager
def split_checked() -> Iterator[None]:
    """Split fractions or a stratification the gateway refuses are wrong usage (exit code 2)."""
    try:
        yield
    except ApiError as exc:
        if exc.reason != "INVALID_SPLIT":
            raise
        raise typer.BadParameter(exc.message, param_hint="--train/--validation/--test/--stratify") from None


@datasets.command("freeze")
def datasets_freeze(
    project_id: ProjectId,
    train: Annotated[float, typer.Option(min=0, max=1, help="fraction of cases for training")] = 0.7,
    validation: Annotated[float, typer.Option(min=0, max=1, help="fraction of cases for validation")] = 0.15,
    test: Annotated[float, typer.Option(min=0, max=1, help="fraction of cases for testing")] = 0.15,
    stratify: Annotated[
        Stratify, typer.Option(case_sensitive=False, help="keep the splits alike in class, site or --column")
    ] = Stratify.none,
    column: Annotated[str, typer.Option(help="the column to stratify by (with --stratify column)")] = "",
    seed: Annotated[int, typer.Option(min=0, help="shuffle seed; the same seed gives the same split")] = 0,
    out: ManifestOut = None,
    url: Url = None,
) -> None:
    """Freeze the project's accepted labels into an immutable dataset version, split by patient."""
    with signed_in(url) as client, split_checked():
        dataset, existed = client.freeze_dataset(
            project_id, train=train, validation=validation, test=test, stratify=stratify.value, column=column, seed=seed
        )
        names = member_names(client, project_id)
    if existed:
        console.print(f"the same dataset version exists already: {escape(dataset['id'])}", highlight=False)
    else:
        console.print(f"froze dataset version [bold]{escape(dataset['id'])}[/bold]")
    show_dataset(dataset, names)
    write_manifest(dataset, out)


@datasets.command("list")
def datasets_list(project_id: ProjectId, url: Url = None) -> None:
    """The project's dataset versions, newest first."""
    with signed_in(url) as client:
        found = client.datasets(project_id)
        names = member_names(client, project_id) if found else {}
    if not found:
        console.print(
            f"no dataset versions of project {escape(project_id)} yet: radscholar datasets freeze", highlight=False
        )
        return
    table = listing(
        f"dataset versions ({len(found)})",
        fixed("id"),
        "created",
        "created by",
        fixed("train / val / test"),
        "content hash",
    )
    for dataset in found:
        table.add_row(
            escape(dataset["id"]),
            when(dataset.get("created_at")),
            escape(names.get(dataset.get("created_by") or "", dataset.get("created_by") or "-")),
            split_counts(dataset),
            escape(dataset.get("content_hash") or ""),
        )
    console.print(table)


@datasets.command("show")
def datasets_show(dataset_id: DatasetId, out: ManifestOut = None, url: Url = None) -> None:
    """One dataset version: its split by class, and its manifest (to a file with --out)."""
    with signed_in(url) as client:
        dataset = client.dataset(dataset_id)
        names = member_names(client, dataset["project_id"])
    show_dataset(dataset, names)
    write_manifest(dataset, out)


# -- radiomics -----------------------------------------------------------------------------------


@radiomics.command("presets")
def radiomics_presets(url: Url = None) -> None:
    """The built-in extraction presets."""
    with signed_in(url) as client:
        found = client.radiomics_presets()
    table = listing(f"presets ({len(found)})", fixed("id"), "name", "saved by", "description")
    for preset in found:
        saved_by = "built in" if preset.get("built_in", True) else preset.get("created_by") or "-"
        table.add_row(
            escape(preset["id"]), escape(preset["display_name"]), escape(saved_by), escape(preset["description"])
        )
    console.print(table)


@radiomics.command("save-preset")
def radiomics_save_preset(
    preset_id: Annotated[str, typer.Argument(help="its id: a-z, 0-9, '.', '_', '-'")],
    settings: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a pyradiomics parameter file")],
    name: Annotated[str, typer.Option("--name", help="the name researchers see")],
    description: Annotated[str, typer.Option("--description")] = "",
    url: Url = None,
) -> None:
    """Save your own extraction preset, after its settings are checked."""
    with signed_in(url) as client:
        saved = client.save_preset(preset_id, name, settings.read_text(), description)
    console.print(f"saved preset {escape(saved['id'])} ({escape(saved['display_name'])})", highlight=False)


@radiomics.command("delete-preset")
def radiomics_delete_preset(
    preset_id: Annotated[str, typer.Argument(help="a preset you saved")], url: Url = None
) -> None:
    """Delete a preset you saved."""
    with signed_in(url) as client:
        client.delete_preset(preset_id)
    console.print(f"deleted preset {escape(preset_id)}", highlight=False)


class Regions(StrEnum):
    lesion = "lesion"
    label = "label"


JobId = Annotated[str, typer.Argument(help="a batch extraction job's id")]
TableOut = Annotated[
    Path | None, typer.Option("--out", "-o", dir_okay=False, help="download the feature table here (.parquet or .csv)")
]
STATE_COLOURS = {"SUCCEEDED": "green", "FAILED": "red", "CANCELLED": "yellow", "RUNNING": "cyan"}


def check_table_out(out: Path | None, param_hint: str = "--out") -> None:
    if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
        raise typer.BadParameter(f"'{out}': name a .parquet or .csv file", param_hint=param_hint)


def duration(seconds: float | None) -> str:
    """1 h 02 min, 3 min 05 s, 12 s; "-" when not known."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole >= 3600:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def state_text(job: dict[str, Any]) -> str:
    state = job_state(job)
    colour = STATE_COLOURS.get(state)
    return f"[{colour}]{state}[/{colour}]" if colour else state


def step_of(job: dict[str, Any]) -> str:
    """What the job is at: its own words ("region 120/400"), else its counts."""
    progress = job.get("progress") or {}
    if progress.get("step"):
        return str(progress["step"])
    return f"{progress.get('completed', 0)}/{progress['total']}" if progress.get("total") else ""


def progress_text(job: dict[str, Any]) -> str:
    fraction = (job.get("progress") or {}).get("fraction") or 0.0
    return f"{fraction:.0%} {escape(step_of(job))}".strip()


def log_text(line: dict[str, Any]) -> str:
    level = line.get("level") or "INFO"
    colour = {"ERROR": "red", "WARNING": "yellow", "DEBUG": "dim"}.get(level)
    text = f"{when(line.get('time'), seconds=True)} {level:<7} {escape(line.get('message') or '')}"
    return f"[{colour}]{text}[/{colour}]" if colour else text


def job_seconds(job: dict[str, Any]) -> float | None:
    try:
        started = datetime.fromisoformat(job["started_at"])
        finished = datetime.fromisoformat(job["finished_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return (finished - started).total_seconds()


@dataclass(frozen=True)
class JobCommands:
    """One service's jobs on the command line: the SDK's calls that show, follow and stop a job, and the commands
    a user types to do it again."""

    status: str  # the command that shows (--watch: follows) a job
    cancel: str  # the command that stops one
    detail: Callable[[Client, str], dict[str, Any]]
    wait: Callable[[Client, str, Callable[[dict[str, Any]], None]], dict[str, Any]]
    stop: Callable[[Client, str], dict[str, Any]]
    page: Callable[[Client, int], dict[str, Any]]  # the newest jobs, at most this many
    what: str  # "batch jobs", "analysis jobs"
    how: str  # the command that starts one


RADIOMICS_JOBS = JobCommands(
    "radiomics status",
    "radiomics cancel",
    Client.radiomics_job,
    Client.wait_for_radiomics_job,
    Client.cancel_radiomics_job,
    lambda client, limit: client.radiomics_jobs(page_size=limit),
    "batch jobs",
    "radscholar radiomics extract --dataset ID",
)
STATS_JOBS = JobCommands(
    "stats job",
    "stats cancel",
    Client.stats_job,
    Client.wait_for_stats_job,
    Client.cancel_stats_job,
    lambda client, limit: client.stats_jobs(page_size=limit),
    "analysis jobs",
    "radscholar stats ml TABLE ... --job",
)


def follow_job(client: Client, job_id: str, commands: JobCommands) -> dict[str, Any]:
    """Follows a job with a progress bar (fraction, its step, ETA), printing its log lines as they come; returns
    the job once it ended. Ctrl-C stops following, not the job."""
    seen: set[tuple[str, str, str]] = set()  # a watch opened again starts with lines already shown
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[step]}"),
        TextColumn("ETA {task.fields[eta]}"),
        console=console,
    ) as progress:
        bar = progress.add_task("queued", total=1.0, step="", eta="-")

        def show(event: dict[str, Any]) -> None:
            for line in event.get("log_lines") or []:
                key = (line.get("time") or "", line.get("level") or "", line.get("message") or "")
                if key not in seen:
                    seen.add(key)
                    progress.console.print(log_text(line), highlight=False)
            job = event["job"]
            fraction = (job.get("progress") or {}).get("fraction") or 0.0
            eta = (job.get("progress") or {}).get("eta_seconds")
            progress.update(
                bar,
                completed=fraction,
                description=job_state(job).lower(),
                step=escape(step_of(job)),
                eta=duration(eta),
            )

        try:
            return commands.wait(client, job_id, show)
        except KeyboardInterrupt:
            progress.stop()
            err_console.print(
                f"stopped following; the job goes on: radscholar {commands.status} {escape(job_id)} --watch "
                f"(or radscholar {commands.cancel} {escape(job_id)})",
                highlight=False,
            )
            raise typer.Exit(130) from None


def print_job_end(job: dict[str, Any]) -> None:
    """The job's state, how long it ran, its error or its result; exit code 1 unless it succeeded."""
    seconds = job_seconds(job)
    console.print(
        f"job {escape(job['id'])} {state_text(job)}" + (f" after {duration(seconds)}" if seconds is not None else ""),
        highlight=False,
    )
    if job.get("error"):
        err_console.print(f"[red]{escape(job['error'])}[/red]", highlight=False)
    if job.get("result"):
        table = Table(show_header=False, box=None)
        for name, value in sorted(job["result"].items()):
            table.add_row(escape(name), escape(value))
        console.print(table)
    if job_state(job) != "SUCCEEDED":
        raise typer.Exit(1)


def show_job(job: dict[str, Any], with_result: bool = True) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("job", escape(job["id"]))
    table.add_row("kind", escape(job.get("kind") or "-"))
    table.add_row("state", state_text(job))
    table.add_row("progress", progress_text(job) or "-")
    eta = (job.get("progress") or {}).get("eta_seconds")
    if eta is not None and job_state(job) not in FINISHED_STATES:
        table.add_row("ETA", duration(eta))
    table.add_row("created", when(job.get("created_at"), seconds=True))
    table.add_row("started", when(job.get("started_at"), seconds=True))
    table.add_row("finished", when(job.get("finished_at"), seconds=True))
    if job.get("error"):
        table.add_row("error", f"[red]{escape(job['error'])}[/red]")
    for name, value in sorted((job.get("parameters") or {}).items()):
        table.add_row(escape(name), escape(value))
    for name, value in sorted((job.get("result") or {}).items() if with_result else ()):
        table.add_row(escape(name), escape(value))
    console.print(table)


@radiomics.command("extract")
def radiomics_extract(
    image: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, help="the image (NIfTI or NRRD); or --dataset")
    ] = None,
    mask: Annotated[Path | None, typer.Argument(exists=True, dir_okay=False, help="its mask, on the same grid")] = None,
    dataset: Annotated[
        str, typer.Option("--dataset", help="a dataset version: extract all its regions as a batch job")
    ] = "",
    preset: Annotated[str, typer.Option("--preset", help="a built-in preset (see `radiomics presets`)")] = "",
    settings: Annotated[
        Path | None, typer.Option("--settings", exists=True, dir_okay=False, help="a pyradiomics parameter file")
    ] = None,
    label: Annotated[
        list[int] | None,
        typer.Option("--label", min=1, help="the mask's label of the region (default 1); with --dataset, repeat"),
    ] = None,
    regions: Annotated[
        Regions,
        typer.Option(case_sensitive=False, help="with --dataset: lesion (each connected part of a label) or label"),
    ] = Regions.lesion,
    job_id: Annotated[
        str, typer.Option("--job-id", help="with --dataset: your id for the job, so a retry never starts another")
    ] = "",
    no_wait: Annotated[bool, typer.Option("--no-wait", help="with --dataset: start the job and return")] = False,
    erode: Annotated[
        int, typer.Option("--erode", min=0, max=10, help="with --dataset: also on masks eroded by this radius (voxels)")
    ] = 0,
    dilate: Annotated[
        int, typer.Option("--dilate", min=0, max=10, help="with --dataset: also on masks dilated by this radius")
    ] = 0,
    shift: Annotated[bool, typer.Option("--shift", help="with --dataset: also on masks shifted by one voxel")] = False,
    stable_at: Annotated[
        float, typer.Option("--stable-at", min=0, max=1, help="with mask variants: the ICC(3,1) of a stable feature")
    ] = 0.75,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="write the features as CSV here; with --dataset the table (.parquet, .csv)"),
    ] = None,
    url: Url = None,
) -> None:
    """Extract the features of one region of interest (IMAGE MASK), or of a dataset version's regions as a batch
    job (--dataset), followed until it ends."""
    labels = label or []
    if dataset and (image is not None or mask is not None):
        raise typer.BadParameter("give IMAGE and MASK, or --dataset, not both", param_hint="--dataset")
    if not dataset and (image is None or mask is None):
        raise typer.BadParameter(
            "give IMAGE and MASK (one region), or --dataset ID (a batch job)", param_hint="IMAGE MASK"
        )
    if bool(preset) == (settings is not None):
        raise typer.BadParameter("give --preset or --settings", param_hint="--preset")
    settings_yaml = settings.read_text() if settings is not None else ""
    if dataset:
        check_table_out(out)
        if no_wait and out is not None:
            raise typer.BadParameter("the table exists once the job ends: leave out --no-wait", param_hint="--out")
        variants = {"erode": erode, "dilate": dilate, "shift": shift, "threshold": stable_at}
        perturbations = variants if erode or dilate or shift else None
        extract_dataset(url, dataset, preset, settings_yaml, regions, labels, job_id, no_wait, out, perturbations)
        return
    batch_only = {
        "--job-id": bool(job_id),
        "--no-wait": no_wait,
        "--regions": regions is not Regions.lesion,
        "--erode/--dilate/--shift": bool(erode or dilate or shift),
    }
    if given := [name for name, used in batch_only.items() if used]:
        raise typer.BadParameter("only with --dataset", param_hint="/".join(given))
    if len(labels) > 1:
        raise typer.BadParameter("one region has one label; for several, use --dataset", param_hint="--label")
    assert image is not None and mask is not None
    with signed_in(url) as client:
        result = client.extract_features(
            image, mask, preset=preset, settings_yaml=settings_yaml, label=labels[0] if labels else 1
        )
    features = result["features"]
    if out is not None:
        lines = ["feature,value,ibsi_name,ibsi_code"]
        lines += [f"{f['name']},{f['value']!r},{f['ibsi_name']},{f['ibsi_code']}" for f in features]
        out.write_text("\n".join(lines) + "\n")
    console.print(
        f"{plural(len(features), 'feature')} in {result['seconds']:.1f} s (pyradiomics "
        f"{escape(result['pyradiomics_version'])}, settings {result['settings_hash'][:12]})"
        + (f"; written to {escape(str(out))}" if out else ""),
        highlight=False,
    )
    if out is None:
        table = listing("features", "feature", "value", fixed("IBSI code"))
        for feature in features:
            table.add_row(escape(feature["name"]), f"{feature['value']:.6g}", escape(feature["ibsi_code"] or "-"))
        console.print(table)


def extract_dataset(
    url: str | None,
    dataset: str,
    preset: str,
    settings_yaml: str,
    regions: Regions,
    labels: list[int],
    job_id: str,
    no_wait: bool,
    out: Path | None,
    perturbations: dict[str, Any] | None,
) -> None:
    """`radiomics extract --dataset`: starts the batch job, then follows it unless told not to."""
    with signed_in(url) as client:
        started = client.start_extraction_job(
            dataset,
            preset=preset,
            settings_yaml=settings_yaml,
            regions="label" if regions is Regions.label else "lesion",
            labels=labels,
            job_id=job_id,
            perturbations=perturbations,
        )
        job = started["job"]
        console.print(
            f"job [bold]{escape(job['id'])}[/bold]: {plural(started['series'], 'series', 'series')} of dataset "
            f"version {escape(dataset)}, {state_text(job)}",
            highlight=False,
        )
        if no_wait:
            console.print(f"follow it with: radscholar radiomics status {escape(job['id'])} --watch", highlight=False)
            return
        job = follow_job(client, job["id"], RADIOMICS_JOBS)
        if out is not None and job_state(job) == "SUCCEEDED":
            client.download_feature_table(job["id"], out)
    print_job_end(job)
    if out is not None:
        console.print(f"feature table written to {escape(str(out))}", highlight=False)


@radiomics.command("status")
def radiomics_status(
    job_id: Annotated[str | None, typer.Argument(help="a batch job (default: list the jobs)")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="follow the job until it ends")] = False,
    lines: Annotated[int, typer.Option("--lines", min=0, help="how many of its last log lines to show")] = 20,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="how many jobs to list")] = 50,
    url: Url = None,
) -> None:
    """Batch extraction jobs, newest first; or one job with its last log lines (--watch: follow it)."""
    job_status(url, job_id, watch, lines, limit, RADIOMICS_JOBS)


def job_status(url: str | None, job_id: str | None, watch: bool, lines: int, limit: int, commands: JobCommands) -> None:
    """Lists the newest ``limit`` jobs (no ``job_id``); or shows a job with its last ``lines`` log lines, or follows
    it until it ends (``watch``)."""
    if job_id is None:
        if watch:
            raise typer.BadParameter("name the job to watch", param_hint="JOB_ID")
        with signed_in(url) as client:
            page = commands.page(client, limit)
        jobs = page["jobs"]
        if not jobs:
            console.print(f"no {commands.what} yet: {commands.how}", highlight=False)
            return
        table = listing(f"{commands.what} ({len(jobs)})", fixed("id"), fixed("state"), "progress", "created")
        for job in jobs:
            table.add_row(escape(job["id"]), state_text(job), progress_text(job), when(job.get("created_at")))
        console.print(table)
        if page.get("next_page_token"):
            console.print(f"the newest {len(jobs)}; more with --limit", highlight=False)
        return
    with signed_in(url) as client:
        detail = commands.detail(client, job_id)
        show_job(detail["job"], with_result=not watch)  # a watch ends with the result
        if not watch:
            log = detail["log_lines"][-lines:] if lines else []
            if log:
                console.print(f"last {plural(len(log), 'log line')}:", highlight=False)
                for line in log:
                    console.print(log_text(line), highlight=False)
            return
        job = follow_job(client, job_id, commands)
    print_job_end(job)


@radiomics.command("features")
def radiomics_features(
    job_id: JobId,
    out: TableOut = None,
    stability: Annotated[
        Path | None,
        typer.Option("--stability-out", help="a job with --erode/--dilate/--shift: write each feature's ICC (.csv)"),
    ] = None,
    url: Url = None,
) -> None:
    """A finished batch job's feature table: its size, provenance and failed regions; --out downloads it."""
    check_table_out(out)
    if stability is not None and stability.suffix.lower() != ".csv":
        raise typer.BadParameter("name a .csv file", param_hint="--stability-out")
    with signed_in(url) as client:
        table = client.feature_table(job_id)
        if out is not None:
            client.download_feature_table(job_id, out)
        if stability is not None:
            client.download_feature_table(job_id, stability, stability=True)
    console.print(
        f"{plural(table['rows'], 'row')} x {plural(table['features'], 'feature')}; "
        f"{table['reused']} regions reused from earlier runs, {len(table['failures'])} failed"
        + (f"; written to {escape(str(out))}" if out else ""),
        highlight=False,
    )
    if table.get("stability_object_key"):
        console.print(
            f"{plural(table['stable_features'], 'feature')} stable across the mask variants"
            + (f"; ICCs written to {escape(str(stability))}" if stability else ""),
            highlight=False,
        )
    provenance = listing("provenance", fixed("what"), "value")
    for name, value in sorted(table["provenance"].items()):
        provenance.add_row(escape(name), escape(value))
    console.print(provenance)
    if table["failures"]:
        failures = listing(f"failed regions ({len(table['failures'])})", "region", "case", fixed("reason"), "why")
        for failure in table["failures"]:
            failures.add_row(
                escape(failure["region_id"]),
                escape(failure["case_id"]),
                escape(failure["reason"]),
                escape(failure["message"]),
            )
        console.print(failures)


@radiomics.command("cancel")
def radiomics_cancel(job_id: JobId, url: Url = None) -> None:
    """Stop a queued or running batch job; the regions it extracted are kept for a re-run."""
    cancel_job(url, job_id, RADIOMICS_JOBS)


def cancel_job(url: str | None, job_id: str, commands: JobCommands) -> None:
    with signed_in(url) as client:
        job = commands.stop(client, job_id)
    stopping = "" if job_state(job) in FINISHED_STATES else " (stopping)"
    console.print(f"job {escape(job['id'])}: {state_text(job)}{stopping}", highlight=False)


@radiomics.command("ibsi-report")
def radiomics_ibsi_report(url: Url = None) -> None:
    """The IBSI digital phantom's features, computed here, against the IBSI reference values."""
    with signed_in(url) as client:
        report = client.ibsi_report()
    console.print(report["table"], highlight=False, markup=False)
    statuses = Counter(row["status"] for row in report["rows"])
    console.print(", ".join(f"{count} {status}" for status, count in sorted(statuses.items())), highlight=False)


def parse_step(text: str) -> tuple[str, dict[str, str]]:
    """ "mrmr:k=10" -> ("mrmr", {"k": "10"}); "correlation:threshold=0.9,method=spearman"."""
    name, _, rest = text.partition(":")
    params = {}
    for pair in filter(None, rest.split(",")):
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise typer.BadParameter(f"'{text}': parameters are name=value, separated by commas", param_hint="--step")
        params[key.strip()] = value.strip()
    return name.strip(), params


@radiomics.command("select")
def radiomics_select(
    table: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a feature table (.csv or .parquet)")],
    outcome: Annotated[str, typer.Option("--outcome", help="the column of the binary outcome")],
    step: Annotated[
        list[str],
        typer.Option("--step", help="a selection step, in order: variance, correlation:threshold=0.9, mrmr:k=10, ..."),
    ],
    group: Annotated[str, typer.Option("--group", help="patient ids: folds keep a patient's rows together")] = "",
    ids: Annotated[list[str] | None, typer.Option("--id", help="a column that is not a feature (repeat)")] = None,
    model: Annotated[str, typer.Option("--model", help="logistic or random_forest")] = "logistic",
    folds: Annotated[int, typer.Option("--folds", min=2, max=20)] = 5,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the selected table (CSV) here")] = None,
    url: Url = None,
) -> None:
    """Cross-validated feature selection: the steps run inside every fold, never on the test rows."""
    steps = [parse_step(text) for text in step]
    with signed_in(url) as client:
        result = client.select_features(
            table, outcome, steps, group=group, ids=ids or [], model=model, folds=folds, seed=seed
        )
    if out is not None:
        out.write_text(result["selected_table_csv"])
    console.print(
        f"cross-validated ROC AUC {result['cv_auc_mean']:.3f} ± {result['cv_auc_std']:.3f} over {folds} folds; "
        f"{plural(len(result['selected']), 'feature')} selected" + (f"; written to {escape(str(out))}" if out else ""),
        highlight=False,
    )
    frequency = result["selection_frequency"]
    table_view = listing("selected features", "feature", fixed("folds selecting it"))
    for name in result["selected"]:
        table_view.add_row(escape(name), f"{frequency.get(name, 0):.0%}")
    console.print(table_view)


@radiomics.command("stability")
def radiomics_stability(
    table: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="one row per region and rater (.csv/.parquet)")
    ],
    target: Annotated[str, typer.Option("--target", help="the column naming the region (lesion)")],
    rater: Annotated[str, typer.Option("--rater", help="the column naming the annotator or perturbation")],
    ids: Annotated[list[str] | None, typer.Option("--id", help="another column that is not a feature (repeat)")] = None,
    kind: Annotated[str, typer.Option("--kind", help="ICC(1,1), ICC(2,1) or ICC(3,1)")] = "ICC(3,1)",
    threshold: Annotated[float, typer.Option("--threshold", min=0, max=1)] = 0.75,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write every feature's ICC (CSV) here")] = None,
    url: Url = None,
) -> None:
    """Which features stay put between annotators or mask perturbations (ICC per feature)."""
    with signed_in(url) as client:
        result = client.feature_stability(table, target, rater, ids=ids or [], kind=kind, threshold=threshold)
    iccs = result["icc"]
    if out is not None:
        out.write_text("feature,icc\n" + "".join(f"{name},{value!r}\n" for name, value in sorted(iccs.items())))
    console.print(
        f"{escape(kind)} over {result['targets']} regions and {result['raters']} raters: "
        f"{len(result['stable'])} of {len(iccs)} features at {threshold:g} or more",
        highlight=False,
    )
    view = listing("least stable features", "feature", fixed("ICC"))
    for name, value in sorted(iccs.items(), key=lambda item: item[1])[:20]:
        view.add_row(escape(name), f"{value:.3f}")
    console.print(view)


# -- statistics ----------------------------------------------------------------------------------

TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")
SHORT_LIST = 8  # lists of numbers up to this long are shown; longer ones (curves) are in result.json
MAX_ROWS = 30  # rows of a result's table shown; every row is in result.json and result.csv
TableRef = Annotated[
    str, typer.Argument(help="a local .csv, .xlsx or .parquet file (uploaded first) or a stored table's id")
]
ResultDir = Annotated[
    Path | None,
    typer.Option("--out", "-o", file_okay=False, help="download result.json, result.csv and the plots (PNG, SVG) here"),
]
Missing = Annotated[
    str | None,
    typer.Option("--missing", help="rows with a missing value: drop (default), mean or median (imputed), fail"),
]
Level = Annotated[float | None, typer.Option("--confidence-level", min=0, max=1, help="of the intervals (0.95)")]


def show_table(table: dict[str, Any]) -> None:
    console.print(
        f"table {escape(table['id'])}: {escape(table['name'])}, {plural(table['rows'], 'row')} "
        f"from {escape(table['source'])}",
        highlight=False,
    )
    view = listing("columns", "column", fixed("type"), fixed("missing"), fixed("distinct"), "values")
    for column in table["columns"]:
        view.add_row(
            escape(column["name"]),
            column["type"],
            str(column["missing"]),
            str(column["distinct"]),
            escape(", ".join(column["values"])),
        )
    console.print(view)


def stored_table(client: Client, ref: str) -> str:
    """The id of a stored table: a local file is uploaded first; anything else is taken as an id."""
    path = Path(ref)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        return ref
    if not path.is_file():
        raise typer.BadParameter(f"'{ref}' is no file", param_hint="TABLE")
    table = client.upload_table(path)
    console.print(
        f"uploaded {escape(path.name)} as table {escape(table['id'])} ({plural(table['rows'], 'row')})",
        highlight=False,
    )
    return str(table["id"])


def given(**parameters: Any) -> dict[str, Any]:
    """The parameters set on the command line (empty lists and None left to the service's defaults)."""
    return {name: value for name, value in parameters.items() if value not in (None, [])}


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def shown(value: Any) -> str:
    """A number as a reader wants it: 4 significant digits (small p-values in exponent form), "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value)
    return escape(str(value))


def result_tables(title: str, result: dict[str, Any]) -> list[Table]:
    """A result as rich tables: its numbers (nested groups of numbers as `group.name`), then a table per list of
    records, then its nested sections. Row lists and long curves are left to result.json."""
    numbers = listing(title, fixed("what"), fixed("value"))
    more: list[Table] = []
    for key, value in result.items():
        if key in ROW_LISTS or value is None or value in ("", [], {}):
            continue
        if is_scalar(value) or (isinstance(value, list) and len(value) <= SHORT_LIST and all(map(is_scalar, value))):
            numbers.add_row(escape(key), shown(value))
        elif isinstance(value, dict) and all(map(is_scalar, value.values())):
            for name, item in value.items():
                numbers.add_row(escape(f"{key}.{name}"), shown(item))
        elif isinstance(value, dict):
            more += result_tables(f"{title}: {key}", value)
        elif isinstance(value, list) and all(isinstance(row, dict) for row in value):
            more.append(records_table(f"{title}: {key}", value))
    return ([numbers] if numbers.row_count else []) + more


def records_table(title: str, records: list[dict[str, Any]]) -> Table:
    columns = list(dict.fromkeys(k for row in records for k, v in row.items() if is_scalar(v)))
    view = listing(title, *[escape(c) if i == 0 else fixed(escape(c)) for i, c in enumerate(columns)])
    for row in records[:MAX_ROWS]:
        view.add_row(*[shown(row.get(column)) for column in columns])
    if len(records) > MAX_ROWS:
        view.caption = f"{len(records) - MAX_ROWS} more rows in result.json"
    return view


def interval(low: Any, high: Any) -> str:
    return f"{shown(low)} to {shown(high)}"


def ci_header(result: dict[str, Any]) -> Column:
    return fixed(f"{float(result.get('confidence_level') or 0.95):.0%} CI")


def regression_tables(result: dict[str, Any]) -> list[Table]:
    """Each term's coefficient, standard error, odds or rate ratio, interval (of the ratio where there is one) and
    p-value; then the goodness of fit."""
    ratio = result.get("ratio_name")
    headers: list[str | Column] = ["term", fixed("coefficient"), fixed("SE")]
    headers += [fixed(ratio), ci_header(result)] if ratio else [ci_header(result)]
    terms = listing(f"{result['model']} regression of {result['outcome']}", *headers, fixed("p"))
    for term in result["terms"]:
        row = [escape(term["name"]), shown(term["coefficient"]), shown(term["std_error"])]
        if ratio:
            row += [shown(term.get("ratio")), interval(term.get("ratio_ci_low"), term.get("ratio_ci_high"))]
        else:
            row.append(interval(term["ci_low"], term["ci_high"]))
        terms.add_row(*row, shown(term["p_value"]))
    return [terms, *result_tables("fit", result.get("fit") or {})]


def cox_tables(result: dict[str, Any]) -> list[Table]:
    """Hazard ratios with their intervals, p-values and proportional-hazards checks; then the model's fit."""
    terms = listing("Cox model: hazard ratios", "term", fixed("HR"), ci_header(result), fixed("p"), fixed("PH test p"))
    for term in result["terms"]:
        terms.add_row(
            escape(term["name"]),
            shown(term["hazard_ratio"]),
            interval(term["hr_ci_low"], term["hr_ci_high"]),
            shown(term["p_value"]),
            shown(term.get("ph_p_value")),
        )
    return [terms, *result_tables("Cox model", {k: v for k, v in result.items() if k != "terms"})]


CLASSIFIER_METRICS = (
    ("ROC AUC", "auc"),
    ("AUC CI (DeLong)", "auc_delong"),
    ("AUC CI (bootstrap)", "auc_bootstrap"),
    ("threshold (Youden)", "threshold"),
    ("sensitivity", "sensitivity"),
    ("specificity", "specificity"),
    ("accuracy", "accuracy"),
    ("F1", "f1"),
    ("Brier score", "brier"),
    ("cases (positive)", "cases"),
)


def classifier_tables(result: dict[str, Any]) -> list[Table]:
    """The metrics out of fold (cross-validation) and on the held-out test, then the ranked importances."""
    parts = [(name, result[key]) for name, key in (("cross-validation", "cv"), ("test", "test")) if result.get(key)]
    metrics = listing(f"{result['model']} predicting {result['outcome']}", "metric", *[fixed(n) for n, _ in parts])
    for name, key in CLASSIFIER_METRICS:
        cells = []
        for _, evaluation in parts:
            value = evaluation.get(key)
            if isinstance(value, dict):  # an interval
                cells.append(f"{interval(value.get('low'), value.get('high'))} ({float(value.get('level', 0.95)):.0%})")
            elif key == "cases":
                cells.append(f"{value} ({evaluation.get('positives')})")
            else:
                cells.append(shown(value))
        metrics.add_row(name, *cells)
    tables = [metrics]
    ranked = result.get("permutation_importance") or []
    if ranked:
        importance = listing("permutation importance (fall in test AUC)", "feature", fixed("importance"), fixed("SD"))
        for entry in ranked[:MAX_ROWS]:
            importance.add_row(escape(entry["feature"]), shown(entry["importance"]), shown(entry.get("spread")))
        tables.append(importance)
    if result.get("hyperparameters"):
        chosen = ", ".join(f"{name}={shown(value)}" for name, value in result["hyperparameters"].items())
        tables[0].caption = f"hyperparameters chosen: {chosen}"
    return tables


def hypothesis_tables(result: dict[str, Any]) -> list[Table]:
    """The statistic, p-value, effect size and the estimate with its interval, named as the test names them."""
    view = listing(str(result.get("method") or result.get("test") or "test"), fixed("what"), fixed("value"))
    lines = [
        (result.get("statistic_name") or "statistic", result.get("statistic")),
        ("degrees of freedom", result.get("degrees_of_freedom")),
        ("p-value", result.get("p_value")),
        (result.get("effect_size_name") or "effect size", result.get("effect_size")),
        (result.get("estimate_name") or "estimate", result.get("estimate")),
    ]
    for name, value in lines:
        if value is not None:
            view.add_row(escape(name), shown(value))
    if result.get("ci_low") is not None:
        view.add_row(
            f"{float(result.get('confidence_level') or 0.95):.0%} CI", interval(result["ci_low"], result["ci_high"])
        )
    for group, n in zip(result.get("groups") or [], result.get("n") or [], strict=False):
        view.add_row(f"n {escape(str(group))}", str(n))
    for note in result.get("notes") or []:
        view.add_row("note", escape(note))
    return [view]


def table_one_tables(result: dict[str, Any]) -> list[Table]:
    """A Table 1 as a paper prints it: a column per group, then the p-value and its test."""
    groups = [f"{name} (n={n})" for name, n in zip(result["columns"], result["column_n"], strict=True)]
    view = listing(f"Table 1{' by ' + result['group'] if result.get('group') else ''}", "variable", "", *groups)
    if result.get("group"):
        view.add_column("p", no_wrap=True)
        view.add_column("test")
    for row in result["rows"]:
        cells = [escape(row["variable"] if not row["level"] else ""), escape(row["level"] or row["statistic"])]
        cells += [escape(cell["text"]) for cell in row["cells"]]
        if result.get("group"):
            p_value = row.get("p_value")
            cells += ["" if p_value is None else shown(p_value), escape(row.get("test") or "")]
        view.add_row(*cells)
    return [view]


VIEWS = {
    "test": hypothesis_tables,
    "regression": regression_tables,
    "cox": cox_tables,
    "classifier": classifier_tables,
    "table-one": table_one_tables,
}
ROW_LISTS = frozenset({"rows_used", "rows_dropped", "train_rows", "test_rows", "imputed"})  # said after the tables


def print_analysis(analysis: dict[str, Any]) -> None:
    result = analysis["result"]
    if not isinstance(result, dict):
        result = {"result": result}
    view = VIEWS.get(analysis["kind"])
    for table in view(result) if view is not None else result_tables(analysis["kind"], result):
        console.print(table)
    dropped = analysis["rows_dropped"]
    console.print(
        f"result {escape(analysis['id'])}: {plural(len(analysis['rows_used']), 'row')} used"
        + (f", {plural(len(dropped), 'row')} dropped for missing values" if dropped else ""),
        highlight=False,
    )


def download_analysis(client: Client, analysis: dict[str, Any], out: Path) -> list[Path]:
    """Writes a result's JSON, CSV, plots (PNG and SVG) and trained model into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    urls = [analysis["json_url"], analysis["csv_url"], analysis["model_url"]]
    urls += [url for plot in analysis["plots"] for url in (plot["png_url"], plot["svg_url"])]
    files = [url.rpartition("/")[2] for url in urls if url]
    return [client.download_result(analysis["id"], name, out / name) for name in files]


def stored_files(stored: dict[str, Any]) -> list[str]:
    """The files of a result besides its result.json, named from that document: CSV, model, plots (PNG, SVG)."""
    files = (["result.csv"] if stored.get("csv_key") else []) + (["model.joblib"] if stored.get("model_key") else [])
    return files + [f"{plot['name']}.{suffix}" for plot in stored.get("plots") or [] for suffix in ("png", "svg")]


def run_analysis_job(
    table: str, kind: str, parameters: dict[str, Any], job_id: str, out: Path | None, url: str | None
) -> None:
    """Runs an analysis as a job (the table uploaded first when it is a file), follows it with a progress bar, then
    prints its result as :func:`run_analyses` does and downloads it into ``out``."""
    with signed_in(url) as client, tempfile.TemporaryDirectory(prefix="radscholar-") as scratch:
        table_id = stored_table(client, table)
        job = client.start_analysis_job(table_id, kind, job_id=job_id, **parameters)
        console.print(
            f"job [bold]{escape(job['id'])}[/bold]: {escape(kind)} on table {escape(table_id)}, {state_text(job)}",
            highlight=False,
        )
        job = follow_job(client, job["id"], STATS_JOBS)
        print_job_end(job)  # exit code 1 unless it succeeded
        result_id = job["result"]["result_id"]
        folder = out if out is not None else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        stored = json.loads(client.download_result(result_id, "result.json", folder / "result.json").read_text())
        print_analysis(stored)
        if out is not None:
            written = [client.download_result(result_id, name, out / name) for name in stored_files(stored)]
            console.print(f"{plural(len(written) + 1, 'file')} written to {escape(str(out))}", highlight=False)


def run_analyses(table: str, steps: list[tuple[str, dict[str, Any]]], out: Path | None, url: str | None) -> None:
    """Runs the analyses on a table (uploaded first when it is a file), prints each, and downloads each into
    ``out`` (into ``out/<kind>`` when there are several)."""
    with signed_in(url) as client:
        table_id = stored_table(client, table)
        for kind, parameters in steps:
            analysis = client.analyse(table_id, kind, **parameters)
            print_analysis(analysis)
            if out is not None:
                folder = out / kind if len(steps) > 1 else out
                written = download_analysis(client, analysis, folder)
                console.print(f"{plural(len(written), 'file')} written to {escape(str(folder))}", highlight=False)


@statistics_tables.command("upload")
def stats_tables_upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a .csv, .xlsx or .parquet table")],
    name: Annotated[str, typer.Option("--name", help="its name (default: the file's)")] = "",
    url: Url = None,
) -> None:
    """Store a table to analyse; its columns are typed (numeric, binary, categorical, date, text)."""
    with signed_in(url) as client:
        show_table(client.upload_table(file, name=name))


@statistics_tables.command("from-radiomics")
def stats_tables_from_radiomics(
    job_id: Annotated[str, typer.Argument(help="a finished radiomics batch job")], url: Url = None
) -> None:
    """Store a radiomics job's feature table as a table to analyse."""
    with signed_in(url) as client:
        show_table(client.table_from_radiomics(job_id))


@statistics_tables.command("from-training")
def stats_tables_from_training(
    run_id: Annotated[str, typer.Argument(help="a finished training run")], url: Url = None
) -> None:
    """Store a training run's predictions (validation and test splits) as a table to analyse."""
    with signed_in(url) as client:
        show_table(client.table_from_training(run_id))


@statistics_tables.command("show")
def stats_tables_show(table_id: Annotated[str, typer.Argument(help="a stored table's id")], url: Url = None) -> None:
    """A stored table's columns: type, missing values, categories."""
    with signed_in(url) as client:
        show_table(client.table(table_id))


@statistics.command("test")
def stats_test(
    table: TableRef,
    test: Annotated[
        str,
        typer.Option(
            "--test",
            help="student_t, welch_t, paired_t, mann_whitney_u, wilcoxon, anova, kruskal_wallis, chi_square, "
            "fisher_exact, mcnemar, shapiro_wilk, pearson or spearman",
        ),
    ],
    variable: Annotated[str, typer.Option("--variable", help="the column tested")],
    group: Annotated[str | None, typer.Option("--group", help="the column of the groups compared")] = None,
    second: Annotated[str | None, typer.Option("--second", help="the paired or correlated column")] = None,
    confidence_level: Level = None,
    missing: Missing = None,
    out: ResultDir = None,
    url: Url = None,
) -> None:
    """A hypothesis test with its effect size and confidence interval."""
    parameters = given(
        test=test, variable=variable, group=group, second=second, confidence_level=confidence_level, missing=missing
    )
    run_analyses(table, [("test", parameters)], out, url)


@statistics.command("regress")
def stats_regress(
    table: TableRef,
    outcome: Annotated[str, typer.Option("--outcome", help="the column modelled")],
    predictor: Annotated[list[str], typer.Option("--predictor", help="a predictor column (repeat)")],
    model: Annotated[str, typer.Option("--model", help="linear, logistic or poisson")] = "linear",
    confidence_level: Level = None,
    missing: Missing = None,
    out: ResultDir = None,
    url: Url = None,
) -> None:
    """Linear, logistic or Poisson regression: coefficients, intervals, p-values, odds or rate ratios, fit."""
    parameters = given(
        outcome=outcome, predictors=predictor, model=model, confidence_level=confidence_level, missing=missing
    )
    run_analyses(table, [("regression", parameters)], out, url)


@statistics.command("survival")
def stats_survival(
    table: TableRef,
    follow_up: Annotated[str, typer.Option("--time", help="the column of follow-up times")],
    event: Annotated[str, typer.Option("--event", help="the column of events: 1 event, 0 censored")],
    group: Annotated[str | None, typer.Option("--group", help="curves by group, and the log-rank test")] = None,
    covariate: Annotated[list[str] | None, typer.Option("--covariate", help="a Cox model's covariate (repeat)")] = None,
    strata: Annotated[list[str] | None, typer.Option("--strata", help="a Cox model's stratum column (repeat)")] = None,
    confidence_level: Level = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", file_okay=False, help="download each analysis' results and plots into DIR/<kind>"),
    ] = None,
    url: Url = None,
) -> None:
    """Kaplan-Meier curves; with --group the log-rank test; with --covariate a Cox model (hazard ratios)."""
    steps = [("kaplan-meier", given(time=follow_up, event=event, group=group, confidence_level=confidence_level))]
    if group:
        steps.append(("log-rank", {"time": follow_up, "event": event, "group": group}))
    if covariate:
        cox = given(time=follow_up, event=event, covariates=covariate, strata=strata, confidence_level=confidence_level)
        steps.append(("cox", cox))
    run_analyses(table, steps, out, url)


@statistics.command("ml")
def stats_ml(
    table: TableRef,
    outcome: Annotated[str, typer.Option("--outcome", help="the binary column predicted")],
    feature: Annotated[list[str], typer.Option("--feature", help="a feature column (repeat)")],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="decision_tree, random_forest, logistic_l1, logistic_l2, glm, naive_bayes, svm or xgboost",
        ),
    ] = "random_forest",
    folds: Annotated[int | None, typer.Option("--folds", min=2, help="stratified cross-validation folds")] = None,
    test_fraction: Annotated[
        float | None, typer.Option("--test-fraction", min=0, max=1, help="rows held out for the test")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0)] = None,
    job: Annotated[
        bool, typer.Option("--job", help="run it as a job on Ray (long searches), followed with a progress bar")
    ] = False,
    job_id: Annotated[
        str, typer.Option("--job-id", help="with --job: your id for the job, so a retry never starts another")
    ] = "",
    out: ResultDir = None,
    url: Url = None,
) -> None:
    """Train a classifier (search inside the folds, a held-out test): AUC with its CI, sensitivity, specificity,
    calibration, importance."""
    if job_id and not job:
        raise typer.BadParameter("only with --job", param_hint="--job-id")
    parameters = given(
        outcome=outcome, features=feature, model=model, folds=folds, test_fraction=test_fraction, seed=seed
    )
    if job:
        run_analysis_job(table, "classifier", parameters, job_id, out, url)
    else:
        run_analyses(table, [("classifier", parameters)], out, url)


@statistics.command("table-one")
def stats_table_one(
    table: TableRef,
    variable: Annotated[list[str], typer.Option("--variable", help="a variable described (repeat)")],
    group: Annotated[str | None, typer.Option("--group", help="a column per group, with a test per variable")] = None,
    missing: Missing = None,
    out: ResultDir = None,
    url: Url = None,
) -> None:
    """A "Table 1": each variable described, by group, with the test that fits its type."""
    run_analyses(table, [("table-one", given(variables=variable, group=group, missing=missing))], out, url)


AnalysisJobId = Annotated[str, typer.Argument(help="an analysis job's id")]


@statistics.command("job")
def stats_job_status(
    job_id: Annotated[str | None, typer.Argument(help="an analysis job (default: list your jobs)")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="follow the job until it ends")] = False,
    lines: Annotated[int, typer.Option("--lines", min=0, help="how many of its last log lines to show")] = 20,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="how many jobs to list")] = 50,
    url: Url = None,
) -> None:
    """Your analysis jobs, newest first; or one (`stats ml --job`) with its last log lines, --watch following it.
    Its result_id's files download with `radscholar stats ... --out` or the SDK's download_result."""
    job_status(url, job_id, watch, lines, limit, STATS_JOBS)


@statistics.command("cancel")
def stats_cancel(job_id: AnalysisJobId, url: Url = None) -> None:
    """Stop a queued or running analysis job."""
    cancel_job(url, job_id, STATS_JOBS)


# --- training and registered models -----------------------------------------------------------------

train = typer.Typer(
    help="Deep learning without code: the model zoo, training runs on Ray, their logs and curves.",
    no_args_is_help=True,
)
models = typer.Typer(
    help="Registered models: versions, comparison, promotion, export; custom networks to train.", no_args_is_help=True
)
app.add_typer(train, name="train")
app.add_typer(models, name="models")


class TrainTask(StrEnum):
    classification = "classification"
    segmentation = "segmentation"
    detection = "detection"


class ModelFormat(StrEnum):
    torchscript = "torchscript"
    onnx = "onnx"
    mlflow = "mlflow"


class CustomFormat(StrEnum):
    torchscript = "torchscript"
    monai_bundle = "monai_bundle"


TRAINING_JOBS = JobCommands(
    "train status",
    "train cancel",
    Client.training_job,
    Client.wait_for_training_job,
    Client.cancel_training,
    lambda client, limit: client.training_jobs(page_size=limit),
    "training jobs",
    "radscholar train start --dataset ID --task classification --dims 3",
)
EXPORT_SUFFIXES = {ModelFormat.torchscript: "pt", ModelFormat.onnx: "onnx", ModelFormat.mlflow: "zip"}
TaskOption = Annotated[
    TrainTask, typer.Option("--task", case_sensitive=False, help="classification, segmentation or detection")
]
Dims = Annotated[int, typer.Option("--dims", min=2, max=3, help="spatial dimensions: 2 or 3")]
TrainingJobId = Annotated[str, typer.Argument(help="a training job's id")]
RunId = Annotated[str, typer.Argument(help="a training run's id (the id of its first job)")]
ModelName = Annotated[str, typer.Argument(help="a registered model's name")]
ModelVersionNumber = Annotated[int, typer.Argument(min=1, help="its version number")]
Watch = Annotated[bool, typer.Option("--watch", help="follow the job until it ends")]


def setting_of(text: str) -> tuple[list[str], Any]:
    """`--set optimizer.learning_rate=3e-4`: the setting's dotted name, split, and its value (JSON, else the text)."""
    name, equals, raw = text.partition("=")
    path = name.strip().split(".")
    if not equals or not all(path):
        raise typer.BadParameter(
            f"'{text}': give name=value, such as optimizer.learning_rate=0.0003 or preprocessing.size=[64,64,64]",
            param_hint="--set",
        )
    try:
        return path, json.loads(raw)
    except ValueError:
        return path, raw  # a word, such as optimizer.name=sgd


def run_settings(file: Path | None, architecture: str, changes: Sequence[str]) -> dict[str, Any]:
    """The settings to send: the file's, then --architecture, then each --set over them."""
    settings: dict[str, Any] = {}
    if file is not None:
        try:
            settings = json.loads(file.read_text())
        except ValueError as exc:
            raise typer.BadParameter(f"'{file}' is not JSON: {exc}", param_hint="--settings") from None
        if not isinstance(settings, dict):
            raise typer.BadParameter(f"'{file}' must hold a JSON object of settings", param_hint="--settings")
    if architecture:
        settings["architecture"] = architecture
    for text in changes:
        path, value = setting_of(text)
        group = settings
        for name in path[:-1]:
            if not isinstance(group.get(name), dict):
                group[name] = {}
            group = group[name]
        group[path[-1]] = value
    return settings


def flat_settings(settings: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Dotted names and their values as JSON (a word as itself)."""
    for name, value in settings.items():
        if isinstance(value, dict) and value:
            yield from flat_settings(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value if isinstance(value, str) else json.dumps(value)


def case_counts(cases: dict[str, int]) -> str:
    return ", ".join(f"{cases.get(split, 0)} {split}" for split in ("train", "validation", "test")) + " cases"


def follow_training(client: Client, job: dict[str, Any]) -> None:
    """Follows a training job with a progress bar until it ends; exit code 1 unless it succeeded."""
    ended = follow_job(client, job["id"], TRAINING_JOBS)
    print_job_end(ended)


@train.command("architectures")
def train_architectures(
    task: Annotated[
        TrainTask | None, typer.Option("--task", case_sensitive=False, help="only networks for this task")
    ] = None,
    dims: Annotated[int, typer.Option("--dims", min=0, max=3, help="only networks for 2 or 3 dimensions")] = 0,
    url: Url = None,
) -> None:
    """The networks of the model zoo, and the custom networks imported (`models import`)."""
    with signed_in(url) as client:
        found = client.architectures(task.value if task else "", dims)
    table = listing(f"architectures ({len(found)})", fixed("id"), "name", fixed("task"), fixed("dims"), "description")
    for network in found:
        table.add_row(
            escape(network["id"]),
            escape(network["display_name"]),
            network["task"].lower(),
            "/".join(f"{d}D" for d in network["spatial_dims"]),
            escape(network["description"]),
        )
    console.print(table)


@train.command("defaults")
def train_defaults(task: TaskOption, dims: Dims, url: Url = None) -> None:
    """Every setting of a run with its default, as JSON: save it, edit it, start with `train start --settings`."""
    with signed_in(url) as client:
        settings = client.training_defaults(task.value, dims)
    typer.echo(json.dumps(settings, indent=2))


@train.command("start")
def train_start(
    dataset: Annotated[str, typer.Option("--dataset", help="a frozen dataset version's id")],
    task: TaskOption,
    dims: Dims,
    architecture: Annotated[
        str,
        typer.Option(
            "--architecture",
            help="a network (see `train architectures`); default resnet18, unet, or retinanet (3D) / fasterrcnn (2D)",
        ),
    ] = "",
    changes: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="change a setting: dotted name=JSON value, e.g. optimizer.learning_rate=3e-4 (repeat)"
        ),
    ] = None,
    settings_file: Annotated[
        Path | None,
        typer.Option("--settings", exists=True, dir_okay=False, help="settings as JSON (see `train defaults`)"),
    ] = None,
    model_name: Annotated[
        str, typer.Option("--model-name", help="the registered model's name (default: <project>-<architecture>)")
    ] = "",
    job_id: Annotated[
        str, typer.Option("--job-id", help="your id for the job and run, so a retry never starts another")
    ] = "",
    validate_only: Annotated[
        bool, typer.Option("--validate-only", help="only check the settings and the dataset version")
    ] = False,
    watch: Watch = False,
    url: Url = None,
) -> None:
    """Train a network on a dataset version as a job on Ray (its train split trains, its validation split picks the
    best epoch, which is registered as a model version)."""
    if validate_only and watch:
        raise typer.BadParameter("a validation starts no job: leave out --watch", param_hint="--watch")
    settings = run_settings(settings_file, architecture, changes or [])
    with signed_in(url) as client:
        started = client.start_training(
            dataset, task.value, dims, settings, model_name=model_name, job_id=job_id, validate_only=validate_only
        )
        chosen = started["settings"]
        if validate_only:
            console.print(
                f"settings are valid: {escape(str(chosen.get('architecture')))} on dataset version {escape(dataset)} "
                f"({case_counts(started['cases'])})",
                highlight=False,
            )
            table = listing("settings", fixed("setting"), "value")
            for name, value in flat_settings(chosen):
                table.add_row(escape(name), escape(value))
            console.print(table)
            return
        job = started["job"]
        console.print(
            f"job [bold]{escape(job['id'])}[/bold]: {escape(str(chosen.get('architecture')))} on dataset version "
            f"{escape(dataset)} ({case_counts(started['cases'])}), {state_text(job)}",
            highlight=False,
        )
        if not watch:
            console.print(f"follow it with: radscholar train status {escape(job['id'])} --watch", highlight=False)
            return
        follow_training(client, job)


@train.command("status")
def train_status(
    job_id: Annotated[str | None, typer.Argument(help="a training job (default: list the jobs)")] = None,
    watch: Watch = False,
    lines: Annotated[int, typer.Option("--lines", min=0, help="how many of its last log lines to show")] = 20,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="how many jobs to list")] = 50,
    url: Url = None,
) -> None:
    """Your training jobs, newest first; or one job with its last log lines (--watch: follow it)."""
    job_status(url, job_id, watch, lines, limit, TRAINING_JOBS)


@train.command("logs")
def train_logs(job_id: TrainingJobId, url: Url = None) -> None:
    """The whole log of a training job, as Ray kept it (driver and workers)."""
    with signed_in(url) as client:
        text = client.training_logs(job_id)
    typer.echo(text, nl=not text.endswith("\n"))


@train.command("cancel")
def train_cancel(job_id: TrainingJobId, url: Url = None) -> None:
    """Stop a queued or running training job; `train resume` continues its run from its last checkpoint."""
    cancel_job(url, job_id, TRAINING_JOBS)


@train.command("resume")
def train_resume(run_id: RunId, watch: Watch = False, url: Url = None) -> None:
    """Continue a cancelled or failed run from its last checkpoint, as a new job."""
    with signed_in(url) as client:
        job = client.resume_training(run_id)
        console.print(
            f"job [bold]{escape(job['id'])}[/bold] continues run {escape(run_id)}: {state_text(job)}", highlight=False
        )
        if not watch:
            console.print(f"follow it with: radscholar train status {escape(job['id'])} --watch", highlight=False)
            return
        follow_training(client, job)


@train.command("metrics")
def train_metrics(run_id: RunId, url: Url = None) -> None:
    """A run's curves, epoch by epoch (live while it trains)."""
    with signed_in(url) as client:
        metrics = client.run_metrics(run_id)
    curves = {curve["name"]: {int(p["epoch"]): p["value"] for p in curve["points"]} for curve in metrics["curves"]}
    if not curves:
        console.print(f"run {escape(run_id)} has no metrics yet", highlight=False)
        return
    names = sorted(curves)
    table = listing(f"run {escape(run_id)} (MLflow run {escape(metrics['mlflow_run_id'])})", fixed("epoch"))
    for name in names:
        table.add_column(escape(name), justify="right", no_wrap=True)
    for epoch in sorted({epoch for points in curves.values() for epoch in points}):
        values = [curves[name].get(epoch) for name in names]
        table.add_row(str(epoch), *("-" if value is None else f"{value:.4g}" for value in values))
    console.print(table)


@train.command("predictions")
def train_predictions(
    run_id: RunId,
    out: Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="the CSV file to write")],
    url: Url = None,
) -> None:
    """Download a finished run's predictions on its validation and test splits (CSV)."""
    with signed_in(url) as client:
        client.download_predictions(run_id, out)
    console.print(f"predictions written to {escape(str(out))}", highlight=False)


def model_ref(text: str) -> tuple[str, int]:
    """NAME:VERSION, such as lung-nodules-resnet18:3."""
    name, _, version = text.rpartition(":")
    if not name or not version.isdigit() or int(version) < 1:
        raise typer.BadParameter(f"'{text}': give NAME:VERSION, such as lung-nodules-resnet18:3", param_hint="VERSIONS")
    return name, int(version)


def metric_summary(version: dict[str, Any]) -> str:
    """Its validation and test metrics, losses left out."""
    shown = sorted(k for k in version["metrics"] if k.startswith(("val_", "test_")) and not k.endswith("loss"))
    return ", ".join(f"{name} {version['metrics'][name]:.3f}" for name in shown)


def status_colour(status: str) -> str:
    colour = {"PRODUCTION": "green", "ARCHIVED": "dim"}.get(status)
    return f"[{colour}]{status}[/{colour}]" if colour else status


@models.command("list")
def models_list(
    name: Annotated[str, typer.Option("--name", help="only this registered model")] = "", url: Url = None
) -> None:
    """Registered model versions, newest first."""
    with signed_in(url) as client:
        versions = client.model_versions(name)
    if not versions:
        console.print("no registered model yet: a training run registers its best epoch", highlight=False)
        return
    columns = ("model", fixed("version"), fixed("status"), "architecture", "metrics", "registered")
    table = listing(f"model versions ({len(versions)})", *columns)
    for version in versions:
        table.add_row(
            escape(version["name"]),
            str(version["version"]),
            status_colour(version["status"]),
            escape(version["tags"].get("architecture", "-")),
            escape(metric_summary(version)),
            when(version.get("created_at")),
        )
    console.print(table)


@models.command("show")
def models_show(name: ModelName, version: ModelVersionNumber, url: Url = None) -> None:
    """One model version: its status, metrics, tags and the settings it was trained with."""
    with signed_in(url) as client:
        found = client.model_version(name, version)
    table = Table(show_header=False, box=None)
    table.add_row("model", escape(found["name"]))
    table.add_row("version", str(found["version"]))
    table.add_row("status", status_colour(found["status"]))
    table.add_row("registered", when(found.get("created_at"), seconds=True))
    table.add_row("MLflow run", escape(found["mlflow_run_id"]))
    console.print(table)
    for title, values in (("metrics", found["metrics"]), ("tags", found["tags"]), ("settings", found["params"])):
        if values:
            shown = listing(title, fixed("name"), "value")
            for key, value in sorted(values.items()):
                shown.add_row(escape(key), f"{value:.6g}" if isinstance(value, float) else escape(str(value)))
            console.print(shown)


@models.command("compare")
def models_compare(
    versions: Annotated[list[str], typer.Argument(help="two or more NAME:VERSION, such as nodules-resnet18:3")],
    url: Url = None,
) -> None:
    """Model versions side by side: their common metrics and the settings that differ."""
    refs = [model_ref(text) for text in versions]
    if len(refs) < 2:
        raise typer.BadParameter("compare two or more model versions", param_hint="VERSIONS")
    with signed_in(url) as client:
        compared = client.compare_models(refs)
    found = compared["versions"]
    table = listing("comparison", fixed(""), *(fixed(f"{v['name']}:{v['version']}") for v in found))
    table.add_row("status", *(status_colour(v["status"]) for v in found))
    for metric in compared["common_metrics"]:
        table.add_row(escape(metric), *(f"{v['metrics'][metric]:.4g}" for v in found))
    for param in compared["differing_params"]:
        table.add_row(escape(param), *(escape(v["params"].get(param, "-")) for v in found))
    console.print(table)
    if not compared["differing_params"]:
        console.print("they were trained with the same settings", highlight=False)


@models.command("promote")
def models_promote(name: ModelName, version: ModelVersionNumber, url: Url = None) -> None:
    """Make a version its model's production version (the one before becomes a candidate again)."""
    with signed_in(url) as client:
        changed = client.promote_model(name, version)
    console.print(f"{escape(name)}:{version} is {status_colour(changed['status'])}", highlight=False)


@models.command("archive")
def models_archive(name: ModelName, version: ModelVersionNumber, url: Url = None) -> None:
    """Retire a model version (it can be promoted again)."""
    with signed_in(url) as client:
        changed = client.archive_model(name, version)
    console.print(f"{escape(name)}:{version} is {status_colour(changed['status'])}", highlight=False)


@models.command("export")
def models_export(
    name: ModelName,
    version: ModelVersionNumber,
    format: Annotated[ModelFormat, typer.Option("--format", case_sensitive=False, help="torchscript, onnx or mlflow")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", dir_okay=False, help="the file (default: NAME-vVERSION.pt/.onnx/.zip)")
    ] = None,
    url: Url = None,
) -> None:
    """Download a model version as TorchScript, ONNX or an MLflow model (zipped)."""
    path = out or Path(f"{name}-v{version}.{EXPORT_SUFFIXES[format]}")
    with signed_in(url) as client:
        client.export_model(name, version, format.value, path)
    console.print(f"wrote {escape(str(path))} ({human_bytes(path.stat().st_size)})", highlight=False)


@models.command("test")
def models_test(
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[int, typer.Argument(min=1, help="version number")],
    dataset: Annotated[str, typer.Option("--dataset", help="a dataset version with the model's classes")],
    split: Annotated[str, typer.Option("--split", help="test (default), validation, train or all")] = "test",
    threshold: Annotated[
        float | None, typer.Option("--threshold", min=0, max=1, help="positive class threshold (default: Youden)")
    ] = None,
    job_id: Annotated[str, typer.Option("--job-id", help="an id of your choosing (also the evaluation's)")] = "",
    sites: Annotated[list[str] | None, typer.Option("--site", help="only this site's cases (repeat for more)")] = None,
    series: Annotated[
        list[str] | None, typer.Option("--series", help="only the case of this series (repeat for more)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="a folder for the report, plots and predictions")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow the test with a progress bar")] = True,
    url: Url = None,
) -> None:
    """Test a model version on a dataset version's split: metrics with confidence intervals, per site, plots."""
    if split not in ("test", "validation", "train", "all"):
        raise typer.BadParameter(f"'{split}': test, validation, train or all", param_hint="--split")
    with signed_in(url) as client:
        started = client.test_model(
            name,
            version,
            dataset,
            split=split,  # type: ignore[arg-type]  # one of the four, checked above
            threshold=threshold,
            job_id=job_id,
            sites=sites or [],
            series=series or [],
        )
        job = started["job"]
        console.print(
            f"evaluation [bold]{escape(job['id'])}[/bold]: {escape(name)} version {version} on {started['cases']} "
            f"cases of {escape(dataset)} ({escape(split)})",
            highlight=False,
        )
        if not wait:
            console.print(f"then: radscholar models evaluation {escape(job['id'])}", highlight=False)
            return
        ended = follow_job(client, job["id"], TRAINING_JOBS)
        print_job_end(ended)
        if out is not None:
            save_evaluation(client, job["id"], out)


@models.command("evaluation")
def models_evaluation(
    evaluation_id: Annotated[str, typer.Argument(help="a finished test (its job's id)")],
    out: Annotated[Path | None, typer.Option("--out", help="a folder for the report, plots and predictions")] = None,
    url: Url = None,
) -> None:
    """A finished test's headline metrics; --out writes the whole report, its plots and the predictions."""
    with signed_in(url) as client:
        found = client.evaluation(evaluation_id)
        model = found["model"]
        console.print(
            f"{escape(model['name'])} version {model['version']} on {escape(found['dataset_id'])} "
            f"({escape(found['split'])}); plots: {', '.join(found['plots'])}",
            highlight=False,
        )
        table = Table(show_header=False, box=None)
        for metric, value in sorted(found["report"].get("headline", {}).items()):
            table.add_row(escape(metric), escape(f"{value:.4g}" if isinstance(value, float) else str(value)))
        console.print(table)
        if out is not None:
            save_evaluation(client, evaluation_id, out)


def save_evaluation(client: Client, evaluation_id: str, out: Path) -> None:
    """The report (JSON), its plots (PNG) and the predictions (CSV) of a test, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    found = client.evaluation(evaluation_id)
    (out / "report.json").write_text(json.dumps(found, indent=2))
    for file in ["predictions.csv", *(f"{plot}.png" for plot in found["plots"])]:
        client.download_evaluation(evaluation_id, file, out / file)
    console.print(f"written to {escape(str(out))}", highlight=False)


DETECTIONS_SHOWN = 10


@models.command("predict")
def models_predict(
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[int, typer.Argument(min=1, help="version number")],
    series: Annotated[
        str, typer.Argument(help="a series UID of the store, or DICOM files of one series (file, folder)")
    ],
    dicom: Annotated[bool, typer.Option("--dicom", help="also a DICOM SEG or Secondary Capture")] = False,
    out: Annotated[Path, typer.Option("--out", help="a folder for the overlay PNG (and DICOM)")] = Path("."),
    url: Url = None,
) -> None:
    """Try a model version on one series: class probabilities with a Grad-CAM heat map, a mask with volumes, or
    boxes with scores (the best ten shown)."""
    with signed_in(url) as client:
        try:
            found = client.predict(
                name, version, Path(series) if Path(series).exists() else series, dicom=dicom, out=out
            )
        except ValueError as problem:
            raise typer.BadParameter(str(problem), param_hint="SERIES") from None
    table = Table(show_header=False, box=None)
    for label, value in sorted(found["probabilities"].items()):
        table.add_row(escape(label), f"{value:.3f}" + ("  <- predicted" if label == found["predicted_class"] else ""))
    for label, value in sorted(found["volumes"].items()):
        table.add_row(escape(label), f"{value:.2f}")
    for n, finding in enumerate(found.get("detections", [])[:DETECTIONS_SHOWN], start=1):
        corners = " - ".join(", ".join(f"{v:.0f}" for v in corner) for corner in (finding["min"], finding["max"]))
        table.add_row(f"{n}. {escape(finding['class_name'])}", f"{finding['score']:.3f}  ({corners})")
    console.print(table)
    console.print(f"overlay and DICOM written to {escape(str(out))} ({found['seconds']:.2f} s)", highlight=False)


@models.command("predict-batch")
def models_predict_batch(
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[int, typer.Argument(min=1, help="version number")],
    series: Annotated[list[str], typer.Argument(help="series UIDs of the store")],
    project: Annotated[
        str, typer.Option("--project", help="then write the classes or boxes into this project's tasks as pre-labels")
    ] = "",
    annotator: Annotated[str, typer.Option("--annotator", help="whose tasks get the pre-labels")] = "",
    min_score: Annotated[
        float, typer.Option("--min-score", min=0, max=1, help="a detector's boxes scoring at least this")
    ] = 0.5,
    out: Annotated[Path | None, typer.Option("--out", help="write the predictions table (CSV) here")] = None,
    url: Url = None,
) -> None:
    """Run a model version on many series as a job, then (with --project) pre-label the project's cases."""
    with signed_in(url) as client:
        job = client.batch_predict(name, version, series)
        ended = follow_job(client, job["id"], TRAINING_JOBS)
        print_job_end(ended)
        if out is not None:
            client.download_batch_predictions(job["id"], out)
        if project:
            written = client.write_prelabels(job["id"], project, annotator_id=annotator, min_score=min_score)
            console.print(
                f"{written['labels']} pre-labels in {written['cases']} cases, source {escape(written['source'])}",
                highlight=False,
            )


@models.command("weights")
def models_weights(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a PyTorch checkpoint (state dict)")],
    url: Url = None,
) -> None:
    """Upload weights for a run to start from (its pretrained.weights_key)."""
    with signed_in(url) as client:
        uploaded = client.import_weights(file)
    console.print(f"{uploaded['tensors']} tensors kept as {escape(uploaded['weights_key'])}", highlight=False)
    key = escape(uploaded["weights_key"])
    console.print(f"start from them: radscholar train start ... --set pretrained.weights_key={key}", highlight=False)


@models.command("import")
def models_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a TorchScript file or a MONAI bundle zip")],
    format: Annotated[CustomFormat, typer.Option("--format", case_sensitive=False, help="torchscript or monai_bundle")],
    task: TaskOption,
    dims: Dims,
    in_channels: Annotated[int, typer.Option("--in-channels", min=1, help="input channels")],
    patch_size: Annotated[
        str, typer.Option("--patch-size", help="an input size it accepts, one per dimension: 32,32,32")
    ],
    name: Annotated[str, typer.Option("--name", help="the name researchers see (default: the file's)")] = "",
    url: Url = None,
) -> None:
    """Import your own network to train or fine-tune; it is checked with one forward pass."""
    try:
        patch = [int(side) for side in patch_size.split(",")]
    except ValueError:
        raise typer.BadParameter(f"'{patch_size}': give sizes separated by commas", param_hint="--patch-size") from None
    if len(patch) != dims or min(patch) < 1:
        raise typer.BadParameter(f"give {dims} positive sizes, one per dimension", param_hint="--patch-size")
    with signed_in(url) as client:
        imported = client.import_custom_model(
            file,
            format=format.value,
            task=task.value,
            spatial_dims=dims,
            in_channels=in_channels,
            patch_size=patch,
            display_name=name,
        )
    network = imported["architecture"]
    console.print(
        f"imported {escape(network['id'])} ({escape(network['display_name'])}): "
        f"{imported['parameters']:,} parameters, output {tuple(imported['output_shape'])}",
        highlight=False,
    )
    console.print(
        f"train it with: radscholar train start --dataset ID --task {task.value} --dims {dims} "
        f"--architecture {escape(network['id'])}",
        highlight=False,
    )
