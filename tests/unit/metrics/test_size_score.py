import pytest

from tests.unit.metrics.builders import model, rate_input
from tmr.domain.rating import SIZE_DEVICES
from tmr.metrics import size_score

MB = 1_000_000


@pytest.mark.parametrize(
    ("files", "fmt", "size"),
    [
        (
            {
                "model.safetensors": 440 * MB,
                "pytorch_model.bin": 440 * MB,
                "tf_model.h5": 536 * MB,
                "flax_model.msgpack": 438 * MB,
                "model.onnx": 532 * MB,
            },
            "safetensors",
            440 * MB,
        ),
        ({"pytorch_model.bin": 268 * MB, "training_args.bin": 4000}, "pytorch", 268 * MB),
        (
            {
                "model-00001-of-00002.safetensors": 5000 * MB,
                "model-00002-of-00002.safetensors": 3000 * MB,
            },
            "safetensors",
            8000 * MB,
        ),
        ({"onnx/model.onnx": 20 * MB, "onnx/model_quantized.onnx": 5 * MB}, "onnx", 25 * MB),
        (
            {"coreml/x.mlpackage/Data/weights/weight.bin": 500 * MB, "tf_model.h5": 400 * MB},
            "coreml",
            500 * MB,
        ),
    ],
    ids=["dedupe-formats", "ignore-training-args", "sharded", "onnx-only", "coreml-bin"],
)
def test_one_weight_format_is_counted(files, fmt, size):
    result = size_score.compute(rate_input(model(files=files)))
    assert result.evidence["format"] == fmt
    assert result.evidence["weight_bytes"] == size


@pytest.mark.parametrize(
    ("size_mb", "expected"),
    [
        (151, {"raspberry_pi": 0.91, "jetson_nano": 0.95, "desktop_pc": 0.99, "aws_server": 1.0}),
        (440, {"raspberry_pi": 0.23, "jetson_nano": 0.54, "desktop_pc": 0.95, "aws_server": 1.0}),
        (8000, {"raspberry_pi": 0.0, "jetson_nano": 0.0, "desktop_pc": 0.0, "aws_server": 0.75}),
    ],
)
def test_scores_fall_with_share_of_device_budget(size_mb, expected):
    result = size_score.compute(rate_input(model(files={"model.safetensors": size_mb * MB})))
    for device in SIZE_DEVICES:
        assert result.score[device] == pytest.approx(expected[device], abs=0.01)


def test_no_weights_is_inconclusive():
    result = size_score.compute(rate_input(model(files={"README.md": 100})))
    assert result.inconclusive
    assert result.score == {d: 0.0 for d in SIZE_DEVICES}
