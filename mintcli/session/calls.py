"""Tool calls a session's turn left without results, and what answers them.

A turn can end on a reply whose calls mint did not run: the tool was only
declared (``--tool`` without ``--tool-cmd``/``--mcp``), the loop reached
``--max-steps``, or Ctrl-C stopped the tools. Both APIs refuse a conversation
that goes on past a call without its result, so before the next prompt the
session sends, for each such call, the result that finished or one saying
plainly that the tool was not run and why, marked as an error (Anthropic's
``is_error``; for OpenAI, which has no such flag, the text says it). A session
that ends before the next prompt saves the results that finished in the
conversation (they join its last exchange), so that nothing a tool did is
lost; the other calls stay open there.
"""

from __future__ import annotations

from typing import Any

NO_COMMAND = "mint has no command for this tool in this session"
STOPPED = "Ctrl-C stopped the tools before this one finished"
CONTINUED = "the conversation was continued without its result"


def step_limit(steps: int) -> str:
    return f"the tool loop reached its step limit (--max-steps {steps})"


def open_calls(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls of the last reply that have no result in ``messages`` yet."""
    from mintcli.store.model import open_calls

    return open_calls(messages)


def name_of(call: dict[str, Any]) -> str:
    function = call.get("function")
    return str(function.get("name") if isinstance(function, dict) else None)


def not_run(call: dict[str, Any], why: str) -> dict[str, Any]:
    text = f"The tool {name_of(call)} was not run, so there is no result: {why}."
    return {"role": "tool", "tool_call_id": str(call.get("id")), "content": text, "is_error": True}


def answers(
    messages: list[dict[str, Any]], finished: list[dict[str, Any]], why: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The results that answer the open calls of ``messages``, in the calls'
    order (a finished one as it came, the others "not run"), and the calls
    that get "not run"."""
    done = {str(m.get("tool_call_id")): m for m in finished}
    out, unrun = [], []
    for call in open_calls(messages):
        result = done.get(str(call.get("id")))
        if result is None:
            result = not_run(call, why)
            unrun.append(call)
        out.append(result)
    return out, unrun


def listed(found: list[dict[str, Any]]) -> str:
    return ", ".join(f"{name_of(c)} ({c.get('id')})" for c in found)


def note(unrun: list[dict[str, Any]], why: str) -> str:
    """The line that tells which calls are left unanswered and what happens to them."""
    return f"tool calls left unanswered: {listed(unrun)}; going on answers them as not run ({why})"


def finished(results: list[dict[str, Any]], unrun: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of the results that answer the open calls, those a tool gave (not "not run")."""
    ids = {str(c.get("id")) for c in unrun}
    return [m for m in results if str(m.get("tool_call_id")) not in ids]


def leaving(done: int, still: list[dict[str, Any]], saved: str | None) -> str:
    """The line for a session that ends before the results were sent: ``done``
    results that finished, saved in conversation ``saved`` (None: their save
    failed), and the calls the saved conversation leaves without a result."""
    head = "the saved conversation ends on tool calls without results"
    if done and saved:
        kept = f"the results of the tool calls that finished ({done}) are saved"
        kept += f" in conversation {saved}"
        if not still:
            return f"{kept}; mint chat -c goes on from them"
        head = f"{kept}; it ends on tool calls without results"
    elif done:
        head = f"the results of the tool calls that finished ({done}) could not be saved; {head}"
    return (
        f"{head}: {listed(still)}; mint chat -c asks for a --tool-result for each,"
        " a session sends them as not run"
    )
