"""gongji terminals: POS, member-app and admin clients of the settlement switch."""

from terminal.clients.admin import Admin, HttpAdmin
from terminal.clients.http import HttpStatus, HttpSwitchClient, Unreachable
from terminal.clients.member_app import MemberApp
from terminal.clients.mqtt import NoAnswer, Refused, SwitchClient
from terminal.clients.pace import JumpPace, RealPace
from terminal.clients.pos import Card, Checkout, PosLine, Prompt, Step, Swipe, Terminal
from terminal.clients.state import TerminalState

__all__ = ["Admin", "Card", "Checkout", "HttpAdmin", "HttpStatus", "HttpSwitchClient", "JumpPace", "MemberApp",
           "NoAnswer", "PosLine", "Prompt", "RealPace", "Refused", "Step", "Swipe", "SwitchClient", "Terminal",
           "TerminalState", "Unreachable"]
