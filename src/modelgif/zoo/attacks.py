"""The derivative recipes: how a thief turns the owner's source model into a suspect.

Why these, and why here: they are the attacks of the SAC / ModelGiF IP benchmark (Guan et
al., NeurIPS 2022; Song et al., ICCV 2023), each a small pure function from a parent model and
the attacker's data to a new model, so the ground truth in the manifest is exactly the code that
made the model.

    torch parent ──finetune_all / finetune_last / fine_prune / transfer──> torch child
    teacher logits ──extract (soft | hard)──> student ──adversarial──> robust student
    normalized ONNX ──quantize_dynamic_int8 / quantize_static_qdq_int8──> int8 ONNX

Fine-pruning (Liu et al., 2018) is applied to the penultimate layer that every ZooNet has:
the units least active on the attacker's data are removed (their weights zeroed and kept at
zero) and the network is fine-tuned. Transfer regroups the ten classes into a coarser label
space and fine-tunes the whole network with a fresh head. Quantization uses onnxruntime's
own tools; static QDQ calibrates on a sample of data handed in by the caller.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import torch
from torch import nn

from modelgif.errors import InputError
from modelgif.zoo.architectures import ZooNet
from modelgif.zoo.training import Adversary, TrainConfig, predict_logits, train

__all__ = [
    "LABEL_MAPS",
    "adversarial",
    "extract",
    "fine_prune",
    "finetune_all",
    "finetune_last",
    "map_labels",
    "quantize_dynamic_int8",
    "quantize_static_qdq_int8",
    "teacher_outputs",
    "transfer",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

LABEL_MAPS: dict[str, tuple[int, ...]] = {
    "mod5": (0, 1, 2, 3, 4, 0, 1, 2, 3, 4),
    "low-high": (0, 0, 0, 0, 0, 1, 1, 1, 1, 1),
}
"""Regroupings of the ten digit classes that define the Transfer tasks' label spaces."""


def map_labels(labels: IntArray, label_map: str | None) -> IntArray:
    """Labels of the ten-class task mapped into `label_map`'s label space (None: unchanged)."""
    if label_map is None:
        return labels
    if label_map not in LABEL_MAPS:
        raise InputError(f"Unknown label map {label_map!r}; known: {', '.join(LABEL_MAPS)}.")
    table = np.asarray(LABEL_MAPS[label_map], dtype=np.int64)
    return table[labels]


def finetune_all(
    parent: ZooNet, x: FloatArray, y: IntArray, config: TrainConfig, seed: int
) -> ZooNet:
    """Finetune-A: every layer of a copy of `parent` trained on (x, y)."""
    child = copy.deepcopy(parent)
    train(child, x, y, config, seed)
    return child


def finetune_last(
    parent: ZooNet, x: FloatArray, y: IntArray, config: TrainConfig, seed: int
) -> ZooNet:
    """Finetune-L: only the last layer (`head`) of a copy of `parent` trained on (x, y)."""
    child = copy.deepcopy(parent)
    train(child, x, y, config, seed, params=child.head.parameters())
    return child


def fine_prune(
    parent: ZooNet, x: FloatArray, y: IntArray, rate: float, config: TrainConfig, seed: int
) -> ZooNet:
    """Fine-pruning: drop the `rate` fraction of penultimate units least active on x, fine-tune.

    Pruned units have their incoming weights, bias and outgoing weights set to zero, and are
    held at zero through fine-tuning.
    """
    if not 0.0 < rate < 1.0:
        raise InputError(f"The 'rate' parameter of fine_prune() must be in (0, 1). Got {rate!r}.")
    child = copy.deepcopy(parent)
    activation = _mean_activation(child, x)
    n_pruned = round(rate * len(activation))
    pruned = torch.argsort(activation, stable=True)[:n_pruned]

    def apply_mask() -> None:
        with torch.no_grad():
            child.hidden.weight[pruned] = 0.0
            child.hidden.bias[pruned] = 0.0
            child.head.weight[:, pruned] = 0.0

    apply_mask()
    return _as_zoonet(train(child, x, y, config, seed, after_step=apply_mask))


def _mean_activation(model: ZooNet, x: FloatArray) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        features: torch.Tensor = model.body(torch.from_numpy(x))
    return features.mean(dim=0)


