"""Maker-checker: commands waiting for a second person, and the rules that send them there."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get, post, put
from litestar.params import Parameter

from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.staff import ApprovalRuleIn, ApprovalRuleOut, DecisionIn, PendingCommandOut
from ledger.limits import PAGE_SIZE_MAX
from servicing.staff.maker_checker import ApprovalRule, MakerChecker
from servicing.staff.sessions import Principal

CommandPath = Annotated[str, Parameter(max_length=100, pattern=r"^[a-z][a-z0-9.-]*$")]


class ApprovalController(Controller):
    path = "/api/v1/approvals"
    tags = ["Maker-checker"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", opt={"permission": "approvals:read"}, responses=PROBLEM_RESPONSES,
         summary="Commands of my office and its branches, newest first")
    async def list_pending(
        self, principal: Principal, maker_checker: MakerChecker,
        status: Annotated[Literal["pending", "rejected", "executed", "failed"] | None,
                          Parameter(query="status", required=False)] = "pending",
        limit: Annotated[int, Parameter(query="limit", ge=1, le=PAGE_SIZE_MAX)] = 50,
    ) -> list[PendingCommandOut]:
        found = await maker_checker.list_pending(principal, status=status, limit=limit)
        return [PendingCommandOut.from_pending(p) for p in found]

    @get("/{approval_id:uuid}", opt={"permission": "approvals:read"}, responses=PROBLEM_RESPONSES,
         summary="Read one command")
    async def get_pending(self, approval_id: UUID, principal: Principal,
                          maker_checker: MakerChecker) -> PendingCommandOut:
        return PendingCommandOut.from_pending(await maker_checker.get(approval_id, principal))

    @post("/{approval_id:uuid}/approve", status_code=200, opt={"permission": "approvals:decide"},
          responses=PROBLEM_RESPONSES, summary="Approve and run a command (not one's own)")
    async def approve(self, approval_id: UUID, principal: Principal, maker_checker: MakerChecker,
                      data: DecisionIn | None = None) -> PendingCommandOut:
        decided = await maker_checker.decide(approval_id, principal, approve=True,
                                             reason=data.reason if data else None)
        return PendingCommandOut.from_pending(decided)

    @post("/{approval_id:uuid}/reject", status_code=200, opt={"permission": "approvals:decide"},
          responses=PROBLEM_RESPONSES, summary="Reject a command (not one's own); it never runs")
    async def reject(self, approval_id: UUID, principal: Principal, maker_checker: MakerChecker,
                     data: DecisionIn | None = None) -> PendingCommandOut:
        decided = await maker_checker.decide(approval_id, principal, approve=False,
                                             reason=data.reason if data else None)
        return PendingCommandOut.from_pending(decided)


class ApprovalRuleController(Controller):
    path = "/api/v1/approval-rules"
    tags = ["Maker-checker"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", opt={"permission": "approvals:read"}, responses=PROBLEM_RESPONSES,
         summary="Which commands need a second person")
    async def list_rules(self, maker_checker: MakerChecker) -> list[ApprovalRuleOut]:
        rules = await maker_checker.rules()
        return [ApprovalRuleOut(**msgspec.structs.asdict(rules[name]))
                if name in rules else ApprovalRuleOut(command=name, enabled=False, amount_threshold=None, currency=None,
                                                      checker_permission="approvals:decide", updated_at=None,
                                                      updated_by=None)
                for name in maker_checker.command_names]

    @put("/{command:str}", opt={"permission": "approvals:configure"}, responses=PROBLEM_RESPONSES,
         summary="Turn approval on or off for a command, with an optional amount threshold")
    async def put_rule(self, command: CommandPath, data: ApprovalRuleIn, actor: str,
                       maker_checker: MakerChecker) -> ApprovalRuleOut:
        _before, after = await maker_checker.put_rule(ApprovalRule(
            command=command, enabled=data.enabled, amount_threshold=data.amount_threshold, currency=data.currency,
            checker_permission=data.checker_permission), actor)
        return ApprovalRuleOut(**msgspec.structs.asdict(after))
