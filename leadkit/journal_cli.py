"""``leadkit journal``: look into the lead journal and act on it.

``list`` (by state, stage and time), ``show ID`` (the lead with its postbacks and
conversion events), ``retry [ID]`` (sends the leads that are due, or that one lead now),
``sync`` (one pass of the status sync and of the outbox: for cron, with
``sync.enabled = false``), ``resend`` (failed postbacks and events made pending again, after a
fix), ``export --format csv|jsonl`` (one lead per row or line with its
state and stage, for a CRM or a spreadsheet), ``stats`` and ``migrate`` (the tables brought up to date:
PostgreSQL's schema version before and after; a SQLite file is brought up to date whenever it is opened). Each takes ``--config FILE`` like
``serve``; only ``retry`` and ``sync``, which call out, need the network key and the site
secret: the others read the journal alone (``journal.path``, or ``journal.url`` for PostgreSQL).

Each lead came from a landing: ``list`` shows its name (the default landing as
``-``), ``show`` and the exports its value (``""`` for the default landing), and
``list``, ``export`` and ``stats`` take ``--landing NAME`` for one landing's leads
(``--landing -``: the default landing's). ``stats`` counts the leads per landing
(``landings``) when there are leads of more than one.

A CSV export is safe to open in a spreadsheet: a cell that would start a formula
(``=``, ``+``, ``-``, ``@``, a tab or a carriage return: a name or a tag a visitor
typed, a network's message) is written with a ``'`` before it. JSON lines keep
every value exactly.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from contextlib import closing
from datetime import datetime, timezone
from typing import Any, Iterable, TextIO

from .config import Config
from .config_file import load_config, load_journal_config
from .journal import DEFAULT_LABEL, STATES, Entry, Journal, landing_label, open_journal
from .journal_outbox import Message
from .report import spreadsheet_cell
from .statuses import STAGES

__all__ = ["add_journal_commands", "run_journal_command"]

#: Columns of an export, in order; payload fields are flattened after them.
EXPORT_COLUMNS = ("id", "state", "landing", "stage", "status", "reason", "payout", "created", "updated", "checked",
                  "call", "attempts", "network_id", "error_code", "error_message", "bad", "last_error", "name", "phone",
                  "email", "country", "ip")


def add_journal_commands(commands: Any) -> None:
    journal = commands.add_parser("journal", help="look into the lead journal and act on it")
    sub = journal.add_subparsers(dest="journal_command", required=True)
    listing = sub.add_parser("list", help="leads by state and time")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--stage", choices=STAGES, help="only leads the network last put in this stage")
    listing.add_argument("--hours", type=float, help="only leads of the last N hours")
    listing.add_argument("--limit", type=int, default=100)
    show = sub.add_parser("show", help="one lead in full")
    show.add_argument("id")
    retry = sub.add_parser("retry", help="send the leads that are due; with an ID, that lead now")
    retry.add_argument("id", nargs="?")
    sync = sub.add_parser("sync", help="ask the network for the stages of due leads and send the outbox, once")
    prune = sub.add_parser("prune", help="delete delivered and rejected leads older than journal.keep_days (or "
                           "--days) and rate-limit hits past their window")
    prune.add_argument("--days", type=float, help="older than this many days (default: journal.keep_days)")
    resend = sub.add_parser("resend", help="send failed postbacks and events again (after fixing a URL or a token)")
    resend.add_argument("--lead", metavar="ID", help="only this lead's")
    resend.add_argument("--target", metavar="TARGET", help="only this target's: postback:0, facebook, tiktok")
    export = sub.add_parser("export", help="every lead with its state and stage, as CSV or JSON lines")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--state", choices=STATES)
    export.add_argument("--stage", choices=STAGES)
    export.add_argument("--hours", type=float)
    stats = sub.add_parser("stats", help="counts by state (and by landing) and the oldest pending lead's age")
    migrate = sub.add_parser("migrate", help="bring the journal's tables up to date (PostgreSQL: print the schema "
                             "version before and after)")
    for parser in (listing, export, stats):
        parser.add_argument("--landing", metavar="NAME", type=_landing,
                            help=f"only the leads of the landing NAME ({DEFAULT_LABEL!r}: the default landing)")
    for parser in (listing, show, retry, sync, prune, resend, export, stats, migrate):
        parser.add_argument("--config", help="the TOML file (default: $LEADKIT_CONFIG)")


def _landing(label: str) -> str:
    """``--landing``'s value as the journal stores it: the default landing's name is ``""``."""
    return "" if label in (DEFAULT_LABEL, "") else label


def run_journal_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``leadkit journal ...``; raises :class:`~leadkit.errors.ConfigError` or
    :class:`~leadkit.errors.JournalError` for the caller to print."""
    out = out or sys.stdout
    if args.journal_command == "prune":
        return _prune(args, out)
    if args.journal_command == "migrate":
        return _migrate(args, out)
    if args.journal_command in ("retry", "sync"):  # they call out: the whole configuration, the key, the secret
        config = load_config(args.config)
        with closing(open_journal(config.journal)) as journal:
            if args.journal_command == "sync":
                return _sync(journal, config, out)
            return _retry(journal, config, args.id, out)
    with closing(open_journal(load_journal_config(args.config))) as journal:
        return _read(journal, args, out)


