"""What the device reports: the retained state, fleet counters and Home Assistant discovery."""
