"""The ``sluice`` command. Thin: parses arguments, calls a capability's public API, prints.

Exit codes (contract §3): 0 every record valid, 2 some input invalid (its line says why),
1 internal failure, 3 audit chain broken.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="sluice",
    help="sluicegate: AI chip and model-weight export controls as dated, cited, explainable rules.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
from sluicegate.ledger.commands import register as _register_ledger  # noqa: E402

_register_ledger(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
