"""Operator requests (the admin channel): each decide function takes the context and its own input model."""

from __future__ import annotations

from switch.core import admin as admin_core
from switch.core.codes import Code
from switch.core.model import Decision, Reset, iso, refuse
from switch.core.windows import expire_windows
from switch.service.clock import ClockRangeError, VirtualClock
from switch.service.context import Context
from switch.wire.inputs import Clock, Credit, Empty, Faults, Load, PolicyRequest, SetStatus, StateQuery

__all__ = ["audit", "clock", "credit", "faults", "load", "policy", "reset", "set_status", "state"]


def load(ctx: Context, cmd: Load) -> Decision:
    return admin_core.load(ctx.state, cmd, ctx.now)


def reset(ctx: Context, cmd: Empty) -> Decision:
    ctx.faults.restore()  # a reset switch is a fresh one: the fault rules of --faults FILE, counters afresh
    return Decision(Code.OK, {"reset": True}, "all tables emptied", effects=(Reset(),))


def credit(ctx: Context, cmd: Credit) -> Decision:
    return admin_core.credit(ctx.state, cmd, ctx.now, f"credit:{ctx.sender}:{ctx.msgid}")


def set_status(ctx: Context, cmd: SetStatus) -> Decision:
    return admin_core.set_status(ctx.state, cmd, ctx.now)


def state(ctx: Context, cmd: StateQuery) -> Decision:
    return admin_core.state_view(ctx.state, cmd.psn_no, ctx.now)


def policy(ctx: Context, cmd: PolicyRequest) -> Decision:
    if cmd.set is None:
        return Decision(Code.OK, {"policies": [p.to_wire() for p in ctx.state.policies.all()]}, "success")
    return admin_core.set_policy(ctx.state, cmd.set)


def clock(ctx: Context, cmd: Clock) -> Decision:
    """admin.clock: read, move, set or speed up a virtual clock; windows that passed their end close now."""
    changes = cmd.advance is not None or cmd.set is not None or cmd.speed is not None
    if changes:
        if not isinstance(ctx.clock, VirtualClock):
            return refuse(Code.CLOCK_NOT_VIRTUAL, "the switch runs on the system clock; start it with --clock virtual")
        try:
            ctx.clock.change(cmd.set, cmd.advance, cmd.speed)
        except ClockRangeError as exc:
            # worded as every other INVALID_REQUEST: the field, then what is wrong with it
            return refuse(Code.INVALID_REQUEST, f"input.{exc.field}: {exc}",
                          {"errors": [{"loc": ["input", exc.field], "msg": str(exc)}]})
    now = ctx.clock.now()
    ctx.now = now  # the answer's respond_time is the clock as this request left it
    output = {"now": iso(now), "virtual": ctx.clock.virtual}
    if isinstance(ctx.clock, VirtualClock):
        output["speed"] = float(ctx.clock.speed)
    expired = expire_windows(ctx.state, now) if changes else Decision(Code.OK)
    return Decision(Code.OK, output, "success", effects=expired.effects, events=expired.events)


def faults(ctx: Context, cmd: Faults) -> Decision:
    if cmd.rules is not None:
        ctx.faults.replace(cmd.rules)
    return Decision(Code.OK, {"rules": ctx.faults.view()}, "success")


def audit(ctx: Context, cmd: Empty) -> Decision:
    """admin.audit: the ledger's findings (the service reads them from disk once every commit is durable)."""
    violations = list(ctx.findings or [])
    output = {"ok": not violations, "violations": violations,
              "checked": {"people": len(ctx.state.people), "settlements": len(ctx.state.settlements)}}
    return Decision(Code.OK, output, "success")