def _read(journal: Journal, args: argparse.Namespace, out: TextIO) -> int:
    command = args.journal_command
    since = time.time() - args.hours * 3600 if getattr(args, "hours", None) else None
    if command == "list":
        _print_list(journal.entries(state=args.state, since=since, limit=args.limit, landing=args.landing,
                                    stage=args.stage), out)
    elif command == "show":
        entry = journal.get(args.id)
        if entry is None:
            print(f"no lead {args.id!r} in the journal", file=sys.stderr)
            return 1
        shown = {**_as_dict(entry), "messages": [_message(m) for m in journal.messages(lead_id=entry.id)]}
        json.dump(shown, out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif command == "resend":
        count = journal.resend_messages(lead_id=args.lead, target=args.target)
        print(f"{count} failed postback(s) and event(s) made pending again: the server (or leadkit journal sync) "
              "sends them now", file=out)
    elif command == "export":
        _export(journal.entries(state=args.state, since=since, landing=args.landing, stage=args.stage), args.format,
                out)
    else:
        json.dump(_stats(journal, args.landing), out, ensure_ascii=False, indent=2)
        out.write("\n")
    return 0


def _retry(journal: Journal, config: Config, lead_id: str | None, out: TextIO) -> int:
    from .followup import make_courier, make_followup
    from .network import NetworkClient
    client = NetworkClient(config.network)
    courier = make_courier(config, journal, client.send, make_followup(config, journal, client))
    if lead_id is None:
        expired = courier.expire(config.journal.max_age)
        total = 0
        while (sent := courier.run_due()) > 0:
            total += sent
        print(f"attempted {total} due lead(s); {len(expired)} given up as dead", file=out)
        return 0
    entry = journal.get(lead_id)
    if entry is None:
        print(f"no lead {lead_id!r} in the journal", file=sys.stderr)
        return 1
    if entry.state != "pending":
        print(f"lead {lead_id} is {entry.state}: nothing to send", file=out)
        return 0
    after = courier.retry(lead_id, force=True)
    if after is None:
        print(f"lead {lead_id} is being sent by another process right now", file=out)
        return 1
    print(f"lead {lead_id}: {after.state}" + (f" ({after.last_error})" if after.state == "pending" else ""),
          file=out)
    return 0


def _prune(args: argparse.Namespace, out: TextIO) -> int:
    from .config import LimitsConfig
    from .config_file import load_section

    settings, limits = load_journal_config(args.config), load_section(args.config, LimitsConfig)
    days = args.days if args.days is not None else settings.keep_days
    with closing(open_journal(settings)) as journal:
        deleted = journal.prune(days, hits_older_than=max(limits.ip_window, limits.phone_window))
    kept = f"older than {days:g} day(s)" if days is not None else "none: journal.keep_days is not set and no --days"
    print(f"pruned {deleted['leads']} delivered or rejected lead(s) {kept}, with {deleted['messages']} postback(s) "
          f"and event(s); deleted {deleted['hits']} rate-limit hit(s) past their window", file=out)
    return 0


def _migrate(args: argparse.Namespace, out: TextIO) -> int:
    """Open the journal (which migrates it) and say which schema version it was at and is at now."""
    settings = load_journal_config(args.config)
    with closing(open_journal(settings)) as journal:
        versions = journal.migrate()
    if versions is None:
        print(f"the SQLite journal {settings.path} is brought up to date whenever it is opened: it is now",
              file=out)
    elif versions[0] == versions[1]:
        print(f"the journal's schema is at version {versions[1]}: up to date, nothing to do", file=out)
    else:
        print(f"the journal's schema was at version {versions[0]} and is now at version {versions[1]}", file=out)
    return 0


def _sync(journal: Journal, config: Config, out: TextIO) -> int:
    from .followup import make_followup
    from .network import NetworkClient
    client = NetworkClient(config.network)
    followup = make_followup(config, journal, client)
    try:
        asked, attempted = followup.run_once()
    finally:
        followup.close()
        client.close()
    counts = journal.outbox_counts()
    print(f"asked the network about {asked} lead(s); attempted {attempted} postback(s) and event(s); the outbox "
          f"holds {counts['pending']} pending, {counts['sent']} sent, {counts['failed']} failed", file=out)
    return 0


def _message(message: Message) -> dict[str, Any]:
    """An outbox message as ``show`` prints it (its body left out: for a platform, hashed contact data)."""
    return {"target": message.target, "event": message.event, "state": message.state, "method": message.method,
            "url": message.url, "attempts": message.attempts, "answer": message.answer,
            "last_error": message.last_error, "created": _when(message.created), "updated": _when(message.updated)}


def _stats(journal: Journal, landing: str | None) -> dict[str, Any]:
    """The journal's stats as ``stats`` prints them: with ``landing``, that landing's (``landing`` names
    it; the counters, which are not kept per landing, left out); without, ``landings`` when there are
    leads of more than one, as ``/leadkit/health`` shows them."""
    stats = journal.stats(landing=landing)
    landings = stats.pop("landings")
    if landing is not None:
        return {"landing": landing_label(landing), "counts": stats["counts"], "stages": stats["stages"],
                "oldest_pending_age": stats["oldest_pending_age"]}
    stats["outbox"] = journal.outbox_counts()
    if len(landings) > 1:
        stats["landings"] = {landing_label(name): counts for name, counts in landings.items()}
    return stats


def _print_list(entries: Iterable[Entry], out: TextIO) -> None:
    print(f"{'id':<20} {'state':<9} {'landing':<12} {'stage':<7} {'created (UTC)':<19} {'tries':>5}  detail",
          file=out)
    for e in entries:
        detail = e.network_id and f"network id {e.network_id}" or e.error_code or e.last_error or ""
        detail += f" (missing: {', '.join(e.bad)})" if e.bad else ""
        detail += f", payout {e.payout:g}" if e.payout is not None else ""
        print(f"{e.id:<20} {e.state:<9} {landing_label(e.landing):<12} {e.stage or '-':<7} {_when(e.created):<19} "
              f"{e.attempts:>5}  {detail[:80]}", file=out)


def _export(entries: Iterable[Entry], form: str, out: TextIO) -> None:
    if form == "jsonl":
        for entry in entries:
            out.write(json.dumps(_as_dict(entry), ensure_ascii=False) + "\n")
        return
    rows = [_flat(e) for e in entries]
    columns = [*EXPORT_COLUMNS, *sorted({k for row in rows for k in row} - set(EXPORT_COLUMNS))]
    writer = csv.writer(out)
    writer.writerow([_cell(name) for name in columns])
    writer.writerows([_cell(row.get(name)) for name in columns] for row in rows)


def _cell(value: Any) -> str:
    return spreadsheet_cell("" if value is None else str(value))


def _as_dict(entry: Entry) -> dict[str, Any]:
    data = {name: getattr(entry, name) for name in entry.__dataclass_fields__}
    data.pop("fingerprint", None)
    data.pop("lease_owner", None)
    data.pop("lease_until", None)
    data.update(created=_when(entry.created), updated=_when(entry.updated), checked=_when(entry.checked),
                next_check=_when(entry.next_check), thanked=_when(entry.thanked))
    return data


def _flat(entry: Entry) -> dict[str, Any]:
    row: dict[str, Any] = {k: v for k, v in _as_dict(entry).items() if k not in ("payload", "tags", "clicks")}
    row["bad"] = " ".join(entry.bad)
    for key, value in {**entry.clicks, **entry.tags}.items():
        row.setdefault(key, value)
    for key, value in entry.payload.items():
        row.setdefault(key, json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value)
    return row


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
