"""The pure settlement core: state, rules and decisions, with no I/O and no clock."""

from switch.core.model import Decision, Event, State, apply
from switch.core.settlement import SettleCommand, cancel, person_info, reverse, settle

__all__ = ["Decision", "Event", "SettleCommand", "State", "apply", "cancel", "person_info", "reverse", "settle"]
