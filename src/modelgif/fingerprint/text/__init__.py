"""Text transformers as their owners ship them: token-id ONNX files and Hugging Face folders.

    hf_folder.py   folder -> token-id ONNX (transformers offline, safetensors, torch export)
    cut.py         token-id ONNX -> one float input [batch, T, hidden] at the embedding lookup
    model.py       either -> TextModel (cut checked against the original, normalized, table E)
    tokenizer.py   tokenizer.json: vocabulary digest, special tokens, text windows
    anchors.py     secret token-id anchors (synthetic, subset of texts, augmented)
    field.py       the field in the one-hot token space (shared across hidden sizes)
    per_sample.py  exact gradients of a dynamically quantized graph, per sample under vmap
    fingerprint.py fingerprint, compare and calibrate text models (the same .mgf, verdicts)
"""

__all__: list[str] = []  # the modules are the API: cut, model, field, fingerprint, ...
