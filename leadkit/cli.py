"""The ``leadkit`` command: ``serve``, ``demo``, ``check``, ``journal``, ``report`` and ``sandbox``.

- ``leadkit serve --config FILE [--host 127.0.0.1] [--port 8000]``: the
  standalone server on waitress (a production WSGI server).
- ``leadkit demo [--port 8000]``: the demo landing wired to a sandbox network
  on loopback: no config, no internet; the whole loop (approve in the sandbox's cabinet, see the
  postback and the report).
- ``leadkit check --config FILE [--live]``: validate, print the call a
  sample lead would produce (the key masked) and what the standalone server
  finds in each landing's folder (pages, forms and their fields, the PHP it
  removes, the thank-you page, what it never serves), the status checks and each postback and
  event a sample lead's acceptance and approval would send; with ``--live``, prove the key,
  role, offer and flow against the network with its read-only calls, sending
  no lead (:mod:`leadkit.probe`).
- ``leadkit journal list|show|retry|sync|resend|prune|migrate|export|stats --config FILE``: the
  lead journal, the status sync, the outbox, upkeep and schema (see :mod:`leadkit.journal_cli`).
- ``leadkit report --by utm_source [--since DAY | --days N] [--until DAY] [--landing NAME] [--csv]``:
  a period's leads, approvals and payout per group (see :mod:`leadkit.report_cli`).
- ``leadkit sandbox [--port 8900] [--key KEY] [--role wm] [--dialect dalead]
  [--offer 217:42]``: a stand-in network on loopback, as strict as a real one,
  for testing an integration (:mod:`leadkit.testing.sandbox`).
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from . import __version__
from .config import Config
from .config_file import config_from_mapping, load_config
from .errors import LeadkitError
from .journal_cli import add_journal_commands, run_journal_command
from .report_cli import add_report_command, run_report

if TYPE_CHECKING:
    from .kitpage import KitForm
    from .lead import Lead

__all__ = ["main", "demo_config"]

SAMPLE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " \
            "Chrome/126.0 Mobile Safari/537.36"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadkit", description="Lead-capture front for AlterCPA networks.")
    parser.add_argument("--version", action="version", version=f"leadkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the standalone server (waitress)")
    serve.add_argument("--config", help="the TOML file (default: $LEADKIT_CONFIG)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--threads", type=int, default=8)
    demo = commands.add_parser("demo", help="run the demo landing with a sandbox network, no config needed")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    check = commands.add_parser("check", help="validate the config and show a sample lead's call")
    check.add_argument("--config", help="the TOML file (default: $LEADKIT_CONFIG)")
    check.add_argument("--live", action="store_true",
                       help="also prove the key, role, offer and flow with the network's read-only calls (no lead)")
    add_journal_commands(commands)
    add_report_command(commands)
    commands.add_parser("sandbox", add_help=False,
                        help="run a stand-in network on loopback for tests (see 'leadkit sandbox --help')")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:  # its options are the sandbox's own
        from .testing.sandbox import main as sandbox_main

        return sandbox_main(argv[1:], prog="leadkit sandbox")
    args = parser.parse_args(argv)
    _configure_logging()
    try:
        if args.command == "serve":
            return _serve(load_config(args.config), args.host, args.port, args.threads)
        if args.command == "demo":
            return _demo(args.host, args.port)
        if args.command == "journal":
            return run_journal_command(args)
        if args.command == "report":
            return run_report(args)
        return _check(load_config(args.config), live=args.live)
    except LeadkitError as exc:  # a bad configuration, a journal that cannot be used: the sentence, not a traceback
        print(exc, file=sys.stderr)
        return 2


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def _serve(config: Config, host: str, port: int, threads: int, banner: str = "") -> int:
    from .server import make_app, make_server
    with make_app(config) as app:
        server = make_server(app, host=host, port=port, threads=threads, max_body=config.site.max_body)
        if config.journal.relay:
            app.relay.ensure_running()  # at once: leads left pending by an earlier run are retried now
        url = f"http://{host}:{int(server.getsockname()[1])}/"
        print(f"leadkit {__version__} serving {url} (role {config.network.role}, dialect {config.network.dialect})"
              + banner.format(url=url), flush=True)
        signal.signal(signal.SIGTERM, _stop)
        try:
            server.run()  # returns on SystemExit or Ctrl-C, once the requests under way are answered
        except (KeyboardInterrupt, OSError):
            pass
        finally:
            server.close()
    return 0


def _stop(signum: int, frame: object) -> None:
    """SIGTERM (systemd, docker stop): leave waitress' loop now, as Ctrl-C does, rather than close the
    listening socket and wait for every idle keep-alive connection to time out."""
    raise SystemExit(0)


#: The demo's postback to the sandbox's stand-in tracker: every event, every macro a buyer reaches for.
DEMO_POSTBACK = ("/_sandbox/postback?subid={subid}&sub1={sub1}&utm_source={utm_source}&lead_id={lead_id}"
                 "&network_id={network_id}&status={status}&payout={payout}&currency={currency}")


def demo_config(api: str, key: str, journal: Path | None = None) -> Config:
    """The demo's configuration: webmaster role, dalead dialect, offer 217 in Kazakhstan; a postback
    for every event to the sandbox's stand-in tracker, and statuses asked every 2 seconds."""
    from .templating import BUILTIN_TEMPLATES
    journal = journal or Path(tempfile.mkdtemp(prefix="leadkit-demo-")) / "leadkit.db"
    return config_from_mapping({
        "network": {"api": api, "key": key, "role": "wm", "dialect": "dalead", "timeout": 10},
        # The demo landing is written in English: its form too (a Kazakh offer would otherwise speak Russian).
        "offer": {"offer": 217, "flow": 42, "country": "kz", "language": "en"},
        "site": {"secret": secrets.token_urlsafe(32), "pages": str(BUILTIN_TEMPLATES / "demo"), "jinja": ["*.html"]},
        "form": {"title": "Order with a 50% discount", "submit": "Order now"},
        # The demo keeps its journal in a private temporary folder: nothing is left behind in the checkout.
        "journal": {"path": str(journal), "poll": 1},
        "sync": {"interval": 2},
        "postback": [{"url": api + DEMO_POSTBACK, "events": ["lead", "hold", "approve", "cancel", "trash"],
                      "status": {"approve": "sale", "cancel": "rejected", "trash": "rejected"}}],
    }, environ={})


