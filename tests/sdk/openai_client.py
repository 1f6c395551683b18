#!/usr/bin/env python3
"""A client written with OpenAI's official Python SDK, unchanged, run against Pylon.

tests/tests/openai_sdk.rs starts Pylon on a mock upstream and runs this script. It calls every
OpenAI endpoint Pylon relays through `openai.OpenAI(base_url=..., api_key=...)`, asserts on the
SDK's typed results and on the SDK's typed errors, and prints one JSON line summarising what it
did (`relayed` lists every call that should have been relayed and billed, with its model).
Any failure exits non-zero with a message naming the step that failed.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import traceback
import wave

try:
    import openai
except ImportError:  # the Rust test checks this first; this is for running the script by hand
    sys.stderr.write("the openai package is missing: pip install openai\n")
    sys.exit(3)


class StepFailed(Exception):
    """An assertion about what the SDK returned did not hold."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


class Run:
    """The SDK client plus the record of what was done, for the summary."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client = openai.OpenAI(
            base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=30.0
        )
        self.relayed: list[dict[str, str]] = []
        self.steps: list[str] = []
        self.errors: dict[str, int] = {}

    def relay(self, endpoint: str, model: str) -> None:
        """Records a call that Pylon relayed upstream (and so must log and bill once)."""
        self.relayed.append({"endpoint": endpoint, "model": model})


def models(run: Run) -> None:
    chat = run.args.chat_model
    listed = run.client.models.list()
    ids = [m.id for m in listed]
    check(chat in ids, f"models.list() does not contain {chat!r}: {ids}")
    check(all(m.object == "model" for m in listed.data), f"objects: {listed.data}")
    model = run.client.models.retrieve(chat)
    check(model.id == chat, f"models.retrieve({chat!r}).id = {model.id!r}")
    check(model.object == "model", f"models.retrieve object = {model.object!r}")


def chat(run: Run) -> None:
    model = run.args.chat_model
    messages = [{"role": "user", "content": "Say hello."}]
    completion = run.client.chat.completions.create(model=model, messages=messages)
    run.relay("chat.completions", model)
    check(completion.object == "chat.completion", f"object = {completion.object!r}")
    check(len(completion.choices) == 1, f"choices = {completion.choices}")
    content = completion.choices[0].message.content
    check(bool(content), f"choices[0].message.content is empty: {completion}")
    check(completion.choices[0].message.role == "assistant", "role is not assistant")
    check(completion.usage is not None, "usage is missing")
    check(completion.usage.total_tokens > 0, f"usage.total_tokens = {completion.usage}")


def chat_stream(run: Run) -> None:
    model = run.args.chat_model
    messages = [{"role": "user", "content": "Say hello."}]
    stream = run.client.chat.completions.create(model=model, messages=messages, stream=True)
    run.relay("chat.completions stream", model)
    text, deltas, chunks = "", 0, 0
    for chunk in stream:
        chunks += 1
        check(chunk.object == "chat.completion.chunk", f"chunk object = {chunk.object!r}")
        # The relay asks the upstream for usage to bill it; a client that did not ask must
        # never see it.
        check(chunk.usage is None, f"chunk {chunks} carries usage nobody asked for: {chunk}")
        for choice in chunk.choices:
            if choice.delta.content:
                text += choice.delta.content
                deltas += 1
    check(deltas >= 1, f"no content delta in {chunks} chunks")
    check(bool(text), "the streamed content is empty")


def chat_stream_usage(run: Run) -> None:
    model = run.args.chat_model
    messages = [{"role": "user", "content": "Say hello."}]
    stream = run.client.chat.completions.create(
        model=model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    run.relay("chat.completions stream include_usage", model)
    chunks = list(stream)
    check(len(chunks) >= 2, f"only {len(chunks)} chunks")
    last = chunks[-1]
    check(last.usage is not None, f"the last chunk has no usage: {last}")
    check(last.usage.total_tokens > 0, f"last chunk usage = {last.usage}")
    check(last.choices == [], f"the usage chunk has choices: {last.choices}")
    with_usage = [c for c in chunks if c.usage is not None]
    check(len(with_usage) == 1, f"{len(with_usage)} chunks carry usage, expected 1")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    check(bool(text), "the streamed content is empty")


def completions(run: Run) -> None:
    model = run.args.chat_model
    completion = run.client.completions.create(model=model, prompt="Say hello.")
    run.relay("completions", model)
    check(completion.object == "text_completion", f"object = {completion.object!r}")
    check(bool(completion.choices and completion.choices[0].text), f"no text: {completion}")
    check(completion.usage is not None and completion.usage.total_tokens > 0, "no usage")

    stream = run.client.completions.create(model=model, prompt="Say hello.", stream=True)
    run.relay("completions stream", model)
    text, chunks = "", 0
    for chunk in stream:
        chunks += 1
        check(chunk.usage is None, f"completion chunk {chunks} carries usage: {chunk}")
        text += "".join(c.text for c in chunk.choices)
    check(bool(text), f"no streamed text in {chunks} chunks")


def embeddings(run: Run) -> None:
    model = run.args.embedding_model
    # The SDK asks for base64 by default and decodes it itself.
    result = run.client.embeddings.create(model=model, input=["hello", "world"])
    run.relay("embeddings", model)
    check(result.object == "list", f"object = {result.object!r}")
    check(len(result.data) == 2, f"{len(result.data)} embeddings for 2 inputs")
    for item in result.data:
        check(len(item.embedding) > 0, f"empty embedding {item.index}")
        check(all(isinstance(x, float) for x in item.embedding), "non-float values")
    check(result.usage.prompt_tokens > 0, f"usage = {result.usage}")


def responses(run: Run) -> None:
    check_responses(run, run.args.chat_model)


def responses_converted(run: Run) -> None:
    """The Responses API on a chat-only channel: Pylon converts both ways."""
    check_responses(run, run.args.chat_only_model)


def check_responses(run: Run, model: str) -> None:
    response = run.client.responses.create(model=model, input="Say hello.")
    run.relay("responses", model)
    check(response.object == "response", f"object = {response.object!r}")
    check(response.status == "completed", f"status = {response.status!r}")
    check(bool(response.output_text), f"output_text is empty: {response}")
    check(response.usage is not None and response.usage.total_tokens > 0, "no usage")

    stream = run.client.responses.create(model=model, input="Say hello.", stream=True)
    run.relay("responses stream", model)
    kinds: list[str] = []
    text, completed = "", None
    # Read to the end of the stream, as a client that wants every event does.
    for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        elif event.type == "response.completed":
            completed = event.response
    check(completed is not None, f"no response.completed event in {kinds}")
    check(kinds[-1] == "response.completed", f"events after response.completed: {kinds}")
    check(kinds[0] == "response.created", f"first event {kinds[0]!r}")
    check(bool(text), "no output_text delta")
    check(completed.output_text == text, "response.completed text differs from the deltas")
    check(completed.usage is not None and completed.usage.total_tokens > 0, "no usage")


def images(run: Run) -> None:
    model = run.args.image_model
    result = run.client.images.generate(model=model, prompt="a cat", n=1)
    run.relay("images.generate", model)
    check(result.data is not None and len(result.data) == 1, f"data = {result.data}")
    image = result.data[0]
    check(bool(image.url or image.b64_json), f"no url and no b64_json: {image}")


def moderations(run: Run) -> None:
    model = run.args.moderation_model
    result = run.client.moderations.create(model=model, input="hello")
    run.relay("moderations", model)
    check(bool(result.id), "no id")
    check(len(result.results) == 1, f"results = {result.results}")
    first = result.results[0]
    check(first.flagged is False, f"flagged = {first.flagged!r}")
    check(first.categories.harassment is False, f"categories = {first.categories}")
    check(first.categories.harassment_threatening is False, "aliased category not parsed")
    check(isinstance(first.category_scores.violence, float), "category_scores not parsed")


def speech(run: Run) -> None:
    model = run.args.speech_model
    audio = run.client.audio.speech.create(model=model, voice="alloy", input="hello")
    run.relay("audio.speech", model)
    data = audio.read()
    check(len(data) > 0, "no audio bytes")
    check(audio.response.headers.get("content-type", "").startswith("audio/"),
          f"content-type = {audio.response.headers.get('content-type')!r}")


def wav_file() -> io.BytesIO:
    """A tenth of a second of 16 kHz mono silence, as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x00" * 1600)
    buffer.seek(0)
    buffer.name = "hello.wav"
    return buffer


