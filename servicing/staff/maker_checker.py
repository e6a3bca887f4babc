"""Maker-checker: commands that need a second person.

A command plugs in by registering an `ApprovableCommand`: its name, the msgspec type of
its payload, how to read its amounts and office, and how to run it. A rule per command
(table approval_rule) says whether it needs approval, above which amount and with which
permission. When it does, the command is stored pending; another user with the permission
approves it, and it then runs through the same service function as a direct request, with
an idempotency key derived from the pending command's id, so that approving twice (or
retrying after a crash) never runs it twice. The maker cannot approve or reject their own
command (checked here and by a CHECK constraint)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Generic, TypeVar

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.errors import LedgerError
from ledger.money import minor_unit_digits
from servicing.errors import Conflict, InvalidInput, NotFound
from servicing.staff.errors import PermissionDenied, SelfApprovalRefused
from servicing.staff.permissions import CATALOGUE
from servicing.staff.sessions import Principal
from servicing.unit_of_work import UnitOfWorkFactory

C = TypeVar("C", bound=msgspec.Struct)
RULE_CACHE_SECONDS: Final = 5.0


@dataclass(frozen=True)
class ApprovableCommand(Generic[C]):
    name: str
    payload_type: type[C]
    run: Callable[[C, str], Awaitable[Any]]
    """Runs the command; the second argument is an idempotency key unique to the approval."""
    amounts: Callable[[C], Mapping[str, Decimal]]
    """Amount per currency the command moves (empty when it moves none)."""
    office_of: Callable[[C], int | None]
    summary: Callable[[C], str]
    on_reject: Callable[[C, str], Awaitable[None]] | None = None
    """Undoes what submitting did (funds held for a withdrawal...), with the approval's key."""


class ApprovalRule(msgspec.Struct, frozen=True, kw_only=True):
    command: str
    enabled: bool
    amount_threshold: Decimal | None = None
    currency: str | None = None
    checker_permission: str = "approvals:decide"
    updated_at: datetime | None = None
    updated_by: str | None = None


class PendingCommand(msgspec.Struct, frozen=True, kw_only=True):
    approval_id: uuid.UUID
    command: str
    summary: str
    payload: msgspec.Raw
    amount: Decimal | None
    currency: str | None
    office_id: int | None
    maker: str
    created_at: datetime
    status: str
    checker: str | None
    decided_at: datetime | None
    reason: str | None
    result: msgspec.Raw | None


def approval_needed(rule: ApprovalRule | None, amounts: Mapping[str, Decimal]) -> bool:
    """Pure: an enabled rule without threshold catches every command; with one, commands
    moving more than it in the rule's currency (or in any currency when it names none)."""
    if rule is None or not rule.enabled:
        return False
    if rule.amount_threshold is None:
        return True
    return any(amount > rule.amount_threshold for currency, amount in amounts.items()
               if rule.currency is None or currency == rule.currency)


_PENDING_COLUMNS = ("id AS approval_id, command, summary, payload, amount, currency, office_id, maker, created_at, "
                    "status, checker, decided_at, reason, result")


def _pending(row: Any) -> PendingCommand:
    values = row._asdict()
    values["payload"] = msgspec.Raw(values["payload"].encode())
    values["result"] = msgspec.Raw(values["result"].encode()) if values["result"] else None
    values["currency"] = values["currency"].strip() if values["currency"] else None
    if values["amount"] is not None and values["currency"]:
        values["amount"] = values["amount"].quantize(Decimal(1).scaleb(-minor_unit_digits(values["currency"])))
    return PendingCommand(**values)


