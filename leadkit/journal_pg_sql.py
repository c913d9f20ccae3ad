"""The PostgreSQL journal's longer statements (:mod:`leadkit.journal_pg` runs them), and the values they
take and give: a lead's columns from an :class:`~leadkit.journal.Entry` and back, a message's.

The claims pick their rows in a ``MATERIALIZED`` common table expression ``FOR UPDATE SKIP LOCKED``
and update exactly those: rows another server is claiming are passed over, never waited for, and
never claimed twice. ``RETURNING`` gives no order, so each claim also returns what it was ordered by
and the journal sorts the rows. Parameters that may be None carry a cast, so that a statement keeps
one set of parameter types (psycopg prepares the statements it runs often).

Text is made storable as the SQLite journal makes it (:func:`~leadkit.journal_file.storable`); JSON
(:func:`json_text`) also loses its NUL characters, which PostgreSQL's text and ``jsonb`` refuse even
as ``\\u0000`` escapes: they become U+FFFD.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Sequence

from .journal import Entry
from .journal_file import storable, storable_json, storable_map
from .journal_outbox import Message
from .journal_pg_connect import Connection
from .journal_report import GROUPINGS
from .tags import STANDARD_TAGS

__all__ = ["ADD_MESSAGES", "CLAIM_CHECKS", "CLAIM_DUE", "CLAIM_MESSAGES", "EXPIRE", "EXPIRE_MESSAGES",
           "INSERT_LEAD", "LEADS", "LEAD_COLUMNS", "LIMIT_HITS", "LOCK_KEYS", "MESSAGES", "PRUNE_HITS", "PRUNE_LEADS",
           "RECORD", "RECORD_STATUS", "RECORD_WITH_MESSAGES", "REPORT", "SAME_ORDER", "TAKE_OVER", "add_messages",
           "json_text", "lead_entry", "lead_values", "message", "message_columns", "names", "report_group"]

#: An :class:`~leadkit.journal.Entry`'s fields: its columns, in this order.
LEAD_COLUMNS = tuple(f.name for f in fields(Entry))
_MESSAGE_COLUMNS = tuple(f.name for f in fields(Message))
#: An :class:`~leadkit.journal.Entry`'s columns for a ``SELECT`` (``_LEADS_OF``: for an ``UPDATE ... FROM``).
LEADS = ", ".join(LEAD_COLUMNS)
_LEADS_OF = ", ".join(f"leads.{name}" for name in LEAD_COLUMNS)
#: A :class:`~leadkit.journal_outbox.Message`'s columns, in its fields' order.
MESSAGES = ", ".join(_MESSAGE_COLUMNS)
_MESSAGES_OF = ", ".join(f"outbox.{name}" for name in _MESSAGE_COLUMNS)
_JSON = {"payload": "json", "bad": "jsonb", "tags": "jsonb", "clicks": "jsonb"}
_TYPES = {"created": "float8", "updated": "float8", "next_attempt": "float8", "lease_until": "float8",
          "payout": "float8", "checked": "float8", "next_check": "float8", "thanked": "float8", "attempts": "integer",
          "status": "bigint", "reason": "bigint", "uncertain": "boolean"}

#: A lead still leased when it is claimed was held by a sender that died mid-attempt: its send may have
#: reached the network, so a later "duplicate" answer means delivered.
TAKE_OVER = "uncertain = (leads.uncertain OR leads.lease_owner IS NOT NULL),"

#: The advisory locks of an add, in the (sorted) order of the array: one statement, before the add reads.
LOCK_KEYS = "SELECT COUNT(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k"

#: A new lead (every column a named parameter), with the rate limits' hits (``kinds``, ``keys``) it counts.
#: The first lead of an order within the double-submit window (its fingerprint, the window's start).
SAME_ORDER = f"SELECT {LEADS} FROM leads WHERE fingerprint = %s AND created >= %s ORDER BY created, seq LIMIT 1"

INSERT_LEAD = ("WITH counted AS (INSERT INTO hits (kind, key, at) SELECT k, y, %(updated)s::float8 "
               "FROM unnest(%(kinds)s::text[], %(keys)s::text[]) AS x(k, y)) "
               f"INSERT INTO leads ({LEADS}) VALUES ("
               + ", ".join(f"%({name})s::{_JSON.get(name) or _TYPES.get(name, 'text')}" for name in LEAD_COLUMNS)
               + f") RETURNING {LEADS}")

#: Per limit (kinds, keys, the start of each window): the hits counted in its window and the oldest of
#: them, in the limits' order; the hits before the window deleted on the way.
LIMIT_HITS = """WITH wanted AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[]) WITH ORDINALITY AS w(kind, key, since, i)),
old AS (DELETE FROM hits USING wanted WHERE hits.kind = wanted.kind AND hits.key = wanted.key
    AND hits.at < wanted.since)