def extract(
    student: ZooNet, teacher_logits: FloatArray, x: FloatArray, soft: bool,
    config: TrainConfig, seed: int,
) -> ZooNet:
    """Extract-P (`soft`: the teacher's probabilities) or Extract-L (its top-1 labels).

    `teacher_logits` are the teacher's outputs on the attacker's queries `x`: all the
    attacker ever learns of the teacher.
    """
    logits = torch.from_numpy(np.ascontiguousarray(teacher_logits))
    if soft:
        target: FloatArray | IntArray = torch.softmax(logits, dim=1).numpy().astype(np.float32)
    else:
        target = logits.argmax(dim=1).numpy().astype(np.int64)
    return _as_zoonet(train(student, x, target, config, seed))


def adversarial(
    parent: ZooNet, x: FloatArray, labels: IntArray, adversary: Adversary,
    config: TrainConfig, seed: int,
) -> ZooNet:
    """Extract-Adv: a copy of an extracted student trained on PGD examples of (x, labels)."""
    child = copy.deepcopy(parent)
    return _as_zoonet(train(child, x, labels, config, seed, adversary=adversary))


def transfer(
    parent: ZooNet, x: FloatArray, y: IntArray, label_map: str, config: TrainConfig, seed: int
) -> ZooNet:
    """Transfer: a copy of `parent` with a fresh head for `label_map`, all layers fine-tuned."""
    child = copy.deepcopy(parent)
    n_classes = len(set(LABEL_MAPS[label_map])) if label_map in LABEL_MAPS else 0
    if n_classes == 0:
        raise InputError(f"Unknown label map {label_map!r}; known: {', '.join(LABEL_MAPS)}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        child.head = nn.Linear(child.head.in_features, n_classes)
    return _as_zoonet(train(child, x, map_labels(y, label_map), config, seed))


def teacher_outputs(model: nn.Module, x: FloatArray) -> FloatArray:
    """The logits a white-box teacher returns on x (float32 numpy)."""
    return predict_logits(model, x).numpy().astype(np.float32)


def quantize_dynamic_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxruntime dynamic quantization: int8 weights, activations quantized at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="modelgif-quant-") as folder:
        prepared, out = _prepare_for_quantization(model, Path(folder)), Path(folder) / "dyn.onnx"
        quantize_dynamic(prepared, out, weight_type=QuantType.QInt8)
        return _drop_unused_opsets(onnx.load(str(out)))


def quantize_static_qdq_int8(model: onnx.ModelProto, calibration: FloatArray) -> onnx.ModelProto:
    """onnxruntime static quantization in QDQ format, int8, calibrated (min-max) on samples."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    with tempfile.TemporaryDirectory(prefix="modelgif-quant-") as folder:
        prepared, out = _prepare_for_quantization(model, Path(folder)), Path(folder) / "qdq.onnx"
        reader = _CalibrationReader(model.graph.input[0].name, calibration)
        quantize_static(
            prepared, out, reader, quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        )
        return _drop_unused_opsets(onnx.load(str(out)))


class _CalibrationReader:
    """onnxruntime's CalibrationDataReader protocol over a numpy array, in batches of 64."""

    def __init__(self, input_name: str, x: FloatArray, batch: int = 64) -> None:
        self._batches = iter([{input_name: x[i : i + batch]} for i in range(0, len(x), batch)])

    def get_next(self) -> dict[str, FloatArray] | None:
        return next(self._batches, None)

    def rewind(self) -> None:
        """Not needed by min-max calibration (one pass)."""


def _prepare_for_quantization(model: onnx.ModelProto, folder: Path) -> Path:
    """onnxruntime's recommended pre-processing, written to a file in `folder`.

    It is given a copy (the quantizers modify a ModelProto they are handed). Its symbolic
    shape inference trips on the canonical graph; onnx's own shape inference suffices.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    clone = onnx.ModelProto()
    clone.CopyFrom(model)
    prepared = folder / "prepared.onnx"
    quant_pre_process(clone, prepared, skip_symbolic_shape=True)
    return prepared


def _drop_unused_opsets(model: onnx.ModelProto) -> onnx.ModelProto:
    """The quantizer imports domains (e.g. ai.onnx.ml) that no node uses; drop those."""
    used = {node.domain for node in model.graph.node} | {"", "ai.onnx"}
    keep = [opset for opset in model.opset_import if opset.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    return model


def _as_zoonet(model: nn.Module) -> ZooNet:
    if not isinstance(model, ZooNet):
        raise InputError(f"Expected a ZooNet, got {type(model).__name__}.")
    return model
