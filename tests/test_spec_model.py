"""The ModelSpec pydantic model: field names, constraints, helpers, JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from skewaudit.model.spec import ModelSpec, json_schema

SPECS = Path(__file__).resolve().parent / "fixtures" / "specs"
REPO = Path(__file__).resolve().parent.parent


def _doc(**spec_overrides) -> dict:
    doc = {
        "apiVersion": "skewaudit.io/v1alpha1",
        "kind": "ModelSpec",
        "metadata": {"name": "m"},
        "spec": {
            "identity": {"model": {"id": "org/m", "family": "f", "task": "chat", "framework": "vllm"}},
            "runtime": {"accelerator": {"vendor": "nvidia", "type": "a100-80gb", "count": 4}},
        },
    }
    doc["spec"].update(spec_overrides)
    return doc


def _engine(**engine) -> dict:
    return _doc(runtime={"accelerator": {"vendor": "nvidia", "type": "a100-80gb", "count": 4}, "engine": engine})


def _errors(doc: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as e:
        ModelSpec.model_validate(doc, by_alias=True, by_name=False)
    return [(".".join(str(p) for p in err["loc"]), err["msg"]) for err in e.value.errors()]


def test_every_public_piqc_field_reads_unchanged():
    raw = yaml.safe_load((SPECS / "piqc-all-fields.yaml").read_text())
    spec = ModelSpec.model_validate(raw)
    assert spec.spec.governance.cost.target_cost_per_1k_tokens_usd == 0.002
    assert spec.spec.pipeline.dependencies[0].interface.max_latency_ms == 50
    assert [d.role for d in spec.spec.pipeline.dependencies] == ["guardrail", "input", "reranker", "postprocess",
                                                                 "custom"]
    assert spec.spec.operations.scaling.target_latency_ms_p95 == 800
    assert spec.spec.runtime.environment.variables["TOKENIZERS_PARALLELISM"] == "false"
    # Nothing is lost or renamed: dumping by YAML names gives the document back.
    assert spec.model_dump(by_alias=True, exclude_unset=True) == raw


def test_every_extension_field_round_trips_with_raw_constraint_values():
    raw = yaml.safe_load((SPECS / "extensions-all-fields.yaml").read_text())
    spec = ModelSpec.model_validate(raw)
    e = spec.spec.runtime.engine
    assert e.gpu_memory_utilization == "0.90 +- 0.02"      # stored as written, not compiled
    assert e.max_model_len == ">=16K"
    assert e.dtype == ["bfloat16", "auto"]
    assert spec.spec.runtime.gpu.gpu_class == "h100"      # YAML key `class`
    assert spec.spec.operations.orchestration.requests == {"cpu": "500m", "memory": "80G", "nvidia.com/gpu": 2}
    assert spec.spec.operations.serving.readiness_probe.port == "http"
    assert str(spec.spec.policy.ignore[0].expires) == "2099-12-31"
    assert spec.model_dump(by_alias=True, exclude_unset=True) == raw


def test_snake_case_keys_are_rejected_in_documents_but_work_in_python():
    assert _errors(_engine(max_model_len=8192)) == [("spec.runtime.engine.max_model_len",
                                                     "Extra inputs are not permitted")]
    from skewaudit.model.spec import Engine

    assert Engine(max_model_len="32K").max_model_len == "32K"


@pytest.mark.parametrize("engine, loc, words", [
    ({"gpuMemoryUtilization": "0.9 ± x"}, "spec.runtime.engine.gpuMemoryUtilization", "expected a number"),
    ({"gpuMemoryUtilization": ">=0.8,<"}, "spec.runtime.engine.gpuMemoryUtilization", "cannot read"),
    ({"gpuMemoryUtilization": 1.5}, "spec.runtime.engine", "in (0, 1]"),
    ({"maxModelLen": "32q"}, "spec.runtime.engine.maxModelLen", "not a token length"),
    ({"maxModelLen": {"a": 1}}, "spec.runtime.engine.maxModelLen", "expected a token length"),
    ({"maxModelLen": True}, "spec.runtime.engine.maxModelLen", "expected a token length"),
    ({"version": "banana"}, "spec.runtime.engine.version", "not a version"),
    ({"tensorParallelSize": 0}, "spec.runtime.engine.tensorParallelSize", "greater than or equal to 1"),
    ({"tensorParallelSize": "4"}, "spec.runtime.engine.tensorParallelSize", "valid integer"),
    ({"enablePrefixCaching": "yes"}, "spec.runtime.engine.enablePrefixCaching", "valid boolean"),
    ({"imageDigest": "sha256:abc"}, "spec.runtime.engine.imageDigest", "pattern"),
    ({"name": "VLLM"}, "spec.runtime.engine.name", "'vllm'"),
    ({"dtype": []}, "spec.runtime.engine.dtype", "empty list"),
])
def test_bad_engine_values_name_the_field(engine, loc, words):
    errors = _errors(_engine(**engine))
    assert len(errors) == 1
    assert errors[0][0] == loc
    assert words in errors[0][1]


def test_integer_fields_refuse_booleans_but_text_fields_take_numbers():
    assert _errors(_doc(runtime={"accelerator": {"vendor": "nvidia", "type": "t4", "count": True}}))[0][0] \
        == "spec.runtime.accelerator.count"
    doc = _doc()
    doc["metadata"]["version"] = 1.0
    assert ModelSpec.model_validate(doc).metadata.version == "1.0"


def test_quantities_and_ports():
    bad = _doc(operations={"orchestration": {"requests": {"memory": "80GiB"}}})
    assert _errors(bad)[0][0] == "spec.operations.orchestration.requests.memory"
    assert _errors(_doc(operations={"serving": {"port": 70000}}))[0][0] == "spec.operations.serving.port"


def test_ignore_needs_a_reason_and_a_check_or_field():
    errs = _errors(_doc(policy={"ignore": [{"check": "runtime.dtype", "reason": "  "}]}))
    assert errs == [("spec.policy.ignore.0.reason", "String should have at least 1 character")]
    errs = _errors(_doc(policy={"ignore": [{"reason": "because"}]}))
    assert errs == [("spec.policy.ignore.0", "an ignore needs 'check' or 'field' (or both)")]


def test_unquoted_off_severity_means_off():
    spec = ModelSpec.model_validate(_doc(policy={"severity": {"runtime.dtype": False}}))
    assert spec.spec.policy.severity == {"runtime.dtype": "off"}


def test_pins_default_to_everything():
    assert ModelSpec.model_validate(_doc()).pins == {"image-tag", "image-digest", "model-revision",
                                                     "tokenizer-revision", "dtype", "engine-version"}
    spec = ModelSpec.model_validate(_doc(policy={"pin": ["dtype"]}))
    assert spec.pins == {"dtype"} and spec.spec.policy.pin == ["dtype"]
    assert len(ModelSpec.model_validate(_doc(policy={})).spec.policy.pin) == 6


def test_engine_name_falls_back_to_the_piqc_framework():
    assert ModelSpec.model_validate(_doc()).engine_name == "vllm"
    doc = _doc()
    doc["spec"]["identity"]["model"]["framework"] = "Text-Generation-Inference"
    assert ModelSpec.model_validate(doc).engine_name == "tgi"
    assert ModelSpec.model_validate(_engine(name="sglang")).engine_name == "sglang"


def test_gpu_count_prefers_the_gpu_section():
    assert ModelSpec.model_validate(_doc()).gpu_count == 4
    doc = _doc(runtime={"accelerator": {"vendor": "nvidia", "type": "t4", "count": 4}, "gpu": {"count": 2}})
    assert ModelSpec.model_validate(doc).gpu_count == 2


def test_target_request():
    from skewaudit.collect.request import Target

    # without a target the spec's own name is only a fallback (unread kinds are named by it)
    plain = ModelSpec.model_validate(_doc())
    assert plain.target_request() == Target(fallback_name=plain.metadata.name)
    spec = ModelSpec.model_validate(_doc(target={"namespace": "ml", "kind": "Deployment", "name": "x",
                                                 "selector": {"app": "x"}, "container": "vllm", "context": "c"}))
    assert spec.target_request() == Target(namespace="ml", kind="Deployment", name="x", selector={"app": "x"},
                                           container="vllm", context="c")


def test_model_is_frozen():
    spec = ModelSpec.model_validate(_doc())
    with pytest.raises(ValidationError):
        spec.metadata.name = "other"


def test_json_schema_is_draft_2020_12_and_documents_every_field():
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    missing = [f"{name}.{prop}" for name, d in schema["$defs"].items() for prop, p in d["properties"].items()
               if not p.get("description")]
    assert missing == []
    engine = schema["$defs"]["Engine"]["properties"]
    assert "maxModelLen" in engine and "max_model_len" not in engine
    assert "class" in schema["$defs"]["GpuStack"]["properties"]
    assert schema["$defs"]["Engine"]["additionalProperties"] is False


def test_checked_in_schema_file_is_the_generated_one():
    on_disk = json.loads((REPO / "specs" / "modelspec.schema.json").read_text())
    assert on_disk == json_schema(), "run `make schema` to regenerate specs/modelspec.schema.json"


@pytest.mark.parametrize("path", sorted((REPO / "specs" / "examples").glob("*.yaml"))
                         + sorted(SPECS.glob("*-all-fields.yaml")), ids=lambda p: p.name)
def test_schema_accepts_examples_and_fixtures(path):
    validator = jsonschema.Draft202012Validator(json_schema(), format_checker=jsonschema.FormatChecker())
    doc = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))  # dates as YYYY-MM-DD
    assert [e.message for e in validator.iter_errors(doc)] == []


def test_schema_rejects_unknown_fields_like_the_model():
    validator = jsonschema.Draft202012Validator(json_schema())
    doc = _doc()
    doc["spec"]["runtime"]["acclerator"] = doc["spec"]["runtime"].pop("accelerator")
    assert not validator.is_valid(doc)
