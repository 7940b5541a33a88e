"""The demo: checkout stories on simulated tills, and the screen that shows them."""
