"""The LLM policy against a local OpenAI-compatible server that replays a recorded
conversation: what the policy sends (the chat so far, the observations as the user's turns)
and how it reads each reply (one fenced JSON action; a reply without one costs a step)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from agent_helpers import FAILING, broken_tinypkg, needs_bwrap, perimeter_task

from codewm.repo.project import local_project
from codewm.repo.suite import run_tests
from codewm.repo.workspace import Workspace

from codewm.apps.agent.episode import replay, run_episode
from codewm.apps.agent.llm_policy import OpenAIChatPolicy
from codewm.apps.agent.messages import SYSTEM_PROMPT, to_messages

# The assistant's side of a recorded conversation, and a piece of what the user (the
# workspace) must have said just before each reply.
CONVERSATION = [
    (None, "I should look at the code first."),
    ("could not be read as an action: found 0 fenced blocks", 'Sorry.\n```json\n{"action": "view", "path": "tinypkg/shapes.py", "start": 9, "lines": 6}\n```'),
    ("11|         return 3 * sides[0]", 'A square has 4 sides.\n```json\n{"action": "edit", "path": "tinypkg/shapes.py", "start": 11, "end": 11, "text": "        return 4 * sides[0]\\n"}\n```'),
    ("replaced lines 11-11 with 1 line", '```json\n{"action": "run_tests", "tests": ["%s"]}\n```' % FAILING[0]),
    ("1 tests: 1 passed, 0 failed", '```json\n{"action": "submit"}\n```'),
]


class ReplayServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ReplayHandler)
        self.requests: list[dict] = []
        self.problems: list[str] = []


class ReplayHandler(BaseHTTPRequestHandler):
    server: ReplayServer

    def log_message(self, *args) -> None:
        pass

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path != "/v1/models":
            self.server.problems.append(f"GET {self.path}")
        self._answer({"object": "list", "data": [{"id": "replayed", "object": "model", "created": 0, "owned_by": "test", "max_model_len": 8192}]})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        turn = len(self.server.requests)
        self.server.requests.append(request)
        messages = request["messages"]
        expected_before, reply = CONVERSATION[min(turn, len(CONVERSATION) - 1)]
        if self.path != "/v1/chat/completions" or request["model"] != "replayed":
            self.server.problems.append(f"POST {self.path} for {request.get('model')}")
        if [m["role"] for m in messages] != ["system", "user"] + ["assistant", "user"] * turn:
            self.server.problems.append(f"turn {turn}: roles {[m['role'] for m in messages]}")
        elif expected_before is not None and expected_before not in messages[-1]["content"]:
            self.server.problems.append(f"turn {turn}: the last observation lacks {expected_before!r}: {messages[-1]['content']!r:.500}")
        self._answer({
            "id": f"chat-{turn}", "object": "chat.completion", "created": 0, "model": "replayed",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })


@pytest.fixture
def server():
    server = ReplayServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@needs_bwrap
def test_the_llm_policy_works_a_task_through_a_replayed_server(tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    project = local_project(broken_tinypkg(tmp_path))
    spec = f"openai:http://127.0.0.1:{server.server_address[1]}/v1#replayed"
    task = perimeter_task()
    policy = OpenAIChatPolicy(spec, task.instructions())
    with Workspace(project) as workspace:
        trajectory = run_episode(workspace, policy, max_steps=10, task="tinypkg/perimeter", instructions=task.instructions(), path=tmp_path / "llm.jsonl")
        outcomes = run_tests(workspace, tests=list(FAILING), timeout=300).outcomes
    assert server.problems == []
    assert len(server.requests) == 5 and all(r["temperature"] == 0.0 for r in server.requests)
    assert trajectory.policy == spec and trajectory.submitted
    assert [s.action for s in trajectory.steps] == ["format_error", "view", "edit", "run_tests", "submit"]
    assert trajectory.steps[0].exit_code == 1 and trajectory.steps[0].diff == ""
    assert outcomes == {FAILING[0]: "passed"}
    # What the server saw last is the trajectory's chat, less the last reply and its observation.
    messages = to_messages(trajectory)
    assert server.requests[-1]["messages"] == messages[:-2]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert [m["content"] for m in messages[2::2]] == [reply for _, reply in CONVERSATION]
    assert replay(trajectory, project).diff == trajectory.steps[-1].diff


def test_a_bad_spec_is_refused():
    with pytest.raises(ValueError, match="expected openai:URL#MODEL"):
        OpenAIChatPolicy("http://127.0.0.1:1/v1", "task")