def _demo(host: str, port: int) -> int:
    from .testing.sandbox import SandboxNetwork

    key = f"1-{secrets.token_hex(8)}"
    folder = Path(tempfile.mkdtemp(prefix="leadkit-demo-"))
    with SandboxNetwork(keys=(key,), host="127.0.0.1", port=0) as network:
        config = demo_config(network.url, key, folder / "leadkit.db")
        # For `leadkit report` and `leadkit journal` in another terminal: the demo's settings but its secrets.
        (folder / "leadkit.toml").write_text(
            f'[network]\napi = {json.dumps(network.url)}\nrole = "wm"\n\n[offer]\noffer = 217\nflow = 42\n'
            f'country = "kz"\n\n[journal]\npath = {json.dumps(str(folder / "leadkit.db"))}\n')
        banner = f"\n  the sandbox network answers at {network.url} (nothing leaves this machine)" \
                 "\n  open {url}?utm_source=demo&sub1=click-42 in a browser and order; then" \
                 f"\n  approve the lead in the sandbox's cabinet: {network.url}/_sandbox/cabinet" \
                 f"\n  the postbacks a tracker would get: {network.url}/_sandbox/postbacks" \
                 f"\n  the report: leadkit report --config {folder / 'leadkit.toml'}" \
                 "\n  Ctrl-C stops"
        return _serve(config, host, port, threads=4, banner=banner)


def _check(config: Config, live: bool = False) -> int:
    from .form import Order
    from .lead import Lead
    from .payload import build_payload, encode_form
    from .phone import example_number, parse_phone
    from .visitor import make_visitor

    regions = config.phone_regions
    order = Order(name="Test Customer", phone=parse_phone(example_number(regions[0]), regions))
    visitor = make_visitor("203.0.113.7", None, SAMPLE_UA, 0)
    tags = {"utm_source": "check", "utm_campaign": "sample", "sub1": "click-1"}
    lead = Lead(order=order, visitor=visitor, tags=tags)
    pairs = encode_form(build_payload(lead, config))
    print(f"configuration OK{f' ({config.source})' if config.source else ''}")
    print(f"a sample lead would be sent as: POST {config.network.call_url()}?id=*** (key masked)")
    print("form fields:")
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        print(f"  {key.ljust(width)} = {json.dumps(value, ensure_ascii=False)}")
    _check_pages(config)
    _check_followup(config, lead)
    return _check_live(config) if live else 0


