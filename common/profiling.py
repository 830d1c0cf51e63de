"""Parameters, multiply-accumulates (MACs) and latency of built Keras models.

MACs are measured, not typed in: `count_macs` runs one eager forward pass with batch 1 and,
while it runs, wraps the ``call`` of every layer of the model (nested layers and models
included) that does multiply-accumulates:

- convolutions (`Conv1D/2D/3D`, their ``Transpose`` variants, `DepthwiseConv1D/2D`,
  `SeparableConv1D/2D`), `Dense` and `EinsumDense`: from the shapes of the call's input,
  output and kernel, so strides, padding, dilation and groups are accounted for;
- any other layer that defines ``macs(self, input_shape) -> int``: the value it returns for
  the shape it was called with. Custom layers use it for their own matrix products (attention
  maps); they must not include their sub-layers, which are counted on their own.

A layer called twice (shared weights) is counted twice; element-wise work (normalisation,
activations, pooling, resizing, additions) is not counted, as in the usual MAC counts of
papers (thop, ptflops). Those counters do not see ``matmul`` calls inside a module either,
so `mac_breakdown` reports the two parts apart: ``layers`` (the paper convention) and
``matmul`` (from ``macs()``).
"""
from __future__ import annotations

import statistics
import time
from collections import defaultdict
from typing import Any, Sequence

import keras
import numpy as np

__all__ = ["count_params", "count_macs", "mac_breakdown", "latency_ms", "profile_model"]


def count_params(model: keras.Model, *, trainable_only: bool = False) -> int:
    """Number of weights of a built model.

    Args:
        model: a built Keras model (or layer).
        trainable_only: count only trainable weights. Batch-normalisation moving statistics
            are non-trainable, so this is what PyTorch's ``sum(p.numel() for p in
            model.parameters())`` counts; the default counts every weight, as
            ``model.count_params()``.
    """
    weights = model.trainable_weights if trainable_only else model.weights
    seen, total = set(), 0
    for weight in weights:
        if id(weight) in seen:
            continue
        seen.add(id(weight))
        total += int(np.prod(weight.shape))
    return total


def _shape(x) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape)


def _size(x) -> int:
    return int(np.prod(_shape(x)))


def _builtin_macs(layer, inputs, outputs) -> int | None:
    """MACs of one call of a built-in Keras layer, None when the layer does none."""
    L = keras.layers
    if isinstance(layer, (L.SeparableConv1D, L.SeparableConv2D)):
        depthwise = layer.depthwise_kernel.shape  # (*k, C_in, multiplier)
        kernel_volume = int(np.prod(depthwise[:-2]))
        channels = int(depthwise[-2]) * int(depthwise[-1])
        positions = _size(outputs) // int(layer.pointwise_kernel.shape[-1])
        return positions * channels * (kernel_volume + int(layer.pointwise_kernel.shape[-1]))
    if isinstance(layer, (L.DepthwiseConv1D, L.DepthwiseConv2D)):
        # each output element: one kernel window of one input channel
        return _size(outputs) * int(np.prod(layer.kernel.shape[:-2]))
    if isinstance(layer, (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)):
        kernel = layer.kernel.shape  # (*k, C_out, C_in): every input element is spread
        return _size(inputs) * int(np.prod(kernel[:-2])) * int(kernel[-2])
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)):
        kernel = layer.kernel.shape  # (*k, C_in / groups, C_out)
        return _size(outputs) * int(np.prod(kernel[:-1]))
    if isinstance(layer, L.EinsumDense):
        # each output element sums over the kernel axes that are not output axes
        left, output_spec = layer.equation.split("->")
        kernel_spec = left.split(",")[1]
        contracted = [int(dim) for axis, dim in zip(kernel_spec, layer.kernel.shape)
                      if axis not in output_spec]
        return _size(outputs) * int(np.prod(contracted))
    if isinstance(layer, L.Dense):
        return _size(outputs) * int(layer.kernel.shape[0])
    return None


