"""Outbox: events for the world outside (reminders, alerts) written in the same transaction as
the business change that causes them, and published in a gap-free feed.

Why: a reminder must go out once, and after the change it describes has committed, never for
a change that rolled back. So the event is a row written by the business transaction itself
(`outbox_event`, unique `dedup_key`: an event already written is not written again), and a
single relay publishes committed events into `outbox_feed`, numbering them 1, 2, 3... with no
gap, in the order they were written (event id). Consumers read the feed after the last position
they handled. Events about one subject (a loan) are written under that subject's lock, so they
are written, committed and published in order. The relay only looks at events of transactions
that were still running at its previous pass (`outbox_relay.xmin_horizon`): everything older
was committed or rolled back before then, and is already published.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE outbox_event (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xact_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_type varchar(60) NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_.]*$'),
    subject_type varchar(40) NOT NULL,
    subject_id bigint NOT NULL,
    office_id integer REFERENCES office (id),
    occurred_on date NOT NULL,
    dedup_key varchar(200) NOT NULL UNIQUE,
    payload jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_event_transaction ON outbox_event (xact_id);
CREATE INDEX outbox_event_subject ON outbox_event (subject_type, subject_id, id);

CREATE TABLE outbox_feed (
    position bigint PRIMARY KEY CHECK (position >= 1),
    event_id bigint NOT NULL UNIQUE REFERENCES outbox_event (id),
    published_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outbox_relay (
    id smallint PRIMARY KEY CHECK (id = 1),
    xmin_horizon xid8 NOT NULL,
    last_position bigint NOT NULL CHECK (last_position >= 0)
);
INSERT INTO outbox_relay (id, xmin_horizon, last_position) VALUES (1, '0', 0);
""" + refuse_changes("outbox_refuse_change", append_only=("outbox_event", "outbox_feed"),
                     keep_rows=("outbox_relay",))


def _grants(role: str) -> str:
    return f"""
GRANT SELECT ON outbox_event, outbox_feed, outbox_relay TO "{role}";
GRANT INSERT (event_type, subject_type, subject_id, office_id, occurred_on, dedup_key, payload)
    ON outbox_event TO "{role}";
GRANT INSERT (position, event_id) ON outbox_feed TO "{role}";
GRANT UPDATE (xmin_horizon, last_position) ON outbox_relay TO "{role}";
GRANT USAGE ON SEQUENCE outbox_event_id_seq TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("DROP TABLE outbox_feed, outbox_event, outbox_relay; DROP FUNCTION outbox_refuse_change;")