class MakerChecker:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory
        self._commands: dict[str, ApprovableCommand[Any]] = {}
        self._rules: dict[str, ApprovalRule] = {}
        self._rules_until = 0.0

    def register(self, command: ApprovableCommand[Any]) -> None:
        assert command.name not in self._commands, command.name
        self._commands[command.name] = command

    @property
    def command_names(self) -> list[str]:
        return sorted(self._commands)

    async def rules(self) -> dict[str, ApprovalRule]:
        """The rules, read at most every RULE_CACHE_SECONDS (a change through `put_rule` is seen at once here)."""
        if time.monotonic() >= self._rules_until:
            async with self._uow_factory() as uow:
                rows = (await uow.session.execute(text(
                    "SELECT command, enabled, amount_threshold, currency, checker_permission, updated_at, updated_by "
                    "FROM approval_rule"))).all()
            self._rules = {r.command: ApprovalRule(**{**r._asdict(), "currency": r.currency.strip() if r.currency
                                                       else None}) for r in rows}
            self._rules_until = time.monotonic() + RULE_CACHE_SECONDS
        return self._rules

    async def put_rule(self, rule: ApprovalRule, actor: str) -> tuple[ApprovalRule | None, ApprovalRule]:
        if rule.command not in self._commands:
            raise NotFound(f"no command {rule.command!r} can require approval; known: {', '.join(self.command_names)}",
                           field="command")
        if rule.checker_permission not in CATALOGUE:
            raise InvalidInput(f"unknown permission {rule.checker_permission!r}", field="checker_permission")
        if (rule.amount_threshold is None) != (rule.currency is None) and rule.currency is not None:
            raise InvalidInput("a currency goes with an amount threshold", field="currency")
        before = (await self.rules()).get(rule.command)
        async with self._uow_factory() as uow:
            await uow.session.execute(text(
                """
                INSERT INTO approval_rule (command, enabled, amount_threshold, currency, checker_permission, updated_by)
                VALUES (:command, :enabled, :threshold, :currency, :permission, :actor)
                ON CONFLICT (command) DO UPDATE SET enabled = EXCLUDED.enabled,
                    amount_threshold = EXCLUDED.amount_threshold, currency = EXCLUDED.currency,
                    checker_permission = EXCLUDED.checker_permission, updated_at = now(), updated_by = EXCLUDED.updated_by
                """), {"command": rule.command, "enabled": rule.enabled, "threshold": rule.amount_threshold,
                       "currency": rule.currency, "permission": rule.checker_permission, "actor": actor})
            await uow.commit()
        self._rules_until = 0.0
        return before, (await self.rules())[rule.command]

    async def needs_approval(self, name: str, payload: C) -> bool:
        command = self._commands[name]
        return approval_needed((await self.rules()).get(name), command.amounts(payload))

    async def submit(self, name: str, payload: C, maker: Principal, *,
                     idempotency_key: str | None = None,
                     on_pending: Callable[[AsyncSession, uuid.UUID], Awaitable[None]] | None = None
                     ) -> PendingCommand | None:
        """Store the command pending when its rule asks for approval (None: run it now).
        Sending the same idempotency key again returns the same pending command. ``on_pending``
        runs in the same transaction as the pending command is stored (to hold funds for it); its
        refusal stores nothing."""
        command = self._commands[name]
        assert isinstance(payload, command.payload_type), type(payload)
        rules = self._rules if time.monotonic() < self._rules_until else await self.rules()
        rule = rules.get(name)
        if rule is None or not rule.enabled:
            return None  # the common case, without computing amounts
        amounts = command.amounts(payload)
        if not approval_needed(rule, amounts):
            return None
        assert rule is not None
        currency = rule.currency or next(iter(sorted(amounts)), None)
        async with self._uow_factory() as uow:
            session = uow.session
            if idempotency_key is not None:
                existing = await self._find_by_key(session, name, maker.user_id, idempotency_key)
                if existing is not None:
                    return existing
            approval_id = uuid.uuid4()
            stored = await session.scalar(text(
                "INSERT INTO pending_command (id, command, payload, summary, amount, currency, office_id, maker, "
                "maker_user_id, idempotency_key) VALUES (:id, :command, :payload, :summary, :amount, :currency, "
                ":office, :maker, :maker_id, :key) ON CONFLICT DO NOTHING RETURNING id"),
                {"id": approval_id, "command": name, "payload": msgspec.json.encode(payload).decode(),
                 "summary": command.summary(payload)[:500], "amount": amounts.get(currency) if currency else None,
                 "currency": currency, "office": command.office_of(payload), "maker": maker.username,
                 "maker_id": maker.user_id, "key": idempotency_key})
            if stored is not None and on_pending is not None:
                await on_pending(session, approval_id)
            await uow.commit()
        async with self._uow_factory() as uow:
            if idempotency_key is not None:
                found = await self._find_by_key(uow.session, name, maker.user_id, idempotency_key)
                assert found is not None
                return found
            return await self._load(uow.session, approval_id)

    async def list_pending(self, checker: Principal, *, status: str | None, limit: int) -> list[PendingCommand]:
        """Commands of the user's office subtree (and office-less ones), newest first."""
        scope = checker.scope
        async with self._uow_factory() as uow:
            rows = (await uow.session.execute(text(
                f"SELECT {_PENDING_COLUMNS} FROM pending_command p WHERE (p.office_id IS NULL OR "
                f"{scope.sql_condition('p.office_id')}) AND (CAST(:status AS text) IS NULL OR p.status = :status) "
                "ORDER BY p.created_at DESC LIMIT :limit"),
                {"scope_office_id": scope.office_id, "status": status, "limit": limit})).all()
        return [_pending(row) for row in rows]

    async def get(self, approval_id: uuid.UUID, reader: Principal) -> PendingCommand:
        async with self._uow_factory() as uow:
            pending = await self._load(uow.session, approval_id)
        if pending.office_id is not None and not reader.scope.includes(pending.office_id):
            raise NotFound(f"no pending command {approval_id}", field="approval_id")
        return pending

    async def decide(self, approval_id: uuid.UUID, checker: Principal, *, approve: bool,
                     reason: str | None = None) -> PendingCommand:
        """Approve (run it) or reject. The row stays locked while the command runs, so two
        checkers never both run it; the approval's idempotency key covers a crash in between."""
        async with self._uow_factory() as uow:
            session = uow.session
            row = (await session.execute(text(
                f"SELECT {_PENDING_COLUMNS}, maker_user_id FROM pending_command WHERE id = :id FOR UPDATE"),
                {"id": approval_id})).one_or_none()
            if row is None or (row.office_id is not None and not checker.scope.includes(row.office_id)):
                raise NotFound(f"no pending command {approval_id}", field="approval_id")
            if row.status != "pending":
                raise Conflict(f"command {approval_id} is already {row.status}", field="approval_id")
            if row.maker_user_id == checker.user_id:
                raise SelfApprovalRefused("the maker of a command cannot approve or reject it", field="approval_id")
            rule = (await self.rules()).get(row.command)
            permission = rule.checker_permission if rule else "approvals:decide"
            if not checker.may(permission):
                raise PermissionDenied(f"deciding on {row.command} needs the permission {permission}",
                                       field="approval_id")
            status, result = "rejected", None
            if not approve:
                command = self._commands.get(row.command)
                if command is not None and command.on_reject is not None:
                    await command.on_reject(msgspec.json.decode(row.payload, type=command.payload_type),
                                            f"approval-{approval_id}")
            if approve:
                command = self._commands.get(row.command)
                if command is None:
                    raise Conflict(f"command {row.command} is not available in this server", field="approval_id")
                payload = msgspec.json.decode(row.payload, type=command.payload_type)
                try:
                    outcome = await command.run(payload, f"approval-{approval_id}")
                    status, result = "executed", msgspec.json.encode(outcome).decode()
                except LedgerError as error:
                    status = "failed"
                    result = msgspec.json.encode({"code": error.code, "detail": error.message,
                                                  "field": error.field}).decode()
            await session.execute(text(
                "UPDATE pending_command SET status = :status, checker = :checker, checker_user_id = :checker_id, "
                "decided_at = now(), reason = :reason, result = :result WHERE id = :id"),
                {"id": approval_id, "status": status, "checker": checker.username, "checker_id": checker.user_id,
                 "reason": reason, "result": result})
            decided = await self._load(session, approval_id)
            await uow.commit()
        return decided

    async def _load(self, session: AsyncSession, approval_id: uuid.UUID) -> PendingCommand:
        row = (await session.execute(text(f"SELECT {_PENDING_COLUMNS} FROM pending_command WHERE id = :id"),
                                     {"id": approval_id})).one_or_none()
        if row is None:
            raise NotFound(f"no pending command {approval_id}", field="approval_id")
        return _pending(row)

    async def _find_by_key(self, session: AsyncSession, name: str, maker_id: int, key: str) -> PendingCommand | None:
        row = (await session.execute(text(
            f"SELECT {_PENDING_COLUMNS} FROM pending_command WHERE command = :c AND maker_user_id = :m "
            "AND idempotency_key = :k"), {"c": name, "m": maker_id, "k": key})).one_or_none()
        return _pending(row) if row is not None else None