def _all_layers(model) -> list:
    layers, seen = [], set()
    stack = [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        layers.append(layer)
        children = (layer._flatten_layers(include_self=False, recursive=False)
                    if hasattr(layer, "_flatten_layers") else getattr(layer, "layers", []))
        stack.extend(children)
    return layers


def _first_tensor_shape(args):
    first = args[0]
    if isinstance(first, (list, tuple)):
        return [_shape(t) for t in first]
    if isinstance(first, dict):
        return {key: _shape(t) for key, t in first.items()}
    return _shape(first)


def _model_input_specs(model) -> list:
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(f"model {model.name!r} has no defined inputs: pass input_shape")
    return [(tuple(t.shape), t.dtype) for t in inputs]


def _example_inputs(model, input_shape, batch_size: int, *, random: bool, seed: int = 0):
    """Arrays to feed ``model``: one per input, from ``input_shape`` (with or without batch)."""
    try:
        specs = _model_input_specs(model)
    except (ValueError, AttributeError):
        specs = None
    if input_shape is None:
        if specs is None:
            raise ValueError("the model has no defined inputs: pass input_shape")
        shapes = [shape[1:] for shape, _ in specs]
    else:
        multi = (isinstance(input_shape, (list, tuple)) and len(input_shape) > 0
                 and isinstance(input_shape[0], (list, tuple)))
        shapes = [tuple(s) for s in input_shape] if multi else [tuple(input_shape)]
        if specs is not None:
            # accept shapes that include a leading batch dimension
            shapes = [shape[1:] if len(shape) == len(spec) else shape
                      for shape, (spec, _) in zip(shapes, specs)]
    if any(d is None for shape in shapes for d in shape):
        raise ValueError(f"input shape {shapes} is not fully defined: pass input_shape")
    dtypes = ([str(dtype) for _, dtype in specs] if specs is not None
              else ["float32"] * len(shapes))
    rng = np.random.default_rng(seed)
    arrays = []
    for shape, dtype in zip(shapes, dtypes):
        full = (batch_size, *[int(d) for d in shape])
        if "int" in dtype:
            arrays.append(np.zeros(full, dtype=dtype))
        elif random:
            arrays.append(rng.standard_normal(full).astype(dtype))
        else:
            arrays.append(np.zeros(full, dtype=dtype))
    return arrays[0] if len(arrays) == 1 else arrays


def mac_breakdown(model: keras.Model, input_shape: Sequence | None = None) -> dict[str, Any]:
    """Multiply-accumulates of one forward pass of one example, by source.

    Args:
        model: a Keras model or layer (functional, sequential, subclassed, nested).
        input_shape: the shape of one input, with or without the batch axis, or a list of
            shapes for a model with several inputs; default: the model's own input shapes.

    Returns:
        ``{"layers": int, "matmul": int, "total": int, "per_layer": {name: int}}`` where
        ``layers`` counts convolution / dense layers, ``matmul`` the ``macs()`` of custom
        layers and ``per_layer`` every counted call by layer path (calls summed).
    """
    inputs = _example_inputs(model, input_shape, 1, random=False)
    counts = {"layers": 0, "matmul": 0}
    per_layer: dict[str, int] = defaultdict(int)
    patched = []

    def wrap(layer, original):
        def counted_call(*args, **kwargs):
            outputs = original(*args, **kwargs)
            macs = _builtin_macs(layer, args[0], outputs)
            kind = "layers"
            if macs is None:
                macs, kind = int(layer.macs(_first_tensor_shape(args))), "matmul"
            counts[kind] += macs
            per_layer[getattr(layer, "path", layer.name)] += macs
            return outputs
        return counted_call

    if not all(getattr(layer, "built", True) for layer in _all_layers(model)):
        # Build first: building traces call() symbolically, which must not be counted.
        model(inputs, training=False)
    for layer in _all_layers(model):
        if not _is_counted(layer):
            continue
        had_own = "call" in vars(layer)
        original = layer.call
        object.__setattr__(layer, "call", wrap(layer, original))
        patched.append((layer, had_own, original))
    try:
        model(inputs, training=False)
    finally:
        for layer, had_own, original in patched:
            if had_own:
                object.__setattr__(layer, "call", original)
            else:
                vars(layer).pop("call", None)
    total = counts["layers"] + counts["matmul"]
    return {"layers": counts["layers"], "matmul": counts["matmul"], "total": total,
            "per_layer": dict(per_layer)}


_COUNTED_TYPES = None


def _is_counted(layer) -> bool:
    global _COUNTED_TYPES
    if _COUNTED_TYPES is None:
        L = keras.layers
        _COUNTED_TYPES = (
            L.Conv1D, L.Conv2D, L.Conv3D, L.Conv1DTranspose, L.Conv2DTranspose,
            L.Conv3DTranspose, L.DepthwiseConv1D, L.DepthwiseConv2D, L.SeparableConv1D,
            L.SeparableConv2D, L.Dense, L.EinsumDense,
        )
    if isinstance(layer, _COUNTED_TYPES):
        return True
    return callable(getattr(type(layer), "macs", None))


def count_macs(model: keras.Model, input_shape: Sequence | None = None, *,
               include_matmul: bool = True) -> int:
    """Multiply-accumulates of one forward pass of one example, measured on the built model.

    Args:
        model: a Keras model or layer.
        input_shape: shape of one input (batch axis optional) or a list of shapes; default:
            the model's input shapes.
        include_matmul: add the matrix products that custom layers report through
            ``macs(input_shape)``; ``False`` counts convolution / dense layers only (the
            convention of PyTorch counters such as thop and ptflops).
    """
    breakdown = mac_breakdown(model, input_shape)
    return breakdown["total"] if include_matmul else breakdown["layers"]


def latency_ms(model: keras.Model, input_shape: Sequence | None = None, *, warmup: int = 5,
               runs: int = 20, batch_size: int = 1, seed: int = 0) -> float:
    """Median wall-clock time of ``model.predict_on_batch`` on one random batch, in ms.

    The first call (tracing / compilation) is always a warm-up call and never timed.

    Args:
        model: a Keras model.
        input_shape: shape of one input (batch axis optional) or a list of shapes.
        warmup: untimed calls before timing (at least 1 is made).
        runs: timed calls; the median is returned.
        batch_size: examples per call (1: the latency of one image).
        seed: seed of the random input.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    inputs = _example_inputs(model, input_shape, batch_size, random=True, seed=seed)
    for _ in range(max(1, warmup)):
        model.predict_on_batch(inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict_on_batch(inputs)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def profile_model(model: keras.Model, input_shape: Sequence | None = None, *, warmup: int = 5,
                  runs: int = 20, batch_size: int = 1, include_matmul: bool = True,
                  measure_latency: bool = True) -> dict[str, Any]:
    """Parameters, MACs and latency of a model in one dict.

    Args:
        model: a built Keras model.
        input_shape: shape of one input (batch axis optional) or a list of shapes.
        warmup, runs, batch_size: passed to `latency_ms`.
        include_matmul: whether ``macs`` includes the custom layers' matrix products.
        measure_latency: time the model (``latency_ms`` and ``fps`` are None otherwise).

    Returns:
        ``{"params", "trainable_params", "macs", "layer_macs", "matmul_macs",
        "latency_ms", "fps"}``: ``macs`` per example (``layer_macs + matmul_macs`` or
        ``layer_macs`` alone), ``fps = 1000 * batch_size / latency_ms``.
    """
    breakdown = mac_breakdown(model, input_shape)
    result: dict[str, Any] = {
        "params": count_params(model),
        "trainable_params": count_params(model, trainable_only=True),
        "macs": breakdown["total"] if include_matmul else breakdown["layers"],
        "layer_macs": breakdown["layers"],
        "matmul_macs": breakdown["matmul"],
        "latency_ms": None,
        "fps": None,
    }
    if measure_latency:
        ms = latency_ms(model, input_shape, warmup=warmup, runs=runs, batch_size=batch_size)
        result["latency_ms"] = ms
        result["fps"] = 1000.0 * batch_size / ms if ms > 0 else float("inf")
    return result
