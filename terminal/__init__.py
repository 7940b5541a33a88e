"""gongji terminals: POS, member-app and admin clients of the settlement switch."""
