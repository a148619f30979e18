"""The loopback API server, driven by the real ``kubernetes`` client over HTTP.

If these pass, a client that works against ``FakeKube`` is speaking the real
REST protocol: paths, selectors, pagination, Status errors, bearer auth.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import kubernetes  # imported once: the client costs ~1 s to import
import pytest
from kubernetes.client.exceptions import ApiException

from kube_server import FakeKube, parse_label_selector


def pod(name: str, namespace: str = "ml", labels: dict | None = None, node: str = "gpu-1") -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.6.3"}]},
        "status": {"phase": "Running"},
    }


def core(kubeconfig, context: str | None = None, retries: bool = True):
    """A CoreV1Api from the kubeconfig file, without touching the client's global config."""
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig), context=context, client_configuration=cfg)
    if not retries:
        cfg.retries = False   # urllib3's default Retry(3) would honour Retry-After itself
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(cfg))


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def names(pod_list) -> list[str]:
    return [p.metadata.name for p in pod_list.items]


def test_list_and_get_with_model_objects(kube, kubeconfig, tmp_path):
    docs = tmp_path / "objs.yaml"
    docs.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: ml, creationTimestamp: 2024-05-01T10:00:00Z}\n"
        "spec: {containers: [{name: c, image: i}]}\n---\n"
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata: {name: a, namespace: ml}\n  spec: {containers: [{name: c, image: i}]}\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata: {name: z, namespace: other}\n  spec: {containers: [{name: c, image: i}]}\n"
    )
    kube.load_yaml(docs)
    api = core(kubeconfig)
    assert names(api.list_namespaced_pod("ml")) == ["a", "b"]
    assert names(api.list_pod_for_all_namespaces()) == ["a", "b", "z"]
    got = api.read_namespaced_pod("b", "ml")
    assert (got.kind, got.api_version, got.spec.containers[0].name) == ("Pod", "v1", "c")
    assert got.metadata.creation_timestamp.isoformat() == "2024-05-01T10:00:00+00:00"
    assert sorted(n.metadata.name for n in api.list_namespace().items) == ["ml", "other"]
    assert ("GET", "/api/v1/namespaces/ml/pods/b", {}) in kube.requests


@pytest.mark.parametrize("selector, expected", [
    ("app=llm", ["p1", "p2"]),
    ("app==llm,tier=gpu", ["p2"]),
    ("app!=llm", ["p3", "p4"]),
    ("app in (llm, web)", ["p1", "p2", "p3"]),
    ("app notin (llm)", ["p3", "p4"]),
    ("tier", ["p2", "p3"]),
    ("!tier", ["p1", "p4"]),
    ("app in (llm,web),!tier", ["p1"]),
])
def test_label_selectors(kube, kubeconfig, selector, expected):
    kube.add(pod("p1", labels={"app": "llm"}), pod("p2", labels={"app": "llm", "tier": "gpu"}),
             pod("p3", labels={"app": "web", "tier": "cpu"}), pod("p4"))
    assert names(core(kubeconfig).list_namespaced_pod("ml", label_selector=selector)) == expected


def test_field_selectors_and_bad_selectors(kube, kubeconfig):
    kube.add(pod("a", node="gpu-1"), pod("b", node="gpu-2"), pod("c", namespace="dev", node="gpu-2"))
    api = core(kubeconfig)
    assert names(api.list_pod_for_all_namespaces(field_selector="spec.nodeName=gpu-2")) == ["c", "b"]
    assert names(api.list_pod_for_all_namespaces(field_selector="metadata.namespace=ml,metadata.name!=a")) == ["b"]
    with pytest.raises(ApiException) as err:
        api.list_namespaced_pod("ml", field_selector="spec.image=x")
    assert (err.value.status, status_of(err.value)["message"]) == (400, "field label not supported: spec.image")
    with pytest.raises(ApiException) as err:
        api.list_namespaced_pod("ml", label_selector="app in llm")
    assert err.value.status == 400 and status_of(err.value)["reason"] == "BadRequest"


