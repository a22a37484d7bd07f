"""Adapters facing speech engines: wake-word models and recognisers (onnxruntime, CTranslate2, TFLite, Kaldi)."""
