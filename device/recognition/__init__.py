"""Speech to words: the recogniser protocol, token decoders, the constrained search and the neural recogniser."""
