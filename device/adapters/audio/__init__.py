"""Adapters facing sound: the microphone, WAV files, the voice-activity detector, tones and speech out."""