def _check_followup(config: Config, lead: Lead) -> None:
    """What happens after the order: the status checks, and each postback and event as a sample lead's
    approval would send it (tokens masked: they are added only when sent)."""
    from .conversions import Announcer
    from .journal import Entry
    from .payload import build_payload
    from .statuses import STATUS_CALLS

    call, param = STATUS_CALLS[config.network.role]
    print(f"statuses: {call}.json?{param}=... every {config.sync.interval:g} s for a young lead, "
          f"{'in the server' if config.sync.enabled and config.journal.relay else 'by leadkit journal sync (cron)'}, "
          f"for {config.sync.max_age:g} days")
    accepted = Entry(id=lead.id, call="", payload=build_payload(lead, config), created=lead.created, tags=lead.tags,
                     network_id="1001", clicks={"fbclid": "IwAR-sample"})
    approved = replace(accepted, stage="approve", payout=12.5)
    announcer = Announcer(config.postbacks, facebook=config.facebook, tiktok=config.tiktok,
                          currency=config.sync.currency, aliases=config.tags.aliases)
    for event, entry in (("lead", accepted), ("approve", approved)):
        for message in announcer.messages(entry, event):
            print(f"  on {event}: {message.target} {message.method} {message.url}"
                  + (f" body {message.body[:200]}" if message.body and message.target.startswith("postback") else ""))
    if announcer.silent:
        print("  no [[postback]] and no [capi.*]: no one is told of leads and approvals")


def _check_pages(config: Config) -> None:
    """What the standalone server will make of each landing's folder: pages, forms, PHP, thank-you page."""
    from .kit import KitFolder


    for landing in (None, *config.landings):
        site = config.for_landing(landing).site
        if site.pages is None:
            continue
        where = f"landing {landing.name!r} at {landing.host or landing.path}" if landing else "site.pages"
        survey = KitFolder(site.pages, jinja=site.jinja, thanks=site.thanks).survey(site.form_aliases)
        print(f"{where}: {survey.folder}")
        for page in survey.pages:
            print(f"  page /{page.name} ({_KINDS[page.kind]})")
            for block in page.php:
                print(f"    PHP removed at line {block.line}: {block.code}")
            for form in page.forms:
                print(f"    {_form_line(form)}")
        if survey.thanks:
            found = "found in the kit; site.thanks chooses another" if survey.thanks_detected else "site.thanks"
            print(f"  thank-you page: /{survey.thanks} ({found})")
        else:
            print("  thank-you page: none in the kit: customers without an autologin link see leadkit's "
                  f"{config.site.mount}/thanks")
        for script in survey.scripts:
            print(f"  never served, orders posted to it are taken by leadkit: /{script}")
        for name in survey.hidden:
            print(f"  never served: /{name}")


_KINDS = {"html": "served as it is", "php": "served with its PHP removed", "jinja": "a Jinja template"}


def _form_line(form: KitForm) -> str:
    fields = ", ".join(f"{c.name} -> {c.field}" if c.field and c.field != c.name else c.name
                       for c in form.controls if c.name and c.type not in ("submit", "button", "hidden"))
    posts = f"posts to {form.action!r}" if form.action else "has no action"
    if form.takes_orders:
        missing = "" if any(c.field == "name" for c in form.controls) else \
            "; it has no name field, and orders need one: name its field in site.form_aliases"
        return f"form {form.index + 1} {posts}: takes orders ({fields}){missing}"
    why = "no phone field" if form.phone is None else "it posts elsewhere"
    return f"form {form.index + 1} {posts}: left as it is ({why}; fields: {fields or 'none'})"


def _check_live(config: Config) -> int:
    from .probe import probe

    print(f"asking the network at {config.network.api} (read-only calls, no lead is sent):", flush=True)
    findings = probe(config)
    for finding in findings:
        print(f"  {finding}")
    wrong = [f for f in findings if f.verdict == "wrong"]
    print(f"{len(wrong)} setting(s) to change; no lead was sent" if wrong
          else "the network confirms every setting it can; no lead was sent")
    return 2 if wrong else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
