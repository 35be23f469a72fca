"""modelgif.fingerprint: a model -> a signed fingerprint of its gradient field.

    model file / torch module ──normalize──> NormalizedModel {canonical ONNX, digest, specs}
        safe_onnx: hostile input; export: torch -> ONNX
    owner key + fingerprint id ──crypto.kdf (HKDF)──> anchor secret, anchor key, sketch secret
    anchor secret (+ owner's pool) ──anchors──> secret anchors
    NormalizedModel + anchors + FieldConfig ──field──> sketch (N anchors, S steps, k)
        backends: exact (torch_graph: our ONNX interpreter, reverse mode)
                  black-box (central differences; onnxruntime or any callable)
    sketches + config echo + digests ──create / record / crypto.signing──> .mgf file
        (DSSE over an in-toto statement; arrays; AES-GCM sealed anchors)

The .mgf format (record.py) is versioned; every released version keeps a fixture in
tests/fingerprint/data that must still load.
"""

from modelgif.crypto.keys import (
    generate_key,
    keyid,
    load_private_key,
    load_public_key,
    save_keypair,
)
from modelgif.fingerprint.anchors import AnchorConfig, AnchorSet, derive_anchors
from modelgif.fingerprint.create import create_fingerprint, open_secrets
from modelgif.fingerprint.field import FieldConfig, FieldResult, compute_field, field_cosines
from modelgif.fingerprint.normalize import NormalizedModel, TensorSpec, load_normalized, normalize
from modelgif.fingerprint.record import (
    Fingerprint,
    load_fingerprint,
    read_fingerprint_unverified,
)
from modelgif.fingerprint.reveal import Reveal, read_reveal, write_reveal

__all__ = [
    "AnchorConfig",
    "AnchorSet",
    "FieldConfig",
    "FieldResult",
    "Fingerprint",
    "NormalizedModel",
    "Reveal",
    "TensorSpec",
    "compute_field",
    "create_fingerprint",
    "derive_anchors",
    "field_cosines",
    "generate_key",
    "keyid",
    "load_fingerprint",
    "load_normalized",
    "load_private_key",
    "load_public_key",
    "normalize",
    "open_secrets",
    "read_fingerprint_unverified",
    "read_reveal",
    "save_keypair",
    "write_reveal",
]