def test_pagination_over_three_pages_in_key_order(kube, kubeconfig):
    kube.add(*(pod(f"p{i}", namespace=ns) for i, ns in enumerate(["b", "a", "b", "a", "c", "a", "b"])))
    api = core(kubeconfig)
    pages, token = [], None
    while True:
        page = api.list_pod_for_all_namespaces(limit=3, _continue=token)
        pages.append((names(page), page.metadata.remaining_item_count))
        token = page.metadata._continue
        if not token:
            break
    assert pages == [(["p1", "p3", "p5"], 4), (["p0", "p2", "p6"], 1), (["p4"], None)]
    assert [q.get("limit") for m, p, q in kube.requests] == ["3", "3", "3"]


def test_wrong_or_missing_token_is_401(kube, tmp_path):
    kube.add(pod("a"))
    for token in ("wrong-token", ""):
        api = core(kube.write_kubeconfig(tmp_path / f"kc-{token}", token=token))
        with pytest.raises(ApiException) as err:
            api.list_namespaced_pod("ml")
        assert err.value.status == 401
        assert status_of(err.value)["reason"] == "Unauthorized"


def test_deny_is_403_with_the_real_message(kube, kubeconfig):
    kube.add(pod("a"), pod("b", namespace="dev"))
    kube.deny("list", "pods", "ml")
    api = core(kubeconfig)
    with pytest.raises(ApiException) as err:
        api.list_namespaced_pod("ml")
    body = status_of(err.value)
    assert (err.value.status, body["reason"], body["details"]) == (403, "Forbidden", {"kind": "pods"})
    assert body["message"] == ('pods is forbidden: User "system:serviceaccount:ci:skewaudit" cannot list '
                               'resource "pods" in API group "" in the namespace "ml"')
    assert names(api.list_namespaced_pod("dev")) == ["b"]        # other namespaces still readable
    assert api.read_namespaced_pod("a", "ml").metadata.name == "a"  # only "list" was denied
    with pytest.raises(ApiException) as err:
        api.list_pod_for_all_namespaces()
    assert status_of(err.value)["message"].endswith('cannot list resource "pods" in API group "" at the cluster scope')


def test_get_unknown_object_is_404(kube, kubeconfig):
    api = core(kubeconfig)
    with pytest.raises(ApiException) as err:
        api.read_namespaced_pod("nope", "ml")
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'pods "nope" not found'
    apps = kubernetes.client.AppsV1Api(api.api_client)
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("llm", "ml")
    assert status_of(err.value)["details"] == {"name": "llm", "group": "apps", "kind": "deployments"}


def test_expired_continue_is_410_and_a_fresh_list_works(kube, kubeconfig):
    kube.add(*(pod(f"p{i}") for i in range(5)))
    kube.expire_continue(after_pages=1)
    api = core(kubeconfig)
    first = api.list_namespaced_pod("ml", limit=2)
    with pytest.raises(ApiException) as err:
        api.list_namespaced_pod("ml", limit=2, _continue=first.metadata._continue)
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (410, "Expired")
    assert body["message"].startswith("The provided continue parameter is too old")
    again = api.list_namespaced_pod("ml", limit=2)
    assert names(api.list_namespaced_pod("ml", limit=2, _continue=again.metadata._continue)) == ["p2", "p3"]


def test_injected_429_carries_retry_after_then_clears(kube, kubeconfig):
    kube.add(pod("a"))
    kube.fail(r"/namespaces/ml/pods$", 429, retry_after=7)
    kube.fail(r"/pods$", 503, times=2)
    api = core(kubeconfig, retries=False)
    with pytest.raises(ApiException) as err:
        api.list_namespaced_pod("ml")
    assert (err.value.status, err.value.headers["Retry-After"]) == (429, "7")
    assert status_of(err.value)["details"] == {"retryAfterSeconds": 7}
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            api.list_namespaced_pod("ml")
        assert status_of(err.value)["reason"] == "ServiceUnavailable"
    assert names(api.list_namespaced_pod("ml")) == ["a"]


