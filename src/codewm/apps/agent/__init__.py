"""An agent in a sandboxed workspace (issue 18, items 3 and 4).

`AgentComputer` is the agent-computer interface over a `codewm.repo.workspace.Workspace`
(bash, view, edit, create, run_tests, submit); `run_episode` lets a `Policy` act in it and
records every step in a `Trajectory` (versioned JSONL, replayable to the same files, loadable
as a chat message list). Policies: `ScriptedExplorer` (no model) and `OpenAIChatPolicy`.
docs/repo.md, "Agent workspace and trajectories", tells how.
"""
