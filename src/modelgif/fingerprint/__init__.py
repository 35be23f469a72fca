"""modelgif.fingerprint: a model -> a signed fingerprint of its gradient field.

    model file / torch module ──normalize──> NormalizedModel {canonical ONNX, digest, specs}
        (safe_onnx: hostile input; export: torch -> ONNX)
    owner key ──> per-fingerprint secret ──anchors──> AnchorSet (secret) + commitment (public)
    NormalizedModel + anchors + FieldConfig ──field(backend: exact | black-box)──> sketch
    sketch + config echo + digests ──record/signing──> .mgf file (DSSE, encrypted anchors)

Only `normalize` is public here for now; the other stages land with their issues.
"""

from modelgif.fingerprint.normalize import NormalizedModel, TensorSpec, load_normalized, normalize

__all__ = ["NormalizedModel", "TensorSpec", "load_normalized", "normalize"]
