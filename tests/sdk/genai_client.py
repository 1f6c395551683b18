#!/usr/bin/env python3
"""A client written with Google's official `google-genai` SDK, unchanged, run against Pylon.

tests/tests/protocols_genai_sdk.rs starts Pylon with a Gemini channel, an OpenAI-compatible one
and an Anthropic one, each serving one model, and runs this script. For each generation model it
calls generate_content and generate_content_stream through
`genai.Client(api_key=..., http_options={"base_url": ...})`; it embeds with the embedding
model, counts tokens where the channel speaks Gemini, checks the SDK's typed errors, and prints
one JSON line summarising what it did (`relayed` lists every call that should have been relayed
and logged, with its model). Any failure exits non-zero naming the step that failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

try:
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types
except ImportError:  # the Rust test checks this first; this is for running the script by hand
    sys.stderr.write("the google-genai package is missing: pip install google-genai\n")
    sys.exit(3)


class StepFailed(Exception):
    """An assertion about what the SDK returned did not hold."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


def client(args: argparse.Namespace, key: str) -> genai.Client:
    return genai.Client(
        api_key=key,
        http_options=types.HttpOptions(base_url=args.base_url, timeout=30_000),
    )


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client = client(args, args.api_key)
        self.relayed: list[dict[str, str]] = []
        self.errors: dict[str, int] = {}

    def relay(self, step: str, model: str) -> None:
        self.relayed.append({"step": step, "model": model})


def generate(run: Run, model: str) -> None:
    answer = run.client.models.generate_content(
        model=model,
        contents="Hello",
        config=types.GenerateContentConfig(
            system_instruction="Be brief.", max_output_tokens=64, temperature=0.2
        ),
    )
    run.relay("generate", model)
    check(bool(answer.text), f"no text: {answer}")
    check(answer.candidates[0].finish_reason is not None, "no finish reason")
    usage = answer.usage_metadata
    check(usage.prompt_token_count > 0 and usage.candidates_token_count > 0, f"{usage}")


def stream(run: Run, model: str) -> None:
    chunks = list(
        run.client.models.generate_content_stream(
            model=model,
            contents="Hello",
            config=types.GenerateContentConfig(max_output_tokens=64),
        )
    )
    run.relay("stream", model)
    text = "".join(chunk.text or "" for chunk in chunks)
    check(bool(text), f"the stream carried no text: {chunks}")
    check(any(c.candidates and c.candidates[0].finish_reason for c in chunks), "no finish")
    last = chunks[-1].usage_metadata
    check(last is not None and last.candidates_token_count > 0, f"usage {last}")


def embed(run: Run, model: str) -> None:
    answer = run.client.models.embed_content(model=model, contents=["one", "two"])
    run.relay("embed", model)
    check(len(answer.embeddings) == 2, f"{answer}")
    check(all(len(e.values) > 0 for e in answer.embeddings), f"{answer}")


def count_tokens(run: Run, model: str) -> None:
    counted = run.client.models.count_tokens(model=model, contents="Hello")
    run.relay("count_tokens", model)
    check(counted.total_tokens > 0, f"{counted}")


def errors(run: Run) -> None:
    model = run.args.models[0]
    bad = client(run.args, "sk-not-a-key")  # kept: a dropped Client closes its connection
    try:
        bad.models.generate_content(model=model, contents="Hi")
        raise StepFailed("a bad key was accepted")
    except genai_errors.ClientError as error:
        check(error.status == "UNAUTHENTICATED", f"{error.status} {error}")
        run.errors["bad_key"] = error.code
    try:
        run.client.models.generate_content(model="no-such-model", contents="Hi")
        raise StepFailed("an unknown model was accepted")
    except genai_errors.ClientError as error:
        check(error.status == "NOT_FOUND", f"{error.status} {error}")
        run.errors["unknown_model"] = error.code


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--models", required=True, help="comma-separated")
    parser.add_argument("--count-models", default="", help="comma-separated")
    parser.add_argument("--embedding-model", required=True)
    args = parser.parse_args()
    args.models = args.models.split(",")
    run = Run(args)
    plan = [(f"{step.__name__}:{model}", step, model) for model in args.models
            for step in (generate, stream)]
    plan.append((f"embed:{args.embedding_model}", embed, args.embedding_model))
    plan += [(f"count_tokens:{m}", count_tokens, m) for m in args.count_models.split(",") if m]
    steps = []
    for name, step, model in plan:
        try:
            step(run, model)
        except Exception as error:  # report which step failed, with the SDK's own message
            sys.stderr.write(f"step {name} failed: {error!r}\n{traceback.format_exc()}")
            return 1
        steps.append(name)
    try:
        errors(run)
    except Exception as error:
        sys.stderr.write(f"step errors failed: {error!r}\n{traceback.format_exc()}")
        return 1
    steps.append("errors")
    print(json.dumps({"steps": steps, "relayed": run.relayed, "errors": run.errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
