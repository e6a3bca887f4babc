"""The outbox: events written with the business change that causes them, published once, in
order, for reminders and alerts (SMS, e-mail, a loan officer's follow-up list)."""

from servicing.outbox.events import OutboxEvent, record_events
from servicing.outbox.feed import PublishedEvent, publish, read_feed

__all__ = ["OutboxEvent", "PublishedEvent", "publish", "read_feed", "record_events"]