def test_default_client_retries_a_429_with_retry_after(kube, kubeconfig):
    # What a collector gets with the client's defaults: urllib3 sleeps Retry-After and retries.
    kube.add(pod("a"))
    kube.fail(r"/pods$", 429, retry_after=0)
    assert names(core(kubeconfig).list_namespaced_pod("ml")) == ["a"]
    assert [p for m, p, q in kube.requests] == ["/api/v1/namespaces/ml/pods"] * 2


def test_writes_are_405_and_recorded(kube, kubeconfig):
    api = core(kubeconfig)
    with pytest.raises(ApiException) as err:
        api.create_namespaced_pod("ml", pod("new"))
    assert (err.value.status, status_of(err.value)["reason"]) == (405, "MethodNotAllowed")
    assert [(m, p) for m, p, q in kube.requests] == [("POST", "/api/v1/namespaces/ml/pods")]


def test_raw_json_is_served_byte_for_byte(kube, kubeconfig):
    raw = [json.dumps({"metadata": {"name": f"r{i}", "namespace": "ml", "labels": {"i": str(i)}},
                       "spec": {"containers": [{"name": "c", "image": "img"}]}}).encode() for i in (2, 1)]
    kube.add_raw_json("Pod", "ml", raw)
    api = core(kubeconfig)
    resp = api.list_namespaced_pod("ml", label_selector="i in (1,2)", _preload_content=False)
    assert resp.data == b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1001"},"items":[' \
        + raw[1] + b"," + raw[0] + b"]}"
    assert api.read_namespaced_pod("r2", "ml").kind == "Pod"
    with pytest.raises(ValueError, match="namespace 'ml', not 'dev'"):
        kube.add_raw_json("Pod", "dev", raw)


def test_kserve_items_keep_kind_and_discovery_lists_resources(kube, kubeconfig):
    kube.add({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
              "metadata": {"name": "llm", "namespace": "ml"}, "spec": {"predictor": {}}})
    custom = kubernetes.client.CustomObjectsApi(core(kubeconfig).api_client)
    items = custom.list_namespaced_custom_object("serving.kserve.io", "v1beta1", "ml", "inferenceservices")["items"]
    assert [(i["kind"], i["metadata"]["name"]) for i in items] == [("InferenceService", "llm")]

    def get(path: str, token: str | None = kube.token) -> dict:
        req = urllib.request.Request(kube.url + path, headers={"Authorization": f"Bearer {token}"} if token else {})
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())
    runtimes = get("/apis/serving.kserve.io/v1alpha1")["resources"]
    assert {(r["name"], r["namespaced"]) for r in runtimes} == {("servingruntimes", True),
                                                              ("clusterservingruntimes", False)}
    assert get("/version", token=None)["gitVersion"].startswith("v1.")   # public, like a real cluster
    with pytest.raises(urllib.error.HTTPError) as err:
        get("/api/v1/secrets")
    err.value.close()   # an HTTPError holds the response socket open
    assert err.value.code == 404


def test_kubeconfig_extra_contexts(kube, tmp_path):
    path = kube.write_kubeconfig(tmp_path / "kc", namespace="ml",
                                 extra_contexts={"dev": "dev", "dead": "http://127.0.0.1:9"})
    contexts, active = kubernetes.config.list_kube_config_contexts(config_file=str(path))
    by_name = {c["name"]: c["context"] for c in contexts}
    assert active["name"] == "loopback" and by_name["loopback"]["namespace"] == "ml"
    assert by_name["dev"]["namespace"] == "dev"
    assert core(path, context="dead").api_client.configuration.host == "http://127.0.0.1:9"


def test_label_selector_parser_rejects_what_the_apiserver_rejects():
    assert parse_label_selector("a in (x,y), !b, c>3") == [("a", "in", {"x", "y"}), ("b", "!", None), ("c", ">", 3)]
    for bad in ("a in ()", "a in x", "a=b c", "-bad=1", "a=b=c"):
        with pytest.raises(ValueError):
            parse_label_selector(bad)


def test_stop_closes_the_port():
    server = FakeKube().start()
    url = server.url
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/version", timeout=2)
