#!/usr/bin/python3
"""Writes ONNX models that vaec did not produce, and their expected outputs.

The models are built with the onnx.helper API of Debian's python3-onnx
(onnx 1.12) and checked with onnx.checker; the expected outputs are computed
here with numpy, independently of both vaec's exporter and its runtime. The
runtime's tests load the committed files; Python is only needed to
regenerate them:

    cd testdata/foreign && /usr/bin/python3 gen.py

Files written, for each model NAME:
    NAME.onnx          the model
    NAME.json          {"inputs": {name: {"shape", "data"}}, "outputs": {...}}
"""

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(20240501)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def save(name, model, inputs, outputs):
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, name + ".onnx")

    def enc(d):
        return {
            k: {"shape": list(v.shape), "data": [float(x) for x in v.astype(np.float32).ravel()]}
            for k, v in d.items()
        }

    with open(name + ".json", "w") as f:
        json.dump({"inputs": enc(inputs), "outputs": enc(outputs)}, f, indent=0)
        f.write("\n")


def pytorch_style_decoder():
    """A PyTorch-style VAE decoder: Gemm with transB=1 (weights [out, in]),
    Relu, Gemm, Sigmoid; opset 13, symbolic batch dimension "batch"."""
    w1, b1 = f32(16, 4, scale=0.5), f32(16, scale=0.1)
    w2, b2 = f32(12, 16, scale=0.3), f32(12, scale=0.1)
    nodes = [
        helper.make_node("Gemm", ["z", "fc1.weight", "fc1.bias"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["hr"], name="relu1"),
        helper.make_node("Gemm", ["hr", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", alpha=1.0, beta=1.0, transB=1),
        helper.make_node("Sigmoid", ["logits"], ["probs"], name="out"),
    ]
    graph = helper.make_graph(
        nodes,
        "decoder",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 12])],
        initializer=[
            numpy_helper.from_array(w1, "fc1.weight"),
            numpy_helper.from_array(b1, "fc1.bias"),
            numpy_helper.from_array(w2, "fc2.weight"),
            numpy_helper.from_array(b2, "fc2.bias"),
        ],
    )
    model = helper.make_model(graph, producer_name="onnx.helper (testdata/foreign/gen.py)",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    z = f32(5, 4)
    h = np.maximum(z @ w1.T + b1, 0)
    probs = sigmoid(h @ w2.T + b2)
    save("mlp_decoder", model, {"z": z}, {"probs": probs})


def many_ops():
    """Every operator the runtime supports, with broadcasting, shape
    arithmetic and attribute variants; opset 17, two outputs."""
    w = f32(6, 5, scale=0.4)
    b = f32(5, scale=0.1)
    scale = f32(1, 5)
    c = np.array([0.5], dtype=np.float32)
    shape2 = np.array([0, -1], dtype=np.int64)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "b"], ["a1"], name="bias"),
        helper.make_node("Tanh", ["a1"], ["t"], name="tanh"),
        helper.make_node("Elu", ["a1"], ["e"], name="elu", alpha=0.7),
        helper.make_node("LeakyRelu", ["a1"], ["l"], name="leaky", alpha=0.2),
        helper.make_node("Softplus", ["a1"], ["sp"], name="softplus"),
        helper.make_node("Mul", ["t", "scale"], ["m1"], name="mul_bcast"),
        helper.make_node("Sub", ["e", "l"], ["d1"], name="sub"),
        helper.make_node("Constant", [], ["half"], name="const_half", value=numpy_helper.from_array(c, "half")),
        helper.make_node("Mul", ["sp", "half"], ["sph"], name="mul_scalar"),
        helper.make_node("Exp", ["sph"], ["ex"], name="exp"),
        helper.make_node("Div", ["m1", "ex"], ["q"], name="div"),
        helper.make_node("Add", ["q", "d1"], ["s1"], name="add"),
        helper.make_node("Neg", ["s1"], ["n1"], name="neg"),
        helper.make_node("Identity", ["n1"], ["y0"], name="identity"),
        # y0 [N,5] → [N,1,5] → expand to [N,3,5] → flatten to [N,15]
        helper.make_node("Shape", ["y0"], ["shp"], name="shape"),
        helper.make_node("Constant", [], ["s3"], name="const_shape", value_ints=[0, 1, 5]),
        helper.make_node("Reshape", ["y0", "s3"], ["r3"], name="reshape3"),
        helper.make_node("Constant", [], ["e3"], name="const_expand", value_ints=[1, 3, 1]),
        helper.make_node("Expand", ["r3", "e3"], ["ex3"], name="expand"),
        helper.make_node("Flatten", ["ex3"], ["flat"], name="flatten", axis=1),
        helper.make_node("Reshape", ["flat", "shape2"], ["y1"], name="reshape_back"),
        helper.make_node("Shape", ["y1"], ["shp_tail"], name="shape_tail", start=1),
        helper.make_node("Expand", ["b", "shp"], ["bb"], name="expand_bias"),
        helper.make_node("Sigmoid", ["bb"], ["y2"], name="sigmoid"),
    ]
    graph = helper.make_graph(
        nodes,
        "many_ops",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
        [
            helper.make_tensor_value_info("y1", TensorProto.FLOAT, ["N", 15]),
            helper.make_tensor_value_info("y2", TensorProto.FLOAT, ["N", 5]),
        ],
        initializer=[
            numpy_helper.from_array(w, "w"),
            numpy_helper.from_array(b, "b"),
            numpy_helper.from_array(scale, "scale"),
            numpy_helper.from_array(shape2, "shape2"),
        ],
    )
    model = helper.make_model(graph, producer_name="onnx.helper (testdata/foreign/gen.py)",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = f32(7, 6)
    x64 = x.astype(np.float64)
    a1 = (x64 @ w.astype(np.float64)) + b
    t = np.tanh(a1)
    e = np.where(a1 > 0, a1, 0.7 * np.expm1(a1))
    l = np.where(a1 > 0, a1, 0.2 * a1)
    sp = np.log1p(np.exp(a1))
    m1 = t * scale
    d1 = e - l
    ex = np.exp(sp * 0.5)
    y0 = -(m1 / ex + d1)
    y1 = np.broadcast_to(y0.reshape(7, 1, 5), (7, 3, 5)).reshape(7, 15)
    y2 = np.broadcast_to(sigmoid(b), (7, 5))
    save("many_ops", model, {"x": x}, {"y1": y1.astype(np.float32), "y2": y2.astype(np.float32)})


if __name__ == "__main__":
    pytorch_style_decoder()
    many_ops()
