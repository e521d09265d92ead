"""``sluice serve`` and ``sluice users``: run the API and dashboard; create and list API keys.

``register(app)`` adds the commands to the ``sluice`` typer app. ``users add`` prints the new key
alone as its last line (the only time it is shown; the database keeps a salted hash).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

users_app = typer.Typer(help="API keys of the service: add, list, revoke.", no_args_is_help=True)


def _store() -> object:
    from sluicegate.ledger.errors import DatabaseNotReady
    from sluicegate.service.settings import Settings
    from sluicegate.service.store import Store

    try:
        return Store(Settings.from_env().database_url)
    except DatabaseNotReady as exc:  # e.g. at an older revision: "run `sluice db upgrade`"
        typer.echo(f"sluice: {exc.field}: {exc.message}", err=True)
        raise typer.Exit(2) from None


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="fill the database with demo content (a reserved order book, cloud customers "
            "and telemetry; idempotent) and (re)create a 'demo' compliance key, printed with "
            "the URL, to log in at once (make run)",
        ),
    ] = False,
) -> None:
    """Serve the API and dashboard (database: SLUICE_DATABASE_URL or ./sluicegate.db).

    Example: sluice serve --demo   (then open the printed URL and log in with the printed key)
    """
    import uvicorn

    from sluicegate.service.store import Store

    url = f"http://{host}:{port}/"
    # Open the database here, not first in a worker, so that one not ready (at an older
    # revision: "run `sluice db upgrade`") is one line and exit 2, not a worker's traceback.
    store = _store()
    assert isinstance(store, Store)
    if demo:
        from sluicegate.service.demo import seed_demo
        from sluicegate.service.settings import Settings

        settings = Settings.from_env()
        typer.echo("sluicegate: preparing the demo content (first run: a few seconds)...", err=True)
        seeded = seed_demo(settings)
        key = store.replace_user("demo", "compliance")
        ledger, cloud = seeded["ledger"], seeded["cloud"]
        typer.echo(
            f"demo content in {settings.database_url}: "
            + (
                "the ledger was seeded before"
                if ledger["already_seeded"]
                else f"{ledger['reservations']} reservations"
            )
            + f"; {cloud['customers']} cloud customers checked; {cloud['alerts']} alerts"
        )
        typer.echo(f"dashboard: {url}  (API: {url}docs)")
        typer.echo(f"log in at {url}login with this key (role compliance, new each run):")
        typer.echo(key)
    store.engine.dispose()

    typer.echo(f"sluicegate: serving on {url} (API docs at /docs); Ctrl-C stops", err=True)
    uvicorn.run(
        "sluicegate.service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="who holds the key")],
    role: Annotated[str, typer.Option(help="exporter, compliance, auditor or admin")],
    consignee: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ID",
            help="a consignee this exporter key acts for: it reserves, and sees balances, "
            "history and parties, only for these (repeatable; exporter keys only)",
        ),
    ] = None,
) -> None:
    """Create an API key; it is printed alone on the last line, and never again."""
    from sluicegate.service.store import Store, UserError

    store = _store()
    assert isinstance(store, Store)
    try:
        key = store.add_user(name, role, consignee or [])
    except UserError as exc:
        typer.echo(f"sluice: {exc.field}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    acts = f", consignees {', '.join(consignee)}" if consignee else ""
    typer.echo(f"created key for {name!r} (role {role}{acts}); keep it now, it is not shown again:")
    typer.echo(key)


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Every key's name, role and state (never the key itself)."""
    from sluicegate.service.store import Store

    store = _store()
    assert isinstance(store, Store)
    rows = store.list_users()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "revoked" if row["revoked"] else "active"
        consignees = ",".join(row["consignees"])  # type: ignore[arg-type]
        typer.echo(f"{row['name']}\t{row['role']}\t{state}\t{row['created']}\t{consignees}")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="the key's name")]) -> None:
    """Revoke a key (it stops working at once)."""
    from sluicegate.service.store import Store

    store = _store()
    assert isinstance(store, Store)
    if not store.revoke(name):
        typer.echo(f"sluice: name: no key named {name!r}", err=True)
        raise typer.Exit(2)
    typer.echo(f"revoked {name!r}")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``users`` group to the sluice app."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
