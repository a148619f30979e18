"""effective_argv: Kubernetes command/args semantics, $(VAR) expansion, sh -c scripts, the
image ENTRYPOINT table and the field path of every token."""

from __future__ import annotations

import pytest

from skewaudit.runtimes import effective_argv
from skewaudit.runtimes._argv import ENTRYPOINT_PATH, expand_k8s, locate

B = "spec.template.spec.containers[0]"


def run(command, args=None, env=None, image="vllm/vllm-openai:v0.10.0"):
    return effective_argv(command, args, env or {}, image, B)


# --- $(VAR) --------------------------------------------------------------------------------


def test_var_is_expanded_from_env_in_command_and_args() -> None:
    r = run(["vllm", "serve", "$(MODEL)"], ["--port=$(PORT)", "--x=$(A)-$(B)"],
            {"MODEL": "meta-llama/Llama-3.1-8B", "PORT": "8080", "A": "1", "B": "2"})
    assert r.argv == ["vllm", "serve", "meta-llama/Llama-3.1-8B", "--port=8080", "--x=1-2"]
    assert r.note is None and r.shell is False


def test_double_dollar_escapes_a_reference() -> None:
    r = run(["echo", "$$(MODEL)", "$$HOME", "cost$"], None, {"MODEL": "m"})
    assert r.argv == ["echo", "$(MODEL)", "$HOME", "cost$"]


def test_undefined_reference_is_left_as_written_with_a_note() -> None:
    r = run(["vllm", "serve", "--model=$(MODEL_ID)"])
    assert r.argv == ["vllm", "serve", "--model=$(MODEL_ID)"]
    assert "$(MODEL_ID) is not defined in the container env: Kubernetes passes it literally" in r.note


def test_secret_reference_stays_literal() -> None:
    r = run(["vllm", "serve", "m", "--hf-token", "$(HF_TOKEN)"], None, {"HF_TOKEN": None})
    assert r.argv[-1] == "$(HF_TOKEN)"
    assert "$(HF_TOKEN) left as written: its value comes from a Secret" in r.note


@pytest.mark.parametrize("text, want", [
    ("$(A)", "x"), ("$(A", "$(A"), ("$", "$"), ("$$", "$"), ("a$b", "a$b"), ("$()", "$()"), ("$(A)$(A)", "xx"),
    ("$$$(A)", "$x"),
])
def test_kubelet_expansion_edge_cases(text, want) -> None:
    assert expand_k8s(text, {"A": "x"}) == want


# --- shell scripts -------------------------------------------------------------------------


def test_sh_c_with_exec_and_chain_picks_the_serving_command() -> None:
    r = run(["/bin/sh", "-c"], ["pip install -q hf_transfer && exec vllm serve m --max-model-len 8192"])
    assert r.argv == ["vllm", "serve", "m", "--max-model-len", "8192"]
    assert r.paths == [f"{B}.args[0]"] * 5
    assert r.shell is True
    assert "shell script runs 2 commands; using command 2" in r.note


def test_the_last_serving_command_wins_even_before_a_trailing_command() -> None:
    r = run(["bash", "-c", "vllm serve old & vllm serve new; sleep infinity"])
    assert r.argv == ["vllm", "serve", "new"]
    assert r.paths == [f"{B}.command[2]"] * 3


def test_bash_lc_multiline_script_with_comments_continuations_and_redirections() -> None:
    script = ("set -e\n"
              "# start the server\n"
              "export MODEL=Qwen/Qwen2.5-7B\n"
              "python3 -m vllm.entrypoints.openai.api_server \\\n"
              "  --model \"$MODEL\" --port ${PORT:-8001} 2>&1 | tee /tmp/log   # keep logs\n")
    r = run(["bash", "-lc", script])
    assert r.argv == ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "Qwen/Qwen2.5-7B",
                      "--port", "8001"]


def test_shell_variables_expand_from_env_but_not_in_single_quotes() -> None:
    r = run(["sh", "-c", "vllm serve $MODEL --served-model-name '$NAME' --dtype \"${DTYPE}\" --x $UNSET"],
            None, {"MODEL": "m", "NAME": "n", "DTYPE": "half"})
    assert r.argv == ["vllm", "serve", "m", "--served-model-name", "$NAME", "--dtype", "half", "--x", "$UNSET"]


