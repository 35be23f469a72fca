"""The original model in onnxruntime, to check that normalization kept its function.

Why its own file: a fixed-batch original runs only on its own batch (batching.py), a uint8
original only on uint8 (input_space.py), a several-output original at the chosen output;
and when the normalized model fails to run, the one-line error must say whether a dynamic
batch is the fix (it is when batch 1 runs).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort

from modelgif.errors import ModelLoadError
from modelgif.fingerprint.backends.blackbox import is_quantized_graph
from modelgif.fingerprint.batching import DYNAMIC_FIX, fixed_batch, run_in_batches
from modelgif.fingerprint.input_space import source_dtype, to_source_dtype
from modelgif.fingerprint.ort_errors import ort_message
from modelgif.runtime import make_session

__all__ = ["Reference", "onnx_reference", "run_error"]

Reference = Callable[[np.ndarray], np.ndarray]


def onnx_reference(original: onnx.ModelProto, output_name: str, name: str) -> Reference:
    """The original ONNX in onnxruntime (at its own batch if fixed), to check normalization."""
    try:
        session = make_session(original.SerializeToString(),
                               fused=not is_quantized_graph(original))
    except Exception as error:  # onnxruntime raises its own exception types
        raise ModelLoadError(f"{name}: onnxruntime cannot load this model "
                             f"({ort_message(error)})") from None
    inputs = session.get_inputs()[0]
    dtype = source_dtype(original)
    batch = fixed_batch(original)

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run([output_name], {inputs.name: to_source_dtype(x, dtype)})[0])

    return run if batch is None else (lambda x: run_in_batches(run, batch, x))


def run_error(session: ort.InferenceSession, input_name: str, batch: np.ndarray, error: Exception,
              name: str) -> ModelLoadError:
    """One line: which file, what failed; the dynamic-batch fix when batch 1 does run."""
    try:
        session.run(None, {input_name: batch[:1]})
        runs_alone = True
    except Exception:  # onnxruntime raises its own exception types
        runs_alone = False
    if runs_alone:
        return ModelLoadError(f"{name}: onnxruntime cannot run this model at batch {len(batch)} "
                              f"({ort_message(error)}): {DYNAMIC_FIX}")
    return ModelLoadError(f"{name}: onnxruntime cannot run this model ({ort_message(error)})")