SELECT COUNT(hits.at), MIN(hits.at) FROM wanted LEFT JOIN hits ON hits.kind = wanted.kind
    AND hits.key = wanted.key AND hits.at >= wanted.since
GROUP BY wanted.i ORDER BY wanted.i"""

CLAIM_DUE = f"""WITH picked AS MATERIALIZED (
    SELECT id, next_attempt, seq FROM leads WHERE state = 'pending' AND next_attempt <= %(now)s
    AND (lease_until IS NULL OR lease_until < %(now)s) ORDER BY next_attempt, seq LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
UPDATE leads SET {TAKE_OVER} lease_owner = %(owner)s, lease_until = %(until)s FROM picked
WHERE leads.id = picked.id RETURNING {_LEADS_OF}, picked.next_attempt, picked.seq"""

RECORD = """UPDATE leads SET state = %(state)s, updated = %(now)s, attempts = attempts + 1,
    last_error = %(error)s::text, network_id = COALESCE(%(network_id)s::text, network_id),
    redirect = COALESCE(%(redirect)s::text, redirect), error_code = %(error_code)s::text,
    error_message = %(error_message)s::text, next_attempt = %(next_attempt)s::float8,
    uncertain = uncertain OR %(uncertain)s, bad = %(bad)s::jsonb, lease_owner = NULL, lease_until = NULL,
    next_check = %(next_check)s::float8
WHERE id = %(id)s AND lease_owner = %(owner)s::text AND state = 'pending'"""

#: Pending leads past their age and held by nobody, made dead; their ids, with what orders them.
EXPIRE = """WITH picked AS MATERIALIZED (
    SELECT id FROM leads WHERE state = 'pending' AND created < %(cutoff)s
    AND (lease_until IS NULL OR lease_until < %(now)s) FOR UPDATE SKIP LOCKED)
UPDATE leads SET state = 'dead', updated = %(now)s, next_attempt = NULL FROM picked WHERE leads.id = picked.id
RETURNING leads.id, leads.created, leads.seq"""

CLAIM_CHECKS = f"""WITH picked AS MATERIALIZED (
    SELECT id, next_check, seq FROM leads WHERE next_check <= %(now)s AND state = 'delivered' AND call = %(call)s
    ORDER BY next_check, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
UPDATE leads SET next_check = %(until)s FROM picked WHERE leads.id = picked.id
RETURNING {_LEADS_OF}, picked.next_check, picked.seq"""

RECORD_STATUS = """UPDATE leads SET stage = COALESCE(%s::text, stage), status = COALESCE(%s::bigint, status),
    reason = COALESCE(%s::bigint, reason), payout = COALESCE(%s::float8, payout), checked = %s::float8,
    next_check = %s::float8, updated = %s::float8
WHERE id = %s::text"""

_INSERT_MESSAGES = """INSERT INTO outbox (lead_id, target, event, method, url, body, headers, created, updated,
    state, next_attempt)
SELECT m.lead_id, m.target, m.event, m.method, m.url, m.body, m.headers::json, %(now)s, %(now)s, 'pending', %(now)s
FROM unnest(%(lead_ids)s::text[], %(targets)s::text[], %(events)s::text[], %(methods)s::text[], %(urls)s::text[],
    %(bodies)s::text[], %(headers)s::text[]) WITH ORDINALITY AS m(lead_id, target, event, method, url, body, headers, i)
WHERE {only_if} ORDER BY m.i
ON CONFLICT (lead_id, target, event) DO NOTHING RETURNING id"""
#: The messages not written yet (by lead, target and event), in the order given; the new ones' ids.
ADD_MESSAGES = _INSERT_MESSAGES.format(only_if="true")
#: A lead's outcome recorded by its lease's owner with the messages it causes (none if the lease was
#: lost), in one statement: one transaction. How many leads were recorded (0 or 1).
RECORD_WITH_MESSAGES = (f"WITH recorded AS ({RECORD} RETURNING 1), added AS ("
                        + _INSERT_MESSAGES.format(only_if="EXISTS (SELECT 1 FROM recorded)")
                        + ") SELECT COUNT(*) FROM recorded")

CLAIM_MESSAGES = f"""WITH picked AS MATERIALIZED (
    SELECT id FROM outbox WHERE state = 'pending' AND next_attempt <= %(now)s
    AND (lease_until IS NULL OR lease_until < %(now)s) ORDER BY next_attempt, id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
UPDATE outbox SET lease_owner = %(owner)s, lease_until = %(until)s FROM picked WHERE outbox.id = picked.id
RETURNING {_MESSAGES_OF}"""

EXPIRE_MESSAGES = f"""WITH picked AS MATERIALIZED (
    SELECT id FROM outbox WHERE state = 'pending' AND created < %(cutoff)s
    AND (lease_until IS NULL OR lease_until < %(now)s) FOR UPDATE SKIP LOCKED)
UPDATE outbox SET state = 'failed', updated = %(now)s, next_attempt = NULL,
    last_error = COALESCE(outbox.last_error, 'never sent')
FROM picked WHERE outbox.id = picked.id RETURNING {_MESSAGES_OF}"""

#: One batch of settled leads past the age with nothing left to send, deleted with their messages;
#: how many leads and messages. Leads another transaction holds are left for the next batch.
PRUNE_LEADS = """WITH doomed AS MATERIALIZED (
    SELECT id FROM leads WHERE state IN ('delivered', 'rejected') AND created < %(cutoff)s
    AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.lead_id = leads.id AND outbox.state = 'pending')
    LIMIT %(batch)s FOR UPDATE SKIP LOCKED),
messages AS (DELETE FROM outbox WHERE lead_id IN (SELECT id FROM doomed) RETURNING 1),
gone AS (DELETE FROM leads WHERE id IN (SELECT id FROM doomed) RETURNING 1)
SELECT (SELECT COUNT(*) FROM gone), (SELECT COUNT(*) FROM messages)"""

PRUNE_HITS = ("DELETE FROM hits WHERE ctid = ANY(ARRAY(SELECT ctid FROM hits WHERE at < %(before)s "
              "LIMIT %(batch)s))")

#: A period's leads per group: ``{group}`` (:func:`report_group`), ``{where}``, ``{order}``.
REPORT = """SELECT grp, leads, delivered, approved, cancelled, trash, payout FROM (
    SELECT {group} AS grp, COUNT(*) AS leads,
    COUNT(*) FILTER (WHERE state = 'delivered') AS delivered,
    COUNT(*) FILTER (WHERE stage = 'approve') AS approved,
    COUNT(*) FILTER (WHERE stage = 'cancel') AS cancelled,
    COUNT(*) FILTER (WHERE stage = 'trash') AS trash,
    COALESCE(SUM(payout) FILTER (WHERE stage = 'approve'), 0) AS payout
    FROM leads {where} GROUP BY 1) AS groups
ORDER BY {order}"""

_GROUPS = {
    "landing": "landing",
    "country": "COALESCE(payload->>'country', '')",
    "day": "to_char(to_timestamp(created) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",  # the UTC day, whatever the session's
}


def report_group(by: str) -> tuple[str, list[Any]]:
    """The SQL of a lead's group for :data:`~leadkit.journal_report.GROUPINGS`' ``by``, with its parameters."""
    if by in STANDARD_TAGS:
        return "COALESCE(tags->>%s, '')", [by]
    if by in _GROUPS:
        return _GROUPS[by], []
    raise ValueError(f"a report groups by one of {', '.join(GROUPINGS)} (got {by!r})")


# -- values ------------------------------------------------------------------------------------------------


def _without_nul(value: Any) -> Any:
    """``value`` (JSON's kinds) with NUL, which PostgreSQL's text and jsonb refuse, as U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nul(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """``value`` as JSON that PostgreSQL stores (:func:`~leadkit.journal_file.storable_json`, without NUL)."""
    return storable_json(_without_nul(value))


def names(values: Sequence[str]) -> str:
    """A list of field names (``bad``) as stored."""
    return json_text([storable(str(name)) for name in values])


def lead_values(entry: Entry) -> dict[str, Any]:
    """``entry``'s columns as :data:`INSERT_LEAD` takes them (but ``kinds`` and ``keys``)."""
    values = {name: storable(getattr(entry, name)) for name in LEAD_COLUMNS}
    values["payload"] = json_text(entry.payload)
    values["uncertain"] = bool(entry.uncertain)
    values["bad"] = names(entry.bad)
    values["tags"] = json_text(storable_map(entry.tags))
    values["clicks"] = json_text(storable_map(entry.clicks))
    return values


def lead_entry(row: Sequence[Any]) -> Entry:
    """The lead a row of :data:`LEADS` holds."""
    values = dict(zip(LEAD_COLUMNS, row))
    values["bad"] = tuple(values["bad"])
    return Entry(**values)


def message(row: Sequence[Any]) -> Message:
    """The message a row of :data:`MESSAGES` holds."""
    return Message(**dict(zip(_MESSAGE_COLUMNS, row)))


def message_columns(messages: Sequence[Message]) -> dict[str, list[Any]]:
    """The messages' values by column, as :data:`ADD_MESSAGES` and :data:`RECORD_WITH_MESSAGES` take them."""
    columns = {f"{name}s": [storable(getattr(m, name)) for m in messages]
               for name in ("lead_id", "target", "event", "method", "url")}
    return {**columns, "bodies": [storable(m.body) for m in messages],
            "headers": [json_text(dict(m.headers)) for m in messages]}


def add_messages(db: Connection, messages: Sequence[Message], now: float) -> int:
    """Write the messages not written yet (by lead, target and event), in their order; how many were new."""
    return len(db.execute(ADD_MESSAGES, {"now": now, **message_columns(messages)}).fetchall())
