"""Text from a target stays text outside the HTML reports: in Prefect's markdown and table
artifacts, in Slack messages and on the terminal; and a status page that cannot be written is
reported as such, not as alerts that were not processed.

A real loopback target answers with HTML, markdown, Slack mentions and disguised links and
terminal escape sequences; what comes out is read back where a user meets it: the Prefect API,
a real webhook receiver, the stdout of a fresh `opsbook` process.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from opsbook.demo.server import LoopbackServer, Reply
from opsbook.escaping import markdown_code, markdown_text, slack_text, terminal_text
from tests.receivers import WebhookReceiver
from tests.test_cli import opsbook
from tests.test_daily_flow import config_for, read_back, run

HTML_PAYLOAD = "<img src=x onerror=alert(1)>"
MARKDOWN_PAYLOADS = ("**bold**", "[link](http://evil)")
SLACK_PAYLOADS = ("<!channel>", "<http://evil|click>")
TERMINAL_PAYLOAD = "\x1b[2J\x1b]0;pwned\x07"
HOSTILE = " ".join([HTML_PAYLOAD, *MARKDOWN_PAYLOADS, *SLACK_PAYLOADS, TERMINAL_PAYLOAD])

# A CommonMark renderer with raw HTML allowed and GFM tables, as the Prefect UI renders artifacts.
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def assert_inert_markdown(markdown: str) -> str:
    """Render `markdown`; nothing the target sent became an element or a link. Returns the visible text."""
    rendered = MARKDOWN.render(markdown)
    assert "<img" not in rendered and "onerror" not in re.sub(r"&lt;img[^<]*", "", rendered)
    assert "<strong>bold</strong>" not in rendered
    assert 'href="http://evil"' not in rendered
    visible = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    for payload in (HTML_PAYLOAD, *MARKDOWN_PAYLOADS):
        assert payload in visible, (payload, rendered)
    return visible


def test_the_escaping_helpers_make_each_payload_inert() -> None:
    assert_inert_markdown(markdown_text(HOSTILE))
    assert MARKDOWN.render(markdown_text("# heading\n- item | cell")).startswith("<p>")
    assert MARKDOWN.render(markdown_text("1. first")).startswith("<p>1. first")
    assert MARKDOWN.render(markdown_text("--- ")) == "<p>---</p>\n"
    assert MARKDOWN.render(markdown_code("a `b` c")) == "<p><code>a `b` c</code></p>\n"
    assert slack_text("<!channel> & <http://evil|click>") == "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;"
    assert terminal_text(f"{TERMINAL_PAYLOAD}\x9b2J ok\n\tnext") == "\\x1b[2J\\x1b]0;pwned\\x07\\x9b2J ok\n\tnext"


@pytest.mark.usefixtures("prefect_server")
def test_a_hostile_target_is_inert_in_the_artifacts_and_the_slack_alert(tmp_path: Path) -> None:
    with (
        LoopbackServer({"/h": lambda r: Reply(500, HOSTILE)}) as server,
        WebhookReceiver() as hooks,
    ):
        path = config_for(
            tmp_path,
            [{"name": "fly", "url": server.url("/h")}],
            notifications={"channels": [{"name": "slack", "type": "slack", "url": hooks.url("/slack")}]},
        )
        _, outcome = run(path)
    assert outcome.notes == []

    artifacts, _ = read_back(outcome.run_id)
    by_key = {a.key: a for a in artifacts}
    summary = by_key["daily-report"].data
    assert HTML_PAYLOAD not in summary and "**bold**" not in summary
    assert "Needs attention" in assert_inert_markdown(summary)

    # The UI renders each string cell of a table artifact as markdown.
    rows = json.loads(by_key["daily-report-results"].data)
    [row] = [r for r in rows if r["check"] == "platform.health"]
    assert row["target"] == "fly" and row["status"] == "fail"
    assert_inert_markdown(row["message"])

    [slack] = hooks.on("/slack")
    text = slack.json["text"]
    assert text.startswith("🚨 1 ALERT(S) FIRING – test estate [infrastructure P1]")  # opsbook's own format kept
    for payload in SLACK_PAYLOADS:
        assert payload not in text
        assert payload.replace("<", "&lt;").replace(">", "&gt;") in text


def test_escape_sequences_and_markup_from_a_target_reach_the_terminal_as_text(tmp_path: Path) -> None:
    hostile = f"{TERMINAL_PAYLOAD} [bold]x[/bold] [link](http://evil)"
    with LoopbackServer({"/h": lambda r: Reply(400, hostile)}) as server:  # 4xx: not retried, body kept
        # The Slack endpoint answers with the same text: the failed delivery is logged to the terminal.
        path = config_for(
            tmp_path,
            [{"name": "fly", "url": server.url("/h")}],
            notifications={"channels": [{"name": "slack", "type": "slack", "url": server.url("/h")}], "retries": 0},
        )
        daily = opsbook("run", "daily", "-c", str(path), home=tmp_path)
    listed = opsbook("alerts", "list", "-c", str(path), home=tmp_path)
    assert daily.returncode == 1, daily.stdout + daily.stderr
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for command in (daily, listed):
        output = command.stdout + command.stderr
        assert "\x1b" not in output and "\x07" not in output, output
        stdout = command.stdout.replace("\n", "").replace(" ", "").replace("│", "")
        assert "\\x1b[2J\\x1b]0;pwned\\x07" in stdout, command.stdout
        assert "[bold]x[/bold]" in stdout and "[link](http://evil)" in stdout, command.stdout
    assert "notification to slack failed" in daily.stderr and "\\x1b[2J" in daily.stderr, daily.stderr


@pytest.mark.usefixtures("prefect_server")
def test_an_unwritable_status_page_is_named_and_alerts_are_still_sent(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the status page's folder should be")  # root ignores permissions
    with (
        LoopbackServer({"/h": lambda r: Reply(503, "down")}) as server,
        WebhookReceiver() as hooks,
    ):
        path = config_for(
            tmp_path,
            [{"name": "fly", "url": server.url("/h")}],
            notifications={"channels": [{"name": "slack", "type": "slack", "url": hooks.url("/slack")}]},
            incidents={"status_page": str(blocker / "status.html")},
        )
        state, outcome = run(path)
    assert state.is_failed()
    assert not any("alerts not processed" in note for note in outcome.notes), outcome.notes
    assert [n for n in outcome.notes if n.startswith(f"status page not refreshed at {blocker / 'status.html'}")]
    [slack] = hooks.on("/slack")
    assert "platform.health on fly" in slack.json["text"]
    assert outcome.report_path is not None and "status page not refreshed" in outcome.report_path.read_text()
