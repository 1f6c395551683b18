"""Drives Pylon's video task relay with OpenAI's official Python SDK, unchanged: creates a
video, polls it until it ends, downloads its content, and reads another id (which must be a
NotFoundError). Prints one JSON line: the task id, its final status, the video's size and
SHA-256, and what the SDK raised for the unknown id."""

import argparse
import hashlib
import json
import time

import openai


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0)

    video = client.videos.create(model=args.model, prompt="a lighthouse at dawn", seconds="4")
    created_status = video.status
    deadline = time.monotonic() + 30
    while video.status in ("queued", "in_progress"):
        if time.monotonic() > deadline:
            raise SystemExit(f"the video never finished: {video}")
        time.sleep(0.1)
        video = client.videos.retrieve(video.id)

    content = client.videos.download_content(video.id)
    data = content.read()

    try:
        client.videos.retrieve("task_doesnotexist")
        unknown = "no error"
    except openai.NotFoundError as error:
        unknown = f"NotFoundError {error.status_code}"

    print(
        json.dumps(
            {
                "id": video.id,
                "created_status": created_status,
                "status": video.status,
                "progress": video.progress,
                "model": video.model,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "unknown": unknown,
            }
        )
    )


if __name__ == "__main__":
    main()
