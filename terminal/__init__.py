"""gongji terminals: POS, member-app and admin clients of the settlement switch."""

from terminal.admin import Admin
from terminal.app import MemberApp
from terminal.client import NoAnswer, Refused, SwitchClient
from terminal.pace import JumpPace, RealPace
from terminal.pos import Card, Checkout, Prompt, Step, Swipe, Terminal
from terminal.state import TerminalState

__all__ = ["Admin", "Card", "Checkout", "JumpPace", "MemberApp", "NoAnswer", "Prompt", "RealPace", "Refused",
           "Step", "Swipe", "SwitchClient", "Terminal", "TerminalState"]