def transcription(run: Run) -> None:
    model = run.args.transcription_model
    result = run.client.audio.transcriptions.create(model=model, file=wav_file())
    run.relay("audio.transcriptions", model)
    check(isinstance(result.text, str) and result.text != "", f"text = {result.text!r}")


def expect_error(run: Run, name: str, error: type, status: int, call) -> None:
    """Runs `call` and checks it raised `error` with HTTP `status` (and a parsed message)."""
    try:
        call()
    except error as raised:
        check(raised.status_code == status, f"{name}: status {raised.status_code}, not {status}")
        body = raised.body if isinstance(raised.body, dict) else {}
        check(bool(body.get("message")), f"{name}: no error message in {raised.body!r}")
        run.errors[name] = raised.status_code
        return
    except openai.APIStatusError as other:
        raise StepFailed(
            f"{name}: expected {error.__name__} ({status}), got {type(other).__name__} "
            f"({other.status_code}): {other.response.text}"
        ) from other
    raise StepFailed(f"{name}: expected {error.__name__} ({status}), the call succeeded")


def errors(run: Run) -> None:
    model = run.args.chat_model
    messages = [{"role": "user", "content": "hi"}]
    bad_key = openai.OpenAI(
        base_url=run.args.base_url, api_key="sk-not-a-pylon-key", max_retries=0, timeout=30.0
    )
    expect_error(
        run,
        "bad_key",
        openai.AuthenticationError,
        401,
        lambda: bad_key.chat.completions.create(model=model, messages=messages),
    )
    expect_error(
        run,
        "unknown_model",
        openai.NotFoundError,
        404,
        lambda: run.client.chat.completions.create(
            model="no-such-model-anywhere", messages=messages
        ),
    )
    expect_error(
        run,
        "unknown_model_retrieve",
        openai.NotFoundError,
        404,
        lambda: run.client.models.retrieve("no-such-model-anywhere"),
    )
    # The SDK sends whatever extra_body holds: here `stream` of the wrong type.
    expect_error(
        run,
        "wrong_type",
        openai.BadRequestError,
        400,
        lambda: run.client.chat.completions.create(
            model=model, messages=[], extra_body={"stream": "yes"}
        ),
    )