def test_values_with_quotes_and_dollars_survive_double_quotes() -> None:
    r = run(["sh", "-c", 'vllm serve m --chat-template "$TPL"'], None, {"TPL": 'say "hi" for $5 \\ now'})
    assert r.argv[-1] == 'say "hi" for $5 \\ now'


def test_unquoted_variable_is_word_split_quoted_is_not() -> None:
    r = run(["sh", "-c", 'vllm serve m $EXTRA --name "$EXTRA"'], None, {"EXTRA": "--a 1"})
    assert r.argv == ["vllm", "serve", "m", "--a", "1", "--name", "--a 1"]


def test_command_substitution_is_kept_as_one_literal_token() -> None:
    r = run(["sh", "-c", "vllm serve m --tensor-parallel-size $(nvidia-smi -L | wc -l) --port `echo 1`"])
    assert r.argv == ["vllm", "serve", "m", "--tensor-parallel-size", "$(nvidia-smi -L | wc -l)", "--port", "`echo 1`"]
    assert r.note is None   # a command substitution is not an undefined Kubernetes variable


def test_kubernetes_expansion_happens_before_the_shell() -> None:
    r = run(["/bin/sh", "-c"], ["exec vllm serve $(MODEL) --api-key $(KEY)"], {"MODEL": "m", "KEY": None})
    assert r.argv == ["vllm", "serve", "m", "--api-key", "$(KEY)"]


def test_nested_shells_are_unwrapped() -> None:
    r = run(["sh", "-c", "exec bash -c 'vllm serve m --port 9000'"])
    assert r.argv == ["vllm", "serve", "m", "--port", "9000"]
    assert r.shell is True


def test_unbalanced_quote_falls_back_to_whitespace_split_with_a_note() -> None:
    r = run(["sh", "-c", "vllm serve m --chat-template 'oops"])
    assert r.argv[:3] == ["vllm", "serve", "m"]
    assert "not split exactly" in r.note


def test_a_script_without_a_serving_command_yields_its_last_command() -> None:
    r = run(["sh", "-c", "echo hi; sleep 10"], image="busybox")
    assert r.argv == ["sleep", "10"]


def test_sh_without_c_is_not_a_script() -> None:
    r = run(["sh", "/entrypoint.sh", "--model", "m"])
    assert r.argv == ["sh", "/entrypoint.sh", "--model", "m"] and r.shell is False


# --- no command: the image ENTRYPOINT -----------------------------------------------------


def test_no_command_and_unknown_image_gives_no_argv() -> None:
    r = run(None, ["--foo", "1"], image="registry.local/serving:1.2")
    assert r.argv is None and r.paths == []
    assert r.note == "command absent: image ENTRYPOINT decides (registry.local/serving:1.2)"


@pytest.mark.parametrize("image, head, note", [
    ("vllm/vllm-openai:v0.10.0", ["python3", "-m", "vllm.entrypoints.openai.api_server"], "up to ~v0.10"),
    ("vllm/vllm-openai:v0.8.5.post1", ["python3", "-m", "vllm.entrypoints.openai.api_server"], "up to ~v0.10"),
    ("docker.io/vllm/vllm-openai:v0.30.0", ["vllm", "serve"], "recent releases"),
    ("vllm/vllm-openai@sha256:" + "a" * 64, ["vllm", "serve"], "switch release unverified"),
    ("ghcr.io/huggingface/text-generation-inference:3.3.4", ["text-generation-launcher"], "/tgi-entrypoint.sh"),
    ("kserve/huggingfaceserver:v0.15.2", ["python", "-m", "huggingfaceserver"], "huggingfaceserver image"),
])
def test_entrypoint_table_for_known_images(image, head, note) -> None:
    r = run(None, ["--port", "8080"], image=image)
    assert r.argv == head + ["--port", "8080"]
    assert r.paths == [ENTRYPOINT_PATH] * len(head) + [f"{B}.args[0]", f"{B}.args[1]"]
    assert r.note.startswith(f"command absent: image ENTRYPOINT decides ({image}); assumed")
    assert note in r.note


def test_no_command_and_no_args_on_a_known_image_is_just_the_entrypoint() -> None:
    r = run(None, None, image="ghcr.io/huggingface/text-generation-inference:2.4.1")
    assert r.argv == ["text-generation-launcher"]


