"""``gongji-terminal demo --web``: the switch with its HTTP door, the demo's families loaded, the studio page served.

The page at the printed URL plays the same stories as the terminal demo (switch/web/demo.json), as a
client of the HTTP door; this command only starts the switch, loads the families and waits for Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, time
from typing import TYPE_CHECKING

from switch.signals import until_signalled

if TYPE_CHECKING:
    from switch.bootstrap import Running

__all__ = ["studio"]


async def studio(args: argparse.Namespace, switch: Running) -> int:
    """Reset the ledger, set the clock to the demo's morning, load the families, print the page's URL, serve."""
    from switch.service.clock import CST
    from switch.web import demo_data
    from terminal.clients.admin import Admin

    if switch.http is None:
        print("gongji-terminal demo --web: the HTTP door is off; pass --http HOST:PORT")
        return 2
    demo = json.loads(demo_data())
    start = time.fromisoformat(demo["start"])
    async with Admin(switch.broker_url, root=args.root) as admin:
        await admin.reset()
        await admin.clock(set=datetime.combine(datetime.now(CST).date(), start, CST), speed=args.speed)
        await admin.load(demo["people"], demo["bindings"])
    print(f"gongji studio: {switch.http.url}/ (switch clock {demo['start']} China time, ×{args.speed:g}; "
          f"{len(demo['people'])} people, {len(demo['stories'])} stories); Ctrl-C stops it", flush=True)
    await until_signalled()
    return 0