STEPS = [
    models,
    chat,
    chat_stream,
    chat_stream_usage,
    completions,
    embeddings,
    responses,
    responses_converted,
    images,
    moderations,
    speech,
    transcription,
    errors,
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="http://127.0.0.1:PORT/v1")
    parser.add_argument("--api-key", required=True, help="an sk- key")
    parser.add_argument("--chat-model", required=True, help="chat, completions, responses")
    parser.add_argument(
        "--chat-only-model", required=True, help="responses, on a channel without them"
    )
    parser.add_argument("--embedding-model", required=True)
    parser.add_argument("--image-model", required=True)
    parser.add_argument("--moderation-model", required=True)
    parser.add_argument("--speech-model", required=True)
    parser.add_argument("--transcription-model", required=True)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    run = Run(parse_args(argv))
    for step in STEPS:
        try:
            step(run)
        except StepFailed as failure:
            sys.stderr.write(f"FAILED in {step.__name__}: {failure}\n")
            return 1
        except openai.APIStatusError as error:
            sys.stderr.write(
                f"FAILED in {step.__name__}: {type(error).__name__} {error.status_code}\n"
                f"request: {error.request.method} {error.request.url}\n"
                f"response headers: {dict(error.response.headers)}\n"
                f"response body: {error.response.text}\n"
            )
            return 1
        except Exception:  # anything the SDK raised (a parse error, a broken stream...)
            sys.stderr.write(f"FAILED in {step.__name__}:\n{traceback.format_exc()}")
            return 1
        run.steps.append(step.__name__)
    summary = {
        "sdk_version": openai.__version__,
        "steps": run.steps,
        "relayed": run.relayed,
        "errors": run.errors,
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