def test_args_that_are_a_whole_command_are_used_with_a_note() -> None:
    r = run(None, ["python3", "-m", "sglang.launch_server", "--model-path", "m"], image="lmsysorg/sglang:v0.5.2")
    assert r.argv == ["python3", "-m", "sglang.launch_server", "--model-path", "m"]
    assert r.paths[0] == f"{B}.args[0]"
    assert "args read as the whole command" in r.note


def test_args_holding_a_command_on_a_known_image_get_the_entrypoint_prepended() -> None:
    r = run(None, ["vllm", "serve", "m"], image="vllm/vllm-openai:v0.30.0")
    assert r.argv == ["vllm", "serve", "vllm", "serve", "m"]
    assert "the container runs `vllm serve vllm serve …`; set `command:` instead" in r.note


def test_empty_command_list_counts_as_absent() -> None:
    assert run([], ["m"], image="registry.local/x:1").argv is None


# --- paths --------------------------------------------------------------------------------


def test_paths_name_command_then_args_indices() -> None:
    r = run(["python3", "-m", "vllm.entrypoints.openai.api_server"], ["--model", "m"])
    assert r.paths == [f"{B}.command[0]", f"{B}.command[1]", f"{B}.command[2]", f"{B}.args[0]", f"{B}.args[1]"]


def test_script_in_command_points_at_its_command_index() -> None:
    r = run(["/bin/bash", "-c", "vllm serve m"], ["ignored-positional-$0"])
    assert r.paths == [f"{B}.command[2]"] * 3


# --- locating the program -----------------------------------------------------------------


@pytest.mark.parametrize("argv, prog, module, rest", [
    (["python3", "-u", "-m", "vllm.entrypoints.openai.api_server", "--x"], "python3", "vllm.entrypoints.openai.api_server", 4),
    (["/usr/bin/python3.11", "-X", "utf8", "-msglang.launch_server"], "python3.11", "sglang.launch_server", 4),
    (["env", "-u", "X", "A=1", "exec", "vllm", "serve"], "vllm", None, 6),
    (["tini", "-g", "--", "text-generation-launcher", "--port", "80"], "text-generation-launcher", None, 4),
    (["python", "/opt/app/launch.py", "--m"], "launch", None, 2),
])
def test_locate_skips_wrappers(argv, prog, module, rest) -> None:
    e = locate(argv)
    assert (e.prog, e.module, e.rest) == (prog, module, rest)


def test_a_large_script_full_of_redirections_is_split_exactly() -> None:
    # 4,000+ commands with `>> log 2>&1` and `2>/dev/null` (the splitter is linear; speed is in
    # benchmarks/shell_split.py): every redirection is dropped and the fd digits with it.
    lines = [f'echo "shard {i}" >> /var/log/w.log 2>&1 && cp /m/s{i} /dev/shm/ 2>/dev/null || true'
             for i in range(4000)]
    script = "\n".join(["set -e", *lines, "exec vllm serve org/Model-Instruct --max-model-len 8192 >/v.log 2>&1"])
    r = run(["sh", "-c", script])
    assert r.argv == ["vllm", "serve", "org/Model-Instruct", "--max-model-len", "8192"]
    from skewaudit.runtimes._shell import split_script
    cmds, note = split_script(script, {})
    assert note is None and len(cmds) == 1 + 3 * 4000 + 1
    assert cmds[1] == ["echo", "shard 0"] and cmds[2] == ["cp", "/m/s0", "/dev/shm/"] and cmds[3] == ["true"]


def test_fd_digits_belong_to_the_redirection_only_at_a_word_start() -> None:
    # bash reads `8002>` as fd 8002 (a word of digits only) but `a2>` as the word a2 then `>`
    r = run(["sh", "-c", "vllm serve m --port 8000 8002>/dev/null --x a2>/dev/null \"q\"3>f 2>&1"])
    assert r.argv == ["vllm", "serve", "m", "--port", "8000", "--x", "a2", "q3"]


def test_an_unclosed_brace_expansion_falls_back_with_a_note() -> None:
    r = run(["sh", "-c", "vllm serve m --port ${PORT"])
    assert r.argv[:3] == ["vllm", "serve", "m"] and "not split exactly" in r.note
