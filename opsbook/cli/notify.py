"""`opsbook notify test`: a test message to every configured notification channel."""

from __future__ import annotations

import asyncio

import typer

from opsbook.cli.common import EXIT_PROBLEMS, ConfigOption, err, load_or_exit, say

app = typer.Typer(help="Notification channels.", no_args_is_help=True)


@app.command("test")
def notify_test(config: ConfigOption = None) -> None:
    """Send a test message to every channel; exit 1 if any delivery failed."""
    from opsbook.tasks.notify import send_test_messages

    _, estate = load_or_exit(config)
    channels = [c.name for c in estate.notifications.channels]
    if not channels:
        err.print("no channels configured (notifications.channels)", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS)
    err.print(f"sending a test message to {len(channels)} channel(s) ...", markup=False, highlight=False)
    deliveries = asyncio.run(send_test_messages(estate))
    for d in deliveries:
        say(
            f"{d.channel}: {'sent' if d.ok else 'FAILED'} after {d.attempts} attempt(s)"
            + (f": {d.error}" if d.error else "")
        )
    if any(not d.ok for d in deliveries):
        raise typer.Exit(EXIT_PROBLEMS)
