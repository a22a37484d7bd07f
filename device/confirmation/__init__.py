"""The press: the order session in audio time, button gestures, the LED's patterns and the mute."""
