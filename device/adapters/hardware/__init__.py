"""Adapters facing the board: GPIO through gpiozero, and systemd's notification socket and journal."""
