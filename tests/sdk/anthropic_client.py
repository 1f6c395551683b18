#!/usr/bin/env python3
"""A client written with Anthropic's official Python SDK, unchanged, run against Pylon.

tests/tests/anthropic_sdk.rs starts Pylon with an Anthropic channel, an OpenAI-compatible one
and a Gemini one, each serving one model, and runs this script. For each model it calls
messages (plain, streamed, with tools and a tool result) through
`anthropic.Anthropic(base_url=..., api_key=...)`, counts tokens where the channel speaks
Anthropic, checks the SDK's typed errors, and prints one JSON line summarising what it did
(`relayed` lists every call that should have been relayed and logged, with its model).
Any failure exits non-zero with a message naming the step that failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

try:
    import anthropic
except ImportError:  # the Rust test checks this first; this is for running the script by hand
    sys.stderr.write("the anthropic package is missing: pip install anthropic\n")
    sys.exit(3)


class StepFailed(Exception):
    """An assertion about what the SDK returned did not hold."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client = anthropic.Anthropic(
            base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=30.0
        )
        self.relayed: list[dict[str, str]] = []
        self.steps: list[str] = []
        self.errors: dict[str, int] = {}

    def relay(self, step: str, model: str) -> None:
        self.relayed.append({"step": step, "model": model})


def message(run: Run, model: str) -> None:
    answer = run.client.messages.create(
        model=model,
        max_tokens=64,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello"}],
    )
    run.relay("message", model)
    check(answer.type == "message", f"type {answer.type!r}")
    check(answer.role == "assistant", f"role {answer.role!r}")
    check(answer.model == model, f"model {answer.model!r}")
    check(answer.content and answer.content[0].type == "text", f"content {answer.content}")
    check(bool(answer.content[0].text), "empty text")
    check(answer.stop_reason is not None, "no stop_reason")
    check(answer.usage.input_tokens > 0 and answer.usage.output_tokens > 0, f"{answer.usage}")


def stream(run: Run, model: str) -> None:
    with run.client.messages.stream(
        model=model,
        max_tokens=64,
        messages=[{"role": "user", "content": "Hello"}],
    ) as events:
        text = "".join(events.text_stream)
        final = events.get_final_message()
    run.relay("stream", model)
    check(bool(text), "the stream carried no text")
    check(final.content[0].text == text, f"{final.content} vs {text!r}")
    check(final.stop_reason is not None, "no stop_reason in the stream")
    check(final.usage.output_tokens > 0, f"usage {final.usage}")


def tools(run: Run, model: str) -> None:
    answer = run.client.messages.create(
        model=model,
        max_tokens=64,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "auto"},
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C, sunny"}
                ],
            },
        ],
    )
    run.relay("tools", model)
    check(answer.type == "message", f"type {answer.type!r}")
    check(answer.content[0].type == "text", f"content {answer.content}")


def count_tokens(run: Run, model: str) -> None:
    counted = run.client.messages.count_tokens(
        model=model, messages=[{"role": "user", "content": "Hello"}]
    )
    run.relay("count_tokens", model)
    check(counted.input_tokens > 0, f"{counted}")


def errors(run: Run) -> None:
    model = run.args.models[0]
    bad = anthropic.Anthropic(
        base_url=run.args.base_url, api_key="sk-not-a-key", max_retries=0, timeout=30.0
    )
    try:
        bad.messages.create(
            model=model, max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
        )
        raise StepFailed("a bad key was accepted")
    except anthropic.AuthenticationError as error:
        run.errors["bad_key"] = error.status_code
    try:
        run.client.messages.create(
            model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
        )
        raise StepFailed("an unknown model was accepted")
    except anthropic.NotFoundError as error:
        run.errors["unknown_model"] = error.status_code
        check(error.body["error"]["type"] == "not_found_error", f"{error.body}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--models", required=True, help="comma-separated")
    parser.add_argument("--count-models", default="", help="comma-separated")
    args = parser.parse_args()
    args.models = args.models.split(",")
    counted = [m for m in args.count_models.split(",") if m]
    run = Run(args)
    plan = [(f"{step.__name__}:{model}", step, model) for model in args.models
            for step in (message, stream, tools)]
    plan += [(f"count_tokens:{model}", count_tokens, model) for model in counted]
    timings = {}
    for name, step, model in plan:
        started = time.monotonic()
        try:
            step(run, model)
        except Exception as error:  # report which step failed, with the SDK's own message
            sys.stderr.write(f"step {name} failed: {error!r}\n{traceback.format_exc()}")
            return 1
        run.steps.append(name)
        timings[name] = round(time.monotonic() - started, 3)
    try:
        errors(run)
    except Exception as error:
        sys.stderr.write(f"step errors failed: {error!r}\n{traceback.format_exc()}")
        return 1
    run.steps.append("errors")
    print(json.dumps({"steps": run.steps, "relayed": run.relayed, "errors": run.errors,
                      "sdk": anthropic.__version__, "seconds": timings}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
