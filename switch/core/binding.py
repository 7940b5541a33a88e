"""The binding rules of family pooling: who may bind whom, checked the same for the app and admin.load.

Rules (DOMAIN.md "Binding"): a holder is an active employee (310); one holder per relative; a
holder with relatives cannot become a relative, and a relative cannot become a holder; the
holder's region policy limits the relations and their number; relative in the same province;
regions where pooling is off, or closed to that relative, refuse the binding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from switch.core.codes import Code
from switch.core.model import Binding, Decision, Person, State, refuse

__all__ = ["BindingView", "check_bind", "check_kept"]


@dataclass
class BindingView:
    """The state as a proposed change would leave it: pending people and bindings over the real ones.

    admin.load checks its bindings one after another against the people and bindings before them;
    ``add`` records each one, indexed by holder so that checking stays linear in the bindings.
    """

    state: State
    people: dict[str, Person] = field(default_factory=dict)
    added: dict[str, Binding] = field(default_factory=dict)  # relative -> binding
    added_to: dict[str, dict[str, Binding]] = field(default_factory=dict)  # holder -> relative -> binding

    def person(self, psn_no: str) -> Person | None:
        return self.people.get(psn_no) or self.state.people.get(psn_no)

    def binding_of(self, relative: str) -> Binding | None:
        return self.added.get(relative) or self.state.binding_of.get(relative)

    def add(self, binding: Binding) -> None:
        self.added[binding.relative] = binding
        self.added_to.setdefault(binding.holder, {})[binding.relative] = binding

    def relatives_of(self, holder: str) -> Mapping[str, Binding]:
        pending = self.added_to.get(holder)
        current = self.state.relatives_of.get(holder, {})
        return current if pending is None else {**current, **pending}


_RELATION_NAMES = {"spouse": "配偶", "parent": "父母", "child": "子女", "spouse_parent": "配偶父母",
                   "sibling": "兄弟姐妹", "grandparent": "祖父母外祖父母", "grandchild": "孙子女外孙子女"}


def check_bind(view: BindingView, holder_no: str, relative_no: str, rltn: str) -> Decision | None:
    """Whether ``holder_no`` may bind ``relative_no`` as ``rltn``: None means yes, else the refusal.

    Binding a relative the holder already has is allowed (it updates the relation and cap).
    """
    holder = view.person(holder_no)
    if holder is None:
        return refuse(Code.PERSON_NOT_FOUND, f"共济人 {holder_no} 不存在")
    relative = view.person(relative_no)
    if relative is None:
        return refuse(Code.PERSON_NOT_FOUND, f"近亲属 {relative_no} 不存在")
    if holder_no == relative_no:
        return refuse(Code.SELF_BINDING, "不能绑定本人为共济亲属")
    if holder.insutype != "310":
        return refuse(Code.HOLDER_NOT_EMPLOYEE, f"共济人 {holder_no} 不是职工医保参保人,没有个人账户")
    if holder.status != "active":
        return refuse(Code.HOLDER_SUSPENDED, f"共济人 {holder_no} 参保状态为暂停,不能绑定")
    if view.binding_of(holder_no) is not None:
        return refuse(Code.HOLDER_IS_RELATIVE, f"{holder_no} 已被他人绑定为近亲属,不能再绑定他人")
    current = view.binding_of(relative_no)
    if current is not None and current.holder != holder_no:
        return refuse(Code.RELATIVE_ALREADY_BOUND, f"{relative_no} 已被其他共济人绑定")
    if view.relatives_of(relative_no):
        return refuse(Code.RELATIVE_IS_HOLDER, f"{relative_no} 已绑定了自己的近亲属,不能被绑定")
    if relative.status != "active":
        return refuse(Code.INSURANCE_SUSPENDED, f"近亲属 {relative_no} 参保状态为暂停")
    refused = check_pair(view, holder, relative, rltn)
    if refused is not None:
        return refused
    policy = view.state.policies.for_region(holder.admdvs)
    if current is None and len(view.relatives_of(holder_no)) >= policy.max_relatives:
        return refuse(Code.MAX_RELATIVES, f"共济人最多绑定 {policy.max_relatives} 名近亲属({policy.name})")
    return None


def check_kept(view: BindingView, binding: Binding) -> Decision | None:
    """Whether a binding already made still holds the rules that depend on its two people (insurance type,
    region, the relation the holder's region allows), as a change to them would leave them; None means yes."""
    holder, relative = view.person(binding.holder), view.person(binding.relative)
    assert holder is not None and relative is not None  # a bound person is never removed
    if holder.insutype != "310":
        return refuse(Code.HOLDER_NOT_EMPLOYEE, f"共济人 {holder.psn_no} 不是职工医保参保人,没有个人账户")
    return check_pair(view, holder, relative, binding.rltn)


def check_pair(view: BindingView, holder: Person, relative: Person, rltn: str) -> Decision | None:
    """The rules between a holder and a relative by their insurance places and relation: the holder's region
    allows ``rltn``, the same province, and the region's ``no_pool_to``."""
    policy = view.state.policies.for_region(holder.admdvs)
    if rltn not in policy.relations:
        return refuse(
            Code.RELATION_NOT_ALLOWED,
            f"{policy.name} 不允许绑定关系 {rltn}({_RELATION_NAMES.get(rltn, rltn)}),"
            f"允许:{', '.join(policy.relations)}",
        )
    if holder.admdvs[:2] != relative.admdvs[:2]:
        return refuse(Code.REGION_NOT_ALLOWED, f"近亲属须在同一省份参保({relative.admdvs} 与 {holder.admdvs})")
    if policy.refuses_pooling_to(holder.admdvs, relative.admdvs, relative.insutype):
        return refuse(
            Code.REGION_NOT_ALLOWED,
            f"{policy.name} 政策下 {holder.admdvs} 的职工不能向 {relative.admdvs} 的{relative.insutype}参保人共济",
        )
    return None
