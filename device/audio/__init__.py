"""Audio in and out, in the order it flows: frames from a source, the wake word, the request's end, the voice."""
