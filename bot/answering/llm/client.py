"""One chat completion from an OpenAI-compatible server, within a deadline, a few at a time.

The `openai` package speaks the wire format (base URL, bearer key, SSE streaming, error statuses).
Replies are streamed so that a reply running on past the length cap, or past the deadline, is cut
off rather than waited for. Each call runs in a small thread pool whose size caps the calls in
flight (NEWSDESK_LLM_CONCURRENCY); the caller waits at most until its deadline, queue time
included. Retries happen only where they are safe and fit the deadline: once, after a refused
connection (nothing was sent) or a 429/503 whose Retry-After fits.

Every failure is an `LLMFailure` whose message is a few plain words ("no reply within 20 s",
"server error 500"); the API key is scrubbed from it and never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("newsdesk.llm")

MAX_REPLY_CHARS = 4000  # a short answer is far shorter: beyond this the reply is endless
RETRY_PAUSE_S = 0.3
MIN_ATTEMPT_S = 0.25  # a request with less time left than this is not sent


class LLMFailure(RuntimeError):
    """The LLM gave no usable reply; the message says why in a few words."""


@dataclass(frozen=True, slots=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 20.0
    max_tokens: int = 256
    concurrency: int = 4

    @classmethod
    def from_settings(cls, settings: Any) -> LLMConfig:
        return cls(
            settings.llm_base_url.strip(),
            settings.llm_model.strip(),
            settings.llm_api_key,
            settings.llm_timeout,
            settings.llm_max_tokens,
            settings.llm_concurrency,
        )

    def __repr__(self) -> str:  # never the key
        return f"LLMConfig(base_url={self.base_url!r}, model={self.model!r})"


class LLMClient:
    """Chat completions against `config.base_url`. Thread-safe."""

    def __init__(self, config: LLMConfig) -> None:
        import httpx
        from openai import OpenAI

        self.config = config
        self._client = OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "no-key",  # local servers take any key
            timeout=httpx.Timeout(config.timeout, connect=min(config.timeout, 5.0)),
            max_retries=0,  # retries are ours: only where safe, only within the deadline
        )
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="newsdesk-llm")

    def scrub(self, text: str) -> str:
        key = self.config.api_key
        return text.replace(key, "<key>") if key and len(key) >= 4 else text

    def complete(self, messages: Sequence[dict[str, str]], *, max_tokens: int | None = None) -> str:
        """The reply's text, within `config.timeout` seconds (LLMFailure otherwise)."""
        deadline = time.monotonic() + self.config.timeout
        cancel = threading.Event()
        future = self._pool.submit(self._attempts, list(messages), max_tokens, deadline, cancel)
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            cancel.set()
            future.cancel()  # still queued behind other calls: never sent
            raise LLMFailure(f"no reply within {self.config.timeout:g} s") from None
        except LLMFailure as exc:
            raise LLMFailure(self.scrub(str(exc))) from None
        except Exception as exc:  # whatever else goes wrong, the reader's answer still comes
            raise LLMFailure(
                f"unexpected error talking to the LLM ({type(exc).__name__})"
            ) from None

    def _attempts(self, messages, max_tokens, deadline: float, cancel: threading.Event) -> str:
        import openai

        for attempt in (1, 2):
            remaining = deadline - time.monotonic()
            if remaining < MIN_ATTEMPT_S or cancel.is_set():
                raise LLMFailure(f"no reply within {self.config.timeout:g} s")
            try:
                return self._stream(messages, max_tokens, remaining, deadline, cancel)
            except openai.APITimeoutError:
                raise LLMFailure(f"no reply within {self.config.timeout:g} s") from None
            except openai.APIConnectionError:
                if attempt == 2 or deadline - time.monotonic() < 2 * RETRY_PAUSE_S:
                    raise LLMFailure("could not connect to the LLM server") from None
                time.sleep(RETRY_PAUSE_S)
            except openai.APIStatusError as exc:
                status = exc.status_code
                wait = _retry_after(exc)
                fits = wait is not None and wait < (deadline - time.monotonic()) / 2
                if attempt == 1 and status in (429, 503) and fits:
                    time.sleep(wait)
                    continue
                raise LLMFailure(_status_reason(status)) from None
            except openai.APIError:
                raise LLMFailure("the LLM server reported an error") from None
        raise LLMFailure("could not connect to the LLM server")  # not reached

    def _stream(self, messages, max_tokens, remaining, deadline, cancel) -> str:
        import httpx
        import openai

        try:
            stream = self._client.chat.completions.create(
                model=self.config.model,
                messages=messages,
                max_tokens=max_tokens or self.config.max_tokens,
                temperature=0,
                stream=True,
                timeout=httpx.Timeout(remaining, connect=min(remaining, 5.0)),
            )
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise LLMFailure(
                f"malformed reply from the LLM server ({type(exc).__name__})"
            ) from None
        parts: list[str] = []
        finish = None
        size = 0
        try:
            for chunk in stream:
                if cancel.is_set() or time.monotonic() > deadline:
                    raise LLMFailure(f"no reply within {self.config.timeout:g} s")
                choices = getattr(chunk, "choices", None)
                if not choices:
                    continue
                choice = choices[0]
                piece = getattr(choice.delta, "content", None) if choice.delta else None
                if piece:
                    if not isinstance(piece, str):
                        raise LLMFailure("malformed reply from the LLM server")
                    parts.append(piece)
                    size += len(piece)
                    if size > MAX_REPLY_CHARS:
                        raise LLMFailure(f"the reply ran on past {MAX_REPLY_CHARS:,} characters")
                finish = choice.finish_reason or finish
        except LLMFailure:
            raise
        except (openai.APITimeoutError, httpx.TimeoutException):
            raise LLMFailure(f"no reply within {self.config.timeout:g} s") from None
        except (openai.APIConnectionError, httpx.HTTPError):
            raise LLMFailure("the connection broke off in the middle of the reply") from None
        except openai.APIError:
            raise LLMFailure(
                "the LLM server reported an error in the middle of the reply"
            ) from None
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise LLMFailure(
                f"malformed reply from the LLM server ({type(exc).__name__})"
            ) from None
        finally:
            stream.close()
        text = "".join(parts).strip()
        if finish == "length":
            raise LLMFailure(
                f"the reply was cut off at {max_tokens or self.config.max_tokens} tokens"
            )
        if finish is None:
            raise LLMFailure(
                "the reply stopped before it was finished"
                if text
                else "empty or malformed reply from the LLM server"
            )
        if not text:
            raise LLMFailure("empty reply from the LLM server")
        return text

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def _retry_after(exc: Any) -> float | None:
    """Seconds from a Retry-After header of seconds, else None."""
    try:
        value = exc.response.headers.get("retry-after")
        return max(0.0, float(value)) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def _status_reason(status: int) -> str:
    if status == 429:
        return "the LLM server is rate-limiting requests (429)"
    if status in (401, 403):
        return f"the LLM server refused the API key ({status})"
    if status == 404:
        return "the LLM server does not know this model or address (404)"
    if status >= 500:
        return f"server error {status}"
    return f"the LLM server rejected the request ({status})"
