"""Browser tests: the checkout studio page driven in Debian's headless chromium against a real switch."""
